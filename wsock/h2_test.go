package wsock

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/internal/xconnect"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/handshake"
)

// h2Server is an HTTPS server with HTTP/2 serving NewHTTPHandler(h, opts)
// on /ws, which counts the TCP connections it
// accepts. configure may adjust the server before it starts.
type h2Server struct {
	*httptest.Server
	ws      *HTTPHandler
	accepts atomic.Int32
	client  *tls.Config
}

func newH2Server(t testing.TB, h Handler, opts *ServerOptions, configure ...func(*httptest.Server)) *h2Server {
	t.Helper()
	serverTLS, clientTLS := selfSignedTLS(t)
	s := &h2Server{client: clientTLS, ws: NewHTTPHandler(h, opts)}
	mux := http.NewServeMux()
	mux.Handle("/ws", s.ws)
	s.Server = httptest.NewUnstartedServer(mux)
	s.Server.EnableHTTP2 = true
	s.Server.TLS = serverTLS
	s.Server.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.accepts.Add(1)
		}
	}
	for _, f := range configure {
		f(s.Server)
	}
	s.StartTLS()
	t.Cleanup(func() {
		s.Close()
		assert.NoError(t, s.ws.Shutdown(context.Background()), "join the WebSocket handlers")
	})
	return s
}

// h1Only makes a server speak HTTP/1.1 only.
func h1Only(s *httptest.Server) { s.EnableHTTP2 = false }

// wsURL is the server's WebSocket address.
func (s *h2Server) wsURL() string { return "wss" + strings.TrimPrefix(s.URL, "https") + "/ws" }

// transport is an HTTP2Transport that trusts the server; its idle
// connections are closed when the test ends.
func (s *h2Server) transport(t testing.TB) *HTTP2Transport {
	tr := &HTTP2Transport{TLSConfig: s.client}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// protoRecorder is a handler that records every Request.Proto and echoes.
type protoRecorder struct {
	mu     sync.Mutex
	protos []string
}

func (p *protoRecorder) handle(ctx context.Context, r *Request) error {
	p.mu.Lock()
	p.protos = append(p.protos, r.Proto())
	p.mu.Unlock()
	return echoHandler(ctx, r)
}

func (p *protoRecorder) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.protos...)
}

func TestHTTP2WebSocketsShareOneConnection(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	var rec protoRecorder
	srv := newH2Server(t, rec.handle, nil)
	opts := &DialOptions{HTTP2: srv.transport(t)}
	const clients = 16
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		for i := range clients {
			sizes := []int{0, 16, 4 << 10, 64 << 10}
			if i%4 == 0 { // a few 1 MiB messages (MaxMessageSize), to keep the test quick under -race
				sizes = append(sizes, DefaultMaxMessageSize)
			}
			n.Go(func(ctx context.Context) error {
				return Open(ctx, srv.wsURL(), opts, func(ctx context.Context, c *Conn) error {
					for _, size := range sizes {
						msg := bytes.Repeat([]byte{byte('a' + i)}, size)
						if err := c.SendBinary(ctx, msg); err != nil {
							return err
						}
						m, err := c.Receive(ctx)
						if err != nil {
							return err
						}
						if !bytes.Equal(m.Data, msg) {
							return fmt.Errorf("client %d: echo of %d bytes differs", i, size)
						}
					}
					return c.Ping(ctx, nil)
				})
			})
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, int32(1), srv.accepts.Load(), "TCP connections accepted")
	protos := rec.seen()
	assert.Len(t, protos, clients)
	for _, p := range protos {
		assert.Equal(t, "HTTP/2.0", p)
	}
}

func TestHTTP2CloseCodesReachBothSides(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	serverSaw := make(chan CloseReason, 1)
	srv := newH2Server(t, func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		if string(m.Data) == "close from the server" {
			return c.Close(4002, "server says bye")
		}
		_, err = c.Receive(ctx)
		serverSaw <- closedReason(t, err)
		return nil
	}, nil)
	opts := &DialOptions{HTTP2: srv.transport(t)}

	err := Open(t.Context(), srv.wsURL(), opts, func(ctx context.Context, c *Conn) error {
		require.NoError(t, c.SendText(ctx, "close from the client"))
		return c.Close(4001, "client says bye")
	})
	require.NoError(t, err)
	got := <-serverSaw
	assert.Equal(t, StatusCode(4001), got.Code)
	assert.Equal(t, "client says bye", got.Reason)

	err = Open(t.Context(), srv.wsURL(), opts, func(ctx context.Context, c *Conn) error {
		require.NoError(t, c.SendText(ctx, "close from the server"))
		_, err := c.Receive(ctx)
		got := closedReason(t, err)
		assert.Equal(t, StatusCode(4002), got.Code)
		assert.Equal(t, "server says bye", got.Reason)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, int32(1), srv.accepts.Load(), "TCP connections accepted")
}

func TestHTTP2NegotiatesSubprotocolAndCompression(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	srv := newH2Server(t, func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, &AcceptOptions{Subprotocol: "chat.v2", Header: http.Header{"X-Served-By": {"h2"}}})
		if err != nil {
			return err
		}
		if c.TLS() == nil || c.TLS().NegotiatedProtocol != "h2" {
			return fmt.Errorf("server TLS state %+v, want h2", c.TLS())
		}
		return echoConn(ctx, c)
	}, nil)
	opts := &DialOptions{HTTP2: srv.transport(t), Subprotocols: []string{"chat.v1", "chat.v2"}}
	err := Open(t.Context(), srv.wsURL(), opts, func(ctx context.Context, c *Conn) error {
		assert.Equal(t, "chat.v2", c.Subprotocol())
		assert.Equal(t, "h2", c.ResponseHeader().Get("X-Served-By"))
		assert.Contains(t, c.ResponseHeader().Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		require.NotNil(t, c.TLS(), "the HTTP/2 connection's TLS")
		assert.Equal(t, "h2", c.TLS().NegotiatedProtocol)
		msg := strings.Repeat("compressible text ", 1000)
		require.NoError(t, c.SendText(ctx, msg))
		m, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, msg, string(m.Data))
		return nil
	})
	require.NoError(t, err)
}

func TestHTTP2RejectionReachesTheClient(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	srv := newH2Server(t, func(ctx context.Context, r *Request) error {
		return r.Reject(ctx, http.StatusTeapot, http.Header{"X-Why": {"tea"}}, []byte("no coffee here"))
	}, nil)
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(context.Context, *Conn) error {
		t.Error("the body ran")
		return nil
	})
	var rejected *RejectedError
	require.ErrorAs(t, err, &rejected)
	assert.Equal(t, http.StatusTeapot, rejected.StatusCode)
	assert.Equal(t, "tea", rejected.Header.Get("X-Why"))
	assert.Equal(t, "no coffee here", string(rejected.Body))
}

func TestHTTP2RefusesCrossOriginRequests(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	srv := newH2Server(t, echoHandler, nil)
	opts := &DialOptions{HTTP2: srv.transport(t), Header: http.Header{"Origin": {"https://evil.example"}}}
	err := Open(t.Context(), srv.wsURL(), opts, func(context.Context, *Conn) error {
		t.Error("the body ran")
		return nil
	})
	var rejected *RejectedError
	require.ErrorAs(t, err, &rejected)
	assert.Equal(t, http.StatusForbidden, rejected.StatusCode)
}

func TestHTTP2FallsBackWithoutExtendedConnect(t *testing.T) {
	if xconnect.Enabled() {
		t.Skip("needs a server without extended CONNECT: run without GODEBUG=" + xconnect.Setting)
	}
	var rec protoRecorder
	srv := newH2Server(t, rec.handle, nil)
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(ctx context.Context, c *Conn) error {
		require.NoError(t, c.SendText(ctx, "hello"))
		m, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, "hello", string(m.Data))
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"HTTP/1.1"}, rec.seen())
}

func TestHTTP2FallsBackToTheHTTP1ConnectionALPNChose(t *testing.T) {
	var rec protoRecorder
	srv := newH2Server(t, rec.handle, nil, h1Only)
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(ctx context.Context, c *Conn) error {
		return c.Ping(ctx, nil)
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"HTTP/1.1"}, rec.seen())
	assert.Equal(t, int32(1), srv.accepts.Load(), "TCP connections accepted")
}

func TestHTTP2OpensAnotherConnectionAtTheStreamLimit(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	srv := newH2Server(t, echoHandler, nil, func(s *httptest.Server) {
		s.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 2}
	})
	opts := &DialOptions{HTTP2: srv.transport(t)}
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		var conns []*Conn
		for range 4 {
			c, err := Connect(ctx, n, srv.wsURL(), opts)
			require.NoError(t, err)
			conns = append(conns, c)
		}
		for i, c := range conns {
			require.NoError(t, c.SendText(ctx, fmt.Sprint(i)))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprint(i), string(m.Data))
			require.NoError(t, c.Close(NormalClosure, ""))
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, int32(2), srv.accepts.Load(), "TCP connections accepted for 4 WebSockets, 2 streams each")
}

func TestHTTP2ServerShutdownClosesWithGoingAway(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	base, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	accepted := make(chan struct{})
	srv := newH2Server(t, awaitShutdown(accepted), nil, func(s *httptest.Server) {
		s.Config.BaseContext = func(net.Listener) context.Context { return base }
	})
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(ctx context.Context, c *Conn) error {
		<-accepted
		shutdown()
		assertDrained(ctx, t, c)
		return nil
	})
	require.NoError(t, err)
}

func TestHTTP2HandlerErrorClosesWithInternalError(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	logger, logs := captureLogger()
	srv := newH2Server(t, func(ctx context.Context, r *Request) error {
		if _, err := r.Accept(ctx, nil); err != nil {
			return err
		}
		return errors.New("handler broke")
	}, &ServerOptions{Logger: logger})
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(ctx context.Context, c *Conn) error {
		_, err := c.Receive(ctx)
		assert.Equal(t, InternalError, closedReason(t, err).Code)
		return nil
	})
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "handler broke")
}

func TestHTTP2AnswersAHandshakeWithoutVersion426(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	srv := newH2Server(t, func(context.Context, *Request) error {
		t.Error("the handler ran")
		return nil
	}, nil)
	tr := srv.transport(t)
	tr.init()
	target, err := parseURL(srv.wsURL())
	require.NoError(t, err)
	st, h1, err := tr.roundTrip(t.Context(), target, http.Header{})
	require.NoError(t, err)
	require.Nil(t, h1)
	defer st.Close()
	assert.Equal(t, http.StatusUpgradeRequired, st.resp.StatusCode)
	assert.Equal(t, "13", st.resp.Header.Get("Sec-WebSocket-Version"))
}

func TestHTTP2ConnectionLossIsAbnormalClosure(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	handlerErr := make(chan error, 1)
	srv := newH2Server(t, func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		// Not ctx: net/http cancels it when the connection is lost, and
		// Receive would report that first.
		_, err = c.Receive(context.WithoutCancel(ctx))
		handlerErr <- err
		return nil
	}, nil)
	var tcp net.Conn
	tr := srv.transport(t)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		tcp = nc
		return nc, err
	}
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: tr}, func(ctx context.Context, c *Conn) error {
		require.NoError(t, c.Ping(ctx, nil))
		require.NoError(t, tcp.Close())
		_, err := c.Receive(ctx)
		assert.Equal(t, AbnormalClosure, closedReason(t, err).Code)
		return nil
	})
	var closed *ClosedError
	if err != nil {
		require.ErrorAs(t, err, &closed, "Open reports the abnormal closure, if anything")
	}
	assert.Equal(t, AbnormalClosure, closedReason(t, <-handlerErr).Code)
}

// BenchmarkEchoOverHTTPHandler measures round trips of messages through
// HTTPHandler over TLS: the HTTP/1.1 upgrade, and RFC 8441 over HTTP/2 when
// run with GODEBUG=http2xconnect=1.
func BenchmarkEchoOverHTTPHandler(b *testing.B) {
	proto := "HTTP/1.1"
	if xconnect.Enabled() {
		proto = "HTTP/2.0"
	}
	srv := newH2Server(b, echoHandler, nil)
	opts := &DialOptions{HTTP2: srv.transport(b), Compression: CompressionOptions{Disabled: true}}
	for _, size := range benchSizes {
		b.Run(proto+"/"+fmt.Sprint(size), func(b *testing.B) {
			msg := bytes.Repeat([]byte{'x'}, size)
			err := Open(b.Context(), srv.wsURL(), opts, func(ctx context.Context, c *Conn) error {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.SendBinary(ctx, msg); err != nil {
						return err
					}
					m, err := c.Receive(ctx)
					if err != nil {
						return err
					}
					m.Release()
				}
				return nil
			})
			require.NoError(b, err)
		})
	}
}

func TestHTTP2ShutdownDrainsTheStreams(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	accepted := make(chan struct{})
	srv := newH2Server(t, awaitShutdown(accepted), nil)
	srv.ws.RegisterOn(srv.Config)
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			<-accepted
			// Over HTTP/2 the WebSocket is a request in progress: Shutdown
			// waits for it, and RegisterOn's drain ends it.
			if err := srv.Config.Shutdown(ctx); err != nil {
				return err
			}
			return srv.ws.Shutdown(ctx)
		})
		return Open(ctx, srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(ctx context.Context, c *Conn) error {
			assertDrained(ctx, t, c)
			return nil
		})
	})
	require.NoError(t, err)
}

func TestHTTP2ShutdownEndsAWriteTheClientDoesNotRead(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	// Far more than a client's HTTP/2 stream window (net/http's is 4 MiB at
	// most): a client that does not read leaves this send blocked in flow
	// control, until the drain's closing deadline resets the stream.
	const size = 32 << 20
	sending := make(chan struct{})
	sendErr := make(chan error, 1)
	srv := newH2Server(t, func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		close(sending)
		sendErr <- c.SendBinary(context.WithoutCancel(ctx), make([]byte, size))
		return nil
	}, &ServerOptions{DisconnectTimeout: 300 * time.Millisecond, Compression: CompressionOptions{Disabled: true}})
	tr := srv.transport(t)
	tr.init()
	target, err := parseURL(srv.wsURL())
	require.NoError(t, err)
	hdr, err := handshake.ExtendedConnectRequest(nil, "", nil)
	require.NoError(t, err)
	// A client that never reads its stream.
	st, h1, err := tr.roundTrip(t.Context(), target, hdr)
	require.NoError(t, err)
	require.Nil(t, h1)
	defer st.Close()
	require.Equal(t, http.StatusOK, st.resp.StatusCode)
	<-sending
	ctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	require.NoError(t, srv.ws.Shutdown(ctx), "the drain ends the blocked write")
	var closed *ClosedError
	assert.ErrorAs(t, <-sendErr, &closed)
}

func TestHTTP2TransportLeavesWsURLsToHTTP1(t *testing.T) {
	var rec protoRecorder
	ws := NewHTTPHandler(rec.handle, nil)
	hs := httptest.NewServer(ws)
	defer func() {
		hs.Close()
		require.NoError(t, ws.Shutdown(context.Background()))
	}()
	tr := &HTTP2Transport{}
	defer tr.CloseIdleConnections()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/"
	err := Open(t.Context(), url, &DialOptions{HTTP2: tr}, func(ctx context.Context, c *Conn) error {
		return c.Ping(ctx, nil)
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"HTTP/1.1"}, rec.seen())
}

// awaitShutdown is a handler that accepts, closes accepted and waits for the
// server's shutdown.
func awaitShutdown(accepted chan<- struct{}) Handler {
	return func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		close(accepted)
		_, err = c.Receive(ctx)
		return err
	}
}

// assertDrained checks that c, a client, is closed by a server's drain.
func assertDrained(ctx context.Context, t *testing.T, c *Conn) {
	t.Helper()
	_, err := c.Receive(ctx)
	got := closedReason(t, err)
	assert.Equal(t, GoingAway, got.Code)
	assert.Equal(t, shutdownReason, got.Reason)
}

func TestHTTP2AddressesAreThoseOfTheSharedConnection(t *testing.T) {
	if !xconnect.Run(t) {
		return
	}
	serverSaw := make(chan [2]string, 1)
	srv := newH2Server(t, func(ctx context.Context, r *Request) error {
		serverSaw <- [2]string{r.LocalAddr().String(), r.RemoteAddr().String()}
		return echoHandler(ctx, r)
	}, nil)
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(ctx context.Context, c *Conn) error {
		require.IsType(t, &net.TCPAddr{}, c.LocalAddr())
		assert.Equal(t, srv.Listener.Addr().String(), c.RemoteAddr().String())
		seen := <-serverSaw
		assert.Equal(t, srv.Listener.Addr().String(), seen[0], "the server's address")
		assert.Equal(t, c.LocalAddr().String(), seen[1], "the client's address")
		return nil
	})
	require.NoError(t, err)
}
