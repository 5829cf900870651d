package wsock

import (
	"context"
	"crypto/tls"
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

func TestW4OpenAcceptsOnlyWsAndWssURLs(t *testing.T) {
	for _, raw := range []string{
		"http://example.com/", "https://example.com/", "ftp://example.com/",
		"example.com/chat", "", "ws:opaque", "ws:///nohost", "ws://exa mple.com/",
	} {
		t.Run(raw, func(t *testing.T) {
			opts := &DialOptions{DialContext: func(context.Context, string, string) (net.Conn, error) {
				t.Error("dialled for an invalid URL")
				return nil, errors.New("unreachable")
			}}
			err := Open(context.Background(), raw, opts, func(context.Context, *Conn) error {
				t.Error("body called for an invalid URL")
				return nil
			})
			assert.Error(t, err)
		})
	}
}

func TestW5SchemeSelectsTLSAndDefaultPort(t *testing.T) {
	for _, tc := range []struct {
		url    string
		secure bool
		addr   string
	}{
		{"ws://example.com/", false, "example.com:80"},
		{"wss://example.com/", true, "example.com:443"},
		{"WS://example.com", false, "example.com:80"},
		{"ws://example.com:8080/", false, "example.com:8080"},
		{"wss://example.com:8443/", true, "example.com:8443"},
		{"ws://[::1]/", false, "[::1]:80"},
		{"wss://127.0.0.1/", true, "127.0.0.1:443"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			tg, err := parseURL(tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.secure, tg.secure)
			assert.Equal(t, tc.addr, tg.addr)

			// Open dials that address.
			errDial := errors.New("no network in this test")
			var dialled string
			opts := &DialOptions{DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
				assert.Equal(t, "tcp", network)
				dialled = addr
				return nil, errDial
			}}
			err = Open(context.Background(), tc.url, opts, func(context.Context, *Conn) error { return nil })
			assert.ErrorIs(t, err, errDial)
			assert.Equal(t, tc.addr, dialled)
		})
	}
}

func TestW6ResourceKeepsQueryAndPercentEncoding(t *testing.T) {
	for _, tc := range []struct{ url, resource string }{
		{"ws://example.com", "/"},
		{"ws://example.com/", "/"},
		{"ws://example.com?x=1", "/?x=1"},
		{"ws://example.com/chat?room=a%20b&x", "/chat?room=a%20b&x"},
		{"ws://example.com/a%2Fb/%41", "/a%2Fb/%41"},
		{"ws://example.com/path?", "/path?"},
		{"ws://example.com/path#fragment", "/path"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			tg, err := parseURL(tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.resource, tg.resource)
			assert.Equal(t, tc.resource, requestFor(t, tc.url).Path())
		})
	}
}

func TestW7HostHeaderOmitsDefaultPort(t *testing.T) {
	for _, tc := range []struct{ url, host string }{
		{"ws://example.com/", "example.com"},
		{"ws://example.com:80/", "example.com"},
		{"ws://example.com:8080/", "example.com:8080"},
		{"wss://example.com:443/", "example.com"},
		// RFC 6455 §4.1: the port is omitted only when it is the scheme's default.
		{"ws://example.com:443/", "example.com:443"},
		{"wss://example.com:80/", "example.com:80"},
		{"ws://[::1]:80/", "[::1]"},
		{"ws://[::1]:81/", "[::1]:81"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			tg, err := parseURL(tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.host, tg.host)
			if !tg.secure {
				assert.Equal(t, tc.host, requestFor(t, tc.url).Header("host"))
			}
		})
	}
}

// requestFor opens url against a pipe server and returns the request the
// server's handler saw.
func requestFor(t *testing.T, url string) *Request {
	t.Helper()
	var seen *Request
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			seen = r
			_, err := r.Accept(ctx, nil)
			return err
		}, nil)
		defer n.Scope().Cancel("test over")
		return Open(ctx, url, dial, func(context.Context, *Conn) error { return nil })
	})
	require.NoError(t, err)
	require.NotNil(t, seen)
	return seen
}

func TestW10ConnectTimeoutBoundsTheOpeningHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() { _, _ = io.Copy(io.Discard, server) }() // reads the request, never answers
		opts := &DialOptions{
			ConnectTimeout: 7 * time.Second,
			DialContext:    func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		start := time.Now()
		err := Open(context.Background(), "ws://example.com/", opts, func(context.Context, *Conn) error {
			t.Error("body called without a handshake")
			return nil
		})
		assert.ErrorIs(t, err, ErrConnectTimeout)
		assert.ErrorIs(t, err, ErrHandshake)
		assert.Equal(t, 7*time.Second, time.Since(start))
		_ = server.Close()
	})
}

func TestW10ConnectTimeoutBoundsDialling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := &DialOptions{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done() // a dial that hangs
			return nil, ctx.Err()
		}}
		start := time.Now()
		err := Open(context.Background(), "ws://example.com/", opts, func(context.Context, *Conn) error { return nil })
		assert.ErrorIs(t, err, ErrConnectTimeout)
		assert.Equal(t, DefaultConnectTimeout, time.Since(start))
	})
}

func TestW10CancellationDuringConnectIsNotATimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, stop := context.WithCancel(context.Background())
		opts := &DialOptions{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			stop()
			<-ctx.Done()
			return nil, ctx.Err()
		}}
		err := Open(ctx, "ws://example.com/", opts, func(context.Context, *Conn) error { return nil })
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, ErrConnectTimeout)
	})
}

func TestW10DialFailureMatchesHandshakeErrorAndNetOpError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more

	err = Open(context.Background(), "ws://"+addr+"/", nil, func(context.Context, *Conn) error {
		t.Error("body called without a connection")
		return nil
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrHandshake)
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr)
}

func TestW11OpenClosesWithNormalClosureWhenBodyReturns(t *testing.T) {
	closed := make(chan *CloseReason, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			// The test's end may cancel ctx as the Close frame arrives; either
			// way the reason is final once the client's Close returned.
			_, _ = c.Receive(ctx)
			closed <- c.CloseReason()
			return nil
		}, nil)
		defer n.Scope().Cancel("test over")
		return Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { return nil })
	})
	require.NoError(t, err)
	reason := <-closed
	assert.Equal(t, NormalClosure, reason.Code)
}

func TestW11DisconnectTimeoutBoundsTheClosingHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() {
			acceptRaw(t, server)
			_, _ = io.Copy(io.Discard, server) // never answers the Close frame
		}()
		opts := &DialOptions{
			DisconnectTimeout: 3 * time.Second,
			DialContext:       func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		var returned time.Time
		err := Open(context.Background(), "ws://example.com/", opts, func(context.Context, *Conn) error {
			returned = time.Now()
			return nil
		})
		assert.ErrorIs(t, err, ErrDisconnectTimeout)
		assert.ErrorIs(t, err, ErrHandshake)
		assert.Equal(t, 3*time.Second, time.Since(returned))
		_ = server.Close()
	})
}

func TestW12OpenReturnsTheBodysErrorUnchanged(t *testing.T) {
	errBody := &bodyError{"the body's own failure"}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, echoHandler, nil)
		defer n.Scope().Cancel("test over")
		got := Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { return errBody })
		assert.Same(t, errBody, got)
		return nil
	})
	require.NoError(t, err)
}

// A nursery's end is a checkpoint (package nursery), so under a scope the
// body cancelled, Open's nursery reports that cancellation; the body's own
// error still wins.
func TestW12OpenReturnsTheBodysErrorWhenTheCallerIsCancelled(t *testing.T) {
	errBody := &bodyError{"failed as the caller gave up"}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, echoHandler, nil)
		defer n.Scope().Cancel("test over")
		caller := cancel.New()
		var got error
		_ = caller.Run(ctx, func(ctx context.Context) error {
			got = Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error {
				caller.Cancel("caller gave up")
				return errBody
			})
			return got
		})
		assert.Same(t, errBody, got)
		return nil
	})
	require.NoError(t, err)
}

type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }

func TestW12OpenReturnsTheReadersErrorWhenTheBodySucceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() {
			acceptRaw(t, server)
			// A server must not mask its frames: a protocol violation (1002).
			_ = writePeerFrame(server, proto.OpText, []byte("masked"), true)
			_, _ = io.Copy(io.Discard, server)
		}()
		opts := &DialOptions{DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
		err := Open(context.Background(), "ws://example.com/", opts, func(ctx context.Context, c *Conn) error {
			_, err := c.Receive(ctx)
			assert.ErrorIs(t, err, ErrClosed)
			return nil // the body copes with it; Open still reports it
		})
		var ce *ClosedError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, ProtocolError, ce.Reason.Code)
		_ = server.Close()
	})
}

func TestW12OpenReturnsNilAfterACleanSession(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, echoHandler, nil)
		defer n.Scope().Cancel("test over")
		return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			if err := c.SendText(ctx, "ping"); err != nil {
				return err
			}
			m, err := c.Receive(ctx)
			assert.Equal(t, "ping", string(m.Data))
			return err
		})
	})
	assert.NoError(t, err)
}

func TestW13RejectionCarriesStatusHeadersAndBody(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		status       int
		body         string
	}{
		{"content-length", "HTTP/1.1 403 Forbidden\r\nX-Why: policy\r\nContent-Length: 9\r\n\r\nforbidden", 403, "forbidden"},
		{"chunked", "HTTP/1.1 401 Unauthorized\r\nX-Why: policy\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwho \r\n8\r\nare you?\r\n0\r\n\r\n", 401, "who are you?"},
		{"until EOF", "HTTP/1.1 503 Service Unavailable\r\nX-Why: policy\r\n\r\ncome back later", 503, "come back later"},
		{"after an interim answer", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nX-Why: policy\r\nContent-Length: 4\r\n\r\ngone", 404, "gone"},
		{"no body", "HTTP/1.1 400 Bad Request\r\nX-Why: policy\r\nContent-Length: 0\r\n\r\n", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				server, client := net.Pipe()
				go func() {
					readHead(t, server)
					_, _ = io.WriteString(server, tc.answer)
					_ = server.Close()
				}()
				opts := &DialOptions{DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
				err := Open(context.Background(), "ws://example.com/", opts, func(context.Context, *Conn) error {
					t.Error("body called after a rejection")
					return nil
				})
				var re *RejectedError
				require.ErrorAs(t, err, &re)
				assert.ErrorIs(t, err, ErrHandshake)
				assert.Equal(t, tc.status, re.StatusCode)
				assert.Equal(t, "policy", re.Header.Get("x-why"))
				assert.Equal(t, tc.body, string(re.Body))
			})
		})
	}
}

func TestW13RejectionBodyIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() {
			readHead(t, server)
			_, _ = io.WriteString(server, "HTTP/1.1 500 Internal Server Error\r\n\r\n")
			_, _ = io.WriteString(server, strings.Repeat("x", 3*maxRejectionBody)) // until EOF
			_ = server.Close()
		}()
		opts := &DialOptions{DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
		err := Open(context.Background(), "ws://example.com/", opts, func(context.Context, *Conn) error { return nil })
		var re *RejectedError
		require.ErrorAs(t, err, &re)
		assert.Len(t, re.Body, maxRejectionBody)
	})
}

func TestClientRefusesASubprotocolItDidNotOffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() {
			acceptRaw(t, server, "Sec-WebSocket-Protocol: evil")
			_, _ = io.Copy(io.Discard, server)
		}()
		opts := &DialOptions{
			Subprotocols: []string{"chat", "superchat"},
			DialContext:  func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		err := Open(context.Background(), "ws://example.com/", opts, func(context.Context, *Conn) error {
			t.Error("body called for an unoffered subprotocol")
			return nil
		})
		assert.ErrorIs(t, err, ErrHandshake)
		assert.ErrorContains(t, err, "evil")
		_ = server.Close()
	})
}

func TestClientRefusesExtensionsItDidNotOffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() {
			acceptRaw(t, server, "Sec-WebSocket-Extensions: permessage-deflate")
			_, _ = io.Copy(io.Discard, server)
		}()
		opts := &DialOptions{
			Compression: CompressionOptions{Disabled: true},
			DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		err := Open(context.Background(), "ws://example.com/", opts, func(context.Context, *Conn) error { return nil })
		assert.ErrorIs(t, err, ErrHandshake)
		_ = server.Close()
	})
}

func TestWssConnectsWithATrustedCertificate(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, ServeTask("127.0.0.1:0", echoHandler, &ServerOptions{TLSConfig: serverTLS}))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("test over")
		url := "wss://localhost:" + strconv.Itoa(srv.Port()) + "/secure"
		return Open(ctx, url, &DialOptions{TLSConfig: clientTLS}, func(ctx context.Context, c *Conn) error {
			if err := c.SendText(ctx, "over TLS"); err != nil {
				return err
			}
			m, err := c.Receive(ctx)
			assert.Equal(t, "over TLS", string(m.Data))
			return err
		})
	})
	assert.NoError(t, err)
}

func TestWssVerifiesTheCertificateByDefault(t *testing.T) {
	serverTLS, _ := selfSignedTLS(t)
	logger, _ := captureLogger()
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, ServeTask("127.0.0.1:0", echoHandler,
			&ServerOptions{TLSConfig: serverTLS, Logger: logger}))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("test over")
		err = Open(ctx, "wss://localhost:"+strconv.Itoa(srv.Port())+"/", nil, func(context.Context, *Conn) error {
			t.Error("connected to a server with an untrusted certificate")
			return nil
		})
		assert.ErrorIs(t, err, ErrHandshake)
		var verr *tls.CertificateVerificationError
		assert.ErrorAs(t, err, &verr)
		return nil
	})
	assert.NoError(t, err)
}

func TestCompressionIsNegotiatedBothWays(t *testing.T) {
	big := strings.Repeat("compress me please ", 1000)
	for _, tc := range []struct {
		name           string
		client, server CompressionOptions
		negotiated     bool
	}{
		{"both default", CompressionOptions{}, CompressionOptions{}, true},
		{"with context takeover", CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true}, true},
		{"client takeover, server not", CompressionOptions{ContextTakeover: true}, CompressionOptions{}, true},
		{"client keeps its full window", CompressionOptions{FullClientWindow: true}, CompressionOptions{}, true},
		{"client disabled", CompressionOptions{Disabled: true}, CompressionOptions{}, false},
		{"server disabled", CompressionOptions{}, CompressionOptions{Disabled: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverExt := make(chan string, 1)
			var written atomic.Int64 // bytes the client wrote
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
					c, err := r.Accept(ctx, nil)
					if err != nil {
						return err
					}
					serverExt <- c.ResponseHeader().Get("Sec-WebSocket-Extensions")
					return echoConn(ctx, c)
				}, &ServerOptions{Compression: tc.server})
				defer n.Scope().Cancel("test over")
				dialPipe := dial.DialContext
				dial.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					nc, err := dialPipe(ctx, network, addr)
					return countingConn{nc, &written}, err
				}
				dial.Compression = tc.client
				return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
					ext := c.ResponseHeader().Get("Sec-WebSocket-Extensions")
					assert.Equal(t, tc.negotiated, strings.HasPrefix(ext, "permessage-deflate"), ext)
					assert.Equal(t, ext, <-serverExt)
					afterHandshake := written.Load()
					for _, typ := range []MessageType{TextMessage, BinaryMessage, TextMessage} {
						if err := c.Send(ctx, typ, []byte(big)); err != nil {
							return err
						}
						m, err := c.Receive(ctx)
						if err != nil {
							return err
						}
						assert.Equal(t, Message{Type: typ, Data: []byte(big)}, m)
					}
					sent := written.Load() - afterHandshake
					if tc.negotiated {
						assert.Less(t, sent, int64(len(big)), "compressed messages")
					} else {
						assert.Greater(t, sent, int64(3*len(big)), "uncompressed messages")
					}
					return nil
				})
			})
			assert.NoError(t, err)
		})
	}
}

// countingConn counts the bytes written to a net.Conn.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func TestConnectRunsTheReaderInTheCallersNursery(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, echoHandler, nil)
		defer n.Scope().Cancel("test over")
		c, err := Connect(ctx, n, "ws://example.com/", dial)
		if err != nil {
			return err
		}
		if err := c.SendBinary(ctx, []byte{1, 2, 3}); err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, Message{Type: BinaryMessage, Data: []byte{1, 2, 3}}, m)
		return c.Close(NormalClosure, "bye")
	})
	assert.NoError(t, err)
}

// plainStream hides the net.Conn behind an io.ReadWriteCloser.
type plainStream struct{ io.ReadWriteCloser }

func TestWrapClientSpeaksOverAPlainStream(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, echoHandler, nil)
		defer n.Scope().Cancel("test over")
		nc, err := dial.DialContext(ctx, "tcp", "ignored")
		require.NoError(t, err)
		c, err := WrapClient(ctx, n, plainStream{nc}, "example.com", "/wrapped?x=1", nil)
		if err != nil {
			return err
		}
		assert.Equal(t, "/wrapped?x=1", c.Path())
		assert.Equal(t, "stream", c.RemoteAddr().Network())
		if err := c.SendText(ctx, "wrapped"); err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, "wrapped", string(m.Data))
		return c.Close(NormalClosure, "")
	})
	assert.NoError(t, err)
}

func TestWrapClientBoundsTheClosingHandshakeOverAPlainStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() {
			acceptRaw(t, server)
			_, _ = io.Copy(io.Discard, server) // never answers the Close frame
		}()
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			c, err := WrapClient(ctx, n, plainStream{client}, "example.com", "", &DialOptions{DisconnectTimeout: 2 * time.Second})
			if err != nil {
				return err
			}
			start := time.Now()
			assert.ErrorIs(t, c.Close(NormalClosure, ""), ErrDisconnectTimeout)
			assert.Equal(t, 2*time.Second, time.Since(start))
			return nil
		})
		assert.NoError(t, err)
		_ = server.Close()
	})
}

func TestOpenClosesWith1011WhenTheBodyPanics(t *testing.T) {
	closed := make(chan StatusCode, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			_, _ = c.Receive(ctx)
			closed <- c.CloseReason().Code // final once the client's Close returned
			return nil
		}, nil)
		defer n.Scope().Cancel("test over")
		assert.PanicsWithValue(t, "body bug", func() {
			_ = Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { panic("body bug") })
		})
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, InternalError, <-closed)
}

func TestOptionsDefaultsAndUnlimited(t *testing.T) {
	def := (*DialOptions)(nil).resolve()
	assert.Equal(t, 60*time.Second, def.connectTimeout)
	assert.Equal(t, 60*time.Second, def.disconnectTimeout)
	assert.Equal(t, 1, def.queueSize)
	assert.Equal(t, int64(1<<20), def.maxMessageSize)
	assert.Equal(t, 4<<10, def.readBufferSize)
	assert.NotNil(t, def.logger)
	assert.False(t, def.compression.Disabled, "permessage-deflate is offered by default")
	assert.Zero(t, def.keepAlive.Interval, "keep-alive is off by default")

	unl := (&ServerOptions{
		ConnectTimeout: Unlimited, DisconnectTimeout: Unlimited, MaxMessageSize: Unlimited,
		MessageQueueSize: Rendezvous, KeepAlive: KeepAliveOptions{Interval: time.Second},
	}).resolve()
	assert.Zero(t, unl.connectTimeout, "no bound")
	assert.Zero(t, unl.disconnectTimeout, "no bound")
	assert.Zero(t, unl.maxMessageSize, "no limit")
	assert.Zero(t, unl.queueSize, "rendezvous")
	assert.Equal(t, time.Second, unl.keepAlive.Timeout, "the pong timeout defaults to the interval")

	_, err := Listen("127.0.0.1:0", &ServerOptions{Compression: CompressionOptions{Level: 42}})
	assert.ErrorIs(t, err, ErrBadOption)
}

func TestFullClientWindowLeavesClientMaxWindowBitsOutOfTheOffer(t *testing.T) {
	for _, tc := range []struct {
		full  bool
		offer string
	}{
		{false, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"},
		{true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	} {
		offered := make(chan string, 1)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
				offered <- r.Header("Sec-WebSocket-Extensions")
				return r.Reject(ctx, http.StatusForbidden, nil, nil)
			}, nil)
			defer n.Scope().Cancel("test over")
			dial.Compression = CompressionOptions{FullClientWindow: tc.full}
			err := Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error { return nil })
			var rej *RejectedError
			assert.ErrorAs(t, err, &rej)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, tc.offer, <-offered)
	}
}
