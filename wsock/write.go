package wsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"unsafe"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Writing takes two locks, each a 1-slot channel: waiting on a channel can also watch a
// ctx, and a channel serves its waiters in order, so sends are FIFO. msgLock is held for a
// whole data message (a Send, or a Writer from its creation to its Close); frameLock only
// while one frame is written to the socket. Control frames (Ping, Pong, Close, automatic
// pongs) take frameLock alone, so they can go out between the fragments of a message that
// a slow Writer is producing.
//
// The reader never waits for frameLock to answer a ping, since it would stop reading while
// a large write is blocked on a peer that is itself waiting for us to read: it leaves the
// pong in c.pong, and whoever holds frameLock sends it before letting go (unlockFrame).
// goAway leaves its Close frame the same way (c.awayPending).

const (
	// smallBuf is the size of the pooled buffers frames up to about 4 KiB are assembled
	// in, header and payload, to be written at once.
	smallBuf = 4<<10 + proto.MaxHeaderLen
	// largeBuf is the size of the pooled buffers large client frames are masked in, chunk
	// by chunk (the caller's data is never modified).
	largeBuf = 64<<10 + proto.MaxHeaderLen
	// maxKeptZbuf is the largest compression buffer a connection keeps between messages.
	maxKeptZbuf = 16 << 10
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}
)

// writeBufs are the buffers a connection writes frames with, made when it writes its
// first frame: an idle connection does without them. They are guarded by frameLock.
type writeBufs struct {
	ctrl        [proto.MaxHeaderLen + 125]byte // small frames, large frames' header
	ctrlPayload [125]byte                      // control payloads
	vec         [2][]byte
	bufs        net.Buffers
}

// writeBufs returns the connection's write buffers, making them on first use; the caller
// holds frameLock.
func (c *Conn) writeBufs() *writeBufs {
	if c.wb == nil {
		c.wb = new(writeBufs)
	}
	return c.wb
}

// errWriterClosed is returned by a Writer's Write after its Close.
var errWriterClosed = errors.New("wsock: write on a closed message writer")

// Send sends a whole message of type typ (TextMessage or BinaryMessage) as a single frame,
// compressed when permessage-deflate was negotiated and data is at least the compression
// threshold. data is not modified and not retained. A text message's data should be valid
// UTF-8; it is not checked.
//
// Sends are FIFO: concurrent Sends are written in the order they started waiting. On a
// closing or closed connection Send returns a *ClosedError. If ctx is cancelled while the
// Send waits for its turn, Send returns ctx's error and the connection is unaffected; if it
// is cancelled while the frame is being written, the connection is failed (closed without
// a handshake, AbnormalClosure) since the peer cannot be sent anything after half a frame.
func (c *Conn) Send(ctx context.Context, typ MessageType, data []byte) error {
	if !typ.valid() {
		panic("wsock: Send with invalid message type " + typ.String())
	}
	if err := c.lockData(ctx); err != nil {
		return err
	}
	defer c.unlockData()
	payload, compressed := data, false
	if c.fl != nil && c.fl.cfg.ShouldCompress(len(data)) {
		z, err := c.fl.comp.Compress(c.fl.zbuf[:0], data)
		if err != nil {
			err = fmt.Errorf("wsock: send: %w", err)
			c.abort(err, true) // the compressor's state is lost, and with it the stream's
			return err
		}
		payload, compressed = z, true
	}
	wrote, err := c.writeFrameLocked(ctx, true, proto.Opcode(typ), compressed, payload)
	if compressed {
		if cap(payload) <= maxKeptZbuf {
			c.fl.zbuf = payload[:0]
		} else {
			c.fl.zbuf = nil
		}
		if err != nil && !wrote && c.fl.takeover {
			// The compressor's window now holds a message the peer never got.
			c.abort(fmt.Errorf("wsock: compressed message not sent: %w", err), true)
		}
	}
	if err != nil {
		return c.writeFailed(ctx, wrote, err)
	}
	return nil
}

// SendText sends s as a text message, as Send does.
func (c *Conn) SendText(ctx context.Context, s string) error {
	// Send only reads its data, so s's bytes are used as they are, without a copy.
	return c.Send(ctx, TextMessage, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// SendBinary sends data as a binary message, as Send does.
func (c *Conn) SendBinary(ctx context.Context, data []byte) error {
	return c.Send(ctx, BinaryMessage, data)
}

// Writer returns a writer for a fragmented message of type typ: each Write sends one frame
// (an empty Write sends nothing), Close sends the final frame. Use it for messages too
// large to hold in memory. The message is not compressed. Until Close, no other data
// message can be sent (Send and Writer wait for their turn); control frames, such as the
// answers to the peer's pings, still go out between fragments.
//
// ctx bounds the whole message. If it is cancelled, or a write fails, before Close has
// sent the final frame, the message can never be finished, so the connection is failed
// (closed without a handshake). The writer is not safe for concurrent use.
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	if !typ.valid() {
		panic("wsock: Writer with invalid message type " + typ.String())
	}
	if err := c.lockMsg(ctx); err != nil {
		return nil, err
	}
	return &messageWriter{c: c, ctx: ctx, op: proto.Opcode(typ)}, nil
}

// messageWriter is what Writer returns; it holds c.msgLock.get() until it is done.
type messageWriter struct {
	c      *Conn
	ctx    context.Context
	op     proto.Opcode // of the next frame
	err    error        // sticky
	closed bool
}

// Write sends p as one frame of the message.
func (w *messageWriter) Write(p []byte) (int, error) {
	switch {
	case w.closed:
		return 0, errWriterClosed
	case w.err != nil:
		return 0, w.err
	case len(p) == 0:
		return 0, nil
	}
	if err := w.frame(false, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends the message's final frame. It is idempotent.
func (w *messageWriter) Close() error {
	if w.closed || w.err != nil {
		w.closed = true
		return w.err
	}
	w.closed = true
	return w.frame(true, nil)
}

// frame sends one frame of the message; after the final one or a failure, it lets other
// messages go.
func (w *messageWriter) frame(fin bool, p []byte) error {
	c := w.c
	err := c.lockFrame(w.ctx, true)
	if err == nil {
		var wrote bool
		wrote, err = c.writeFrameLocked(w.ctx, fin, w.op, false, p)
		c.unlockFrame()
		if err != nil {
			err = c.writeFailed(w.ctx, wrote, err)
		}
	}
	if err != nil {
		w.err = err
		if !errors.Is(err, ErrClosed) {
			// No other data message may start before this one ends, and it cannot end.
			c.abort(fmt.Errorf("wsock: message abandoned: %w", err), true)
		}
		c.unlockMsg()
		return err
	}
	w.op = proto.OpContinuation
	if fin {
		c.unlockMsg()
	}
	return nil
}

// writeControl sends a ping or pong frame.
func (c *Conn) writeControl(ctx context.Context, op proto.Opcode, payload []byte) error {
	if len(payload) > 125 {
		return fmt.Errorf("wsock: %s payload of %d bytes, more than 125", op, len(payload))
	}
	if err := c.lockFrame(ctx, true); err != nil {
		return err
	}
	defer c.unlockFrame()
	if c.sentClose.Load() {
		return c.closedErr()
	}
	wrote, err := c.writeFrameLocked(ctx, true, op, false, payload)
	if err != nil {
		return c.writeFailed(ctx, wrote, err)
	}
	return nil
}

// lockMsg waits for the turn of a data message. It fails when ctx is done or the
// connection is closing.
func (c *Conn) lockMsg(ctx context.Context) error {
	select {
	case c.msgLock.get() <- struct{}{}:
	default:
		select {
		case c.msgLock.get() <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closingCh.wait():
			return c.closedErr()
		}
	}
	if c.isClosing() {
		<-c.msgLock.get()
		return c.closedErr()
	}
	return nil
}

func (c *Conn) unlockMsg() { <-c.msgLock.get() }

// lockData takes the turns of a data message written in one go (Send, SendPrepared,
// SendBatch): the message's, then the frame's. It fails as lockMsg and lockFrame do, or
// when ctx is done once both are taken, and then holds neither; unlockData gives both
// back.
func (c *Conn) lockData(ctx context.Context) error {
	if err := c.lockMsg(ctx); err != nil {
		return err
	}
	if err := c.lockFrame(ctx, true); err != nil {
		c.unlockMsg()
		return err
	}
	if err := ctx.Err(); err != nil {
		c.unlockData()
		return err
	}
	return nil
}

// unlockData gives back the turns lockData took.
func (c *Conn) unlockData() {
	c.unlockFrame()
	c.unlockMsg()
}

// lockFrame waits for the turn to write a frame. It fails when ctx is done or, for data
// and other frames that a closing connection must not send (data), when the connection is
// closing.
func (c *Conn) lockFrame(ctx context.Context, data bool) error {
	select {
	case c.frameLock.get() <- struct{}{}:
	default:
		var closing <-chan struct{}
		if data {
			closing = c.closingCh.wait()
		}
		select {
		case c.frameLock.get() <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-closing:
			return c.closedErr()
		}
	}
	if data && c.isClosing() {
		c.unlockFrame()
		return c.closedErr()
	}
	return nil
}

// unlockFrame lets the next frame go, after sending the pong the reader left and the
// Close frame goAway left, if any.
func (c *Conn) unlockFrame() {
	<-c.frameLock.get()
	if c.pongPending.Load() || c.awayPending.Load() {
		c.flushPending()
	}
}

// flushPending sends the pending pong, then goAway's pending Close frame, if frameLock is
// free; otherwise its holder will, in unlockFrame. Whoever leaves a frame pending checks
// for it after the holder's check could have missed it, so no frame is ever stranded.
func (c *Conn) flushPending() {
	for c.pongPending.Load() || c.awayPending.Load() {
		select {
		case c.frameLock.get() <- struct{}{}:
		default:
			return
		}
		ctx := context.Background()
		wb := c.writeBufs()
		c.pongMu.Lock()
		n := 0
		if c.pong != nil {
			n = copy(wb.ctrlPayload[:], c.pong[:c.pongLen])
		}
		pending := c.pongPending.Swap(false)
		c.pongMu.Unlock()
		if pending && !c.sentClose.Load() {
			if wrote, err := c.writeFrameLocked(ctx, true, proto.OpPong, false, wb.ctrlPayload[:n]); err != nil {
				c.writeFailed(ctx, wrote, err)
			}
		}
		if c.awayPending.Swap(false) {
			if err := c.writeCloseLocked(ctx, proto.CloseCode(GoingAway), c.awayReason()); err != nil {
				c.abort(err, true)
			}
		}
		<-c.frameLock.get()
	}
}

// writeFrameLocked writes one frame; the caller holds frameLock. wrote reports whether any
// byte of it reached the socket. If ctx is cancelled during the write, the write is
// interrupted and err is ctx's error.
func (c *Conn) writeFrameLocked(ctx context.Context, fin bool, op proto.Opcode, rsv1 bool, payload []byte) (wrote bool, err error) {
	return c.writeLocked(ctx, op, nil, fin, rsv1, payload)
}

// writeLocked is writeFrameLocked; when raw is not nil, it is a whole frame (of a server,
// unmasked) written as it is, and fin, rsv1 and payload are ignored.
func (c *Conn) writeLocked(ctx context.Context, op proto.Opcode, raw []byte, fin, rsv1 bool, payload []byte) (wrote bool, err error) {
	done := ctx.Done()
	if done != nil {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		c.dl.beginWrite(ctx, done)
	}
	var n int64
	if raw != nil {
		var k int
		k, err = c.nc.Write(raw)
		n = int64(k)
	} else {
		n, err = c.writeWire(fin, op, rsv1, payload)
	}
	if done != nil {
		c.dl.endWrite()
		if err != nil && ctx.Err() != nil {
			return n > 0, ctx.Err()
		}
	}
	if err != nil {
		err = fmt.Errorf("wsock: write %s frame: %w", op, err)
	}
	return n > 0, err
}

// writeFailed settles a failed frame write: a ctx error is returned as it is, and fails the
// connection if part of the frame went out; any other error ends the connection and is
// reported as a *ClosedError.
func (c *Conn) writeFailed(ctx context.Context, wrote bool, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && err == ctxErr {
		if wrote {
			c.abort(fmt.Errorf("wsock: write cancelled mid-frame: %w", err), true)
		}
		return err
	}
	c.abort(err, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return &ClosedError{Reason: c.reason, err: err}
}

// writeWire writes the frame's header and payload to the socket, masked for a client,
// without modifying payload, and returns how many bytes it wrote.
func (c *Conn) writeWire(fin bool, op proto.Opcode, rsv1 bool, payload []byte) (int64, error) {
	h := proto.Header{Fin: fin, Rsv1: rsv1, Op: op, Length: int64(len(payload))}
	masked := c.keys != nil
	if masked {
		h.Masked = true
		h.Key = c.keys.Next()
	}
	wb := c.writeBufs()
	if len(payload) <= 125 {
		b := proto.AppendHeader(wb.ctrl[:0], h)
		b = append(b, payload...)
		if masked {
			proto.Mask(h.Key, 0, b[len(b)-len(payload):])
		}
		n, err := c.nc.Write(b)
		return int64(n), err
	}
	if !masked && len(payload) > smallBuf-proto.MaxHeaderLen {
		// Header and payload in one writev, without copying the payload.
		wb.vec = [2][]byte{proto.AppendHeader(wb.ctrl[:0], h), payload}
		wb.bufs = wb.vec[:]
		n, err := wb.bufs.WriteTo(c.nc)
		wb.vec = [2][]byte{}
		return n, err
	}
	pool := &smallPool
	if len(payload) > smallBuf-proto.MaxHeaderLen {
		pool = &largePool
	}
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	b := proto.AppendHeader((*bp)[:0], h)
	var total int64
	pos := 0
	for {
		k := copy(b[len(b):cap(b)], payload)
		b = b[:len(b)+k]
		if masked {
			pos = proto.Mask(h.Key, pos, b[len(b)-k:])
		}
		payload = payload[k:]
		n, err := c.nc.Write(b)
		total += int64(n)
		if err != nil || len(payload) == 0 {
			return total, err
		}
		b = b[:0]
	}
}

// releaseCompressor returns the compressor's state, if no message is being sent; it is
// only an optimisation, the garbage collector reclaims it otherwise.
func (c *Conn) releaseCompressor() {
	if c.fl == nil {
		return
	}
	select {
	case c.msgLock.get() <- struct{}{}:
		c.fl.comp.Close()
		c.fl.zbuf = nil
		<-c.msgLock.get()
	default:
	}
}
