package wsock

import (
	"context"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// PreparedBatch is prepared messages sent together, in order, to many connections: what
// piled up in a chat room while it was broadcasting, sent in one go. To a server's
// connection a batch is a single write: its messages' frames are laid end to end once per
// distinct setting of the connections it is sent to (as a PreparedMessage is framed), not
// once per connection, so a room that broadcasts its backlog pays one system call per
// connection for all of it, and its peers read it in one. Make one with NewPreparedBatch
// and send it with Conn.SendBatch, or to a whole room with BroadcastBatch; it is safe for
// concurrent use by any number of connections.
type PreparedBatch struct {
	msgs  []*PreparedMessage
	wires settingCache[batchWire]
}

// batchWire is a batch's frames end to end for one setting of a server's connection.
type batchWire struct {
	level      int    // the connection's compression level, or uncompressedLevel
	threshold  int    // the connection's compression threshold; 0 when uncompressed
	wire       []byte // the frames, unmasked
	compressed bool   // some message of the batch is compressed in wire
}

// NewPreparedBatch returns a batch of pms, sent in that order. It panics if one of them is
// nil.
func NewPreparedBatch(pms ...*PreparedMessage) *PreparedBatch {
	for _, pm := range pms {
		if pm == nil {
			panic("wsock: NewPreparedBatch with a nil *PreparedMessage")
		}
	}
	return &PreparedBatch{msgs: append([]*PreparedMessage(nil), pms...)}
}

// Messages returns the batch's messages, in order; the slice must not be modified.
func (b *PreparedBatch) Messages() []*PreparedMessage { return b.msgs }

// setting returns the compression level and threshold of c's messages.
func (c *Conn) setting() (level, threshold int) {
	if c.fl == nil {
		return uncompressedLevel, 0
	}
	return c.fl.comp.Level(), c.fl.cfg.Threshold
}

// levelFor returns the level a message of size bytes is sent at by a connection whose
// setting is level and threshold.
func (c *Conn) levelFor(size int) int {
	if c.fl != nil && c.fl.cfg.ShouldCompress(size) {
		return c.fl.comp.Level()
	}
	return uncompressedLevel
}

// wireFor returns b's frames end to end for c, a server's connection, making them on
// first use for c's setting.
func (b *PreparedBatch) wireFor(c *Conn) (*batchWire, error) {
	level, threshold := c.setting()
	return b.wires.get(func(w *batchWire) bool { return w.level == level && w.threshold == threshold }, func() (batchWire, error) {
		w := batchWire{level: level, threshold: threshold}
		frames := make([]*preparedFrame, len(b.msgs))
		size := 0
		for i, pm := range b.msgs {
			l := c.levelFor(len(pm.data))
			f, err := pm.frame(l)
			if err != nil {
				return batchWire{}, err
			}
			frames[i], size = f, size+len(f.frame)
			w.compressed = w.compressed || l != uncompressedLevel
		}
		w.wire = make([]byte, 0, size)
		for _, f := range frames {
			w.wire = append(w.wire, f.frame...)
		}
		return w, nil
	})
}

// SendBatch sends b's messages in order, as SendPrepared would each, with no other data
// message between them; the ordering, closing and cancellation rules are SendPrepared's,
// for the batch as a whole. A server's connection writes the whole batch at once; a
// client's masks and writes its messages one after the other. If the connection fails
// part way (or ctx is cancelled once the batch has begun to go out), the connection is
// failed as by a Send cut off mid-frame, and the peer may have received the messages
// before that point. An empty batch sends nothing.
func (c *Conn) SendBatch(ctx context.Context, b *PreparedBatch) error {
	if b == nil {
		panic("wsock: SendBatch with a nil *PreparedBatch")
	}
	if len(b.msgs) == 0 {
		return nil
	}
	var w *batchWire
	if c.keys == nil {
		var err error
		if w, err = b.wireFor(c); err != nil {
			return err
		}
	} else {
		for _, pm := range b.msgs {
			if _, err := pm.frame(c.levelFor(len(pm.data))); err != nil {
				return err // framed once for all, before anything goes out
			}
		}
	}
	if err := c.lockData(ctx); err != nil {
		return err
	}
	defer c.unlockData()
	op := proto.Opcode(b.msgs[0].typ)
	var (
		wrote, compressed bool
		err               error
	)
	if w != nil {
		compressed = w.compressed
		wrote, err = c.writeLocked(ctx, op, w.wire, true, false, nil)
	} else {
		for _, pm := range b.msgs {
			level := c.levelFor(len(pm.data))
			f, _ := pm.frame(level) // made above
			compressed = compressed || level != uncompressedLevel
			var w bool
			w, err = c.writeLocked(ctx, proto.Opcode(pm.typ), nil, true, level != uncompressedLevel, f.frame[f.hdr:])
			wrote = wrote || w
			if err != nil {
				break
			}
		}
	}
	if compressed && c.fl.takeover {
		c.fl.comp.Reset() // its window lacks the messages the peer now has
	}
	if err != nil {
		return c.writeFailed(ctx, wrote, err)
	}
	return nil
}
