package wsocktest

import (
	"context"
	"log/slog"
	"net"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/nursery/nurserytest"
	"github.com/gotrio/gotrio/wsock"
)

// Options configure a test server. A nil *Options means the defaults.
type Options struct {
	// Server configures the server. nil means wsock's defaults, and a nil
	// Logger one that writes to the test's log (t.Log).
	Server *wsock.ServerOptions
	// Dial is the base of DialOptions and of Pipe's client. nil means
	// wsock's defaults, and a nil Logger one that writes to the test's log.
	Dial *wsock.DialOptions
	// Accept is how Pipe's server end accepts its connection; nil accepts
	// with no subprotocol. NewServer does not use it: its handler accepts.
	Accept *wsock.AcceptOptions
	// Pipe makes NewServer serve over net.Pipe connections in memory rather
	// than on a loopback TCP port: no socket is opened, and the server may
	// run inside a testing/synctest bubble (started in the bubble's test).
	// Clients reach it only through DialOptions (its DialContext); the URL
	// names no real host.
	Pipe bool
}

// A Server is a wsock server that lives until the end of a test.
type Server struct {
	t    testing.TB
	url  string
	task string // the task path everything of the server runs under
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	base wsock.DialOptions

	h    *harness
	once sync.Once
}

// serial numbers the test servers of a process, for their task paths.
var serial atomic.Int64

// NewServer starts a server that serves h until the test ends (or Close is
// called), on a free port of 127.0.0.1 or, with opts.Pipe, in memory. At
// the test's cleanup it drains the server and fails the test if a goroutine
// of the server remains (see the package doc). Errors of Serve itself fail
// the test; handler failures are logged, as Serve does.
func NewServer(t testing.TB, h wsock.Handler, opts *Options) *Server {
	t.Helper()
	if h == nil {
		panic("wsocktest: NewServer with a nil Handler")
	}
	o := resolve(t, opts)
	s := &Server{t: t, task: "wsocktest server " + strconv.FormatInt(serial.Add(1), 10), base: *o.Dial}
	var ln net.Listener
	if o.Pipe {
		pl := newPipeListener()
		ln, s.dial, s.url = pl, pl.dial, "ws://wsocktest.pipe/"
	} else {
		var lc net.ListenConfig
		tcp, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("wsocktest: listen: %v", err)
		}
		ln, s.url = tcp, "ws://"+tcp.Addr().String()+"/"
	}
	srv, err := wsock.NewServer(o.Server, ln)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("wsocktest: new server: %v", err)
	}
	s.h = startHarness(t.Context(), s.task, func(ctx context.Context, n *nursery.Nursery) {
		n.GoNamed("serve", func(ctx context.Context) error {
			return srv.Serve(ctx, h)
		})
	})
	t.Cleanup(s.Close)
	return s
}

// URL returns the server's address, "ws://127.0.0.1:port/" (for a Pipe
// server, "ws://wsocktest.pipe/", reachable with DialOptions only). Append a
// path for the handler's Request.Path.
func (s *Server) URL() string { return s.url }

// DialOptions returns new client options that reach the server: a copy of
// Options.Dial, with the pipe dialer for a Pipe server. Change them freely.
func (s *Server) DialOptions() *wsock.DialOptions {
	o := s.base
	if s.dial != nil {
		o.DialContext = s.dial
	}
	return &o
}

// Open connects to the server at URL() and runs body with the connection:
// wsock.Open with DialOptions.
func (s *Server) Open(ctx context.Context, body func(ctx context.Context, c *wsock.Conn) error) error {
	return wsock.Open(ctx, s.url, s.DialOptions(), body)
}

// Task returns the task path the server's goroutines run under: the
// subtree that Close checks.
func (s *Server) Task() string { return s.task }

// Close drains the server: it stops accepting, cancels the handlers, closes
// every connection with 1001 (GoingAway) and waits for their closing
// handshakes (each bounded by the server's DisconnectTimeout); then it fails
// the test if a goroutine of the server remains. The test's cleanup calls
// it; calling it earlier, to test what clients see of a shutdown, is fine,
// and later calls do nothing.
func (s *Server) Close() {
	s.t.Helper()
	s.once.Do(func() {
		s.t.Helper()
		if err := s.h.stop(); err != nil {
			s.t.Errorf("wsocktest: %s: %v", s.task, err)
		}
		nurserytest.VerifyNoneUnder(s.t, s.task)
	})
}

// resolve returns the options with their defaults filled in, in copies of
// the caller's.
func resolve(t testing.TB, opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Server, o.Dial = copyOf(o.Server), copyOf(o.Dial)
	logger := slog.New(slog.NewTextHandler(testLog{t}, nil))
	if o.Server.Logger == nil {
		o.Server.Logger = logger
	}
	if o.Dial.Logger == nil {
		o.Dial.Logger = logger
	}
	return o
}

// copyOf returns a copy of *p, or a new zero value when p is nil.
func copyOf[T any](p *T) *T {
	var v T
	if p != nil {
		v = *p
	}
	return &v
}

// testLog is an io.Writer onto a test's log, for slog.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// A harness owns the nursery of a test server (or pipe) from its start to
// the test's cleanup. That lifetime does not fit in a call of the test's,
// so one goroutine, started with a bare go statement, holds the nursery
// open; stop cancels it and joins that goroutine.
type harness struct {
	scope *cancel.Scope
	do    chan func(ctx context.Context, n *nursery.Nursery)
	done  chan error
}

// startHarness starts the harness goroutine under task path task, with ctx
// (the test's context) as the parent of its nursery, and calls start in
// the nursery's body.
func startHarness(ctx context.Context, task string, start func(ctx context.Context, n *nursery.Nursery)) *harness {
	h := &harness{scope: cancel.New(), do: make(chan func(context.Context, *nursery.Nursery)), done: make(chan error, 1)}
	ctx = pprof.WithLabels(ctx, pprof.Labels(nursery.LabelKey, task))
	//gotrio:go the harness holds a nursery for the rest of the test; stop joins it
	go func() {
		pprof.SetGoroutineLabels(ctx)
		h.done <- h.scope.Run(ctx, func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				start(ctx, n)
				for {
					select {
					case f := <-h.do:
						f(ctx, n)
					case <-ctx.Done():
						return nil
					}
				}
			})
		})
	}()
	return h
}

// run calls f in the harness's nursery body, so that f may start tasks (and
// connections) in it, and returns f's error.
func (h *harness) run(ctx context.Context, f func(ctx context.Context, n *nursery.Nursery) error) error {
	result := make(chan error, 1)
	select {
	case h.do <- func(ctx context.Context, n *nursery.Nursery) { result <- f(ctx, n) }:
		return <-result
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop cancels the harness's nursery, waits for every task and the harness
// goroutine, and returns the nursery's failures; cancellation is none (the
// test's context is cancelled just before its cleanup).
func (h *harness) stop() error {
	h.scope.Cancel("wsocktest: the test is over")
	return cancel.StripCancellation(<-h.done)
}
