package wsock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/handshake"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// maxRejectionBody bounds the body a client keeps from a rejection.
const maxRejectionBody = 64 << 10

// A RejectedError is a server's refusal of the opening handshake: a final
// answer other than 101 Switching Protocols (trio-websocket's
// ConnectionRejected). Interim 1xx answers before it (100 Continue, 103 Early
// Hints...) are skipped, up to 5 of them; more fail the handshake with an
// error that matches ErrHandshake but is not a RejectedError. It matches
// ErrHandshake.
type RejectedError struct {
	StatusCode int
	Header     http.Header
	// Body is the answer's body, read as Content-Length, chunked coding or
	// the end of the connection delimit it. A body over 64 KiB is cut there
	// (a chunked one is dropped).
	Body []byte
}

// Error returns "handshake rejected with status 403 Forbidden".
func (e *RejectedError) Error() string {
	return "handshake rejected with status " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
}

// Unwrap returns ErrHandshake.
func (e *RejectedError) Unwrap() error { return ErrHandshake }

// handshakeFailed is a failed opening handshake step (dial, TLS, I/O, a bad
// answer): errors.Is matches ErrHandshake, and errors.Is and errors.As reach
// the cause (a *net.OpError, a *tls.CertificateVerificationError…).
type handshakeFailed struct {
	op  string
	err error
}

func (e *handshakeFailed) Error() string {
	if e.op == "" {
		return e.err.Error()
	}
	return e.op + ": " + e.err.Error()
}
func (e *handshakeFailed) Unwrap() []error { return []error{ErrHandshake, e.err} }

// Open connects to the WebSocket server at url, runs body with the
// connection, and closes it when body returns (trio-websocket's
// open_websocket_url): the connection lives exactly as long as the call.
// Its reader runs in a nursery of Open's own.
//
// A URL Open cannot use fails with an error matching ErrBadURL, invalid
// options with one matching ErrBadOption, before anything is dialled. The TCP
// connection, TLS handshake and opening handshake are bounded by
// opts.ConnectTimeout (ErrConnectTimeout). Their failures match ErrHandshake,
// a refusal is a *RejectedError, and network failures can be examined with
// errors.As (*net.OpError, TLS errors). Error texts name the URL without its
// userinfo and query, which may hold credentials.
//
// When body returns, Open closes the connection: 1000 (NormalClosure) if body
// returned nil, 1001 (GoingAway) if it returned a cancellation error, 1011
// (InternalError) for any other error or a panic, and waits for the closing
// handshake up to opts.DisconnectTimeout. If ctx is cancelled, the connection
// starts closing with 1001 at once, even while body runs (body's sends then
// fail with *ClosedError), whatever body returns: the peer sees 1001, not a
// dropped connection, and Open returns once the closing handshake is over or
// DisconnectTimeout has passed. It returns body's error as it is;
// when body succeeded, ErrDisconnectTimeout if the closing handshake timed
// out, or else the error the connection's reader ended with, or nil (a clean
// close, whoever began it).
//
// The reader's error is always a *ClosedError (errors.Is(err, ErrClosed); it
// does not match ErrHandshake), whose Reason tells what happened:
//
//   - the peer broke the protocol, and the reader failed the connection:
//     Reason is the code and the reason we sent the peer, 1002 ProtocolError
//     (bad framing: reserved bits or opcodes, a masked frame from the server,
//     a bad control frame or close code), 1007 InvalidPayload (invalid UTF-8
//     in a text message or a close reason) or 1009 MessageTooBig (a message
//     over MaxMessageSize). CloseStatus(err) is that code, and the text reads
//     "wsock: connection closed: 1007 INVALID_FRAME_PAYLOAD_DATA: text
//     message is not valid UTF-8";
//   - the connection ended without a closing handshake: Reason is 1006
//     AbnormalClosure, and the error unwraps to the cause (the I/O error,
//     ErrKeepAliveTimeout).
func Open(ctx context.Context, url string, opts *DialOptions, body func(ctx context.Context, c *Conn) error) error {
	if body == nil {
		panic("wsock: Open with a nil body")
	}
	var bodyErr, closeErr, readerErr error
	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		c, err := connectURL(ctx, n, url, opts, func(err error) { readerErr = err })
		if err != nil {
			bodyErr = err
			return nil
		}
		returned := false
		defer func() {
			if !returned { // body panicked: close as a failed body would, then let the panic go on
				_ = c.Close(InternalError, "internal error")
			}
		}()
		bodyErr = body(ctx, c)
		returned = true
		code, reason := closeCodeFor(bodyErr)
		if ctx.Err() != nil {
			// The reader is closing with 1001 already (Conn.run): say the same.
			code, reason = GoingAway, ""
		}
		closeErr = c.Close(code, reason)
		return nil
	})
	switch {
	// Under a cancelled enclosing scope the nursery reports that
	// cancellation (its end is a checkpoint); the body's own error says more.
	case err != nil && (bodyErr == nil || cancel.StripCancellation(err) != nil):
		return err
	case bodyErr != nil:
		return bodyErr
	case errors.Is(closeErr, ErrDisconnectTimeout):
		return closeErr
	}
	return readerErr
}

// closeCodeFor is the code closing a connection whose user returned err.
func closeCodeFor(err error) (StatusCode, string) {
	switch {
	case err == nil:
		return NormalClosure, ""
	case cancel.IsCancellation(err):
		return GoingAway, ""
	}
	return InternalError, "internal error"
}

// Connect connects to the WebSocket server at url and returns the open
// connection, whose reader runs as a task of n (trio-websocket's
// connect_websocket_url). The caller owns the connection: close it before n's
// body returns, or n waits for it. Cancelling n closes it gracefully: 1001
// (GoingAway) and the closing handshake, bounded by DisconnectTimeout, so n
// joins it within that time. Timeouts and errors are those of Open. Abnormal
// closures are logged at Debug level and reported by the connection itself
// (CloseReason, *ClosedError), never as failures of n.
func Connect(ctx context.Context, n *nursery.Nursery, url string, opts *DialOptions) (*Conn, error) {
	return connectURL(ctx, n, url, opts, nil)
}

// WrapClient performs the client side of the opening handshake over an
// existing stream, asking for resource ("/path?query"; "" means "/") on host
// (the Host header), and returns the connection, whose reader runs as a task
// of n (trio-websocket's wrap_client_stream). The connection owns rwc and
// closes it when it ends or when the handshake fails. The handshake is
// bounded by opts.ConnectTimeout. A rwc that is not a net.Conn reports
// placeholder addresses, and a connection over it that cannot finish its
// closing handshake in time has rwc closed.
func WrapClient(ctx context.Context, n *nursery.Nursery, rwc io.ReadWriteCloser, host, resource string, opts *DialOptions) (*Conn, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	if resource == "" {
		resource = "/"
	}
	op := "open " + host + withoutQuery(resource)
	lim := opts.resolve()
	req, err := newClientRequest(host, resource, opts, lim)
	if err != nil {
		_ = rwc.Close()
		return nil, &opError{op, err}
	}
	nc := asNetConn(rwc)
	var c *Conn
	err = withConnectTimeout(ctx, lim.connectTimeout, func(ctx context.Context) error {
		var err error
		c, err = clientHandshake(ctx, nc, req, opts, lim)
		return err
	})
	if err != nil {
		return nil, &opError{op, err}
	}
	startConn(n, c, lim, nil)
	return c, nil
}

// connectURL is Connect; onReaderErr, if not nil, receives the reader's
// error instead of the log.
func connectURL(ctx context.Context, n *nursery.Nursery, rawURL string, opts *DialOptions, onReaderErr func(error)) (*Conn, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	op := "open " + t.redacted
	lim := opts.resolve()
	req, err := newClientRequest(t.host, t.resource, opts, lim)
	if err != nil {
		return nil, &opError{op, err}
	}
	var c *Conn
	err = withConnectTimeout(ctx, lim.connectTimeout, func(ctx context.Context) error {
		if opts.HTTP2 != nil && t.secure {
			c, err = opts.HTTP2.open(ctx, t, req, opts, lim)
			return err
		}
		nc, err := dialStream(ctx, t, opts)
		if err != nil {
			return err
		}
		c, err = clientHandshake(ctx, nc, req, opts, lim)
		return err
	})
	if err != nil {
		return nil, &opError{op, err}
	}
	startConn(n, c, lim, onReaderErr)
	return c, nil
}

// startConn runs c's reader, and its keep-alive if configured, as tasks of
// n. The connection holds a place in n for as long as it lives, while its
// reader task comes and goes (see turn.go). The reader's error goes to onErr,
// or to the log when onErr is nil: a connection's failure is the
// connection's business (its CloseReason), not its nursery's.
func startConn(n *nursery.Nursery, c *Conn, lim limits, onErr func(error)) {
	// The task captures c and onErr only: it lives as long as the connection.
	c.startReader(n, func(ctx context.Context) error {
		ended, err := c.runTurn(ctx)
		if !ended {
			return nil // a Receive reads now
		}
		defer c.turn.hold.Release()
		if err != nil {
			if onErr != nil {
				onErr(err)
			} else {
				c.logger.Debug("wsock: connection failed", "conn", c.String(), "err", err)
			}
		}
		return nil
	})
	if lim.keepAlive.Interval > 0 {
		n.GoNamed(c.String()+" keepalive", func(ctx context.Context) error {
			keepAlive(ctx, c, lim.keepAlive)
			return nil
		})
	}
}

// withConnectTimeout runs body bounded by d (0: by ctx only) and turns the
// expiry of that bound into ErrConnectTimeout.
func withConnectTimeout(ctx context.Context, d time.Duration, body func(ctx context.Context) error) error {
	if d <= 0 {
		return body(ctx)
	}
	err := cancel.FailAfter(ctx, d, body)
	if errors.Is(err, cancel.ErrTooSlow) {
		return ErrConnectTimeout
	}
	return err
}

// target is a parsed ws or wss URL.
type target struct {
	secure     bool
	serverName string // host for TLS verification, without brackets or port
	addr       string // host:port to dial
	host       string // Host header: host, with the port unless it is the scheme's default
	resource   string // request target: path?query, percent-encoding as given
	redacted   string // scheme://host/path: no userinfo, query or fragment, for errors
}

// parseURL applies RFC 6455 §3: ws or wss only, port 80 or 443 by default,
// "/" for an empty path, the query kept, the fragment dropped (it means
// nothing to a server). Percent-encoding is passed on as written. Its errors
// match ErrBadURL and never show the URL's userinfo or query, which may hold
// credentials.
func parseURL(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text holds the whole URL
			err = ue.Err
		}
		return target{}, &opError{"open", badURL(err.Error())}
	}
	t := target{redacted: redactURL(u)}
	var defaultPort string
	switch u.Scheme {
	case "ws":
		defaultPort = "80"
	case "wss":
		t.secure, defaultPort = true, "443"
	default:
		return target{}, &opError{"open " + t.redacted, badURL("scheme must be ws or wss")}
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return target{}, &opError{"open " + t.redacted, badURL("no host")}
	}
	t.serverName = u.Hostname()
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	t.addr = net.JoinHostPort(t.serverName, port)
	t.host = t.addr
	if port == defaultPort {
		t.host = t.serverName
		if strings.Contains(t.host, ":") { // an IPv6 literal keeps its brackets
			t.host = "[" + t.host + "]"
		}
	}
	t.resource = u.EscapedPath()
	if t.resource == "" {
		t.resource = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		t.resource += "?" + u.RawQuery
	}
	return t, nil
}

// redactURL is u for error texts: scheme, host and path, without the
// userinfo, the query and the fragment.
func redactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: u.Opaque, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}

// withoutQuery is a request target without its query, for error texts.
func withoutQuery(resource string) string {
	if i := strings.IndexByte(resource, '?'); i >= 0 {
		return resource[:i]
	}
	return resource
}

// dialStream opens the TCP (and, for wss, TLS) connection to t.
func dialStream(ctx context.Context, t target, opts *DialOptions) (net.Conn, error) {
	dial := opts.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", t.addr)
	if err != nil {
		if cerr := cancel.Checkpoint(ctx); cerr != nil {
			return nil, cerr
		}
		var oe *net.OpError
		if errors.As(err, &oe) { // "dial tcp ADDR: ..." says it all
			return nil, &handshakeFailed{"", err}
		}
		return nil, &handshakeFailed{"dial " + t.addr, err}
	}
	if !t.secure {
		return nc, nil
	}
	cfg := opts.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = t.serverName
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		if cerr := cancel.Checkpoint(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, &handshakeFailed{"TLS handshake", err}
	}
	return tc, nil
}

// clientRequest is an opening handshake request, built before anything is
// dialled so that bad options fail first.
type clientRequest struct {
	host, resource, key, offer string
	dcfg                       deflate.Config
	head                       []byte
}

// newClientRequest builds the request for resource on host. Its errors match
// ErrBadOption.
func newClientRequest(host, resource string, opts *DialOptions, lim limits) (*clientRequest, error) {
	if err := opts.Compression.check(); err != nil {
		return nil, err
	}
	r := &clientRequest{host: host, resource: resource, key: handshake.NewKey(), dcfg: lim.compression.deflateConfig()}
	if !lim.compression.Disabled {
		r.offer = deflate.Offer(r.dcfg)
	}
	head, err := handshake.AppendRequest(nil, host, resource, r.key, opts.Subprotocols, r.offer, opts.Header)
	if err != nil {
		return nil, badOptionFrom(err)
	}
	r.head = head
	return r, nil
}

// clientHandshake sends the opening handshake over nc and reads the answer.
// It owns nc: on failure nc is closed, on success the returned Conn has it.
func clientHandshake(ctx context.Context, nc net.Conn, req *clientRequest, opts *DialOptions, lim limits) (*Conn, error) {
	release := closeOnCancel(ctx, nc)
	cfg, err := exchangeHandshake(nc, req, opts, lim)
	if release() {
		var rejected *RejectedError
		if !errors.As(err, &rejected) {
			return nil, cancel.Checkpoint(ctx)
		}
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return newConn(cfg), nil
}

// exchangeHandshake writes the request and reads and checks the answer,
// returning the configuration of the connection it opens.
func exchangeHandshake(nc net.Conn, req *clientRequest, opts *DialOptions, lim limits) (connConfig, error) {
	if _, err := nc.Write(req.head); err != nil {
		return connConfig{}, &handshakeFailed{"send request", err}
	}
	resp, rest, err := readResponse(nc, lim.readBufferSize)
	if err != nil {
		return connConfig{}, err
	}
	if resp.Status != http.StatusSwitchingProtocols {
		return connConfig{}, readRejection(nc, resp, rest)
	}
	protocol, extensions, err := resp.CheckAccept(req.key, opts.Subprotocols)
	if err != nil {
		return connConfig{}, &handshakeFailed{"check response", err}
	}
	return clientConnConfig(lim, nc, slices.Clip(slices.Clone(rest)), req, protocol, extensions,
		requestHeader(req.host, req.key, opts.Subprotocols, req.offer, opts.Header), resp.Header)
}

// clientConnConfig is the configuration of a client connection over nc
// whose opening handshake, req, was answered with protocol and extensions
// (HTTP/1.1 or HTTP/2 alike): the extensions are checked against req's offer
// here. reqHeader and respHeader are the handshake's, for Conn.
func clientConnConfig(lim limits, nc net.Conn, buffered []byte, req *clientRequest, protocol, extensions string,
	reqHeader, respHeader http.Header) (connConfig, error) {
	var params *deflate.Params
	if extensions != "" {
		if req.offer == "" {
			return connConfig{}, &handshakeFailed{"check response",
				fmt.Errorf("server chose extensions %q, none were offered", extensions)}
		}
		p, err := deflate.ClientAccept(extensions, req.dcfg)
		if err != nil {
			return connConfig{}, &handshakeFailed{"check response", err}
		}
		params = &p
	}
	return connConfig{
		netConn:           nc,
		buffered:          buffered,
		role:              proto.Client,
		path:              req.resource,
		subprotocol:       protocol,
		requestHeader:     reqHeader,
		responseHeader:    respHeader,
		deflate:           params,
		deflateConfig:     req.dcfg,
		maxMessageSize:    lim.maxMessageSize,
		queueSize:         lim.queueSize,
		readBufferSize:    lim.readBufferSize,
		disconnectTimeout: lim.disconnectTimeout,
		logger:            lim.logger,
	}, nil
}

// requestHeader is the header of the request AppendRequest wrote, for
// Conn.RequestHeader.
func requestHeader(host, key string, protocols []string, offer string, extra http.Header) http.Header {
	h := extra.Clone()
	if h == nil {
		h = make(http.Header, 6)
	}
	h["Host"] = []string{host}
	h["Upgrade"] = []string{"websocket"}
	h["Connection"] = []string{"Upgrade"}
	h["Sec-Websocket-Key"] = []string{key}
	h["Sec-Websocket-Version"] = []string{"13"}
	if len(protocols) > 0 {
		h["Sec-Websocket-Protocol"] = []string{strings.Join(protocols, ", ")}
	}
	if offer != "" {
		h["Sec-Websocket-Extensions"] = []string{offer}
	}
	return h
}

// maxInterimResponses is how many interim 1xx answers a client skips
// before the final one; more fail the handshake (net/http's cap too).
const maxInterimResponses = 5

// errTooManyInterim is the failure of an answer preceded by more than
// maxInterimResponses interim answers.
var errTooManyInterim = fmt.Errorf("more than %d interim 1xx answers", maxInterimResponses)

// readResponse reads the answer's head, skipping up to maxInterimResponses
// interim 1xx answers, and returns it with the bytes read past it.
func readResponse(r io.Reader, bufSize int) (*handshake.Response, []byte, error) {
	buf := make([]byte, 0, min(bufSize, 2<<10))
	interim := 0
	for {
		for len(buf) > 0 {
			resp, n, err := handshake.ParseResponse(buf, handshake.Limits{})
			if err != nil {
				return nil, nil, &handshakeFailed{"read response", err}
			}
			if n == 0 {
				break
			}
			if resp.Status < 200 && resp.Status != http.StatusSwitchingProtocols {
				if interim++; interim > maxInterimResponses {
					return nil, nil, &handshakeFailed{"read response", errTooManyInterim}
				}
				buf = buf[:copy(buf, buf[n:])] // interim answer: skip it
				continue
			}
			return resp, buf[n:], nil
		}
		if len(buf) == cap(buf) {
			// ParseResponse fails once a head outgrows its limit, so this
			// stays below twice that limit.
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, &handshakeFailed{"read response", err}
		}
	}
}

// readRejection reads the body of a refusal as its head delimits it, up to
// maxRejectionBody: a longer body is cut there (a chunked one is dropped), and
// one that cannot be read in full is cut where reading stopped.
func readRejection(r io.Reader, resp *handshake.Response, rest []byte) *RejectedError {
	e := &RejectedError{StatusCode: resp.Status, Header: resp.Header}
	length, chunked := resp.BodyLength()
	limit := maxRejectionBody
	if !chunked && length >= 0 && length < int64(limit) {
		limit = int(length)
	}
	body := slices.Clone(rest)
	var chunk [4 << 10]byte
	for {
		if chunked {
			decoded, _, done, err := handshake.DecodeChunked(body, maxRejectionBody)
			if err != nil {
				return e
			}
			if done {
				e.Body = decoded
				return e
			}
		} else if len(body) >= limit {
			e.Body = body[:limit]
			return e
		}
		n, err := r.Read(chunk[:])
		body = append(body, chunk[:n]...)
		if n == 0 && err != nil {
			if !chunked {
				e.Body = body[:min(len(body), limit)]
			}
			return e
		}
	}
}

// closeOnCancel makes blocking I/O on c return when ctx is done, by closing
// c. release disarms it and reports whether ctx had already closed c.
func closeOnCancel(ctx context.Context, c io.Closer) (release func() bool) {
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.Close()
		close(closed)
	})
	return func() bool {
		if stop() {
			return false
		}
		<-closed
		return true
	}
}

// streamConn adapts an io.ReadWriteCloser to net.Conn for WrapClient. A
// plain stream cannot interrupt one blocked call, so a deadline that passes
// closes the whole stream, after which its reads and writes fail with
// os.ErrDeadlineExceeded. That is all a Conn needs: it sets deadlines only to
// end the connection (the closing handshake's bound, an interrupted write).
type streamConn struct {
	rwc     io.ReadWriteCloser
	mu      sync.Mutex
	timers  [2]*time.Timer // read, write
	expired atomic.Bool
}

func (s *streamConn) Read(p []byte) (int, error) {
	n, err := s.rwc.Read(p)
	if err != nil && s.expired.Load() {
		err = os.ErrDeadlineExceeded
	}
	return n, err
}

func (s *streamConn) Write(p []byte) (int, error) {
	n, err := s.rwc.Write(p)
	if err != nil && s.expired.Load() {
		err = os.ErrDeadlineExceeded
	}
	return n, err
}

func (s *streamConn) Close() error {
	s.mu.Lock()
	for _, t := range s.timers {
		if t != nil {
			t.Stop()
		}
	}
	s.mu.Unlock()
	return s.rwc.Close()
}

func (s *streamConn) LocalAddr() net.Addr  { return streamAddr{} }
func (s *streamConn) RemoteAddr() net.Addr { return streamAddr{} }

func (s *streamConn) SetDeadline(t time.Time) error {
	s.setDeadline(0, t)
	s.setDeadline(1, t)
	return nil
}

func (s *streamConn) SetReadDeadline(t time.Time) error  { s.setDeadline(0, t); return nil }
func (s *streamConn) SetWriteDeadline(t time.Time) error { s.setDeadline(1, t); return nil }

func (s *streamConn) setDeadline(i int, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timers[i] != nil {
		s.timers[i].Stop()
		s.timers[i] = nil
	}
	switch d := time.Until(t); {
	case t.IsZero():
	case d <= 0:
		s.expire()
	default:
		s.timers[i] = time.AfterFunc(d, s.expire)
	}
}

func (s *streamConn) expire() {
	s.expired.Store(true)
	_ = s.rwc.Close()
}

type streamAddr struct{}

func (streamAddr) Network() string { return "stream" }
func (streamAddr) String() string  { return "stream" }

func asNetConn(rwc io.ReadWriteCloser) net.Conn {
	if nc, ok := rwc.(net.Conn); ok {
		return nc
	}
	return &streamConn{rwc: rwc}
}
