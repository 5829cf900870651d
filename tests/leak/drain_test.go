package leak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

// maxExchanges bounds the loops of clients that talk until the server drains.
const maxExchanges = 100_000

func TestDrainMidTrafficClosesEveryClientWithGoingAway(t *testing.T) {
	defer goleak.VerifyNone(t)
	const clients = 50
	scenario(t, func() {
		var codes [clients]wsock.StatusCode // each written by its client's task
		var handlers atomic.Int32
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				handlers.Add(1)
				return wsocktest.Echo(ctx, r)
			}, nil)
			warm := make(chan struct{}, clients)
			for i := range clients {
				n.GoNamed(fmt.Sprintf("client %d", i), func(ctx context.Context) error {
					return wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
						for j := range maxExchanges {
							if j == 3 {
								warm <- struct{}{}
							}
							msg := fmt.Sprintf("client %d message %d", i, j)
							if err := c.SendText(ctx, msg); err != nil {
								codes[i] = closeCode(err)
								return nil
							}
							m, err := c.Receive(ctx)
							if err != nil {
								codes[i] = closeCode(err)
								return nil
							}
							if string(m.Data) != msg {
								return fmt.Errorf("client %d: echo %q for %q", i, m.Data, msg)
							}
						}
						return errors.New("the server never drained")
					})
				})
			}
			for range clients {
				select {
				case <-warm:
				case <-ctx.Done(): // a client failed
					return nil
				}
			}
			ts.Close() // every client is in the middle of its exchanges
			return nil
		})
		require.NoError(t, err)
		assert.EqualValues(t, clients, handlers.Load())
		for i, code := range codes {
			assert.Equal(t, wsock.GoingAway, code, "client %d", i)
		}
	})
}

func TestDrainEndsHandlersBlockedInReceiveWithoutTheirContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	const clients = 5
	scenario(t, func() {
		handlerErrs := make(chan error, clients)
		var clientCodes [clients]wsock.StatusCode
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			accepted := make(chan struct{}, clients)
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				c, err := r.Accept(ctx, nil)
				if err != nil {
					return err
				}
				accepted <- struct{}{}
				// Deaf to the server's cancellation: only the drain's
				// closing handshake can end this wait.
				_, err = c.Receive(context.Background())
				handlerErrs <- err
				return nil
			}, nil)
			for i := range clients {
				n.Go(func(ctx context.Context) error {
					return wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
						_, err := c.Receive(ctx)
						clientCodes[i] = closeCode(err)
						return nil
					})
				})
			}
			for range clients {
				select {
				case <-accepted:
				case <-ctx.Done(): // a client failed
					return nil
				}
			}
			ts.Close()
			return nil
		})
		require.NoError(t, err)
		for range clients {
			err := <-handlerErrs
			assert.ErrorIs(t, err, wsock.ErrClosed)
			assert.Equal(t, wsock.GoingAway, closeCode(err))
		}
		for i, code := range clientCodes {
			assert.Equal(t, wsock.GoingAway, code, "client %d", i)
		}
	})
}

func TestDrainJustAfterTheOpeningHandshakeClosesWithGoingAway(t *testing.T) {
	defer goleak.VerifyNone(t)
	const rounds = 300
	scenario(t, func() {
		for round := range rounds {
			acceptErr := make(chan error, 1)
			var clientCode wsock.StatusCode
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
					c, err := r.Accept(ctx, nil)
					acceptErr <- err
					if err != nil {
						return err
					}
					_, _ = c.Receive(context.Background()) // until the drain closes it
					return nil
				}, nil)
				return wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
					ts.Close() // the client is open: the server must say goodbye
					_, err := c.Receive(ctx)
					clientCode = closeCode(err)
					return nil
				})
			})
			require.NoError(t, err, "round %d", round)
			require.NoError(t, <-acceptErr, "round %d: Accept failed after the client had opened", round)
			require.Equal(t, wsock.GoingAway, clientCode, "round %d", round)
		}
	})
}

func TestDrainIsBoundedByDisconnectTimeoutWhenAHandlerIsStuckInSend(t *testing.T) {
	defer goleak.VerifyNone(t)
	const disconnectTimeout = 200 * time.Millisecond
	scenario(t, func() {
		handlerErr := make(chan error, 1)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			sending := make(chan struct{})
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				c, err := r.Accept(ctx, nil)
				if err != nil {
					return err
				}
				big := make([]byte, 64<<10)
				for i := range maxExchanges {
					// Three whole messages out: the client's queue holds one
					// and its parked reader another, so it reads nothing more
					// — the Close frame included — and the drain must wait.
					if i == 3 {
						close(sending)
					}
					// Deaf to the server's cancellation, to a client that
					// reads nothing: only the socket's deadline can end it.
					if err := c.SendBinary(context.Background(), big); err != nil {
						handlerErr <- err
						return nil
					}
				}
				handlerErr <- errors.New("the client never pushed back")
				return nil
			}, &wsocktest.Options{Server: &wsock.ServerOptions{DisconnectTimeout: disconnectTimeout, Compression: wsock.CompressionOptions{Disabled: true}}})
			// A client that never calls Receive: its reader stops reading
			// once its queue is full, and TCP pushes back on the server.
			c, err := wsock.Connect(ctx, n, ts.URL(), &wsock.DialOptions{Logger: quiet, DisconnectTimeout: disconnectTimeout})
			require.NoError(t, err)
			<-sending
			start := time.Now()
			ts.Close()
			took := time.Since(start)
			assert.GreaterOrEqual(t, took, disconnectTimeout, "Serve waited for the closing handshake")
			assert.Less(t, took, 10*disconnectTimeout, "Serve's drain is bounded by DisconnectTimeout")
			_ = c.Close(wsock.NormalClosure, "")
			return nil
		})
		require.NoError(t, err)
		assert.ErrorIs(t, <-handlerErr, wsock.ErrClosed)
	})
}

// rawDial opens a TCP connection to the server and sends it prefix, the
// start of an opening handshake or nothing at all.
func rawDial(t *testing.T, ts *wsocktest.Server, prefix string) net.Conn {
	t.Helper()
	u, err := url.Parse(ts.URL())
	require.NoError(t, err)
	nc, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	_, err = io.WriteString(nc, prefix)
	require.NoError(t, err)
	return nc
}

// partialHead is an opening handshake cut before its end.
const partialHead = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"

func TestDrainDoesNotWaitForClientsStillInTheirHandshake(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		var handlers atomic.Int32
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			called := make(chan struct{}, 1)
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				handlers.Add(1)
				called <- struct{}{}
				return r.Reject(ctx, http.StatusForbidden, nil, nil)
			}, nil) // ConnectTimeout: a minute
			silent := rawDial(t, ts, "")
			defer silent.Close()
			partial := rawDial(t, ts, partialHead)
			defer partial.Close()
			// The server accepts in order: once this client's handler
			// runs, the two before it have been accepted and wait in
			// their handshakes.
			var rejected *wsock.RejectedError
			require.ErrorAs(t, wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, neverCalled(t)), &rejected)
			<-called
			start := time.Now()
			ts.Close()
			assert.Less(t, time.Since(start), wsock.DefaultConnectTimeout/10, "Serve waited for ConnectTimeout")
			for _, nc := range []net.Conn{silent, partial} {
				_, err := io.Copy(io.Discard, nc) // until the server closes it
				assert.NoError(t, err)
			}
			return nil
		})
		require.NoError(t, err)
		assert.EqualValues(t, 1, handlers.Load())
	})
}

func TestServerConnectTimeoutClosesSilentClientsWithoutCallingTheHandler(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		var handlers atomic.Int32
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				handlers.Add(1)
				return wsocktest.Echo(ctx, r)
			}, &wsocktest.Options{Server: &wsock.ServerOptions{ConnectTimeout: 50 * time.Millisecond}})
			defer ts.Close()
			for _, prefix := range []string{"", partialHead} {
				nc := rawDial(t, ts, prefix)
				_, err := io.Copy(io.Discard, nc) // until the server gives up
				assert.NoError(t, err)
				_ = nc.Close()
			}
			assert.Zero(t, handlers.Load())
			// The server still serves.
			return wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
				return c.Ping(ctx, nil)
			})
		})
		require.NoError(t, err)
		assert.EqualValues(t, 1, handlers.Load())
	})
}
