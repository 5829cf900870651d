package wsock

import (
	"bytes"
	"context"
	"io"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Receiving: the reader task (run) decodes frames and delivers each message one of two
// ways, or, on a connection whose callers read (turn.go), a Receive holding the read turn
// decodes the next whole message for itself, handed over directly.
//
//   - Whole, through c.msgs (made on first use), a channel whose capacity is MessageQueueSize: Receive and
//     Reader take messages from it; when it is full, run blocks and stops reading the
//     socket, which pushes back on the peer (0 makes every message a rendezvous).
//   - Streamed, through c.streams, to a Reader waiting for a message when a fragmented or
//     partly received message starts (or while it is being buffered): the Reader gets the
//     data as run decodes it, without the message ever being held whole.
//
// A message sent as one frame gets its buffer once, at its size class (see
// Message.Release): from its first chunk on, the frame's announced length is known (up to
// maxPrealloc), and readFrames reads the rest of the frame straight into the message, without
// going through the read buffer. Buffers come from the message pools, which
// Message.Release fills, or are allocated. A decompressed message is handed over as the
// inflater allocated it.

const (
	// maxPrealloc bounds the buffer allocated up front for a message from the length its
	// first frame announces; beyond it, the buffer grows as data actually arrives.
	maxPrealloc = 64 << 10
	// minDirectRead is the smallest rest of a frame that readFrames reads straight into the
	// message rather than through its read buffer.
	minDirectRead = 1 << 10
)

// inMessage is the message being received (by the holder of the read turn).
type inMessage struct {
	typ   MessageType
	data  []byte  // buffered so far
	st    *stream // the message is streamed to a Reader
	drop  bool    // discard the rest of the message
	offer *stream // a stream offered to waiting Readers, not yet taken
}

// Receive returns the next message, whole: fragments reassembled, decompressed. Several
// goroutines may call it; each message goes to one of them.
//
// After the peer's Close frame, the messages already queued are still returned, then a
// *ClosedError with the peer's code and reason. After Close (ours), queued messages are
// dropped and Receive returns a *ClosedError. Cancelling ctx only ends this wait: it never
// affects the connection or loses a message.
func (c *Conn) Receive(ctx context.Context) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	if c.isDropped() {
		// The owner's cancellation may have closed c since the check above.
		return Message{}, c.closedOrCancelled(ctx, c.closedErr())
	}
	if c.flags.Load()&flagQueued != 0 {
		select {
		case m := <-c.queued(): // the fast path locks one channel, not four
			return m, nil
		default:
		}
	}
	if c.turn.callerReads {
		return c.receiveTurn(ctx) // this goroutine may read (turn.go)
	}
	return c.receiveQueued(ctx)
}

// receiveQueued is Receive's wait for a message from the reader task. It is not
// Receive's own: Receive's frame stays small for a caller that reads (see turn.go).
//
//go:noinline
func (c *Conn) receiveQueued(ctx context.Context) (Message, error) {
	select {
	case m := <-c.queue():
		return m, nil
	case <-c.recvDone.wait():
		m, err := c.lastMessage()
		return m, c.closedOrCancelled(ctx, err)
	case <-c.dropped.wait():
		return Message{}, c.closedOrCancelled(ctx, c.closedErr())
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// closedOrCancelled prefers ctx's cancellation to err, a closure seen at the
// same time: cancelling the ctx that owns a connection closes it (1001), and
// a Receive under that ctx must report the cancellation that caused the
// close, whichever of the two its select happened to see first.
func (c *Conn) closedOrCancelled(ctx context.Context, err error) error {
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
	}
	return err
}

// Reader returns the next message as a stream: if the message is still arriving, its data
// is handed over as the connection decodes it, never buffered whole (MaxMessageSize still
// applies); a message that arrived whole before Reader was called is read from memory.
//
// Read the message to io.EOF before the next Receive or Reader: until then the connection
// reads nothing else from the socket, not even control frames. ctx bounds the whole
// message: when it is cancelled, Read returns ctx's error and the rest of the message is
// discarded; the connection carries on. If the connection closes before the message is
// complete, Read returns a *ClosedError. The reader is not safe for concurrent use.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	if c.isDropped() {
		return 0, nil, c.closedOrCancelled(ctx, c.closedErr())
	}
	c.streamWaiters.Add(1)
	defer c.streamWaiters.Add(-1)
	c.ensureReader() // a message that starts now is streamed by the reader task
	var m Message
	select {
	case m = <-c.queue():
	case s := <-c.streams.get():
		s.ctx = ctx
		return s.typ, s, nil
	case <-c.recvDone.wait():
		var err error
		if m, err = c.lastMessage(); err != nil {
			return 0, nil, c.closedOrCancelled(ctx, err)
		}
	case <-c.dropped.wait():
		return 0, nil, c.closedOrCancelled(ctx, c.closedErr())
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	return m.Type, bytes.NewReader(m.Data), nil
}

// lastMessage returns a message still queued once reception has ended, or the
// *ClosedError.
func (c *Conn) lastMessage() (Message, error) {
	select {
	case m := <-c.queued():
		return m, nil
	default:
		return Message{}, c.closedErr()
	}
}

// isDropped reports whether Close was called: messages are dropped from then on.
func (c *Conn) isDropped() bool { return c.flags.Load()&flagDropped != 0 }

// onData handles a chunk of a data message. buf is the read buffer the chunk may alias.
func (c *Conn) onData(buf []byte, ev proto.Event) {
	c.frameLeft = ev.FrameRemaining
	m := &c.cur
	if ev.First {
		*m = inMessage{typ: MessageType(ev.Op), offer: m.offer, drop: c.isDropped()}
	}
	if m.drop {
		if ev.Final {
			c.endMessage(nil)
		}
		return
	}
	if m.st == nil && !ev.Final && !c.rs.caller && c.streamWaiters.Load() > 0 {
		c.offerStream()
		if m.st != nil && len(m.data) > 0 {
			data := m.data
			m.data = nil
			c.streamTo(data)
			putMsgBuf(data) // copied out by the Reader, or abandoned
			if m.drop {
				return
			}
		}
	}
	switch {
	case m.st != nil:
		c.streamTo(ev.Data)
		if ev.Final {
			c.endMessage(nil)
		}
		return
	case ev.First && ev.Final:
		data := ev.Data
		if aliases(data, buf) {
			data = getMsgBuf(len(ev.Data))
			copy(data, ev.Data)
		}
		msg := Message{Type: m.typ, Data: data}
		c.endMessage(nil)
		c.deliver(msg)
		return
	}
	if m.data == nil {
		// The frame's announced size is allocated up to maxPrealloc: beyond it, the buffer
		// grows with the data that actually arrives (directRegion), so that a header alone
		// cannot make the connection hold much memory.
		m.data = getMsgBuf(int(min(int64(len(ev.Data))+ev.FrameRemaining, maxPrealloc)))[:0]
	}
	if n := len(m.data); len(ev.Data) > 0 && cap(m.data) > n && &m.data[:n+1][n] == &ev.Data[0] {
		m.data = m.data[:n+len(ev.Data)] // read in place by readFrames (directRegion)
	} else {
		m.appendData(ev.Data)
	}
	if !ev.Final {
		return
	}
	// Not capped: the spare capacity holds nothing, since readFrames reads no further than
	// the end of the frame into it (directRegion), and Release needs the class size back.
	msg := Message{Type: m.typ, Data: m.data}
	m.data = nil
	c.endMessage(nil)
	c.deliver(msg)
}

// appendData appends chunk to the message's buffer, moving it to a buffer from the message
// pools, at least twice as large, if it has no room.
func (m *inMessage) appendData(chunk []byte) {
	if cap(m.data)-len(m.data) >= len(chunk) {
		m.data = append(m.data, chunk...)
		return
	}
	m.grow(max(len(chunk), len(m.data)), chunk)
}

// grow moves the message to a buffer from the message pools with room for n more bytes,
// appends chunk to it, and only then gives the old buffer back to the pools.
func (m *inMessage) grow(n int, chunk []byte) {
	old := m.data
	m.data = append(append(getMsgBuf(len(old) + n)[:0], old...), chunk...)
	putMsgBuf(old)
}

// directRegion returns where readFrames can read the rest of the current frame straight
// into the message being buffered, or nil. The message's buffer grows for it, at most
// doubling, so that its size follows the data received rather than announced.
//
// Reading there is safe even if more than the frame landed in it: parsing goes forward,
// and every append to the message writes at or before the bytes being parsed.
func (c *Conn) directRegion() []byte {
	m := &c.cur
	if c.frameLeft < minDirectRead || m.data == nil || m.st != nil || m.drop {
		return nil
	}
	if cap(m.data)-len(m.data) < minDirectRead {
		m.grow(int(min(c.frameLeft, int64(max(len(m.data), minDirectRead)))), nil)
	}
	k := min(int64(cap(m.data)-len(m.data)), c.frameLeft)
	return m.data[len(m.data) : len(m.data)+int(k)]
}

// aliases reports whether b lies in buf's backing array.
func aliases(b, buf []byte) bool {
	if cap(b) == 0 || cap(buf) == 0 {
		return false
	}
	return &b[:cap(b)][cap(b)-1] == &buf[:cap(buf)][cap(buf)-1]
}

// deliver queues a whole message, waiting for room. A message arriving after Close is
// dropped, and Close (or the owner's cancellation, which closes) ends the wait.
func (c *Conn) deliver(msg Message) {
	if c.isDropped() {
		msg.Release()
		return
	}
	if c.rs.caller {
		c.got, c.gotOK = msg, true // for the Receive that reads
		return
	}
	if c.flags.Load()&flagQueued == 0 {
		c.flags.Or(flagQueued) // before the message can be seen queued
	}
	select {
	case c.queue() <- msg:
		return
	default:
	}
	c.pongs.park(true)
	defer c.pongs.park(false)
	select {
	case c.queue() <- msg:
	case <-c.dropped.wait():
		msg.Release()
	}
}

// offerStream hands the current message to a Reader, if one is waiting.
func (c *Conn) offerStream() {
	m := &c.cur
	s := m.offer
	if s == nil {
		s = &stream{
			chunks:   make(chan []byte),
			consumed: make(chan int, 1),
			abandon:  make(chan struct{}),
			end:      make(chan struct{}),
		}
	}
	s.typ = m.typ
	select {
	case c.streams.get() <- s:
		m.st, m.offer = s, nil
	default:
		m.offer = s
	}
}

// streamTo hands chunk to the Reader of the current message and waits until it has all
// been read: chunk aliases the read buffer. If the Reader gives up, or Close drops
// messages, the rest of the message is discarded.
func (c *Conn) streamTo(chunk []byte) {
	m := &c.cur
	s := m.st
	c.pongs.park(true)
	defer c.pongs.park(false)
	for len(chunk) > 0 {
		select {
		case s.chunks <- chunk:
			chunk = chunk[<-s.consumed:]
		case <-s.abandon:
			m.st, m.drop = nil, true
			return
		case <-c.dropped.wait():
			s.finish(c.closedErr())
			m.st, m.drop = nil, true
			return
		}
	}
}

// endMessage ends the current message: a stream in progress ends with err (nil once the
// message is complete).
func (c *Conn) endMessage(err error) {
	m := &c.cur
	if m.st != nil {
		m.st.finish(err)
	}
	*m = inMessage{offer: m.offer}
}

// stream is the io.Reader of a message streamed to a Reader. run hands it chunks through
// an unbuffered channel and waits until each is consumed, so no data is ever copied but
// into the caller's buffer.
type stream struct {
	typ      MessageType
	chunks   chan []byte   // run → Read
	consumed chan int      // Read → run: bytes of the chunk copied
	abandon  chan struct{} // closed by Read when ctx is done
	end      chan struct{} // closed by run when the message is complete or lost
	endErr   error         // why the message is lost, set before end is closed
	ended    bool          // run's side: end is closed

	ctx context.Context // the Reader's ctx
	err error           // Read's sticky result
}

// finish ends the stream: err nil means the message is complete.
func (s *stream) finish(err error) {
	if !s.ended {
		s.ended = true
		s.endErr = err
		close(s.end)
	}
}

// Read reads the message's data as it arrives.
func (s *stream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	select {
	case b := <-s.chunks:
		n := copy(p, b)
		s.consumed <- n
		return n, nil
	case <-s.end:
		s.err = s.endErr
		if s.err == nil {
			s.err = io.EOF
		}
	case <-s.ctx.Done():
		s.err = s.ctx.Err()
		close(s.abandon)
	}
	return 0, s.err
}
