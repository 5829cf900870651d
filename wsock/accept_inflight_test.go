package wsock

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// startServing serves h as tasks of n and returns a dialer and a function
// that stops serving.
type startServing func(t *testing.T, n *nursery.Nursery, h Handler) (dial func() net.Conn, stop func())

// servingPaths are the two ways of serving a handler, both over pipes inside a
// synctest bubble: the native Server and an HTTPHandler in an http.Server.
// The test cancels n after stop.
var servingPaths = []struct {
	name  string
	start startServing
}{
	{"native", func(t *testing.T, n *nursery.Nursery, h Handler) (func() net.Conn, func()) {
		_, dial := servePipes(t, n, h, nil) // ends when the test cancels n
		return pipeDialer(t, dial), func() {}
	}},
	{"net/http", func(t *testing.T, n *nursery.Nursery, h Handler) (func() net.Conn, func()) {
		ws := NewHTTPHandler(h, nil)
		srv := &http.Server{Handler: ws}
		dial := serveHTTPPipes(n, srv)
		return pipeDialer(t, dial), func() {
			assert.NoError(t, srv.Shutdown(context.Background()))
			assert.NoError(t, ws.Shutdown(context.Background()))
		}
	}},
}

// onEveryServingPath runs body, in a synctest bubble, in a nursery which is
// cancelled when body returns, once per serving path.
func onEveryServingPath(t *testing.T, body func(t *testing.T, ctx context.Context, n *nursery.Nursery, start startServing)) {
	for _, path := range servingPaths {
		t.Run(path.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
					defer n.Scope().Cancel("test over")
					body(t, ctx, n, path.start)
					return nil
				})
				assert.NoError(t, err)
			})
		})
	}
}

func pipeDialer(t *testing.T, dial *DialOptions) func() net.Conn {
	return func() net.Conn {
		nc, err := dial.DialContext(context.Background(), "tcp", "")
		require.NoError(t, err)
		return nc
	}
}

// acceptInFlight runs a handler that starts Accept in a task of an outer
// nursery, with the handler's ctx or not, and returns while that Accept is
// still writing its 101: the raw client reads nothing until the handler has
// returned. It returns the client's socket, a channel that is closed when the
// client may read, and the Accept's result.
func acceptInFlight(t *testing.T, n *nursery.Nursery, start startServing, withHandlersCtx bool) (nc net.Conn, acceptErr <-chan error, stop func()) {
	returning := make(chan struct{})
	result := make(chan error, 1)
	dial, stop := start(t, n, func(ctx context.Context, r *Request) error {
		actx := context.Background()
		if withHandlersCtx {
			actx = ctx
		}
		n.Go(func(context.Context) error {
			_, err := r.Accept(actx, nil)
			result <- err
			return nil
		})
		synctest.Wait() // the Accept is writing its answer, which nobody reads
		close(returning)
		return nil
	})
	nc = dial()
	_, err := io.WriteString(nc, validUpgrade+"Sec-WebSocket-Version: 13\r\n\r\n")
	require.NoError(t, err)
	<-returning
	synctest.Wait() // the handler has returned; its end is waiting, if it does
	return nc, result, stop
}

func TestAcceptInFlightWhenItsHandlerReturnsIsWaitedForThenClosed(t *testing.T) {
	onEveryServingPath(t, func(t *testing.T, ctx context.Context, n *nursery.Nursery, start startServing) {
		nc, acceptErr, stop := acceptInFlight(t, n, start, false)
		defer stop()
		defer nc.Close()
		head := string(readHead(t, nc))
		assert.True(t, strings.HasPrefix(head, "HTTP/1.1 101 "), head)
		assert.NoError(t, <-acceptErr, "the answer went out whole")
		f, err := readPeerFrame(nc)
		require.NoError(t, err)
		require.Equal(t, proto.OpClose, f.op)
		code, _, err := proto.ParseClose(f.payload)
		require.NoError(t, err)
		assert.Equal(t, proto.NormalClosure, code, "closed as after any handler's return")
		require.NoError(t, writePeerFrame(nc, proto.OpClose, f.payload, true))
		_, err = nc.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "the server closed the socket")
	})
}

func TestAcceptInFlightWithTheHandlersContextFailsAndClosesTheSocket(t *testing.T) {
	onEveryServingPath(t, func(t *testing.T, ctx context.Context, n *nursery.Nursery, start startServing) {
		nc, acceptErr, stop := acceptInFlight(t, n, start, true)
		defer stop()
		defer nc.Close()
		err := <-acceptErr
		require.Error(t, err)
		assert.Contains(t, err.Error(), "wsock: accept: the handler returned while the answer was written")
		got, err := io.ReadAll(nc)
		assert.NoError(t, err, "the socket was closed")
		assert.Empty(t, got)
	})
}

// handedOutRequest serves a handler that hands its request out and returns at
// once, and sends it a valid opening handshake on nc.
func handedOutRequest(t *testing.T, n *nursery.Nursery, start startServing) (<-chan *Request, net.Conn, func()) {
	t.Helper()
	requests := make(chan *Request, 1)
	dial, stop := start(t, n, func(_ context.Context, r *Request) error {
		requests <- r
		return nil
	})
	nc := dial()
	_, err := io.WriteString(nc, validUpgrade+"Sec-WebSocket-Version: 13\r\n\r\n")
	require.NoError(t, err)
	return requests, nc, stop
}

func TestAcceptAfterItsHandlerReturnedFailsAndTheClientGets500(t *testing.T) {
	onEveryServingPath(t, func(t *testing.T, ctx context.Context, n *nursery.Nursery, start startServing) {
		requests, nc, stop := handedOutRequest(t, n, start)
		defer stop()
		defer nc.Close()
		head := string(readHead(t, nc))
		assert.True(t, strings.HasPrefix(head, "HTTP/1.1 500 "), head)
		_, err := (<-requests).Accept(ctx, nil)
		assert.ErrorContains(t, err, "wsock: accept: the handler has returned")
	})
}

func TestAcceptAfterTheConnectionIsGoneFailsWithoutPanicking(t *testing.T) {
	onEveryServingPath(t, func(t *testing.T, ctx context.Context, n *nursery.Nursery, start startServing) {
		requests, nc, stop := handedOutRequest(t, n, start)
		defer stop()
		defer nc.Close()
		head, err := io.ReadAll(nc) // until the server closes the socket
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(head), "HTTP/1.1 500 "), string(head))
		synctest.Wait() // the connection's task, and its nursery, have finished
		_, err = (<-requests).Accept(ctx, nil)
		assert.ErrorContains(t, err, "wsock: accept: the handler has returned")
	})
}

func TestDrainInterruptsAnAcceptWritingToAClientThatDoesNotRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepting := make(chan struct{})
		acceptErr := make(chan error, 1)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			serving := cancel.New()
			cfg, err := newServerConfig(&ServerOptions{ConnectTimeout: Unlimited})
			require.NoError(t, err)
			ln := newWSPipeListener()
			srv := newServer(cfg, ln)
			served := make(chan error, 1)
			n.Go(func(ctx context.Context) error {
				served <- serving.Run(ctx, func(ctx context.Context) error {
					return srv.Serve(ctx, func(ctx context.Context, r *Request) error {
						// Deaf to the shutdown: only the server can end the write.
						_, err := r.Accept(context.WithoutCancel(ctx), nil)
						acceptErr <- err
						return nil
					})
				})
				return nil
			})
			nc, err := ln.DialContext(ctx, "", "")
			require.NoError(t, err)
			defer nc.Close()
			n.Go(func(context.Context) error {
				_, err := io.WriteString(nc, validUpgrade+"Sec-WebSocket-Version: 13\r\n\r\n")
				close(accepting)
				return err
			})
			<-accepting
			synctest.Wait() // the Accept is writing its 101, which nobody reads
			serving.Cancel("shutting down")
			assert.NoError(t, <-served, "the drain ended although the client never read")
			assert.ErrorIs(t, <-acceptErr, context.Canceled)
			got, err := io.ReadAll(nc)
			assert.NoError(t, err, "the socket was closed")
			assert.Empty(t, got)
			return nil
		})
		assert.NoError(t, err)
	})
}
