package wsock

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

// serveHTTPPipes runs srv over a pipe listener as a task of n and returns
// the dial options that reach it. The task ends when srv shuts down.
func serveHTTPPipes(n *nursery.Nursery, srv *http.Server) *DialOptions {
	ln := newWSPipeListener()
	n.GoNamed("test http server", func(context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return &DialOptions{DialContext: ln.DialContext}
}

// shutDownWhileConnected serves srv while a client is connected, and once
// the handler has accepted (accepted is closed) calls shutdown; the client
// must see the server's 1001.
func shutDownWhileConnected(t *testing.T, srv *http.Server, accepted <-chan struct{}, shutdown func(ctx context.Context) error) {
	t.Helper()
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		dial := serveHTTPPipes(n, srv)
		n.Go(func(ctx context.Context) error {
			<-accepted
			return shutdown(ctx)
		})
		return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			_, err := c.Receive(ctx)
			r := closedReason(t, err)
			assert.Equal(t, GoingAway, r.Code)
			assert.Equal(t, shutdownReason, r.Reason)
			return nil
		})
	})
	assert.NoError(t, err)
}

// upgradeRequest is a valid opening handshake as net/http hands it over.
func upgradeRequest(t *testing.T) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://example.com/chat", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "13")
	return req
}

func TestHTTPHandlerShutdownSendsGoingAwayAndWaitsForEveryHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted := make(chan struct{})
		var handlerDone atomic.Bool
		ws := NewHTTPHandler(func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			close(accepted)
			_, err = c.Receive(ctx) // ends with the drain
			assert.Error(t, err)
			time.Sleep(time.Second) // a handler slow to finish: Shutdown waits for it
			handlerDone.Store(true)
			return nil
		}, nil)
		srv := &http.Server{Handler: ws}
		ws.RegisterOn(srv)
		shutDownWhileConnected(t, srv, accepted, func(ctx context.Context) error {
			require.NoError(t, srv.Shutdown(ctx))
			assert.False(t, handlerDone.Load(), "http.Server.Shutdown does not wait for hijacked connections")
			require.NoError(t, ws.Shutdown(ctx))
			assert.True(t, handlerDone.Load(), "Shutdown returned before the handler")
			return nil
		})
	})
}

func TestHTTPHandlerShutdownWithoutRegisterOnDrainsToo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted := make(chan struct{})
		ws := NewHTTPHandler(func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			close(accepted)
			<-ctx.Done() // Shutdown cancels the handler
			_ = c
			return nil
		}, nil)
		srv := &http.Server{Handler: ws}
		shutDownWhileConnected(t, srv, accepted, func(ctx context.Context) error {
			require.NoError(t, ws.Shutdown(ctx))
			return srv.Shutdown(ctx)
		})
	})
}

func TestHTTPHandlerShutdownReturnsWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted, release := make(chan struct{}), make(chan struct{})
		ws := NewHTTPHandler(func(ctx context.Context, r *Request) error {
			if _, err := r.Accept(ctx, nil); err != nil {
				return err
			}
			close(accepted)
			<-release // deaf to its cancellation
			return nil
		}, nil)
		srv := &http.Server{Handler: ws}
		shutDownWhileConnected(t, srv, accepted, func(ctx context.Context) error {
			short, stop := context.WithTimeout(ctx, time.Second)
			defer stop()
			assert.ErrorIs(t, ws.Shutdown(short), context.DeadlineExceeded)
			close(release)
			assert.NoError(t, ws.Shutdown(ctx), "the drain went on")
			return srv.Shutdown(ctx)
		})
	})
}

func TestHTTPHandlerRefusesUpgradesWith503OnceShutDown(t *testing.T) {
	called := false
	ws := NewHTTPHandler(func(context.Context, *Request) error { called = true; return nil }, nil)
	require.NoError(t, ws.Shutdown(context.Background()), "nothing to wait for")
	rec := httptest.NewRecorder()
	ws.ServeHTTP(rec, upgradeRequest(t))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.False(t, called)
}

func TestDeprecatedServerOptionsHTTPHandlerStillServes(t *testing.T) {
	hs := httptest.NewServer((&ServerOptions{}).HTTPHandler(echoHandler))
	defer hs.Close()
	err := Open(context.Background(), "ws://"+hs.Listener.Addr().String()+"/", nil, func(ctx context.Context, c *Conn) error {
		require.NoError(t, c.SendText(ctx, "old API"))
		m, err := c.Receive(ctx)
		assert.Equal(t, "old API", string(m.Data))
		return err
	})
	assert.NoError(t, err)
}
