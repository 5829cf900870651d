package wsock

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestW15ListenOnPortZeroReportsThePort(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", nil)
	require.NoError(t, err)
	require.NotZero(t, srv.Port())
	addr, ok := srv.Addr().(*net.TCPAddr)
	require.True(t, ok)
	assert.Equal(t, srv.Port(), addr.Port)

	err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error { return srv.Serve(ctx, echoHandler) })
		defer n.Scope().Cancel("test over")
		return Open(ctx, "ws://127.0.0.1:"+strconv.Itoa(srv.Port())+"/", nil, func(ctx context.Context, c *Conn) error {
			if err := c.SendText(ctx, "hi"); err != nil {
				return err
			}
			_, err := c.Receive(ctx)
			return err
		})
	})
	assert.NoError(t, err)
}

func TestServeTaskReportsTheServerOnceItListens(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, ServeTask("127.0.0.1:0", echoHandler, nil))
		require.NoError(t, err)
		defer n.Scope().Cancel("test over")
		assert.NotZero(t, srv.Port())
		return Open(ctx, "ws://"+srv.Addr().String()+"/", nil, func(context.Context, *Conn) error { return nil })
	})
	assert.NoError(t, err)
}

func TestServeReturnsTheListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = Serve(context.Background(), ln.Addr().String(), echoHandler, nil) // the port is taken
	assert.Error(t, err)
}

func TestW16SilentClientIsDisconnectedAfterConnectTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var called atomic.Bool
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, func(context.Context, *Request) error {
				called.Store(true)
				return nil
			}, &ServerOptions{ConnectTimeout: 10 * time.Second})
			defer n.Scope().Cancel("test over")
			nc, err := dial.DialContext(ctx, "tcp", "")
			require.NoError(t, err)
			defer nc.Close()
			start := time.Now()
			_, err = io.WriteString(nc, "GET / HTTP/1.1\r\nHost: exa") // and then nothing
			require.NoError(t, err)
			_, err = nc.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "the server closes the socket")
			assert.Equal(t, 10*time.Second, time.Since(start))
			return nil
		})
		assert.NoError(t, err)
		assert.False(t, called.Load(), "the handler ran for an incomplete handshake")
	})
}

// exchangeRaw sends raw bytes as a client of a pipe server and returns the
// answer.
func exchangeRaw(t *testing.T, dial *DialOptions, raw string) *http.Response {
	t.Helper()
	nc, err := dial.DialContext(context.Background(), "tcp", "")
	require.NoError(t, err)
	defer nc.Close()
	//gotrio:go writes a raw request while the test reads the answer; closing nc ends it
	go func() { _, _ = io.WriteString(nc, raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

const validUpgrade = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

func TestW17PlainHTTPGets400AndTheServerKeepsServing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, echoHandler, nil)
			defer n.Scope().Cancel("test over")
			resp := exchangeRaw(t, dial, "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\n\r\n")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
				return c.SendText(ctx, "still serving")
			})
		})
		assert.NoError(t, err)
	})
}

func TestW18MalformedHandshakeGets400(t *testing.T) {
	for name, raw := range map[string]string{
		"garbage":          "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
		"bad request line": "GET/chat HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"not GET":          strings.Replace(validUpgrade, "GET", "POST", 1) + "Sec-WebSocket-Version: 13\r\n\r\n",
		"no key":           "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"short key":        strings.Replace(validUpgrade, "dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 1) + "Sec-WebSocket-Version: 13\r\n\r\n",
		"no upgrade":       strings.Replace(validUpgrade, "Upgrade: websocket\r\n", "", 1) + "Sec-WebSocket-Version: 13\r\n\r\n",
		"HTTP/1.0":         strings.Replace(validUpgrade, "HTTP/1.1", "HTTP/1.0", 1) + "Sec-WebSocket-Version: 13\r\n\r\n",
		"bare LF":          "GET / HTTP/1.1\nHost: example.com\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
					_, dial := servePipes(t, n, func(context.Context, *Request) error {
						t.Error("the handler ran for a malformed handshake")
						return nil
					}, nil)
					defer n.Scope().Cancel("test over")
					resp := exchangeRaw(t, dial, raw)
					assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
					return nil
				})
				assert.NoError(t, err)
			})
		})
	}
}

func TestW18OversizedHandshakeGets431(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, echoHandler, nil)
			defer n.Scope().Cancel("test over")
			raw := validUpgrade + "X-Padding: " + strings.Repeat("x", 10<<10) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
			resp := exchangeRaw(t, dial, raw)
			assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
			return nil
		})
		assert.NoError(t, err)
	})
}

func TestW19UnsupportedVersionGets426WithTheVersionWeSpeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, echoHandler, nil)
			defer n.Scope().Cancel("test over")
			resp := exchangeRaw(t, dial, validUpgrade+"Sec-WebSocket-Version: 8\r\n\r\n")
			assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
			assert.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))
			return nil
		})
		assert.NoError(t, err)
	})
}

// closeSeenByClient opens a connection to a pipe server running h and
// returns the CloseReason the client's Receive reports.
func closeSeenByClient(t *testing.T, h Handler, opts *ServerOptions) *CloseReason {
	t.Helper()
	var reason *CloseReason
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, h, opts)
		defer n.Scope().Cancel("test over")
		return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			_, err := c.Receive(ctx)
			var ce *ClosedError
			if assert.ErrorAs(t, err, &ce) {
				reason = ce.Reason
			}
			return nil
		})
	})
	require.NoError(t, err)
	require.NotNil(t, reason)
	return reason
}

func TestW20HandlerReturnClosesTheConnectionWithNormalClosure(t *testing.T) {
	reason := closeSeenByClient(t, func(ctx context.Context, r *Request) error {
		_, err := r.Accept(ctx, nil)
		return err
	}, nil)
	assert.Equal(t, NormalClosure, reason.Code)
}

func TestW20HandlerErrorClosesWith1011AndIsLogged(t *testing.T) {
	logger, logs := captureLogger()
	reason := closeSeenByClient(t, func(ctx context.Context, r *Request) error {
		if _, err := r.Accept(ctx, nil); err != nil {
			return err
		}
		return errors.New("database unreachable")
	}, &ServerOptions{Logger: logger})
	assert.Equal(t, InternalError, reason.Code)
	assert.Contains(t, logs.String(), "handler failed")
	assert.Contains(t, logs.String(), "database unreachable")
}

func TestW20HandlerPanicClosesWith1011AndTheServerKeepsServing(t *testing.T) {
	logger, logs := captureLogger()
	var calls atomic.Int32
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			if calls.Add(1) == 1 {
				panic("handler bug")
			}
			return echoConn(ctx, c)
		}, &ServerOptions{Logger: logger})
		defer n.Scope().Cancel("test over")
		err := Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			_, err := c.Receive(ctx)
			var ce *ClosedError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, InternalError, ce.Reason.Code)
			return nil
		})
		require.NoError(t, err)
		return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			if err := c.SendText(ctx, "second"); err != nil {
				return err
			}
			m, err := c.Receive(ctx)
			assert.Equal(t, "second", string(m.Data))
			return err
		})
	})
	assert.NoError(t, err)
	assert.Contains(t, logs.String(), "handler panicked")
	assert.Contains(t, logs.String(), "handler bug")
}

func TestW20HandlerNurseryReceivesHandlerErrors(t *testing.T) {
	errHandler := errors.New("handler failure")
	closed := make(chan StatusCode, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			if _, err := r.Accept(ctx, nil); err != nil {
				return err
			}
			return errHandler
		}, &ServerOptions{HandlerNursery: n})
		return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			// The server's Close frame arrives before the handler's failure
			// cancels the nursery (and this body's ctx).
			_, _ = c.Receive(ctx)
			closed <- c.CloseReason().Code
			<-ctx.Done()
			return nil
		})
	})
	assert.ErrorIs(t, err, errHandler)
	assert.Equal(t, InternalError, <-closed)
}

func TestW20UnansweredRequestGets500(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, func(context.Context, *Request) error { return nil }, nil)
			defer n.Scope().Cancel("test over")
			err := Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { return nil })
			var re *RejectedError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, http.StatusInternalServerError, re.StatusCode)
			return nil
		})
		assert.NoError(t, err)
	})
}

func TestDrainSendsGoingAwayAndWaitsForHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted := make(chan struct{})
		var handlerDone atomic.Bool
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			serving := cancel.New()
			cfg, err := newServerConfig(nil)
			require.NoError(t, err)
			ln := newWSPipeListener()
			srv := newServer(cfg, ln)
			var serveErr error
			n.Go(func(ctx context.Context) error {
				return serving.Run(ctx, func(ctx context.Context) error {
					serveErr = srv.Serve(ctx, func(ctx context.Context, r *Request) error {
						c, err := r.Accept(ctx, nil)
						if err != nil {
							return err
						}
						close(accepted)
						_, err = c.Receive(ctx) // ends with the drain
						assert.Error(t, err)
						handlerDone.Store(true)
						return nil
					})
					assert.True(t, handlerDone.Load(), "Serve returned before its handler")
					return serveErr
				})
			})
			err = Open(ctx, "ws://example.com/", &DialOptions{DialContext: ln.DialContext}, func(ctx context.Context, c *Conn) error {
				<-accepted
				serving.Cancel("shutting down")
				_, err := c.Receive(ctx)
				var ce *ClosedError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, GoingAway, ce.Reason.Code)
				assert.Equal(t, "server shutting down", ce.Reason.Reason)
				return nil
			})
			return err
		})
		assert.NoError(t, err)
		assert.True(t, handlerDone.Load())
	})
}

func TestDrainClosesConnectionsStillInTheirHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			serving := cancel.New()
			cfg, err := newServerConfig(nil)
			require.NoError(t, err)
			ln := newWSPipeListener()
			srv := newServer(cfg, ln)
			n.Go(func(ctx context.Context) error {
				return serving.Run(ctx, func(ctx context.Context) error { return srv.Serve(ctx, echoHandler) })
			})
			nc, err := ln.DialContext(ctx, "tcp", "")
			require.NoError(t, err)
			defer nc.Close()
			_, err = io.WriteString(nc, "GET / HTTP/1.1\r\n") // an unfinished handshake
			require.NoError(t, err)
			start := time.Now()
			serving.Cancel("shutting down")
			_, err = nc.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF)
			assert.Zero(t, time.Since(start), "the drain does not wait for ConnectTimeout")
			return nil
		})
		assert.NoError(t, err)
	})
}

func TestDrainBoundsEachClosingHandshakeByDisconnectTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted := make(chan struct{})
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			serving := cancel.New()
			cfg, err := newServerConfig(&ServerOptions{DisconnectTimeout: 4 * time.Second})
			require.NoError(t, err)
			ln := newWSPipeListener()
			srv := newServer(cfg, ln)
			n.Go(func(ctx context.Context) error {
				return serving.Run(ctx, func(ctx context.Context) error {
					return srv.Serve(ctx, func(ctx context.Context, r *Request) error {
						c, err := r.Accept(ctx, nil)
						if err == nil {
							close(accepted)
							_, _ = c.Receive(ctx)
						}
						return err
					})
				})
			})
			nc, err := ln.DialContext(ctx, "tcp", "")
			require.NoError(t, err)
			defer nc.Close()
			resp := upgradeRaw(t, nc, "/")
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			<-accepted
			start := time.Now()
			serving.Cancel("shutting down")
			f, err := readPeerFrame(nc) // the server's Close frame, which we never answer
			require.NoError(t, err)
			assert.Equal(t, proto.OpClose, f.op)
			_, err = io.Copy(io.Discard, nc)
			assert.NoError(t, err)
			assert.Equal(t, 4*time.Second, time.Since(start), "the server gave up on our answer")
			return nil
		})
		assert.NoError(t, err)
	})
}

func TestServeReturnsTheCancellationThatDrainedIt(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", nil)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	stop()
	err = srv.Serve(ctx, echoHandler)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Error(t, srv.Serve(context.Background(), echoHandler), "a server serves once")
}

func TestDrainSendsGoingAwayEvenToABusyHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		accepted := make(chan struct{})
		sawGoingAway := make(chan struct{})
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			serving := cancel.New()
			cfg, err := newServerConfig(nil)
			require.NoError(t, err)
			ln := newWSPipeListener()
			srv := newServer(cfg, ln)
			n.Go(func(ctx context.Context) error {
				return serving.Run(ctx, func(ctx context.Context) error {
					return srv.Serve(ctx, func(ctx context.Context, r *Request) error {
						if _, err := r.Accept(ctx, nil); err != nil {
							return err
						}
						close(accepted)
						<-sawGoingAway // busy with something that ignores ctx
						return nil
					})
				})
			})
			return Open(ctx, "ws://example.com/", &DialOptions{DialContext: ln.DialContext}, func(ctx context.Context, c *Conn) error {
				<-accepted
				serving.Cancel("shutting down")
				_, err := c.Receive(ctx)
				var ce *ClosedError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, GoingAway, ce.Reason.Code)
				close(sawGoingAway)
				return nil
			})
		})
		assert.NoError(t, err)
	})
}
