package wsock

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/internal/xconnect"
	"github.com/gotrio/gotrio/nursery"
)

// h2Server is an HTTPS server with HTTP/2 (or without, if h1Only) serving
// ServerOptions.HTTPHandler(h) on /ws, which counts the TCP connections it
// accepts.
type h2Server struct {
	*httptest.Server
	accepts atomic.Int32
	client  *tls.Config
}

func newH2Server(t *testing.T, h Handler, opts *ServerOptions, h1Only bool) *h2Server {
	t.Helper()
	serverTLS, clientTLS := selfSignedTLS(t)
	s := &h2Server{client: clientTLS}
	mux := http.NewServeMux()
	mux.Handle("/ws", opts.HTTPHandler(h))
	s.Server = httptest.NewUnstartedServer(mux)
	s.Server.EnableHTTP2 = !h1Only
	s.Server.TLS = serverTLS
	s.Server.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.accepts.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// wsURL is the server's WebSocket address.
func (s *h2Server) wsURL() string { return "wss" + strings.TrimPrefix(s.URL, "https") + "/ws" }

// transport is an HTTP2Transport that trusts the server; its idle
// connections are closed when the test ends.
func (s *h2Server) transport(t *testing.T) *HTTP2Transport {
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
	srv := newH2Server(t, rec.handle, nil, false)
	opts := &DialOptions{HTTP2: srv.transport(t)}
	const clients = 8
	sizes := []int{0, 16, 4 << 10, 64 << 10, 1 << 20}
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		for i := range clients {
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
	}, nil, false)
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
		return echoConn(ctx, c)
	}, nil, false)
	opts := &DialOptions{HTTP2: srv.transport(t), Subprotocols: []string{"chat.v1", "chat.v2"}}
	err := Open(t.Context(), srv.wsURL(), opts, func(ctx context.Context, c *Conn) error {
		assert.Equal(t, "chat.v2", c.Subprotocol())
		assert.Equal(t, "h2", c.ResponseHeader().Get("X-Served-By"))
		assert.Contains(t, c.ResponseHeader().Get("Sec-WebSocket-Extensions"), "permessage-deflate")
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
	}, nil, false)
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
	srv := newH2Server(t, echoHandler, nil, false)
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
	srv := newH2Server(t, rec.handle, nil, false)
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
	srv := newH2Server(t, rec.handle, nil, true)
	err := Open(t.Context(), srv.wsURL(), &DialOptions{HTTP2: srv.transport(t)}, func(ctx context.Context, c *Conn) error {
		return c.Ping(ctx, nil)
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"HTTP/1.1"}, rec.seen())
	assert.Equal(t, int32(1), srv.accepts.Load(), "TCP connections accepted")
}
