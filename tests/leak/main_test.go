package leak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// module prefixes every function of ours in a goroutine dump.
const module = "github.com/gotrio/gotrio/"

// hangLimit is how long a scenario over real sockets may take before the
// watchdog declares it hung. Each one takes milliseconds; the margin is for
// a loaded machine running -race.
const hangLimit = 20 * time.Second

// quiet discards the logs of servers and clients: handler failures and
// abnormal closures are what these tests provoke.
var quiet = slog.New(slog.DiscardHandler)

// scenario runs body, a scenario that must return within hangLimit, and then
// checks that no goroutine of ours outlives it. If body hangs, the watchdog
// panics with every goroutine's stack, which names the place it hung.
func scenario(t *testing.T, body func()) {
	t.Helper()
	stop := watchdog(t.Name(), hangLimit)
	defer requireNothingOfOursRemains(t)
	defer stop()
	body()
}

// watchdog panics with a dump of every goroutine if stop is not called
// within d. stop joins the watchdog's goroutine.
func watchdog(name string, d time.Duration) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	//gotrio:go the watchdog must run outside every nursery it watches; stop joins it
	go func() {
		defer close(exited)
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			panic(fmt.Sprintf("leak: %s hung for %v; goroutines:\n\n%s", name, d, allStacks()))
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// allStacks returns runtime.Stack of every goroutine, whole.
func allStacks() string {
	for size := 1 << 16; ; size *= 2 {
		buf := make([]byte, size)
		if n := runtime.Stack(buf, true); n < size {
			return string(buf[:n])
		}
	}
}

// goroutinesOfOurs returns the stack of every goroutine that runs code of
// the module, or was started by it, except the calling goroutine, the
// watchdog and those of the test harness (the goroutines running TestMain
// and the tests, whose stacks hold test functions of this package).
func goroutinesOfOurs() []string {
	var ours []string
	for i, g := range strings.Split(allStacks(), "\n\n") {
		if i == 0 { // runtime.Stack lists the calling goroutine first
			continue
		}
		if !strings.Contains(g, module) {
			continue
		}
		if strings.Contains(g, "\ntesting.tRunner(") || strings.Contains(g, "\ntesting.(*M).Run(") ||
			strings.Contains(g, module+"tests/leak.watchdog.func1(") {
			continue
		}
		ours = append(ours, g)
	}
	return ours
}

// schedRounds bounds how many times requireNothingOfOursRemains yields before
// it judges. A goroutine that a nursery has joined may still be returning
// through its last frames when the join is seen (a join can only be signalled
// from inside the goroutine); yielding lets it finish. A goroutine that is
// blocked is still there after every round.
const schedRounds = 10000

// requireNothingOfOursRemains fails the test, listing their stacks, if
// goroutines of ours remain. It never sleeps: it only yields the processor
// a bounded number of times.
func requireNothingOfOursRemains(t *testing.T) {
	t.Helper()
	ours := goroutinesOfOurs()
	for i := 0; i < schedRounds && len(ours) > 0; i++ {
		runtime.Gosched()
		ours = goroutinesOfOurs()
	}
	if len(ours) > 0 {
		t.Fatalf("%d goroutine(s) of ours remain after the scenario returned:\n\n%s",
			len(ours), strings.Join(ours, "\n\n"))
	}
}

// wsURL is the URL of a server listening on 127.0.0.1:port.
func wsURL(port int) string { return "ws://127.0.0.1:" + strconv.Itoa(port) + "/" }

// echo accepts the connection and echoes every message until it closes.
func echo(ctx context.Context, r *wsock.Request) error {
	c, err := r.Accept(ctx, nil)
	if err != nil {
		return err
	}
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		if err := c.Send(ctx, m.Type, m.Data); err != nil {
			return nil
		}
	}
}

// closeCode is the code of err's *ClosedError, 0 if it has none.
func closeCode(err error) wsock.StatusCode {
	var ce *wsock.ClosedError
	if errors.As(err, &ce) && ce.Reason != nil {
		return ce.Reason.Code
	}
	return 0
}

// testServer is a wsock.Server on 127.0.0.1 serving in a task of a test's
// nursery, under a scope of its own so that the test can drain it while the
// rest of the nursery goes on.
type testServer struct {
	*wsock.Server
	url    string
	scope  *cancel.Scope
	served chan struct{} // closed when Serve has returned
}

// startServer listens on a free port of 127.0.0.1 and serves h in a task of
// n until drain is called or n is cancelled. Serve's own error, if it stops
// for another reason, is the task's failure.
func startServer(t *testing.T, n *nursery.Nursery, h wsock.Handler, opts *wsock.ServerOptions) *testServer {
	t.Helper()
	if opts == nil {
		opts = &wsock.ServerOptions{}
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	srv, err := wsock.Listen("127.0.0.1:0", opts)
	require.NoError(t, err)
	ts := &testServer{Server: srv, url: wsURL(srv.Port()), scope: cancel.New(), served: make(chan struct{})}
	n.GoNamed("test server", func(ctx context.Context) error {
		defer close(ts.served)
		return ts.scope.Run(ctx, func(ctx context.Context) error { return srv.Serve(ctx, h) })
	})
	return ts
}

// drain cancels the server's context: it stops accepting and closes every
// connection with 1001.
func (ts *testServer) drain() { ts.scope.Cancel("the test drains the server") }

// pipeServer serves an http.Handler (wsock.NewHTTPHandler's) over
// net.Pipe connections, without net/http's server, so that a wsock server
// runs inside a synctest bubble. Each connection's request is read with
// http.ReadRequest and served in a task of the pipe server's nursery, whose
// context is the request's: drain cancels it, which drains the handlers.
type pipeServer struct {
	h       http.Handler
	conns   chan net.Conn
	stopped chan struct{} // closed when the server no longer takes connections
	scope   *cancel.Scope
}

// startPipeServer serves h in a task of n until drain is called or n is
// cancelled.
func startPipeServer(n *nursery.Nursery, h http.Handler) *pipeServer {
	ps := &pipeServer{h: h, conns: make(chan net.Conn), stopped: make(chan struct{}), scope: cancel.New()}
	n.GoNamed("pipe server", func(ctx context.Context) error {
		return ps.scope.Run(ctx, func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, conns *nursery.Nursery) error {
				defer close(ps.stopped)
				for {
					select {
					case nc := <-ps.conns:
						conns.GoNamed("pipe conn", func(ctx context.Context) error {
							ps.serve(ctx, nc)
							return nil
						})
					case <-ctx.Done():
						return nil
					}
				}
			})
		})
	})
	return ps
}

// drain stops the pipe server: it takes no more connections and the
// contexts of the requests it serves are cancelled.
func (ps *pipeServer) drain() { ps.scope.Cancel("the test drains the pipe server") }

// DialContext is a DialOptions.DialContext that connects to the server.
func (ps *pipeServer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	var err error
	select {
	case ps.conns <- server:
		return client, nil
	case <-ps.stopped:
		err = &net.OpError{Op: "dial", Net: "pipe", Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = client.Close()
	_ = server.Close()
	return nil, err
}

// serve reads one request from nc and hands it to the handler, with ctx as
// the request's context. The connection is the handler's if it hijacks it.
func (ps *pipeServer) serve(ctx context.Context, nc net.Conn) {
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if !stop() || err != nil {
		_ = nc.Close()
		return
	}
	w := &pipeResponse{nc: nc, br: br, header: make(http.Header)}
	ps.h.ServeHTTP(w, req.WithContext(ctx))
	if !w.hijacked {
		w.send()
		_ = nc.Close()
	}
}

// pipeResponse is the http.ResponseWriter (and http.Hijacker) of a pipe
// connection. An answer that is not hijacked is buffered and sent whole.
type pipeResponse struct {
	nc       net.Conn
	br       *bufio.Reader
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

func (w *pipeResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.nc, bufio.NewReadWriter(w.br, bufio.NewWriter(w.nc)), nil
}

// send writes the buffered answer.
func (w *pipeResponse) send() {
	w.WriteHeader(http.StatusOK)
	resp := &http.Response{
		StatusCode: w.status, ProtoMajor: 1, ProtoMinor: 1, Header: w.header,
		ContentLength: int64(w.body.Len()), Body: io.NopCloser(&w.body), Close: true,
	}
	_ = resp.Write(w.nc)
}

// silentPeer plays a server that takes the TCP (or pipe) connection, reads
// the opening handshake and never answers. It reports on heard when it has
// read the whole request head, then reads on until the client closes.
func silentPeer(nc net.Conn, heard chan<- struct{}) {
	defer nc.Close()
	var head []byte
	buf := make([]byte, 512)
	told := false
	for {
		n, err := nc.Read(buf)
		head = append(head, buf[:n]...)
		if !told && bytes.Contains(head, []byte("\r\n\r\n")) {
			told = true
			close(heard)
		}
		if err != nil {
			return
		}
	}
}
