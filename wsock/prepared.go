package wsock

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// PreparedMessage is a message to be sent to many connections, a chat room's broadcast
// for example: it is framed, and compressed where permessage-deflate is on, once per
// distinct setting of the connections it is sent to (uncompressed, or compressed at a
// given level), not once per connection. Make one with NewPreparedMessage and send it
// with Conn.SendPrepared, or to a whole room with Broadcast; it is safe for concurrent
// use by any number of connections.
type PreparedMessage struct {
	typ  MessageType
	data []byte

	frames settingCache[preparedFrame]
}

// settingCache holds what is made once per connection setting (a PreparedMessage's
// frames, a PreparedBatch's wires): senders look it up without locking, and makers,
// serialised, copy the slice on write.
type settingCache[T any] struct {
	mu sync.Mutex
	p  atomic.Pointer[[]T]
}

// get returns the element for which is reports true, made by mk on first use.
func (sc *settingCache[T]) get(is func(*T) bool, mk func() (T, error)) (*T, error) {
	find := func() *T {
		if s := sc.p.Load(); s != nil {
			for i := range *s {
				if is(&(*s)[i]) {
					return &(*s)[i]
				}
			}
		}
		return nil
	}
	if v := find(); v != nil {
		return v, nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if v := find(); v != nil {
		return v, nil
	}
	v, err := mk()
	if err != nil {
		return nil, err
	}
	var old []T
	if s := sc.p.Load(); s != nil {
		old = *s
	}
	s := append(append(make([]T, 0, len(old)+1), old...), v)
	sc.p.Store(&s)
	return &s[len(s)-1], nil
}

// len returns how many elements have been made.
func (sc *settingCache[T]) len() int {
	if s := sc.p.Load(); s != nil {
		return len(*s)
	}
	return 0
}

// preparedFrame is a PreparedMessage framed for one setting.
type preparedFrame struct {
	level int    // compress/flate level of the payload, or uncompressedLevel
	frame []byte // the unmasked frame: header, then payload
	hdr   int    // length of the header in frame
}

// uncompressedLevel is the level key of a frame sent without compression.
const uncompressedLevel = -1 << 31

// NewPreparedMessage returns a message of type typ (TextMessage or BinaryMessage) with a
// copy of data, framed lazily: the first SendPrepared for each distinct setting (no
// compression, or permessage-deflate at a given level) frames and compresses it, later
// ones reuse that frame. A text message's data should be valid UTF-8; it is not checked.
func NewPreparedMessage(typ MessageType, data []byte) *PreparedMessage {
	if !typ.valid() {
		panic("wsock: NewPreparedMessage with invalid message type " + typ.String())
	}
	return &PreparedMessage{typ: typ, data: append([]byte(nil), data...)}
}

// Type returns the message's type.
func (pm *PreparedMessage) Type() MessageType { return pm.typ }

// Data returns the message's payload; it must not be modified.
func (pm *PreparedMessage) Data() []byte { return pm.data }

// frame returns pm framed for level, making the frame on first use.
func (pm *PreparedMessage) frame(level int) (*preparedFrame, error) {
	return pm.frames.get(func(f *preparedFrame) bool { return f.level == level }, func() (preparedFrame, error) {
		payload, rsv1 := pm.data, false
		if level != uncompressedLevel {
			comp := deflate.NewCompressor(level, true)
			z, err := comp.Compress(nil, pm.data)
			comp.Close()
			if err != nil {
				return preparedFrame{}, fmt.Errorf("wsock: prepare message: %w", err)
			}
			payload, rsv1 = z, true
		}
		h := proto.Header{Fin: true, Rsv1: rsv1, Op: proto.Opcode(pm.typ), Length: int64(len(payload))}
		b := proto.AppendHeader(make([]byte, 0, proto.MaxHeaderLen+len(payload)), h)
		return preparedFrame{level: level, frame: append(b, payload...), hdr: len(b)}, nil
	})
}

// SendPrepared sends pm as Send(ctx, pm.Type(), pm.Data()) would, with the same ordering,
// closing and cancellation rules, but without framing or compressing it again: a server's
// frame is written as it was prepared, a client's is masked on the way out as every client
// frame is.
//
// On a connection that keeps its compression window between messages (context
// takeover), a prepared message is compressed without that window, and the window is
// reset after it: the following messages compress as if the connection had just opened,
// and the peer decodes them all correctly.
func (c *Conn) SendPrepared(ctx context.Context, pm *PreparedMessage) error {
	if pm == nil {
		panic("wsock: SendPrepared with a nil *PreparedMessage")
	}
	level := c.levelFor(len(pm.data))
	f, err := pm.frame(level)
	if err != nil {
		return err
	}
	if err := c.lockData(ctx); err != nil {
		return err
	}
	defer c.unlockData()
	compressed := level != uncompressedLevel
	var wrote bool
	if c.keys == nil {
		wrote, err = c.writeLocked(ctx, proto.Opcode(pm.typ), f.frame, true, false, nil)
	} else {
		wrote, err = c.writeLocked(ctx, proto.Opcode(pm.typ), nil, true, compressed, f.frame[f.hdr:])
	}
	if compressed && c.fl.takeover {
		c.fl.comp.Reset() // its window lacks the message the peer now has
	}
	if err != nil {
		return c.writeFailed(ctx, wrote, err)
	}
	return nil
}
