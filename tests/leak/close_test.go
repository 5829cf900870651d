package leak

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

func TestCloseRacingSendReceiveAndPingFromManyGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	const (
		senders   = 3
		receivers = 2
		pingers   = 2
		closers   = 3
	)
	for round := range 5 {
		scenario(t, func() {
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				ts := wsocktest.NewServer(t, wsocktest.Echo, nil)
				defer ts.Close()
				c, err := wsock.Connect(ctx, n, ts.URL(), &wsock.DialOptions{Logger: quiet, MessageQueueSize: 4})
				require.NoError(t, err)
				busy := make(chan struct{}, senders+receivers+pingers)
				// loop runs op until it fails, telling busy after a few
				// successes; the failure must be the connection's closing.
				loop := func(name string, op func(ctx context.Context) error) {
					n.GoNamed(name, func(ctx context.Context) error {
						for i := range maxExchanges {
							if i == 2 {
								busy <- struct{}{}
							}
							if err := op(ctx); err != nil {
								assert.ErrorIs(t, err, wsock.ErrClosed, "%s in round %d", name, round)
								if i < 2 {
									busy <- struct{}{}
								}
								return nil
							}
						}
						t.Errorf("%s: the connection never closed", name)
						return nil
					})
				}
				for range senders {
					loop("sender", func(ctx context.Context) error { return c.SendText(ctx, "some traffic") })
				}
				for range receivers {
					loop("receiver", func(ctx context.Context) error { _, err := c.Receive(ctx); return err })
				}
				for range pingers {
					loop("pinger", func(ctx context.Context) error { return c.Ping(ctx, nil) })
				}
				for range senders + receivers + pingers {
					<-busy
				}
				var closing sync.WaitGroup
				for range closers {
					closing.Add(1)
					n.Go(func(context.Context) error {
						defer closing.Done()
						assert.NoError(t, c.Close(wsock.NormalClosure, "bye"))
						return nil
					})
				}
				closing.Wait()
				require.NotNil(t, c.CloseReason())
				assert.Equal(t, wsock.NormalClosure, c.CloseReason().Code)
				assert.NoError(t, c.Close(wsock.GoingAway, "again"), "Close is idempotent")
				assert.Equal(t, wsock.NormalClosure, c.CloseReason().Code, "a second Close changes nothing")
				assert.ErrorIs(t, c.SendText(ctx, "too late"), wsock.ErrClosed)
				return nil
			})
			require.NoError(t, err)
		})
	}
}

// acceptKey is the Sec-WebSocket-Accept answer to key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// acceptRaw plays the server's side of the opening handshake on nc, with
// nothing of wsock: it reads the request and answers 101.
func acceptRaw(nc net.Conn) error {
	req, err := http.ReadRequest(bufio.NewReader(nc))
	if err != nil {
		return err
	}
	_, err = io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
	return err
}

func TestCloseAfterThePeerVanishedIsBoundedByDisconnectTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	const disconnectTimeout = 3 * time.Second
	tests := []struct {
		name string
		// vanish plays the peer after the opening handshake, until the
		// client lets go of its end; gone is closed at the end of the test.
		vanish func(nc net.Conn, gone <-chan struct{})
	}{
		{
			name: "peer reads nothing",
			vanish: func(nc net.Conn, gone <-chan struct{}) {
				<-gone // the Close frame can never be written
			},
		},
		{
			name: "peer reads but never answers",
			vanish: func(nc net.Conn, gone <-chan struct{}) {
				_, _ = io.Copy(io.Discard, nc) // until the client closes the pipe
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			scenario(t, func() {
				synctest.Test(t, func(t *testing.T) {
					gone := make(chan struct{})
					err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
						defer close(gone)
						opts := &wsock.DialOptions{
							DisconnectTimeout: disconnectTimeout,
							Logger:            quiet,
							DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
								client, server := net.Pipe()
								n.GoNamed("vanishing peer", func(context.Context) error {
									defer server.Close()
									if acceptRaw(server) == nil {
										tt.vanish(server, gone)
									}
									return nil
								})
								return client, nil
							},
						}
						// Close, as called by the user.
						c, err := wsock.Connect(ctx, n, "ws://example.com/", opts)
						require.NoError(t, err)
						start := time.Now()
						assert.ErrorIs(t, c.Close(wsock.NormalClosure, ""), wsock.ErrDisconnectTimeout)
						assert.Equal(t, disconnectTimeout, time.Since(start))
						assert.Equal(t, wsock.AbnormalClosure, c.CloseReason().Code)
						assert.ErrorIs(t, c.Close(wsock.NormalClosure, ""), wsock.ErrDisconnectTimeout,
							"a second Close reports the same result")

						// Close, as called by Open when its body returns.
						start = time.Now()
						err = wsock.Open(ctx, "ws://example.com/", opts, func(context.Context, *wsock.Conn) error { return nil })
						assert.ErrorIs(t, err, wsock.ErrDisconnectTimeout)
						assert.Equal(t, disconnectTimeout, time.Since(start))
						return nil
					})
					require.NoError(t, err)
					requireBubbleClean(t)
				})
			})
		})
	}
}

func TestCloseAfterThePeerDroppedTCPReturnsAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			dropped := make(chan struct{})
			n.GoNamed("dropping peer", func(context.Context) error {
				nc, err := ln.Accept()
				if err != nil {
					return err
				}
				defer close(dropped)
				defer nc.Close()
				return acceptRaw(nc)
			})
			// The default DisconnectTimeout, a minute, would make a Close
			// that waited for it a hang for the watchdog.
			c, err := wsock.Connect(ctx, n, wsURL(ln.Addr().(*net.TCPAddr).Port), &wsock.DialOptions{Logger: quiet})
			require.NoError(t, err)
			<-dropped
			_, err = c.Receive(ctx)
			assert.Equal(t, wsock.AbnormalClosure, closeCode(err), "Receive: %v", err)
			err = c.Close(wsock.NormalClosure, "")
			assert.False(t, errors.Is(err, wsock.ErrDisconnectTimeout), "Close: %v", err)
			assert.Equal(t, wsock.AbnormalClosure, c.CloseReason().Code)
			return nil
		})
		require.NoError(t, err)
	})
}

func TestCloseRacingStreamingReadersAndWriters(t *testing.T) {
	defer goleak.VerifyNone(t)
	for round := range 5 {
		scenario(t, func() {
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				ts := wsocktest.NewServer(t, wsocktest.Echo, nil)
				defer ts.Close()
				c, err := wsock.Connect(ctx, n, ts.URL(), &wsock.DialOptions{Logger: quiet})
				require.NoError(t, err)
				busy := make(chan struct{}, 2)
				fragment := make([]byte, 16<<10)
				stream := func(name string, op func(ctx context.Context) error) {
					n.GoNamed(name, func(ctx context.Context) error {
						for i := range maxExchanges {
							if i == 2 {
								busy <- struct{}{}
							}
							if err := op(ctx); err != nil {
								assert.ErrorIs(t, err, wsock.ErrClosed, "%s in round %d", name, round)
								if i < 2 {
									busy <- struct{}{}
								}
								return nil
							}
						}
						t.Errorf("%s: the connection never closed", name)
						return nil
					})
				}
				stream("writer", func(ctx context.Context) error {
					w, err := c.Writer(ctx, wsock.BinaryMessage)
					if err != nil {
						return err
					}
					for range 4 {
						if _, err := w.Write(fragment); err != nil {
							return err
						}
					}
					return w.Close()
				})
				stream("reader", func(ctx context.Context) error {
					_, r, err := c.Reader(ctx)
					if err != nil {
						return err
					}
					_, err = io.Copy(io.Discard, r)
					return err
				})
				<-busy
				<-busy
				assert.NoError(t, c.Close(wsock.NormalClosure, ""))
				return nil
			})
			require.NoError(t, err)
		})
	}
}

func TestCancellingTheNurseryOfConnectReleasesEveryWaiter(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		synctest.Test(t, func(t *testing.T) {
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				accepted := make(chan struct{}, 1)
				opts := &wsock.ServerOptions{Logger: quiet, MessageQueueSize: wsock.Rendezvous}
				ps := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
					if _, err := r.Accept(ctx, nil); err != nil {
						return err
					}
					accepted <- struct{}{}
					<-ctx.Done() // and never Receive
					return nil
				}, &wsocktest.Options{Pipe: true, Server: opts})
				defer ps.Close()
				waiters := make(chan error, 3)
				s := cancel.New()
				err := s.Run(ctx, func(ctx context.Context) error {
					return nursery.Run(ctx, func(ctx context.Context, cn *nursery.Nursery) error {
						c, err := wsock.Connect(ctx, cn, "ws://example.com/", &wsock.DialOptions{DialContext: ps.DialOptions().DialContext, Logger: quiet})
						if err != nil {
							return err
						}
						<-accepted
						// The server's reader holds this message for a Receive
						// that never comes, and reads nothing more: no pong,
						// and no room for another frame on the pipe.
						if err := c.SendText(ctx, "block your reader"); err != nil {
							return err
						}
						// Waiters deaf to the cancellation, on operations the
						// peer never completes: only the end of the connection
						// can release them.
						cn.Go(func(context.Context) error {
							_, err := c.Receive(context.Background())
							waiters <- err
							return nil
						})
						cn.Go(func(context.Context) error {
							waiters <- c.SendText(context.Background(), "stuck on the pipe")
							return nil
						})
						synctest.Wait() // the sender holds the frame lock
						cn.Go(func(context.Context) error {
							waiters <- c.Ping(context.Background(), nil)
							return nil
						})
						synctest.Wait() // every waiter is blocked
						s.Cancel("the connection's owner is gone")
						return nil
					})
				})
				require.NoError(t, err)
				for range 3 {
					assert.ErrorIs(t, <-waiters, wsock.ErrClosed)
				}
				return nil
			})
			require.NoError(t, err)
			requireBubbleClean(t)
		})
	})
}

// hiddenConn hides a net.Conn behind io.ReadWriteCloser, as a stream that is
// not a socket (stdin/stdout, an SSH channel) would be.
type hiddenConn struct{ rwc io.ReadWriteCloser }

func (h hiddenConn) Read(p []byte) (int, error)  { return h.rwc.Read(p) }
func (h hiddenConn) Write(p []byte) (int, error) { return h.rwc.Write(p) }
func (h hiddenConn) Close() error                { return h.rwc.Close() }

func TestWrapClientOverAPlainStreamIsBoundedAndLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	const disconnectTimeout = 3 * time.Second
	scenario(t, func() {
		synctest.Test(t, func(t *testing.T) {
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				ps := wsocktest.NewServer(t, wsocktest.Echo, &wsocktest.Options{Pipe: true, Server: &wsock.ServerOptions{Logger: quiet}})
				defer ps.Close()
				opts := &wsock.DialOptions{Logger: quiet, DisconnectTimeout: disconnectTimeout}

				// A working connection, closed normally.
				nc, err := ps.DialOptions().DialContext(ctx, "", "")
				require.NoError(t, err)
				c, err := wsock.WrapClient(ctx, n, hiddenConn{nc}, "example.com", "/", opts)
				require.NoError(t, err)
				require.NoError(t, c.SendText(ctx, "hello"))
				m, err := c.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, "hello", string(m.Data))
				assert.NoError(t, c.Close(wsock.NormalClosure, ""))
				assert.Equal(t, wsock.NormalClosure, c.CloseReason().Code)

				// A peer that answers the handshake and vanishes: the stream
				// has no deadlines, so the closing handshake's bound has to
				// close it.
				client, server := net.Pipe()
				gone := make(chan struct{})
				defer close(gone)
				n.GoNamed("vanishing peer", func(context.Context) error {
					defer server.Close()
					if acceptRaw(server) == nil {
						<-gone
					}
					return nil
				})
				c, err = wsock.WrapClient(ctx, n, hiddenConn{client}, "example.com", "/", opts)
				require.NoError(t, err)
				start := time.Now()
				assert.ErrorIs(t, c.Close(wsock.NormalClosure, ""), wsock.ErrDisconnectTimeout)
				assert.Equal(t, disconnectTimeout, time.Since(start))
				return nil
			})
			require.NoError(t, err)
			requireBubbleClean(t)
		})
	})
}
