package leak

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

// joinedHandler counts the ServeHTTP calls in progress, so that a test can
// wait for them: httptest.Server.Close, like http.Server.Close and Shutdown,
// does not wait for hijacked connections, so it may return while a
// WebSocket handler is still finishing its closing handshake.
type joinedHandler struct {
	h       http.Handler
	serving sync.WaitGroup
}

func (j *joinedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.serving.Add(1)
	defer j.serving.Done()
	j.h.ServeHTTP(w, r)
}

// startHTTPTest mounts h, through wsock.NewHTTPHandler, in an httptest
// server whose requests' contexts derive from base.
func startHTTPTest(base context.Context, h wsock.Handler) (*httptest.Server, *joinedHandler) {
	j := &joinedHandler{h: wsock.NewHTTPHandler(h, &wsock.ServerOptions{Logger: quiet})}
	ts := httptest.NewUnstartedServer(j)
	ts.Config.BaseContext = func(net.Listener) context.Context { return base }
	ts.Start()
	return ts, j
}

func TestHTTPHandlerInHTTPTestServerLeavesNothingOnceClosed(t *testing.T) {
	defer goleak.VerifyNone(t)
	const clients = 10
	scenario(t, func() {
		ts, j := startHTTPTest(context.Background(), wsocktest.Echo)
		url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/"
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			for range clients {
				n.Go(func(ctx context.Context) error {
					return wsock.Open(ctx, url, &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
						for range 20 {
							if err := c.SendText(ctx, "hello"); err != nil {
								return err
							}
							if _, err := c.Receive(ctx); err != nil {
								return err
							}
						}
						return nil
					})
				})
			}
			return nil
		})
		require.NoError(t, err)
		resp, err := ts.Client().Get(ts.URL) // not an upgrade: answered 400
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		ts.Close()
		j.serving.Wait()
	})
}

func TestHTTPHandlerDrainsWhenTheBaseContextIsCancelled(t *testing.T) {
	defer goleak.VerifyNone(t)
	const clients = 10
	scenario(t, func() {
		base, stop := context.WithCancel(context.Background())
		defer stop()
		ts, j := startHTTPTest(base, func(ctx context.Context, r *wsock.Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			if err := c.SendText(ctx, "welcome"); err != nil {
				return err
			}
			_, err = c.Receive(ctx) // until the server shuts down
			return err
		})
		url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/"
		var codes [clients]wsock.StatusCode
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			welcomed := make(chan struct{}, clients)
			for i := range clients {
				c, err := wsock.Connect(ctx, n, url, &wsock.DialOptions{Logger: quiet})
				require.NoError(t, err)
				n.Go(func(ctx context.Context) error {
					defer c.Close(wsock.NormalClosure, "")
					if _, err := c.Receive(ctx); err != nil {
						return err
					}
					welcomed <- struct{}{}
					_, err := c.Receive(ctx)
					codes[i] = closeCode(err)
					return nil
				})
			}
			for range clients {
				select {
				case <-welcomed:
				case <-ctx.Done(): // a client failed
					return nil
				}
			}
			stop() // the server shuts down
			return nil
		})
		require.NoError(t, err)
		for i, code := range codes {
			assert.Equal(t, wsock.GoingAway, code, "client %d", i)
		}
		ts.Close()
		j.serving.Wait()
	})
}

func TestHTTPHandlerOutlivesHTTPTestCloseUntilItsClientLeaves(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		ts, j := startHTTPTest(context.Background(), wsocktest.Echo)
		url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/"
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			c, err := wsock.Connect(ctx, n, url, &wsock.DialOptions{Logger: quiet})
			require.NoError(t, err)
			defer c.Close(wsock.NormalClosure, "")
			// net/http forgets hijacked connections: Close neither waits
			// for nor cancels the handler (http.Server.BaseContext is the
			// way to stop it), which serves on.
			ts.Close()
			for range 3 {
				require.NoError(t, c.SendText(ctx, "still there?"))
				m, err := c.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, "still there?", string(m.Data))
			}
			return c.Close(wsock.NormalClosure, "")
		})
		require.NoError(t, err)
		j.serving.Wait() // the handler ends with its connection
	})
}

func TestHTTPHandlerShutdownJoinsEveryConnectionItServes(t *testing.T) {
	defer goleak.VerifyNone(t)
	const clients = 10
	scenario(t, func() {
		var accepted sync.WaitGroup
		accepted.Add(clients)
		ws := wsock.NewHTTPHandler(func(ctx context.Context, r *wsock.Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			accepted.Done()
			_, _ = c.Receive(ctx) // until the shutdown
			return nil
		}, &wsock.ServerOptions{Logger: quiet, KeepAlive: wsock.KeepAliveOptions{Interval: time.Hour}})
		ts := httptest.NewUnstartedServer(ws)
		ws.RegisterOn(ts.Config)
		ts.Start()
		url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/"
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			for range clients {
				n.Go(func(ctx context.Context) error {
					return wsock.Open(ctx, url, &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
						_, err := c.Receive(ctx)
						assert.Equal(t, wsock.GoingAway, wsock.CloseStatus(err))
						return nil
					})
				})
			}
			accepted.Wait()
			require.NoError(t, ts.Config.Shutdown(ctx))
			// Every handler, reader and keep-alive task has returned once
			// Shutdown has: nothing of the server's is left.
			require.NoError(t, ws.Shutdown(ctx))
			return nil
		})
		require.NoError(t, err)
		ts.Close()
	})
}
