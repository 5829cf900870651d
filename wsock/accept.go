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
	nctx     context.Context  // n's context, which a shutdown cancels

	// The small fields sit together: the Request fits the 128 B size
	// class, one per connection.
	mu         sync.Mutex
	state      requestState
	draining   bool // the server is shutting down
	returned   bool // the handler has returned: no Accept or Reject may begin
	conn       *Conn
	acceptDone chan struct{} // closed when the Accept in flight has ended
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
	return strings.Join(r.header().Values(name), ", ")
}

// Headers returns every field of the request under canonical keys; Get and
// Values look names up in any case. It must not be modified.
func (r *Request) Headers() http.Header { return r.header() }

// header returns the request's header fields. A Server drops the map once it
// has checked the head (most handlers never look at it, and an idle connection
// should not hold it) and builds it again here, once, from the head it keeps.
func (r *Request) header() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hs.Header == nil {
		r.hs.Header = r.hs.Parsed()
	}
	return r.hs.Header
}

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

// URL returns the request target parsed: its Path (decoded), RawPath and
// RawQuery (Query() gives the parameters); an absolute target keeps its path
// and query only. It is never nil: a target that does not parse is the Path.
// Each call returns a fresh URL.
func (r *Request) URL() *url.URL {
	target := r.Path()
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return &url.URL{Path: target}
	}
	return u
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
// server's ConnectTimeout (ErrConnectTimeout), by ctx and by the server's
// shutdown, whatever ctx is; an answer written whole is a success though,
// even if ctx was cancelled meanwhile (a server shutting down then closes the
// connection with 1001).
//
// Call it before the handler returns (from the handler or a task of a nursery
// inside it). An Accept begun after the handler returned fails without
// answering (the server answers 500). One still writing its answer when the
// handler returns is waited for: if its ctx is the handler's, which ends with
// the handler, the write is interrupted, Accept fails and the socket is
// closed; if the answer goes out whole, the server closes the connection at
// once, as after any handler's return (1000). Either way the client is
// answered and the socket closed.
//
// A request is answered once: Accept after a successful Accept or Reject
// fails. Accept fails without answering, so that the handler may still
// Reject, when opts are invalid.
func (r *Request) Accept(ctx context.Context, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	if err := cancel.Checkpoint(ctx); err != nil {
		return nil, err
	}
	if r.isHTTP2() {
		return r.accept(ctx, opts)
	}
	var c *Conn
	err := r.offStack(func() (err error) {
		c, err = r.accept(ctx, opts)
		return err
	})
	if errors.Is(err, nursery.ErrClosed) { // not even begun: the handler is long gone
		return nil, &opError{"accept", errHandlerReturned}
	}
	return c, err
}

// offStack runs f in a short-lived task of the connection's nursery and
// returns its result; f's panic goes on in the caller's goroutine.
//
// Reading the opening handshake and Accept run there: they are the deepest
// calls of an HTTP/1.1 connection's opening (a cancel scope, a deadline,
// net.Conn.Read or Write and the system call, the parser or the answer's
// hash, the reader's start), and made on the goroutine that goes on to run
// the handler they would grow its stack from 4 to 8 KiB for as long as the
// connection lives, since the runtime halves a stack only while under a
// quarter of it is in use (an idle handler uses about 3 KiB).
//
// It returns nursery.ErrClosed, without calling f, once the connection's
// nursery has finished: an Accept from a goroutine that outlived the handler.
func (r *Request) offStack(f func() error) error {
	type outcome struct {
		err      error
		panicked bool
		v        any
	}
	done := make(chan outcome, 1)
	if err := r.goTask(func(context.Context) error {
		o := outcome{panicked: true}
		defer func() {
			if o.panicked {
				o.v = recover()
			}
			done <- o
		}()
		o.err = f()
		o.panicked = false
		return nil
	}); err != nil {
		return err
	}
	o := <-done
	if o.panicked {
		panic(o.v)
	}
	return o.err
}

// goTask starts task in the connection's nursery, or returns
// nursery.ErrClosed if that nursery has finished (Go's panic, recovered).
func (r *Request) goTask(task func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok && errors.Is(e, nursery.ErrClosed) {
				err = nursery.ErrClosed
				return
			}
			panic(v)
		}
	}()
	r.n.Go(task)
	return nil
}

// accept is Accept after its checkpoint.
func (r *Request) accept(ctx context.Context, opts *AcceptOptions) (*Conn, error) {
	if opts.Subprotocol != "" && !slices.Contains(r.hs.Protocols, opts.Subprotocol) {
		return nil, &opError{"accept", badOption(fmt.Sprintf("subprotocol %q was not proposed by the client", opts.Subprotocol))}
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
		return nil, &opError{"accept", badOptionFrom(err)}
	}
	if err := r.begin(reqAccepting); err != nil {
		return nil, &opError{"accept", err}
	}
	ended := false
	defer func() {
		if !ended {
			// The answer's write panicked or called runtime.Goexit (a net.Conn of
			// the program's own): the request is failed, so that the handler's end
			// does not wait for this Accept forever, and the socket is closed.
			r.nc.Close()
			r.end(reqFailed, nil)
		}
	}()
	if r.isHTTP2() {
		err = r.answerH2(ctx, func() error { return r.h2.accept(h2Header) })
	} else {
		err = r.write(ctx, answer)
	}
	if err != nil {
		ended = true
		if r.end(reqFailed, nil) {
			err = fmt.Errorf("the handler returned while the answer was written: %w", err)
		}
		return nil, &opError{"accept", err}
	}
	cfg := connConfig{
		netConn:           r.nc,
		buffered:          r.buffered,
		role:              proto.Server,
		path:              r.Path(),
		subprotocol:       opts.Subprotocol,
		makeHeaders:       lazyHeaders(r, opts.Subprotocol, extensions, opts.Header),
		deflate:           params,
		deflateConfig:     dcfg,
		maxMessageSize:    lim.maxMessageSize,
		queueSize:         lim.queueSize,
		readBufferSize:    lim.readBufferSize,
		disconnectTimeout: lim.disconnectTimeout,
		logger:            lim.logger,
	}
	if r.isHTTP2() {
		cfg.responseHeader = h2Header
	}
	c := newConn(cfg)
	r.buffered = nil
	// The connection's nursery is open: the handler's end waits for this
	// Accept (settle). A server shutting down has cancelled it, and the
	// reader then closes the connection with 1001 at once.
	startConn(r.n, c, lim, nil)
	ended = true
	r.end(reqAccepted, c)
	return c, nil
}

// Reject refuses the opening handshake with status (400 to 599), the fields
// of header and body (trio-websocket's reject), then closes the socket. It is
// bounded by the server's ConnectTimeout (ErrConnectTimeout), by ctx and by
// the server's shutdown. A request is answered once.
func (r *Request) Reject(ctx context.Context, status int, header http.Header, body []byte) error {
	if status < 400 || status > 599 {
		return &opError{"reject", badOption(fmt.Sprintf("status %d is not 400-599", status))}
	}
	if err := cancel.Checkpoint(ctx); err != nil {
		return err
	}
	answer, err := handshake.AppendReject(nil, status, header, body)
	if err != nil {
		return &opError{"reject", badOptionFrom(err)}
	}
	if err := r.begin(reqRejected); err != nil {
		return &opError{"reject", err}
	}
	if r.isHTTP2() {
		err = r.answerH2(ctx, func() error { return r.h2.reject(status, header, body) })
	} else {
		err = r.write(ctx, answer)
	}
	_ = r.nc.Close()
	if err != nil {
		return &opError{"reject", err}
	}
	return nil
}

// errHandlerReturned is why an answer begun after the handler returned fails.
var errHandlerReturned = errors.New("the handler has returned")

// begin moves a pending request to state, or reports why it cannot.
func (r *Request) begin(state requestState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.returned:
		return errHandlerReturned
	case r.state != reqPending:
		return fmt.Errorf("request already %s", r.state)
	}
	r.state = state
	if state == reqAccepting {
		r.acceptDone = make(chan struct{})
	}
	return nil
}

// claim moves a request left pending by its handler to rejected, for the
// server to answer it, and reports whether it did.
func (r *Request) claim() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != reqPending {
		return false
	}
	r.state = reqRejected
	return true
}

// end records the outcome of Accept and reports whether the handler has
// returned meanwhile.
func (r *Request) end(state requestState, c *Conn) (returned bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state, r.conn = state, c
	close(r.acceptDone)
	r.acceptDone = nil // only an Accept in flight is waited for
	return r.returned
}

// markReturned records that the handler has returned.
func (r *Request) markReturned() {
	r.mu.Lock()
	r.returned = true
	r.mu.Unlock()
}

// settle records that the handler has returned, and waits for an Accept
// still in flight (its write is bounded by ConnectTimeout), so that the
// connection's nursery is still open when that Accept starts the reader, and
// the connection is closed after it.
func (r *Request) settle() {
	r.mu.Lock()
	r.returned = true
	var inFlight chan struct{}
	if r.state == reqAccepting {
		inFlight = r.acceptDone
	}
	r.mu.Unlock()
	if inFlight != nil {
		<-inFlight
	}
}

// own records n, whose context is ctx, as the nursery of r's connection. A
// request drained before has n cancelled at once.
func (r *Request) own(ctx context.Context, n *nursery.Nursery) {
	r.mu.Lock()
	r.n, r.nctx = n, ctx
	draining := r.draining
	r.mu.Unlock()
	if draining {
		n.Scope().Cancel(shutdownReason)
	}
}

// shutdown marks the request as belonging to a server that shuts down and
// cancels its handler and the nursery of its connection: the reader of an
// accepted connection closes it with 1001 (see Conn.run), as does an Accept
// that completes later.
func (r *Request) shutdown() {
	r.mu.Lock()
	r.draining = true
	n := r.n
	r.mu.Unlock()
	if n != nil {
		n.Scope().Cancel(shutdownReason)
	}
}

// errStreamLost is the cause of a connection over HTTP/2 whose stream net/http
// ended: its *ClosedError unwraps to it.
var errStreamLost = errors.New("wsock: the HTTP/2 stream ended (reset by the client or its connection lost)")

// streamLost ends r when net/http cancels the context of its HTTP/2 request,
// which it does when the stream ends: the client reset it or the connection
// was lost. No closing handshake can take place on a stream that is gone, so
// an accepted connection ends at once as an abnormal closure (1006), which is
// what its Receive reports, exactly as a lost TCP connection of an HTTP/1.1
// upgrade; then the handler is cancelled as a drain would.
func (r *Request) streamLost() {
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c != nil {
		c.abort(errStreamLost, false)
	}
	r.shutdown()
}

// outcome returns the request's state, connection and whether the server is
// shutting down.
func (r *Request) outcome() (requestState, *Conn, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state, r.conn, r.draining
}

// write writes an answer to the handshake, bounded by ConnectTimeout, by ctx
// and by the server's shutdown (whatever ctx is). An answer written whole is
// a success even if ctx is cancelled meanwhile: the client may be using the
// connection already. Only an interrupted write fails, and closes the socket.
func (r *Request) write(ctx context.Context, b []byte) error {
	// Bounded by the socket's deadlines: no cancel context is made under ctx
	// (the handler's, usually) or nctx, which live as long as the connection.
	bound := bindIO(r.nc, r.srv.lim.connectTimeout, ctx, r.nctx)
	_, err := r.nc.Write(b)
	bound.release()
	if err == nil {
		return nil
	}
	_ = r.nc.Close()
	if cerr := cancel.Checkpoint(ctx); cerr != nil {
		return cerr
	}
	if r.nctx != nil {
		if cerr := cancel.Checkpoint(r.nctx); cerr != nil {
			return cerr
		}
	}
	if bound.expired(err) {
		return ErrConnectTimeout
	}
	return &handshakeFailed{"write answer", err}
}

// lazyHeaders returns a function that returns r's header and builds responseHeader's
// result, with extra as it is now.
func lazyHeaders(r *Request, protocol, extensions string, extra http.Header) func() (req, resp http.Header) {
	extra = extra.Clone()
	return func() (http.Header, http.Header) {
		return r.header(), responseHeader(r.hs.Key, protocol, extensions, extra)
	}
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
