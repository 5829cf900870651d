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

// A RejectedError is a server's refusal of the opening handshake: an answer
// other than 101 Switching Protocols (trio-websocket's ConnectionRejected).
// It matches ErrHandshake.
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

func (e *handshakeFailed) Error() string   { return e.op + ": " + e.err.Error() }
func (e *handshakeFailed) Unwrap() []error { return []error{ErrHandshake, e.err} }

// Open connects to the WebSocket server at url, runs body with the
// connection, and closes it when body returns (trio-websocket's
// open_websocket_url): the connection lives exactly as long as the call.
// Its reader runs in a nursery of Open's own.
//
// The TCP connection, TLS handshake and opening handshake are bounded by
// opts.ConnectTimeout (ErrConnectTimeout). Failures match ErrHandshake, a
// refusal is a *RejectedError, and network failures can be examined with
// errors.As (*net.OpError, TLS errors).
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
// out, or else the error the connection's reader ended with (an abnormal
// closure), or nil.
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
	case err != nil:
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
	if err := opts.Compression.check(); err != nil {
		_ = rwc.Close()
		return nil, err
	}
	if resource == "" {
		resource = "/"
	}
	lim := opts.resolve()
	nc := asNetConn(rwc)
	var c *Conn
	err := withConnectTimeout(ctx, lim.connectTimeout, func(ctx context.Context) error {
		var err error
		c, err = clientHandshake(ctx, nc, host, resource, opts, lim)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("wsock: open %s%s: %w", host, resource, err)
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
	if err := opts.Compression.check(); err != nil {
		return nil, err
	}
	lim := opts.resolve()
	var c *Conn
	err = withConnectTimeout(ctx, lim.connectTimeout, func(ctx context.Context) error {
		if opts.HTTP2 != nil && t.secure {
			c, err = opts.HTTP2.open(ctx, t, opts, lim)
			return err
		}
		nc, err := dialStream(ctx, t, opts)
		if err != nil {
			return err
		}
		c, err = clientHandshake(ctx, nc, t.host, t.resource, opts, lim)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("wsock: open %s: %w", t.redacted, err)
	}
	startConn(n, c, lim, onReaderErr)
	return c, nil
}

// startConn runs c's reader, and its keep-alive if configured, as tasks of
// n. The reader's error goes to onErr, or to the log when onErr is nil: a
// connection's failure is the connection's business (its CloseReason), not
// its nursery's.
func startConn(n *nursery.Nursery, c *Conn, lim limits, onErr func(error)) {
	n.GoNamed(c.String()+" reader", func(ctx context.Context) error {
		if err := c.run(ctx); err != nil {
			if onErr != nil {
				onErr(err)
			} else {
				lim.logger.Debug("wsock: connection failed", "conn", c.String(), "err", err)
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
	redacted   string // the URL without its password, for errors
}

// parseURL applies RFC 6455 §3: ws or wss only, port 80 or 443 by default,
// "/" for an empty path, the query kept, the fragment dropped (it means
// nothing to a server). Percent-encoding is passed on as written.
func parseURL(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("wsock: parse URL: %w", err)
	}
	t := target{redacted: u.Redacted()}
	var defaultPort string
	switch u.Scheme {
	case "ws":
		defaultPort = "80"
	case "wss":
		t.secure, defaultPort = true, "443"
	default:
		return target{}, fmt.Errorf("wsock: URL %q: scheme must be ws or wss", t.redacted)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return target{}, fmt.Errorf("wsock: URL %q has no host", t.redacted)
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
		return nil, &handshakeFailed{"TLS handshake with " + t.addr, err}
	}
	return tc, nil
}

// clientHandshake sends the opening handshake over nc and reads the answer.
// It owns nc: on failure nc is closed, on success the returned Conn has it.
func clientHandshake(ctx context.Context, nc net.Conn, host, resource string, opts *DialOptions, lim limits) (*Conn, error) {
	release := closeOnCancel(ctx, nc)
	cfg, err := exchangeHandshake(nc, host, resource, opts, lim)
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
func exchangeHandshake(nc net.Conn, host, resource string, opts *DialOptions, lim limits) (connConfig, error) {
	key := handshake.NewKey()
	offer := lim.deflateOffer()
	req, err := handshake.AppendRequest(nil, host, resource, key, opts.Subprotocols, offer, opts.Header)
	if err != nil {
		return connConfig{}, &handshakeFailed{"build request", err}
	}
	if _, err := nc.Write(req); err != nil {
		return connConfig{}, &handshakeFailed{"send request", err}
	}
	resp, rest, err := readResponse(nc, lim.readBufferSize)
	if err != nil {
		return connConfig{}, err
	}
	if resp.Status != http.StatusSwitchingProtocols {
		return connConfig{}, readRejection(nc, resp, rest)
	}
	protocol, extensions, err := resp.CheckAccept(key, opts.Subprotocols)
	if err != nil {
		return connConfig{}, &handshakeFailed{"check response", err}
	}
	return clientConnConfig(lim, nc, slices.Clip(slices.Clone(rest)), resource, protocol, offer, extensions,
		requestHeader(host, key, opts.Subprotocols, offer, opts.Header), resp.Header)
}

// deflateOffer is the permessage-deflate offer of a client with limits l,
// "" when compression is disabled.
func (l limits) deflateOffer() string {
	if l.compression.Disabled {
		return ""
	}
	return deflate.Offer(l.compression.deflateConfig())
}

// clientConnConfig is the configuration of a client connection over nc
// whose opening handshake, which offered offer, was answered with protocol
// and extensions: the extensions are checked against the offer here.
func clientConnConfig(lim limits, nc net.Conn, buffered []byte, resource, protocol, offer, extensions string,
	reqHeader, respHeader http.Header) (connConfig, error) {
	dcfg := lim.compression.deflateConfig()
	var params *deflate.Params
	if extensions != "" {
		if offer == "" {
			return connConfig{}, &handshakeFailed{"check response",
				fmt.Errorf("server chose extensions %q, none were offered", extensions)}
		}
		p, err := deflate.ClientAccept(extensions, dcfg)
		if err != nil {
			return connConfig{}, &handshakeFailed{"check response", err}
		}
		params = &p
	}
	return connConfig{
		netConn:           nc,
		buffered:          buffered,
		role:              proto.Client,
		path:              resource,
		subprotocol:       protocol,
		requestHeader:     reqHeader,
		responseHeader:    respHeader,
		deflate:           params,
		deflateConfig:     dcfg,
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

// readResponse reads the answer's head, skipping interim 1xx answers, and
// returns it with the bytes read past it.
func readResponse(r io.Reader, bufSize int) (*handshake.Response, []byte, error) {
	buf := make([]byte, 0, min(bufSize, 2<<10))
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
