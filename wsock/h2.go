package wsock

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/cancel"
)

// WebSockets over HTTP/2 (RFC 8441), server side. An HTTP/2 client opens a
// WebSocket as an extended CONNECT request on one stream of a connection it
// may share with other requests and WebSockets; the server answers 200, and
// the stream's DATA frames in both directions carry the WebSocket's frames
// from then on. net/http's HTTP/2 server presents such a request to a handler
// as Method "CONNECT", Proto "HTTP/2.0", the :protocol pseudo-header as
// Header[":protocol"], RequestURI the :path and Host the :authority; the
// request body reads the client's bytes and the ResponseWriter, flushed,
// writes ours. net/http advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, and so
// accepts such requests, only with GODEBUG=http2xconnect=1 (see doc.go).

// h2ServerStream is the server's end of an extended CONNECT stream as an
// io.ReadWriteCloser: reads come from the request body, writes go to the
// ResponseWriter, flushed at once (a WebSocket frame must not wait in a
// buffer). It lives no longer than the ServeHTTP call that made it.
type h2ServerStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	body io.ReadCloser

	closed  atomic.Bool
	writing atomic.Int32 // Write calls in progress
}

func newH2ServerStream(w http.ResponseWriter, req *http.Request) *h2ServerStream {
	s := &h2ServerStream{w: w, rc: http.NewResponseController(w), body: req.Body}
	// http.Server's ReadTimeout and WriteTimeout bound the HTTP exchange;
	// the WebSocket has its own timeouts.
	_ = s.rc.SetReadDeadline(time.Time{})
	_ = s.rc.SetWriteDeadline(time.Time{})
	return s
}

// accept answers the extended CONNECT with 200 and header, and sends the
// answer at once: the client waits for it before sending frames.
func (s *h2ServerStream) accept(header http.Header) error {
	for k, v := range header {
		s.w.Header()[k] = v
	}
	s.w.WriteHeader(http.StatusOK)
	return s.rc.Flush()
}

// reject answers with status, header and body; the stream ends when the
// handler returns.
func (s *h2ServerStream) reject(status int, header http.Header, body []byte) error {
	for k, v := range header {
		s.w.Header()[k] = v
	}
	s.w.WriteHeader(status)
	if _, err := s.w.Write(body); err != nil {
		return err
	}
	return s.rc.Flush()
}

// answerH2 runs write, which answers r's extended CONNECT, bounded by
// ConnectTimeout and ctx as Request.write bounds an HTTP/1.1 answer: when
// either ends first, the stream is reset, which fails the write.
func (r *Request) answerH2(ctx context.Context, write func() error) error {
	return withConnectTimeout(ctx, r.srv.lim.connectTimeout, func(ctx context.Context) error {
		stop := context.AfterFunc(ctx, func() { _ = r.h2.rc.SetWriteDeadline(pastTime) })
		err := write()
		if !stop() {
			_ = r.nc.Close()
			return cancel.Checkpoint(ctx)
		}
		if err != nil {
			_ = r.nc.Close()
			return &handshakeFailed{"write answer", err}
		}
		return nil
	})
}

func (s *h2ServerStream) Read(p []byte) (int, error) { return s.body.Read(p) }

func (s *h2ServerStream) Write(p []byte) (int, error) {
	s.writing.Add(1)
	defer s.writing.Add(-1)
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}

// Close ends reading at once. Writing ends with the handler's return, which
// closes the stream (END_STREAM); a write blocked meanwhile (the client does
// not read, so HTTP/2 flow control holds it) is failed by resetting the
// stream, as closing TCP would fail it on HTTP/1.1.
func (s *h2ServerStream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	_ = s.body.Close()
	if s.writing.Load() > 0 {
		_ = s.rc.SetWriteDeadline(pastTime)
	}
	return nil
}

// h2Conn is a net.Conn over one HTTP/2 stream: streamConn's deadlines (one
// that passes ends the stream, which is all a Conn needs) with the addresses
// of the HTTP/2 connection.
type h2Conn struct {
	*streamConn
	local, remote net.Addr
}

func (c *h2Conn) LocalAddr() net.Addr  { return c.local }
func (c *h2Conn) RemoteAddr() net.Addr { return c.remote }

// h2TLSConn is an h2Conn whose HTTP/2 connection runs over TLS, for Conn.TLS.
type h2TLSConn struct {
	*h2Conn
	state tls.ConnectionState
}

func (c *h2TLSConn) ConnectionState() tls.ConnectionState { return c.state }

// newH2Conn returns the net.Conn of a stream, rwc, of an HTTP/2 connection
// with the addresses local and remote (placeholders if nil) and the TLS
// state tlsState (nil if the connection is not TLS).
func newH2Conn(rwc io.ReadWriteCloser, local, remote net.Addr, tlsState *tls.ConnectionState) net.Conn {
	if local == nil {
		local = streamAddr{}
	}
	if remote == nil {
		remote = streamAddr{}
	}
	c := &h2Conn{streamConn: &streamConn{rwc: rwc}, local: local, remote: remote}
	if tlsState == nil {
		return c
	}
	return &h2TLSConn{h2Conn: c, state: *tlsState}
}

// newH2ServerConn returns the net.Conn of the stream of req, with the
// addresses and TLS state of its HTTP/2 connection.
func newH2ServerConn(w http.ResponseWriter, req *http.Request) (net.Conn, *h2ServerStream) {
	s := newH2ServerStream(w, req)
	local, _ := req.Context().Value(http.LocalAddrContextKey).(net.Addr)
	var remote net.Addr
	if a, err := net.ResolveTCPAddr("tcp", req.RemoteAddr); err == nil {
		remote = a
	}
	return newH2Conn(s, local, remote, req.TLS), s
}

// Proto returns the HTTP version the opening handshake came with: "HTTP/1.1"
// for an Upgrade, "HTTP/2.0" for an extended CONNECT (RFC 8441).
func (r *Request) Proto() string { return r.hs.Proto }

// isHTTP2 reports whether r came as an HTTP/2 extended CONNECT.
func (r *Request) isHTTP2() bool { return r.h2 != nil }
