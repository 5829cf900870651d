package leak

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

func TestPanickingHandlersCloseTheirConnectionAndTheServerGoesOn(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				switch r.Path() {
				case "/before-accept":
					panic("handler panics before answering")
				case "/after-accept":
					c, err := r.Accept(ctx, nil)
					if err != nil {
						return err
					}
					if _, err := c.Receive(ctx); err != nil {
						return err
					}
					panic("handler panics on its connection")
				}
				return wsocktest.Echo(ctx, r)
			}, nil)
			opts := &wsock.DialOptions{Logger: quiet}
			for range 3 {
				err := wsock.Open(ctx, ts.URL()+"before-accept", opts, func(context.Context, *wsock.Conn) error {
					return errors.New("opened a connection whose handler panicked")
				})
				var rejected *wsock.RejectedError
				require.ErrorAs(t, err, &rejected)
				assert.Equal(t, http.StatusInternalServerError, rejected.StatusCode)

				err = wsock.Open(ctx, ts.URL()+"after-accept", opts, func(ctx context.Context, c *wsock.Conn) error {
					require.NoError(t, c.SendText(ctx, "make it panic"))
					_, err := c.Receive(ctx)
					assert.Equal(t, wsock.InternalError, closeCode(err))
					return nil
				})
				require.NoError(t, err)
			}
			// The server still serves.
			err := wsock.Open(ctx, ts.URL(), opts, func(ctx context.Context, c *wsock.Conn) error {
				if err := c.SendText(ctx, "still there?"); err != nil {
					return err
				}
				m, err := c.Receive(ctx)
				assert.Equal(t, "still there?", string(m.Data))
				return err
			})
			require.NoError(t, err)
			ts.Close()
			return nil
		})
		require.NoError(t, err)
	})
}

func TestHandlersThatNeitherAcceptNorRejectGetTheirClientsAnswered(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			waiting := make(chan struct{}, 1)
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				if r.Path() == "/wait" {
					// Holds the client in its opening handshake until the
					// server drains.
					waiting <- struct{}{}
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			}, nil)
			opts := &wsock.DialOptions{Logger: quiet}
			body := func(context.Context, *wsock.Conn) error {
				return errors.New("opened a connection nobody accepted")
			}
			var rejected *wsock.RejectedError
			err := wsock.Open(ctx, ts.URL()+"return", opts, body)
			require.ErrorAs(t, err, &rejected)
			assert.Equal(t, http.StatusInternalServerError, rejected.StatusCode)

			n.Go(func(ctx context.Context) error {
				<-waiting
				ts.Close()
				return nil
			})
			err = wsock.Open(ctx, ts.URL()+"wait", opts, body)
			require.ErrorAs(t, err, &rejected)
			assert.Equal(t, http.StatusServiceUnavailable, rejected.StatusCode)
			return nil
		})
		require.NoError(t, err)
	})
}

func TestKeepAliveTasksEndWithTheirConnections(t *testing.T) {
	defer goleak.VerifyNone(t)
	const clients = 10
	// Pings as often as possible; a pong that takes long (on a loaded
	// machine) is not what this test is about.
	keepAlive := wsock.KeepAliveOptions{Interval: time.Millisecond, Timeout: time.Minute}
	scenario(t, func() {
		var codes [clients]wsock.StatusCode
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			ts := wsocktest.NewServer(t, wsocktest.Echo, &wsocktest.Options{Server: &wsock.ServerOptions{KeepAlive: keepAlive}})
			opts := &wsock.DialOptions{Logger: quiet, KeepAlive: keepAlive}
			warm := make(chan struct{}, clients)
			for i := range clients {
				n.Go(func(ctx context.Context) error {
					return wsock.Open(ctx, ts.URL(), opts, func(ctx context.Context, c *wsock.Conn) error {
						for j := range maxExchanges {
							if j == 20 {
								warm <- struct{}{}
								if i%2 == 0 {
									return nil // half the clients leave on their own
								}
							}
							err := c.SendText(ctx, "beat")
							if err == nil {
								_, err = c.Receive(ctx)
							}
							if err != nil && j < 20 {
								return err
							}
							if err != nil { // the other half is drained
								codes[i] = closeCode(err)
								return nil
							}
						}
						return errors.New("the server never drained")
					})
				})
			}
			for range clients {
				select {
				case <-warm:
				case <-ctx.Done():
					return nil
				}
			}
			ts.Close()
			return nil
		})
		require.NoError(t, err)
		for i := 1; i < clients; i += 2 {
			assert.Equal(t, wsock.GoingAway, codes[i], "client %d", i)
		}
	})
}

// errHandler is the failure of handlers that fail.
var errHandler = errors.New("the handler failed")

// handlerNurseryFailure serves clients connections and one more, whose
// handler fails, with a handler nursery: that failure cancels the nursery,
// and with it the server. It returns the server nursery's error, how each
// client's connection closed (from Receive, or from Open when its reader
// ended abnormally) and how the failing one closed.
func handlerNurseryFailure(t *testing.T, clients int) (codes []wsock.StatusCode, failedCode wsock.StatusCode, serveErr error) {
	codes = make([]wsock.StatusCode, clients)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		urls := make(chan string, 1)
		n.GoNamed("server with a handler nursery", func(ctx context.Context) error {
			serveErr = nursery.Run(ctx, func(ctx context.Context, hn *nursery.Nursery) error {
				srv, err := wsock.Listen("127.0.0.1:0", &wsock.ServerOptions{Logger: quiet, HandlerNursery: hn})
				if err != nil {
					return err
				}
				urls <- wsURL(srv.Port())
				return srv.Serve(ctx, func(ctx context.Context, r *wsock.Request) error {
					if r.Path() == "/fail" {
						c, err := r.Accept(ctx, nil)
						if err != nil {
							return err
						}
						if _, err := c.Receive(ctx); err != nil {
							return err
						}
						return errHandler
					}
					return wsocktest.Echo(ctx, r)
				})
			})
			return nil
		})
		url := <-urls
		opts := &wsock.DialOptions{Logger: quiet}
		connected := make(chan struct{}, clients)
		for i := range clients {
			n.Go(func(ctx context.Context) error {
				err := wsock.Open(ctx, url, opts, func(ctx context.Context, c *wsock.Conn) error {
					if err := c.Ping(ctx, nil); err != nil {
						return err
					}
					connected <- struct{}{}
					_, err := c.Receive(ctx)
					codes[i] = closeCode(err)
					return nil
				})
				if errors.Is(err, wsock.ErrClosed) { // the reader's abnormal end
					codes[i] = closeCode(err)
					return nil
				}
				return err
			})
		}
		for range clients {
			select {
			case <-connected:
			case <-ctx.Done():
				return nil
			}
		}
		return wsock.Open(ctx, url+"fail", opts, func(ctx context.Context, c *wsock.Conn) error {
			if err := c.SendText(ctx, "fail now"); err != nil {
				return err
			}
			_, err := c.Receive(ctx)
			failedCode = closeCode(err)
			return nil
		})
	})
	require.NoError(t, err)
	return codes, failedCode, serveErr
}

func TestAFailingHandlerInAHandlerNurseryTearsTheServerDown(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		codes, failedCode, serveErr := handlerNurseryFailure(t, 4)
		assert.ErrorIs(t, serveErr, errHandler)
		assert.Equal(t, wsock.InternalError, failedCode)
		for i, code := range codes {
			// Every client saw its connection close (with which code:
			// TestAFailingHandlerInAHandlerNurseryDrainsTheOtherConnections).
			assert.NotZero(t, code, "client %d", i)
		}
	})
}

func TestAFailingHandlerInAHandlerNurseryDrainsTheOtherConnections(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		codes, _, serveErr := handlerNurseryFailure(t, 4)
		assert.ErrorIs(t, serveErr, errHandler)
		for i, code := range codes {
			assert.Equal(t, wsock.GoingAway, code, "client %d", i)
		}
	})
}
