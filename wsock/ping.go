package wsock

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// pendingPing is a ping waiting for its pong.
type pendingPing struct {
	payload []byte
	done    chan struct{} // closed when the pong arrives
}

// Ping sends a ping and waits for the matching pong. A nil payload means 8 random bytes;
// otherwise payload (at most 125 bytes) must not be that of a ping still waiting for its
// pong, or Ping fails at once. A pong answers its ping and every ping sent before it, as
// RFC 6455 lets a peer answer only the latest of several pings.
//
// On a closing or closed connection, or if the connection closes before the pong
// arrives, Ping returns a *ClosedError. Cancelling ctx stops the wait; the connection is
// unaffected unless the ping frame was cut short (see Send).
func (c *Conn) Ping(ctx context.Context, payload []byte) error {
	if payload == nil {
		payload = binary.BigEndian.AppendUint64(make([]byte, 0, 8), rand.Uint64())
	} else {
		if len(payload) > 125 {
			return fmt.Errorf("wsock: ping: payload of %d bytes, more than 125", len(payload))
		}
		payload = bytes.Clone(payload)
	}
	p := &pendingPing{payload: payload, done: make(chan struct{})}
	c.pingMu.Lock()
	for _, q := range c.pings {
		if bytes.Equal(q.payload, payload) {
			c.pingMu.Unlock()
			return fmt.Errorf("wsock: ping: a ping with payload %x is already waiting for its pong", payload)
		}
	}
	c.pings = append(c.pings, p)
	c.flags.Or(flagPings)
	c.pingMu.Unlock()

	if err := c.writeControl(ctx, proto.OpPing, payload); err != nil {
		c.forgetPing(p)
		return err
	}
	c.ensureReader() // someone must read the pong
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		c.forgetPing(p)
		return ctx.Err()
	case <-c.doneCh.wait():
		select {
		case <-p.done:
			return nil
		default:
		}
		c.forgetPing(p)
		return c.closedErr()
	}
}

// Pong sends an unsolicited pong, a one-way heartbeat (the peer does not answer it). The
// peer's pings are answered automatically; there is no need to call Pong for them.
func (c *Conn) Pong(ctx context.Context, payload []byte) error {
	return c.writeControl(ctx, proto.OpPong, payload)
}

// forgetPing removes p from the pings waiting for a pong.
func (c *Conn) forgetPing(p *pendingPing) {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	if i := slices.Index(c.pings, p); i >= 0 {
		c.pings = slices.Delete(c.pings, i, i+1)
		c.notePingsLocked()
	}
}

// notePingsLocked keeps flagPings in step with c.pings; the caller holds pingMu.
func (c *Conn) notePingsLocked() {
	if len(c.pings) == 0 {
		c.flags.And(^uint32(flagPings))
	}
}

// onPong wakes the ping the pong answers and every ping sent before it. A pong that
// answers no ping is ignored.
func (c *Conn) onPong(payload []byte) {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	for i, p := range c.pings {
		if bytes.Equal(p.payload, payload) {
			for _, q := range c.pings[:i+1] {
				close(q.done)
			}
			c.pings = slices.Delete(c.pings, 0, i+1)
			c.notePingsLocked()
			return
		}
	}
}

// onPing answers the peer's ping: the pong is left for the writer of the next frame, or
// sent now if no frame is being written. Only the latest ping is answered if several
// arrive meanwhile, as RFC 6455 allows.
func (c *Conn) onPing(payload []byte) {
	if c.sentClose.Load() {
		return
	}
	c.pongMu.Lock()
	if c.pong == nil {
		c.pong = new([125]byte)
	}
	c.pongLen = uint8(copy(c.pong[:], payload))
	c.pongPending.Store(true)
	c.pongMu.Unlock()
	c.flushPending()
}
