package leak

import (
	"context"
	"errors"
	"net"
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

// neverCalled is an Open body for opens that must fail before it runs.
func neverCalled(t *testing.T) func(context.Context, *wsock.Conn) error {
	return func(context.Context, *wsock.Conn) error {
		t.Error("Open ran its body")
		return nil
	}
}

// startSilentServer listens on 127.0.0.1 and, in a task of n, accepts one
// TCP connection and plays silentPeer on it. heard is closed once the
// client's opening handshake has arrived.
func startSilentServer(t *testing.T, n *nursery.Nursery) (url string, heard <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := make(chan struct{})
	n.GoNamed("silent server", func(ctx context.Context) error {
		defer ln.Close()
		stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
		defer stop()
		nc, err := ln.Accept()
		if err != nil {
			return nil // the test ended before a client came
		}
		silentPeer(nc, h)
		return nil
	})
	return wsURL(ln.Addr().(*net.TCPAddr).Port), h
}

func TestOpenCancelledDuringTheHandshakeLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		var openErr error
		s := cancel.New()
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			url, heard := startSilentServer(t, n)
			n.Go(func(ctx context.Context) error {
				<-heard // the request is out; the answer will never come
				s.Cancel("the test gives up on the handshake")
				return nil
			})
			return s.Run(ctx, func(ctx context.Context) error {
				openErr = wsock.Open(ctx, url, &wsock.DialOptions{Logger: quiet}, neverCalled(t))
				return openErr
			})
		})
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())
		assert.True(t, cancel.IsCancellation(openErr), "Open: %v", openErr)
		assert.NotErrorIs(t, openErr, wsock.ErrConnectTimeout)
	})
}

func TestOpenConnectTimeoutFiresAgainstASilentServer(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			url, _ := startSilentServer(t, n)
			opts := &wsock.DialOptions{ConnectTimeout: 50 * time.Millisecond, Logger: quiet}
			err := wsock.Open(ctx, url, opts, neverCalled(t))
			assert.ErrorIs(t, err, wsock.ErrConnectTimeout)
			assert.ErrorIs(t, err, wsock.ErrHandshake)
			assert.False(t, cancel.IsCancellation(err), "a connect timeout is a failure, not a cancellation: %v", err)
			return nil
		})
		require.NoError(t, err)
	})
}

// requireBubbleClean waits, inside a synctest bubble, until every other
// goroutine of the bubble has exited or is durably blocked, then fails listing
// those of ours that remain: there are none once the scenario has returned.
func requireBubbleClean(t *testing.T) {
	t.Helper()
	synctest.Wait()
	requireNothingOfOursRemains(t)
}

func TestOpenTimeoutsAreExactInFakeTime(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Each dialer returns a connection to a peer that never answers the
	// handshake, or never connects at all.
	silentPipe := func(n *nursery.Nursery, heard chan struct{}) func(context.Context, string, string) (net.Conn, error) {
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			n.GoNamed("silent peer", func(context.Context) error {
				silentPeer(server, heard)
				return nil
			})
			return client, nil
		}
	}
	blackhole := func(*nursery.Nursery, chan struct{}) func(context.Context, string, string) (net.Conn, error) {
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done() // a SYN that is never answered
			return nil, ctx.Err()
		}
	}
	tests := []struct {
		name string
		dial func(n *nursery.Nursery, heard chan struct{}) func(context.Context, string, string) (net.Conn, error)
		// cancelAfter, if set, cancels Open's context (a scope around it)
		// that long after it started, before ConnectTimeout.
		cancelAfter time.Duration
		want        func(t *testing.T, err error)
	}{
		{
			name: "ConnectTimeout during the handshake",
			dial: silentPipe,
			want: func(t *testing.T, err error) { assert.ErrorIs(t, err, wsock.ErrConnectTimeout) },
		},
		{
			name: "ConnectTimeout during the dial",
			dial: blackhole,
			want: func(t *testing.T, err error) { assert.ErrorIs(t, err, wsock.ErrConnectTimeout) },
		},
		{
			name:        "scope deadline during the handshake",
			dial:        silentPipe,
			cancelAfter: 2 * time.Second,
			want: func(t *testing.T, err error) {
				assert.True(t, cancel.IsCancellation(err), "Open: %v", err)
			},
		},
		{
			name:        "scope deadline during the dial",
			dial:        blackhole,
			cancelAfter: 2 * time.Second,
			want: func(t *testing.T, err error) {
				assert.True(t, cancel.IsCancellation(err), "Open: %v", err)
			},
		},
	}
	const connectTimeout = 5 * time.Second
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			scenario(t, func() {
				synctest.Test(t, func(t *testing.T) {
					var openErr error
					var took time.Duration
					err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
						opts := &wsock.DialOptions{
							ConnectTimeout: connectTimeout,
							DialContext:    tt.dial(n, make(chan struct{})),
							Logger:         quiet,
						}
						open := func(ctx context.Context) error {
							start := time.Now()
							openErr = wsock.Open(ctx, "ws://example.com/", opts, neverCalled(t))
							took = time.Since(start)
							return openErr
						}
						if tt.cancelAfter == 0 {
							_ = open(ctx)
							return nil
						}
						s, err := cancel.MoveOnAfter(ctx, tt.cancelAfter, open)
						assert.True(t, s.CancelledCaught())
						return err
					})
					require.NoError(t, err)
					tt.want(t, openErr)
					want := connectTimeout
					if tt.cancelAfter != 0 {
						want = tt.cancelAfter
					}
					assert.Equal(t, want, took)
					requireBubbleClean(t)
				})
			})
		})
	}
}

// errBody is the error of Open bodies that fail.
var errBody = errors.New("the body failed")

func TestOpenClosesItsConnectionHowever(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name string
		body func(ctx context.Context, c *wsock.Conn) error
		// check judges what Open did: returned err, or panicked with
		// recovered.
		check    func(t *testing.T, err error, recovered any)
		wantCode wsock.StatusCode // what the server's side saw
	}{
		{
			name: "body returns nil",
			body: func(context.Context, *wsock.Conn) error { return nil },
			check: func(t *testing.T, err error, recovered any) {
				assert.NoError(t, err)
				assert.Nil(t, recovered)
			},
			wantCode: wsock.NormalClosure,
		},
		{
			name: "body returns an error",
			body: func(context.Context, *wsock.Conn) error { return errBody },
			check: func(t *testing.T, err error, recovered any) {
				assert.Same(t, errBody, err, "Open returns the body's error unchanged")
				assert.Nil(t, recovered)
			},
			wantCode: wsock.InternalError,
		},
		{
			name: "body panics",
			body: func(context.Context, *wsock.Conn) error { panic(errBody) },
			check: func(t *testing.T, err error, recovered any) {
				assert.Same(t, errBody, recovered, "the body's panic goes on unchanged")
			},
			wantCode: wsock.InternalError,
		},
		{
			name: "body returns a cancellation",
			body: func(context.Context, *wsock.Conn) error { return context.Canceled },
			check: func(t *testing.T, err error, recovered any) {
				assert.ErrorIs(t, err, context.Canceled)
				assert.Nil(t, recovered)
			},
			wantCode: wsock.GoingAway,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			scenario(t, func() {
				seen := make(chan wsock.StatusCode, 1)
				err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
					ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
						c, err := r.Accept(ctx, nil)
						if err != nil {
							return err
						}
						_, err = c.Receive(ctx)
						seen <- closeCode(err)
						return nil
					}, nil)
					defer ts.Close()
					var openErr error
					var recovered any
					func() {
						defer func() { recovered = recover() }()
						openErr = wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
							// The connection works before the body's end.
							if err := c.Ping(ctx, nil); err != nil {
								return err
							}
							return tt.body(ctx, c)
						})
					}()
					tt.check(t, openErr, recovered)
					assert.Equal(t, tt.wantCode, <-seen)
					return nil
				})
				require.NoError(t, err)
			})
		})
	}
}
