package wsock

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/wsock/internal/handshake"
)

// An HTTP2Transport opens wss WebSockets over HTTP/2 (RFC 8441) for the
// dials whose DialOptions.HTTP2 it is: each WebSocket is one stream of an
// HTTP/2 connection, and the WebSockets (and nothing else) it opens to one
// host:port share that connection, up to the server's limit of concurrent
// streams (then it opens another).
//
// A dial falls back to the HTTP/1.1 upgrade, on a connection of its own, when
// the server does not speak HTTP/2 (TLS ALPN chose http/1.1) or does not
// advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (a net/http server without
// GODEBUG=http2xconnect=1, among others); Conn and Request then look the same
// as over HTTP/2. ws URLs always use HTTP/1.1: browsers and most servers
// speak HTTP/2 over TLS only.
//
// The zero value is ready to use. An HTTP2Transport is safe for concurrent
// use, and must not be copied after first use. It holds on to idle
// connections: call CloseIdleConnections once its WebSockets are done (an
// idle connection is closed after 90 s otherwise).
//
// It uses net/http's HTTP/2 client, whose connection goroutines belong to
// net/http, not to a nursery.
type HTTP2Transport struct {
	// TLSConfig configures TLS for the connections, in place of
	// DialOptions.TLSConfig: nil verifies the server's certificate against
	// the system roots. ServerName defaults to the URL's host; NextProtos is
	// set by the transport (h2, http/1.1).
	TLSConfig *tls.Config
	// DialContext opens the TCP connections, in place of
	// DialOptions.DialContext; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	once sync.Once
	t1   *http.Transport
	// dialing is a 1-slot semaphore held while a connection is dialed, so
	// that WebSockets opened together share one connection.
	dialing chan struct{}
	mu      sync.Mutex
	rt      http.RoundTripper // net/http's HTTP/2 pool, known after the first dial
}

// h2IdleTimeout is how long an HTTP2Transport keeps an idle connection.
const h2IdleTimeout = 90 * time.Second

// How it reaches net/http's HTTP/2 client: http.Transport.RoundTrip and
// http.ClientConn.RoundTrip refuse a request carrying the :protocol
// pseudo-header (their header validation wants tokens), but the bundled
// HTTP/2 transport itself sends it, waiting for the server's first SETTINGS
// and failing if they lack SETTINGS_ENABLE_CONNECT_PROTOCOL. That transport
// is the RoundTripper TLSNextProto["h2"] returns for a TLS connection it adds
// to its pool (keyed by host:port), and its pool never dials: the
// HTTP2Transport dials (with ALPN, so that a server choosing http/1.1 keeps
// the connection for the HTTP/1.1 handshake) when the pool has no connection
// with room for a stream.

func (tr *HTTP2Transport) init() {
	tr.once.Do(func() {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		tr.t1 = &http.Transport{Protocols: &p, DisableCompression: true, IdleConnTimeout: h2IdleTimeout}
		// Sets up net/http's HTTP/2 client, including TLSNextProto["h2"].
		tr.t1.CloseIdleConnections()
		tr.dialing = make(chan struct{}, 1)
	})
}

// CloseIdleConnections closes the connections that carry no WebSocket. A
// connection in use stays open; it becomes idle when its last WebSocket ends.
func (tr *HTTP2Transport) CloseIdleConnections() {
	tr.init()
	tr.t1.CloseIdleConnections()
}

// open opens the WebSocket at t over HTTP/2, or over HTTP/1.1 when the
// server does not support RFC 8441.
func (tr *HTTP2Transport) open(ctx context.Context, t target, req *clientRequest, opts *DialOptions, lim limits) (*Conn, error) {
	tr.init()
	hdr, err := handshake.ExtendedConnectRequest(opts.Subprotocols, req.offer, opts.Header)
	if err != nil {
		return nil, badOptionFrom(err)
	}
	st, h1, err := tr.roundTrip(ctx, t, hdr)
	switch {
	case h1 != nil: // the server chose HTTP/1.1 on the connection we dialed
		return clientHandshake(ctx, h1, req, opts, lim)
	case isExtendedConnectUnsupported(err):
		h1, err := tr.dialTLS(ctx, t, "http/1.1")
		if err != nil {
			return nil, err
		}
		return clientHandshake(ctx, h1, req, opts, lim)
	case err != nil:
		return nil, err
	}
	resp := st.resp
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body is bounded by ConnectTimeout and ctx, as on HTTP/1.1.
		release := closeOnCancel(ctx, st)
		rejected := readRejection(st, &handshake.Response{Status: resp.StatusCode, Header: resp.Header}, nil)
		release()
		_ = st.Close()
		return nil, rejected
	}
	protocol, extensions, err := handshake.CheckExtendedConnectAnswer(resp.StatusCode, resp.Header, opts.Subprotocols)
	if err != nil {
		_ = st.Close()
		return nil, &handshakeFailed{"check response", err}
	}
	hdr[handshake.ProtocolPseudoHeader] = []string{"websocket"}
	nc := newH2Conn(st, st.local, st.remote, st.tlsState)
	cfg, err := clientConnConfig(lim, nc, nil, req, protocol, extensions, hdr, resp.Header)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return newConn(cfg), nil
}

// isExtendedConnectUnsupported reports whether err is net/http's refusal to
// send an extended CONNECT to a server that did not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL. net/http does not export that error;
// TestHTTP2FallsBackWithoutExtendedConnect pins its text.
func isExtendedConnectUnsupported(err error) bool {
	return err != nil && strings.Contains(err.Error(), "extended connect not supported")
}

// isNoCachedConn reports whether err says the HTTP/2 pool has no connection
// to the host with room for a stream (the method is how net/http's HTTP/2
// copies recognise each other's error).
func isNoCachedConn(err error) bool {
	var e interface{ IsHTTP2NoCachedConnError() }
	return errors.As(err, &e)
}

// roundTrip sends the extended CONNECT for t on a pooled connection, dialing
// one when there is none, and returns the stream once the server answered.
// If the connection it dialed negotiated HTTP/1.1, it returns that
// connection instead (h1), for the HTTP/1.1 handshake.
func (tr *HTTP2Transport) roundTrip(ctx context.Context, t target, hdr http.Header) (st *h2ClientStream, h1 net.Conn, err error) {
	tr.mu.Lock()
	rt := tr.rt
	tr.mu.Unlock()
	if rt != nil {
		if st, err := tr.send(ctx, rt, t, hdr); !isNoCachedConn(err) {
			return st, nil, err
		}
	}
	select {
	case tr.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, cancel.Checkpoint(ctx)
	}
	defer func() { <-tr.dialing }()
	tr.mu.Lock()
	rt = tr.rt
	tr.mu.Unlock()
	if rt != nil { // dialed while we waited?
		if st, err := tr.send(ctx, rt, t, hdr); !isNoCachedConn(err) {
			return st, nil, err
		}
	}
	nc, err := tr.dialTLS(ctx, t, "h2", "http/1.1")
	if err != nil {
		return nil, nil, err
	}
	tc := nc.(*tls.Conn)
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		return nil, tc, nil
	}
	rt = tr.t1.TLSNextProto["h2"](t.addr, tc) // adds tc to the pool
	tr.mu.Lock()
	tr.rt = rt
	tr.mu.Unlock()
	st, err = tr.send(ctx, rt, t, hdr)
	return st, nil, err
}

// dialTLS opens a TLS connection to t offering the ALPN protocols.
func (tr *HTTP2Transport) dialTLS(ctx context.Context, t target, protos ...string) (net.Conn, error) {
	cfg := tr.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.NextProtos = protos
	return dialStream(ctx, t, &DialOptions{TLSConfig: cfg, DialContext: tr.DialContext})
}

// send sends the extended CONNECT over rt. The stream outlives ctx: only
// the wait for the answer is bounded by it.
func (tr *HTTP2Transport) send(ctx context.Context, rt http.RoundTripper, t target, hdr http.Header) (*h2ClientStream, error) {
	st := &h2ClientStream{}
	sctx, abort := context.WithCancel(context.WithoutCancel(ctx))
	st.abort = abort
	sctx = httptrace.WithClientTrace(sctx, &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		st.local, st.remote = ci.Conn.LocalAddr(), ci.Conn.RemoteAddr()
		if tc, ok := ci.Conn.(*tls.Conn); ok {
			state := tc.ConnectionState()
			st.tlsState = &state
		}
	}})
	pr, pw := io.Pipe()
	st.pw = pw
	req, err := http.NewRequestWithContext(sctx, http.MethodConnect, "https://"+t.host+t.resource, pr)
	if err != nil {
		abort()
		return nil, &handshakeFailed{"build request", err}
	}
	req.Header = hdr.Clone()
	req.Header[handshake.ProtocolPseudoHeader] = []string{"websocket"}
	stop := context.AfterFunc(ctx, abort)
	resp, err := rt.RoundTrip(req)
	if !stop() {
		err = cancel.Checkpoint(ctx)
	}
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		abort()
		_ = pw.Close()
		if isNoCachedConn(err) || isExtendedConnectUnsupported(err) || cancel.IsCancellation(err) {
			return nil, err
		}
		return nil, &handshakeFailed{"send request", err}
	}
	st.resp = resp
	return st, nil
}

// h2ClientStream is the client's end of an extended CONNECT stream as an
// io.ReadWriteCloser: writes go to the request body, reads come from the
// response body.
type h2ClientStream struct {
	resp          *http.Response
	pw            *io.PipeWriter
	abort         context.CancelFunc   // ends the stream
	local, remote net.Addr             // the HTTP/2 connection's
	tlsState      *tls.ConnectionState // the HTTP/2 connection's
}

func (s *h2ClientStream) Read(p []byte) (int, error)  { return s.resp.Body.Read(p) }
func (s *h2ClientStream) Write(p []byte) (int, error) { return s.pw.Write(p) }

// Close ends the stream: END_STREAM after what was written, and RST_STREAM
// if the server has not ended its side yet.
func (s *h2ClientStream) Close() error {
	_ = s.pw.Close()
	err := s.resp.Body.Close()
	s.abort()
	return err
}
