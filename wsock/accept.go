package wsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/handshake"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// A Handler serves one WebSocket client: it inspects r, calls r.Accept (or
// r.Reject) and talks over the connection. ctx is cancelled when the server
// shuts down. When the handler returns, the server closes the connection: with
// 1000 (NormalClosure) after a nil return, 1001 (GoingAway) while the server
// shuts down, and 1011 (InternalError) after an error or a panic, which the
// server logs (or hands to ServerOptions.HandlerNursery). A handler that
// neither accepted nor rejected r gets its client answered 500.
type Handler func(ctx context.Context, r *Request) error

// A Request is a client's opening handshake as a server's Handler sees it
// (trio-websocket's WebSocketRequest). Its methods are safe for concurrent
// use.
type Request struct {
	srv      *serverConfig
	hs       *handshake.Request
	nc       net.Conn
	h2       *h2ServerStream  // the stream of an HTTP/2 handshake (RFC 8441), nil for HTTP/1.1
	buffered []byte           // bytes the client sent after its handshake
	n        *nursery.Nursery // the connection's nursery: Accept starts the reader there
	scope    *cancel.Scope    // the handler's scope, cancelled when the server shuts down

	mu       sync.Mutex
	state    requestState
	conn     *Conn
	draining bool // the server is shutting down
}

type requestState uint8

const (
	reqPending requestState = iota
	reqAccepting
	reqAccepted
	reqRejected
	reqFailed // the answer could not be written; the socket is closed
)

func (s requestState) String() string {
	return [...]string{"pending", "being accepted", "accepted", "rejected", "failed"}[s]
}

// Header returns the values of the request header field name (any case),
// joined with ", ", or "" if there is none.
func (r *Request) Header(name string) string {
	return strings.Join(r.hs.Header.Values(name), ", ")
}

// Headers returns every field of the request under canonical keys; Get and
// Values look names up in any case. It must not be modified.
func (r *Request) Headers() http.Header { return r.hs.Header }

// Path returns the resource the client asked for: the path and the query
// ("/chat?room=1"), percent-encoding as sent.
func (r *Request) Path() string {
	t := r.hs.Target
	if strings.HasPrefix(t, "/") {
		return t
	}
	// An absolute URI (RFC 6455 §4.2.1 allows one): keep its path and query.
	u, err := url.ParseRequestURI(t)
	if err != nil {
		return t
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + u.RawQuery
	}
	return p
}

// Subprotocols returns the subprotocols the client proposed, in its order of
// preference. It must not be modified.
func (r *Request) Subprotocols() []string { return r.hs.Protocols }

// Origin returns the Origin header, "" if the client sent none (clients
// other than browsers usually do not).
func (r *Request) Origin() string { return r.hs.Origin }

// LocalAddr returns the server's address of the connection.
func (r *Request) LocalAddr() net.Addr { return r.nc.LocalAddr() }

// RemoteAddr returns the client's address.
func (r *Request) RemoteAddr() net.Addr { return r.nc.RemoteAddr() }

// Accept completes the opening handshake and returns the connection, whose
// reader runs in the connection's nursery. opts.Subprotocol, if set, must be
// one the client proposed; opts.Header reaches the client as extra fields of
// the answer. permessage-deflate is accepted when the client offered it and
// the server's Compression allows it. Writing the answer is bounded by the
// server's ConnectTimeout (ErrConnectTimeout) and by ctx; an answer written
// whole is a success though, even if ctx was cancelled meanwhile (a server
// shutting down then closes the connection with 1001).
//
// Call it before the handler returns (from the handler or a task of a nursery
// inside it). A request is answered once: Accept after a successful Accept or
// Reject fails. Accept fails without answering, so that the handler may still
// Reject, when opts are invalid.
func (r *Request) Accept(ctx context.Context, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	if err := cancel.Checkpoint(ctx); err != nil {
		return nil, err
	}
	if opts.Subprotocol != "" && !slices.Contains(r.hs.Protocols, opts.Subprotocol) {
		return nil, fmt.Errorf("wsock: accept: subprotocol %q was not proposed by the client", opts.Subprotocol)
	}
	lim := r.srv.lim
	dcfg := lim.compression.deflateConfig()
	var params *deflate.Params
	var extensions string
	if !lim.compression.Disabled && r.hs.Extensions != "" {
		if p, resp, ok := deflate.ServerAccept(r.hs.Extensions, dcfg); ok {
			params, extensions = &p, resp
		}
	}
	var answer []byte
	var h2Header http.Header
	var err error
	if r.isHTTP2() {
		h2Header, err = handshake.ExtendedConnectAccept(opts.Subprotocol, extensions, opts.Header)
	} else {
		answer, err = handshake.AppendAccept(nil, r.hs.Key, opts.Subprotocol, extensions, opts.Header)
	}
	if err != nil {
		return nil, fmt.Errorf("wsock: accept: %w", err)
	}
	if err := r.begin(reqAccepting); err != nil {
		return nil, fmt.Errorf("wsock: accept: %w", err)
	}
	if r.isHTTP2() {
		err = r.answerH2(ctx, func() error { return r.h2.accept(h2Header) })
	} else {
		err = r.write(ctx, answer)
	}
	if err != nil {
		r.end(reqFailed, nil)
		return nil, fmt.Errorf("wsock: accept: %w", err)
	}
	cfg := connConfig{
		netConn:            r.nc,
		buffered:           r.buffered,
		role:               proto.Server,
		path:               r.Path(),
		subprotocol:        opts.Subprotocol,
		requestHeader:      r.hs.Header,
		makeResponseHeader: lazyResponseHeader(r.hs.Key, opts.Subprotocol, extensions, opts.Header),
		deflate:            params,
		deflateConfig:      dcfg,
		maxMessageSize:     lim.maxMessageSize,
		queueSize:          lim.queueSize,
		readBufferSize:     lim.readBufferSize,
		disconnectTimeout:  lim.disconnectTimeout,
		logger:             lim.logger,
	}
	if r.isHTTP2() {
		cfg.makeResponseHeader, cfg.responseHeader = nil, h2Header
	}
	c := newConn(cfg)
	r.buffered = nil
	startConn(r.n, c, lim, nil)
	if r.end(reqAccepted, c) {
		// The server began shutting down while we answered: say goodbye
		// now, as the shutdown did for the connections it saw.
		r.n.GoNamed(c.String()+" shutdown", func(context.Context) error {
			_ = c.Close(GoingAway, shutdownReason)
			return nil
		})
	}
	return c, nil
}

// Reject refuses the opening handshake with status (400 to 599), the fields
// of header and body (trio-websocket's reject), then closes the socket. It is
// bounded by the server's ConnectTimeout (ErrConnectTimeout) and by ctx. A
// request is answered once.
func (r *Request) Reject(ctx context.Context, status int, header http.Header, body []byte) error {
	if status < 400 || status > 599 {
		return fmt.Errorf("wsock: reject: status %d is not 400-599", status)
	}
	if err := cancel.Checkpoint(ctx); err != nil {
		return err
	}
	answer, err := handshake.AppendReject(nil, status, header, body)
	if err != nil {
		return fmt.Errorf("wsock: reject: %w", err)
	}
	if err := r.begin(reqRejected); err != nil {
		return fmt.Errorf("wsock: reject: %w", err)
	}
	if r.isHTTP2() {
		err = r.answerH2(ctx, func() error { return r.h2.reject(status, header, body) })
	} else {
		err = r.write(ctx, answer)
	}
	_ = r.nc.Close()
	if err != nil {
		return fmt.Errorf("wsock: reject: %w", err)
	}
	return nil
}

// begin moves a pending request to state, or reports why it cannot.
func (r *Request) begin(state requestState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != reqPending {
		return fmt.Errorf("request already %s", r.state)
	}
	r.state = state
	return nil
}

// end records the outcome of Accept and reports whether the server is
// shutting down.
func (r *Request) end(state requestState, c *Conn) (draining bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state, r.conn = state, c
	return r.draining
}

// shutdown marks the request as belonging to a server that shuts down,
// cancels its handler, and returns its connection if it was accepted.
func (r *Request) shutdown() *Conn {
	r.mu.Lock()
	r.draining = true
	c := r.conn
	r.mu.Unlock()
	r.scope.Cancel("wsock: server shutting down")
	return c
}

// outcome returns the request's state, connection and whether the server is
// shutting down.
func (r *Request) outcome() (requestState, *Conn, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state, r.conn, r.draining
}

// write writes an answer to the handshake, bounded by ConnectTimeout and ctx.
// An answer written whole is a success even if ctx is cancelled meanwhile: the
// client may be using the connection already. Only an interrupted write fails,
// and closes the socket.
func (r *Request) write(ctx context.Context, b []byte) error {
	return withConnectTimeout(ctx, r.srv.lim.connectTimeout, func(ctx context.Context) error {
		release := interruptWriteOnCancel(ctx, r.nc)
		_, err := r.nc.Write(b)
		release()
		if err != nil {
			_ = r.nc.Close()
			if cerr := cancel.Checkpoint(ctx); cerr != nil {
				return cerr
			}
			return &handshakeFailed{"write answer", err}
		}
		return nil
	})
}

// interruptWriteOnCancel makes a write on nc fail when ctx is done, by setting
// nc's write deadline in the past: unlike closing nc (closeOnCancel), that
// leaves nc usable after a write that was complete. release disarms it and
// clears the write deadline.
func interruptWriteOnCancel(ctx context.Context, nc net.Conn) (release func()) {
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = nc.SetWriteDeadline(pastTime)
		close(interrupted)
	})
	return func() {
		if !stop() {
			<-interrupted
		}
		_ = nc.SetWriteDeadline(time.Time{})
	}
}

// lazyResponseHeader returns a function that builds responseHeader's result, with extra
// as it is now.
func lazyResponseHeader(key, protocol, extensions string, extra http.Header) func() http.Header {
	extra = extra.Clone()
	return func() http.Header { return responseHeader(key, protocol, extensions, extra) }
}

// responseHeader is the header of the answer AppendAccept wrote, for
// Conn.ResponseHeader.
func responseHeader(key, protocol, extensions string, extra http.Header) http.Header {
	h := extra.Clone()
	if h == nil {
		h = make(http.Header, 5)
	}
	h["Upgrade"] = []string{"websocket"}
	h["Connection"] = []string{"Upgrade"}
	h["Sec-Websocket-Accept"] = []string{handshake.AcceptKey(key)}
	if protocol != "" {
		h["Sec-Websocket-Protocol"] = []string{protocol}
	}
	if extensions != "" {
		h["Sec-Websocket-Extensions"] = []string{extensions}
	}
	return h
}

// originAllowed applies ServerOptions.CheckOrigin or the default check.
func (s *serverConfig) originAllowed(r *Request) bool {
	if s.opts.CheckOrigin != nil {
		return s.opts.CheckOrigin(r)
	}
	origin := r.hs.Origin
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" { // "null" and other opaque origins
		return false
	}
	if strings.EqualFold(u.Host, r.hs.Host) {
		return true
	}
	host := strings.ToLower(u.Host)
	for _, pattern := range s.opts.AllowedOrigins {
		if pattern == "*" {
			return true
		}
		if ok, _ := path.Match(strings.ToLower(pattern), host); ok {
			return true
		}
	}
	return false
}

// HTTPHandler returns an http.Handler that serves WebSocket handshakes with
// h, to mount in any net/http mux: HTTP/1.1 upgrades and, over HTTP/2,
// RFC 8441 extended CONNECT requests (which net/http passes on only with
// GODEBUG=http2xconnect=1; see the package doc). A request that is not a
// valid WebSocket handshake is answered 400 (426 for an unsupported
// version), one from a refused origin 403. Otherwise h runs in the ServeHTTP
// call, on the hijacked HTTP/1.1 connection or on the HTTP/2 stream (the
// request body and the flushed ResponseWriter), with the request's context:
// cancelling that context (for example http.Server.BaseContext's) cancels h
// and the connection is closed with 1001 GoingAway once h returns. The connection's reader runs in a
// nursery that lives for the ServeHTTP call. Handler errors and panics are
// logged and close the connection with 1011; HandlerNursery and TLSConfig are
// not used (net/http owns the goroutine and the TLS).
//
// It panics if h is nil or the options are invalid.
func (o *ServerOptions) HTTPHandler(h Handler) http.Handler {
	if h == nil {
		panic("wsock: HTTPHandler with a nil Handler")
	}
	s, err := newServerConfig(o)
	if err != nil {
		panic(err)
	}
	s.opts.HandlerNursery = nil
	return &httpHandler{srv: s, h: h}
}

type httpHandler struct {
	srv *serverConfig
	h   Handler
}

func (hh *httpHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	hs := handshake.FromHTTP(req)
	h2 := hs.IsExtendedConnect()
	check := hs.Check
	if h2 {
		check = hs.CheckExtendedConnect
	}
	if err := check(); err != nil {
		var he *handshake.Error
		status := http.StatusBadRequest
		if errors.As(err, &he) {
			status = he.Status
			for k, v := range he.Header {
				w.Header()[k] = v
			}
		}
		http.Error(w, err.Error(), status)
		return
	}
	r := &Request{srv: hh.srv, hs: hs, scope: cancel.New()}
	if !hh.srv.originAllowed(r) {
		http.Error(w, "wsock: origin not allowed", http.StatusForbidden)
		return
	}
	if h2 {
		r.nc, r.h2 = newH2ServerConn(w, req)
	} else if !hh.hijack(w, r) {
		return
	}
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { r.shutdown() })
	defer stop()
	// The connection outlives ctx's cancellation by its closing handshake.
	_ = hh.srv.serveConn(context.WithoutCancel(ctx), r, hh.h)
}

// hijack takes r's HTTP/1.1 connection over from net/http, or answers 500
// and reports false.
func (hh *httpHandler) hijack(w http.ResponseWriter, r *Request) bool {
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		hh.srv.log.Error("wsock: cannot take over the HTTP connection", "err", err)
		http.Error(w, "wsock: cannot take over the HTTP connection", http.StatusInternalServerError)
		return false
	}
	// net/http may have set deadlines for the HTTP exchange; the WebSocket
	// connection has its own timeouts.
	_ = nc.SetDeadline(time.Time{})
	r.nc = nc
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		r.buffered = slices.Clone(b)
	}
	return true
}
