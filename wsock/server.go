package wsock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/handshake"
)

// shutdownReason is the close reason of connections a server drains.
const shutdownReason = "server shutting down"

// errHandlerPanicked stands for a recovered handler panic, already logged.
var errHandlerPanicked = errors.New("wsock: handler panicked")

// serverConfig is what serving a connection needs: the resolved options.
type serverConfig struct {
	opts ServerOptions
	lim  limits
	log  *slog.Logger
}

func newServerConfig(o *ServerOptions) (*serverConfig, error) {
	if o == nil {
		o = &ServerOptions{}
	}
	if err := o.Compression.check(); err != nil {
		return nil, err
	}
	lim := o.resolve()
	return &serverConfig{opts: *o, lim: lim, log: lim.logger}, nil
}

// A Server accepts WebSocket connections on one or more listeners. Make one
// with Listen (or NewServer, on listeners of your own), then call Serve (or
// use ServeTask).
type Server struct {
	srv     *serverConfig
	lns     []serverListener
	serving atomic.Bool
	conns   *connSet // connection tasks, wherever they run
}

// Listen listens on the TCP address addr ("host:port"; port 0 picks a free
// port, which Port reports) for Serve. With opts.TLSConfig the server speaks
// wss.
func Listen(addr string, opts *ServerOptions) (*Server, error) {
	srv, err := newServerConfig(opts)
	if err != nil {
		return nil, &opError{"listen", err}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wsock: %w", err) // "listen tcp ADDR: ..."
	}
	return newServer(srv, ln), nil
}

// Addr returns the address the server listens on: its first listener's.
func (s *Server) Addr() net.Addr { return s.lns[0].Addr() }

// Port returns the TCP port the server listens on: its first listener's (0
// if that one is not TCP).
func (s *Server) Port() int { return s.Endpoints()[0].Port() }

// Close closes the listeners of a server that will not Serve. Serve closes
// them itself when it returns.
func (s *Server) Close() error {
	var errs []error
	for _, ln := range s.lns {
		errs = append(errs, ln.Close())
	}
	return errors.Join(errs...)
}

// Serve accepts connections and serves each with h until ctx is cancelled
// or accepting fails for good (trio-websocket's serve_websocket); a server
// serves once.
//
// Each TCP connection runs in a nursery of its own, child of the server's
// (or in ServerOptions.HandlerNursery): its opening handshake must arrive
// within ConnectTimeout, or the socket is closed without calling h; a request
// that is not a valid WebSocket handshake is answered 400 (426 for an
// unsupported version), one from a refused origin 403. None of this, nor a
// failing or panicking handler, stops the server.
//
// Cancelling ctx drains the server: it stops accepting, cancels every
// handler, sends 1001 (GoingAway) to every open connection, waits for their
// closing handshakes (each bounded by DisconnectTimeout), and returns once
// every goroutine it started has returned, with ctx's cancellation error. A
// listener failing for good (not a temporary error) drains the server too,
// and Serve returns that failure. Each listener is accepted from by a task of
// the server's own; Serve closes every listener when it returns.
func (s *Server) Serve(ctx context.Context, h Handler) error {
	if h == nil {
		panic("wsock: Serve with a nil Handler")
	}
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("wsock: serve: the server has already served")
	}
	defer s.Close()
	var acceptErr error
	// The server's nursery is shielded from ctx: when ctx is cancelled its
	// connections close gracefully instead of being dropped.
	_ = cancel.New(cancel.WithShield()).Run(ctx, func(sctx context.Context) error {
		return nursery.Run(sctx, func(_ context.Context, n *nursery.Nursery) error {
			acceptErr = s.acceptAll(ctx, n, h)
			s.conns.drain()
			return nil
		})
	})
	<-s.conns.idle
	if acceptErr != nil {
		return acceptErr
	}
	return cancel.Checkpoint(ctx)
}

// Serve listens on addr and serves h until ctx is cancelled: Listen followed
// by Server.Serve.
func Serve(ctx context.Context, addr string, h Handler, opts *ServerOptions) error {
	s, err := Listen(addr, opts)
	if err != nil {
		return err
	}
	return s.Serve(ctx, h)
}

// ServeTask returns a task for nursery.Start that listens on addr, reports
// the *Server once it listens, and serves h until its context is cancelled:
//
//	srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", h, nil))
//	url := fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port())
func ServeTask(addr string, h Handler, opts *ServerOptions) func(ctx context.Context, ts nursery.TaskStatus[*Server]) error {
	if h == nil {
		panic("wsock: ServeTask with a nil Handler")
	}
	return func(ctx context.Context, ts nursery.TaskStatus[*Server]) error {
		s, err := Listen(addr, opts)
		if err != nil {
			return err
		}
		ts.Started(s)
		return s.Serve(ctx, h)
	}
}

// acceptAll accepts connections on every listener, each in a task, starting
// a task of n for each connection, until ctx is cancelled (nil) or a listener
// fails for good (its error, which stops the others).
func (s *Server) acceptAll(ctx context.Context, n *nursery.Nursery, h Handler) error {
	if len(s.lns) == 1 {
		return s.acceptLoop(ctx, n, s.lns[0], h)
	}
	var mu sync.Mutex
	var first error
	accepting := cancel.New()
	_ = accepting.Run(ctx, func(ctx context.Context) error {
		return nursery.Run(ctx, func(ctx context.Context, an *nursery.Nursery) error {
			for _, ln := range s.lns {
				an.GoNamed("wsock accept "+ln.Addr().String(), func(ctx context.Context) error {
					if err := s.acceptLoop(ctx, n, ln, h); err != nil {
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
						accepting.Cancel("wsock: a listener failed")
					}
					return nil
				})
			}
			return nil
		})
	})
	return first
}

// acceptLoop accepts connections on ln until ctx is cancelled (nil) or ln
// fails for good (the error), starting a task of n for each.
func (s *Server) acceptLoop(ctx context.Context, n *nursery.Nursery, ln net.Listener, h Handler) error {
	release := closeOnCancel(ctx, ln)
	defer release()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !temporary(err) {
				return fmt.Errorf("wsock: accept: %w", err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.srv.log.Warn("wsock: accept failed; retrying", "err", err, "delay", delay)
			if cancel.Sleep(ctx, delay) != nil {
				return nil
			}
			continue
		}
		delay = 0
		s.spawn(n, nc, h)
	}
}

// temporary reports whether an accept error may go away by itself: a
// timeout or the exhaustion of a resource.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// spawn starts the task serving nc, in the handler nursery if there is one.
func (s *Server) spawn(n *nursery.Nursery, nc net.Conn, h Handler) {
	r := &Request{srv: s.srv, nc: nc}
	if !s.conns.add(r) {
		_ = nc.Close()
		return
	}
	task := func(ctx context.Context) error {
		defer s.conns.remove(r)
		return s.srv.serveConn(ctx, r, h)
	}
	name := "wsock conn " + nc.RemoteAddr().String()
	if hn := s.srv.opts.HandlerNursery; hn != nil {
		hn.GoNamed(name, task)
	} else {
		n.GoNamed(name, task)
	}
}

// readHandshake reads r's opening handshake within ConnectTimeout. A request
// that is not a valid upgrade is answered with its error's status. On
// failure the socket is closed.
func (s *serverConfig) readHandshake(ctx context.Context, r *Request) error {
	bound := bindIO(r.nc, s.lim.connectTimeout, ctx)
	hs, rest, err := readRequest(ctx, r.nc, s.lim.readBufferSize)
	if err == nil {
		err = hs.Check()
	}
	var he *handshake.Error
	if errors.As(err, &he) && he.Status != 0 {
		writeError(r.nc, he.Status, he.Header, he.Msg)
	}
	switch {
	case bound.release():
		err = cancel.Checkpoint(ctx)
	case err != nil && bound.expired(err):
		err = ErrConnectTimeout
	}
	if err != nil {
		_ = r.nc.Close()
		return err
	}
	// Checked: what the rest needs has its own fields, and the map is built again if
	// the handler asks for it (Request.Headers).
	hs.Header = nil
	r.hs = hs
	r.buffered = rest
	return nil
}

// headBufSize is the size of the buffers readRequest reads a head into (a longer head
// grows its buffer).
const headBufSize = 2 << 10

// headBufs holds readRequest's buffers.
var headBufs = sync.Pool{New: func() any { return new([headBufSize]byte) }}

// readRequest reads a request head from nc (after the TLS handshake, for a
// TLS connection) and returns it with the bytes read past it (a copy, nil if
// none).
func readRequest(ctx context.Context, nc net.Conn, bufSize int) (*handshake.Request, []byte, error) {
	if tc, ok := nc.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, &handshakeFailed{"TLS handshake", err}
		}
	}
	var buf []byte
	if bufSize >= headBufSize {
		// From a pool: a server opening many connections makes no garbage of
		// them (ParseRequest copies what it keeps).
		pb := headBufs.Get().(*[headBufSize]byte)
		defer headBufs.Put(pb)
		buf = pb[:0]
	} else {
		buf = make([]byte, 0, bufSize)
	}
	for {
		if len(buf) == cap(buf) {
			// ParseRequest fails once a head outgrows its limit, so this
			// stays below twice that limit.
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			req, end, perr := handshake.ParseRequest(buf, handshake.Limits{})
			if perr != nil {
				return nil, nil, perr
			}
			if end > 0 {
				var rest []byte // what the client sent after its head
				if end < len(buf) {
					rest = slices.Clone(buf[end:])
				}
				return req, rest, nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, &handshakeFailed{"read request", err}
		}
	}
}

// writeError answers a failed handshake with status and msg, best effort.
func writeError(nc net.Conn, status int, h http.Header, msg string) {
	h = h.Clone()
	if h == nil {
		h = make(http.Header, 1)
	}
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	answer, err := handshake.AppendReject(nil, status, h, []byte(msg+"\n"))
	if err == nil {
		_, _ = nc.Write(answer)
	}
}

// serveConn serves one connection in a nursery of its own, in which Accept
// starts the connection's reader: it reads the opening handshake unless r
// already has it (HTTPHandler), checks the origin, runs the handler in the
// nursery's body (a shutdown cancels the nursery) and closes the connection
// when the handler returns. With a handler nursery the handler's error (or panic) is
// returned (or goes on); otherwise it is logged and serveConn returns nil.
// When ctx is cancelled (a failure in the handler nursery), the connection's
// reader closes it with 1001, as a drain would.
func (s *serverConfig) serveConn(ctx context.Context, r *Request, h Handler) error {
	var herr error
	_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		r.own(ctx, n)
		returned := false
		defer func() {
			if !returned { // the handler panicked into the handler nursery
				r.settle()
				s.finish(r, errHandlerPanicked, ctx.Err() != nil)
			}
		}()
		herr = s.handle(ctx, r, h)
		r.settle()
		returned = true
		s.finish(r, herr, ctx.Err() != nil)
		return nil
	})
	if s.opts.HandlerNursery != nil && !errors.Is(herr, errHandlerPanicked) && !cancel.IsCancellation(herr) {
		return herr
	}
	return nil
}

// handle reads r's opening handshake unless HTTPHandler has, checks its origin and
// calls h, in the body of the connection's nursery, whose cancellation (a shutdown, the
// handler nursery's failure) is the handler's.
func (s *serverConfig) handle(ctx context.Context, r *Request, h Handler) error {
	if r.hs == nil { // HTTPHandler has done all this already
		// Off the goroutine: see offStack.
		if err := r.offStack(func() error { return s.readHandshake(ctx, r) }); err != nil {
			s.log.Debug("wsock: opening handshake failed", "remote", r.RemoteAddr().String(), "err", err)
			return nil
		}
		if !s.originAllowed(r) {
			s.log.Debug("wsock: origin refused", "remote", r.RemoteAddr().String(), "origin", r.Origin())
			_ = r.Reject(ctx, http.StatusForbidden, nil, []byte("wsock: origin not allowed\n"))
			return nil
		}
	}
	herr := s.callHandler(ctx, r, h)
	r.markReturned()
	return herr
}

// callHandler calls h, recovering and logging its panic unless a handler
// nursery is to receive it.
func (s *serverConfig) callHandler(ctx context.Context, r *Request, h Handler) (err error) {
	if s.opts.HandlerNursery == nil {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("wsock: handler panicked", "remote", r.RemoteAddr().String(), "path", r.Path(),
					"panic", v, "stack", string(debug.Stack()))
				err = errHandlerPanicked
			}
		}()
	}
	return h(ctx, r)
}

// finish closes r's connection after its handler returned herr: the closing
// handshake for an accepted one, a 500 (503 while shutting down) for a
// request left unanswered. ownerGone reports that the connection's nursery is
// cancelled: its reader is closing the connection with 1001 already, and
// finish says the same rather than racing it with another code.
func (s *serverConfig) finish(r *Request, herr error, ownerGone bool) {
	state, c, draining := r.outcome()
	draining = draining || ownerGone
	failedHandler := herr != nil && !cancel.IsCancellation(herr)
	if failedHandler && !errors.Is(herr, errHandlerPanicked) && s.opts.HandlerNursery == nil {
		s.log.Error("wsock: handler failed", "remote", r.RemoteAddr().String(), "path", r.Path(), "err", herr)
	}
	switch state {
	case reqAccepted:
		code, reason := NormalClosure, ""
		switch {
		case failedHandler && !ownerGone:
			code, reason = InternalError, "internal error"
		case draining || herr != nil:
			code, reason = GoingAway, shutdownReason
		}
		_ = c.Close(code, reason)
	case reqPending:
		if r.hs == nil { // no handshake was read: nothing to answer
			_ = r.nc.Close()
			return
		}
		status := http.StatusInternalServerError
		if draining {
			status = http.StatusServiceUnavailable
		}
		if r.claim() {
			msg := "wsock: " + strconv.Itoa(status) + " " + http.StatusText(status)
			if r.isHTTP2() {
				_ = r.answerH2(context.Background(), func() error {
					return r.h2.reject(status, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte(msg+"\n"))
				})
			} else {
				_ = withConnectTimeout(context.Background(), s.lim.connectTimeout, func(ctx context.Context) error {
					release := closeOnCancel(ctx, r.nc)
					writeError(r.nc, status, nil, msg)
					release()
					return nil
				})
			}
		}
		_ = r.nc.Close()
	}
}
