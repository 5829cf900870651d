package wsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/cancel"
)

// NetConn returns a net.Conn view of c that carries a byte stream in messages of type typ,
// so that protocols written for net.Conn (TLS, HTTP, gRPC, yamux, …) can run inside a
// WebSocket:
//
//   - Read returns the data of successive messages as one stream: message boundaries are
//     not preserved, and an empty message adds nothing. Each message is received whole
//     (MaxMessageSize applies) and read from memory. After the peer closes the connection
//     with NormalClosure or GoingAway, Read returns io.EOF.
//   - Write sends p as one message (one frame) and returns len(p) or an error, never a
//     short write. For TextMessage each Write must be valid UTF-8, or the peer will fail
//     the connection.
//   - A message of the other type is a protocol error: Read closes the connection with
//     UnsupportedData (1003) and fails.
//   - SetDeadline, SetReadDeadline and SetWriteDeadline work as net.Conn's: every Read and
//     Write runs in a cancel scope whose deadline is the current one, and setting a
//     deadline moves the deadline of the Reads and Writes already waiting. A Read or Write
//     that reaches its deadline returns an error for which errors.Is(err,
//     os.ErrDeadlineExceeded) holds and whose Timeout method reports true. A Read that
//     times out loses nothing: the next Read returns the data. A Write that times out
//     while its frame is partly written fails the connection, as Send does.
//   - Close closes the connection with NormalClosure (1000), as (*Conn).Close does: it
//     waits for the close handshake, bounded by DisconnectTimeout. Reads and Writes
//     after it, and those waiting when it is called, fail with an error matching
//     net.ErrClosed.
//
// ctx bounds every Read and Write: once it is done they fail with its error. It does not
// own the connection; closing c, or the end of its owner's scope, ends the net.Conn too.
// Methods may be called from several goroutines at once; concurrent Reads take turns.
// NetConn panics if typ is neither TextMessage nor BinaryMessage.
func NetConn(ctx context.Context, c *Conn, typ MessageType) net.Conn {
	if !typ.valid() {
		panic("wsock: NetConn with invalid message type " + typ.String())
	}
	return &netConn{c: c, ctx: ctx, typ: typ, readLock: make(chan struct{}, 1)}
}

// netConn is what NetConn returns.
type netConn struct {
	c      *Conn
	ctx    context.Context
	typ    MessageType
	closed atomic.Bool // Close was called

	// readLock (a 1-slot channel, so that waiting for it can watch a deadline) is held
	// by the Read that owns the fields below it.
	readLock chan struct{}
	cur      Message // the message being read
	off      int     // how much of cur has been read
	readErr  error   // sticky: the stream has ended

	mu          sync.Mutex
	read, write opDeadline
}

// opDeadline is the deadline of one direction and the scopes of the operations running
// under it; the netConn's mu guards it.
type opDeadline struct {
	t      time.Time
	scopes map[*cancel.Scope]struct{}
}

// set changes the deadline, for the operations running too.
func (d *opDeadline) set(t time.Time) {
	d.t = t
	for s := range d.scopes {
		s.SetDeadline(t)
	}
}

// do runs body in a cancel scope bounded by d and nc.ctx. When the scope's deadline ends
// body, do returns a timeout error for op.
func (nc *netConn) do(d *opDeadline, op string, body func(ctx context.Context) error) error {
	nc.mu.Lock()
	s := cancel.New(cancel.WithDeadline(d.t))
	if d.scopes == nil {
		d.scopes = make(map[*cancel.Scope]struct{})
	}
	d.scopes[s] = struct{}{}
	nc.mu.Unlock()
	err := s.Run(nc.ctx, body)
	nc.mu.Lock()
	delete(d.scopes, s)
	nc.mu.Unlock()
	if s.CancelledCaught() {
		err = os.ErrDeadlineExceeded
	}
	if err == nil || err == io.EOF {
		return err
	}
	if nc.closed.Load() && errors.Is(err, ErrClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "websocket", Source: nc.LocalAddr(), Addr: nc.RemoteAddr(), Err: err}
}

// Read reads the data of the messages received, in order.
func (nc *netConn) Read(p []byte) (int, error) {
	if n, ok := nc.readBuffered(p); ok {
		return n, nil
	}
	var n int
	err := nc.do(&nc.read, "read", func(ctx context.Context) error {
		select {
		case nc.readLock <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-nc.readLock }()
		if err := ctx.Err(); err != nil {
			return err // a deadline in the past fails even when data is at hand
		}
		for nc.off == len(nc.cur.Data) {
			if nc.readErr != nil {
				return nc.readErr
			}
			if err := nc.next(ctx); err != nil {
				return err
			}
		}
		n = copy(p, nc.cur.Data[nc.off:])
		nc.off += n
		return nil
	})
	return n, err
}

// readBuffered is Read's fast path, without a cancel scope: it reads from the message at
// hand, if there is one, no other Read is running and the deadline has not passed.
func (nc *netConn) readBuffered(p []byte) (int, bool) {
	select {
	case nc.readLock <- struct{}{}:
	default:
		return 0, false
	}
	defer func() { <-nc.readLock }()
	if nc.off == len(nc.cur.Data) || nc.ctx.Err() != nil {
		return 0, false
	}
	nc.mu.Lock()
	t := nc.read.t
	nc.mu.Unlock()
	if !t.IsZero() && !time.Now().Before(t) {
		return 0, false
	}
	n := copy(p, nc.cur.Data[nc.off:])
	nc.off += n
	return n, true
}

// next replaces the message read to its end with the next one. An error other than ctx's
// ends the stream.
func (nc *netConn) next(ctx context.Context) error {
	nc.cur.Release()
	nc.cur, nc.off = Message{}, 0
	m, err := nc.c.Receive(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil:
		var ce *ClosedError
		if !nc.closed.Load() && errors.As(err, &ce) && (ce.Reason.Code == NormalClosure || ce.Reason.Code == GoingAway) {
			err = io.EOF
		}
		nc.readErr = err
		return err
	case m.Type != nc.typ:
		m.Release()
		reason := "expected " + nc.typ.String() + " messages only"
		_ = nc.c.Close(UnsupportedData, reason)
		nc.readErr = fmt.Errorf("wsock: %s message on a net.Conn of %s messages: %w", m.Type, nc.typ, nc.c.closedErr())
		return nc.readErr
	}
	nc.cur = m
	return nil
}

// Write sends p as one message.
func (nc *netConn) Write(p []byte) (int, error) {
	err := nc.do(&nc.write, "write", func(ctx context.Context) error {
		if nc.closed.Load() {
			return nc.c.closedErr()
		}
		return nc.c.Send(ctx, nc.typ, p)
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close closes the WebSocket with NormalClosure.
func (nc *netConn) Close() error {
	nc.closed.Store(true)
	return nc.c.Close(NormalClosure, "")
}

// LocalAddr returns the connection's local address.
func (nc *netConn) LocalAddr() net.Addr { return nc.c.LocalAddr() }

// RemoteAddr returns the connection's remote address.
func (nc *netConn) RemoteAddr() net.Addr { return nc.c.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (nc *netConn) SetDeadline(t time.Time) error {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	nc.read.set(t)
	nc.write.set(t)
	return nil
}

// SetReadDeadline sets the deadline of Reads, waiting ones included.
func (nc *netConn) SetReadDeadline(t time.Time) error {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	nc.read.set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Writes, waiting ones included.
func (nc *netConn) SetWriteDeadline(t time.Time) error {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	nc.write.set(t)
	return nil
}
