package wsock

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gotrio/gotrio/wsock/internal/handshake"
)

// An HTTPHandler serves WebSocket handshakes with a Handler behind net/http:
// mount it in any mux (it is an http.Handler), and shut it down with the
// http.Server it is mounted in. Make one with NewHTTPHandler.
//
// It serves HTTP/1.1 upgrades and, over HTTP/2, RFC 8441 extended CONNECT
// requests (which net/http passes on only with GODEBUG=http2xconnect=1; see
// the package doc), alike. A request that is not a valid WebSocket handshake
// is answered 400 (426 for an unsupported version), one from a refused origin
// 403, and every handshake once Shutdown has begun 503. Otherwise the
// connection is taken over (hijacked; over HTTP/2, its stream is: the
// request body and the flushed ResponseWriter) and the handler runs in the
// ServeHTTP call, that is in net/http's goroutine for the request, which owns
// the connection: the connection's nursery, in which Accept starts its reader
// (and keep-alive), lives for that call, and ServeHTTP returns only once the
// handler, the reader and the closing handshake are done. Handler errors and
// panics are logged and close the connection with 1011, as with Serve.
//
// http.Server.Shutdown does not wait for hijacked connections, so it returns
// while WebSocket handlers still run (over HTTP/2 it does wait for them, as
// for any request in progress, and RegisterOn is what ends them). Shutdown is the join point: it drains
// the handler as a cancelled Serve drains a Server, and waits for every
// ServeHTTP call it has taken over. RegisterOn makes http.Server.Shutdown
// begin that drain:
//
//	ws := wsock.NewHTTPHandler(h, nil)
//	srv := &http.Server{Handler: ws}
//	ws.RegisterOn(srv)
//	...
//	err := srv.Shutdown(ctx) // plain HTTP requests done; WebSockets told 1001
//	err = ws.Shutdown(ctx)   // every WebSocket handler and reader has returned
//
// Cancelling a request's context (for example through
// http.Server.BaseContext) shuts that request down as Shutdown does: its
// handler is cancelled and its connection closed with 1001 (GoingAway). Over
// HTTP/2, net/http itself cancels the context when the stream ends (the
// client reset it, or the connection was lost), when nobody is left to take
// part in a closing handshake. When the http.Server sets neither BaseContext
// nor ConnContext, that is the only thing that can cancel it, and the
// connection then ends at once as an abnormal closure (1006), as a lost
// HTTP/1.1 connection does; its *ClosedError says the stream ended. With
// either set, the two cannot be told apart, and a lost stream is closed as a
// drain would (1001 first, 1006 once the Close frame cannot be written).
// Shut down with Shutdown or RegisterOn rather than by cancelling contexts.
type HTTPHandler struct {
	srv   *serverConfig
	h     Handler
	conns *connSet
}

// NewHTTPHandler returns an HTTPHandler serving h with opts (nil means the
// defaults). opts.HandlerNursery and opts.TLSConfig are not used: net/http
// owns the goroutines and the TLS there. It panics if h is nil or the options
// are invalid.
func NewHTTPHandler(h Handler, opts *ServerOptions) *HTTPHandler {
	if h == nil {
		panic("wsock: NewHTTPHandler with a nil Handler")
	}
	s, err := newServerConfig(opts)
	if err != nil {
		panic("wsock: NewHTTPHandler: " + err.Error())
	}
	s.opts.HandlerNursery = nil
	return &HTTPHandler{srv: s, h: h, conns: newConnSet()}
}

// HTTPHandler returns NewHTTPHandler(h, o).
//
// Deprecated: use NewHTTPHandler, whose result can also be shut down and
// joined.
func (o *ServerOptions) HTTPHandler(h Handler) http.Handler { return NewHTTPHandler(h, o) }

// Shutdown drains the handler and waits for it (the graceful drain of
// Server.Serve): from its call on, upgrades are answered 503 (Service
// Unavailable); every handler's ctx is cancelled; every open connection is
// closed with 1001 (GoingAway) by its reader, which waits for the closing
// handshake up to DisconnectTimeout; and Shutdown returns nil once every
// ServeHTTP call that took over a connection has returned, with the handler
// and the reader it ran. If ctx ends first, Shutdown returns ctx's error; the
// drain goes on. Shutdown may be called any number of times, from any
// goroutine: every call waits.
func (hh *HTTPHandler) Shutdown(ctx context.Context) error {
	hh.conns.drain()
	return hh.conns.wait(ctx)
}

// RegisterOn makes srv's Shutdown begin this handler's drain
// (http.Server.RegisterOnShutdown): srv.Shutdown then sends 1001 to every
// WebSocket connection while it waits for its plain HTTP requests. It does
// not wait for the WebSocket handlers; Shutdown does.
func (hh *HTTPHandler) RegisterOn(srv *http.Server) { srv.RegisterOnShutdown(hh.conns.drain) }

// ServeHTTP serves one opening handshake: see HTTPHandler.
func (hh *HTTPHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
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
	r := &Request{srv: hh.srv, hs: hs}
	if !hh.srv.originAllowed(r) {
		http.Error(w, "wsock: origin not allowed", http.StatusForbidden)
		return
	}
	if !hh.conns.add(r) {
		http.Error(w, "wsock: "+shutdownReason, http.StatusServiceUnavailable)
		return
	}
	defer hh.conns.remove(r)
	if h2 {
		r.nc, r.h2 = newH2ServerConn(w, req)
	} else if !hh.hijack(w, r) {
		return
	}
	hh.serve(req.Context(), r)
}

// onlyStreamEndCancels reports whether nothing but net/http's end of the
// stream can cancel ctx, the context of an HTTP/2 request: its http.Server
// derives no context of the program's (BaseContext, ConnContext), so a
// cancellation means the stream ended (reset, or the connection lost). With
// either set, the program may cancel it to shut requests down, and it cannot
// be told apart.
func onlyStreamEndCancels(ctx context.Context) bool {
	srv, _ := ctx.Value(http.ServerContextKey).(*http.Server)
	return srv != nil && srv.BaseContext == nil && srv.ConnContext == nil
}

// hijack takes r's HTTP/1.1 connection over from net/http, or answers 500
// and reports false.
func (hh *HTTPHandler) hijack(w http.ResponseWriter, r *Request) bool {
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

// serve runs the handler for r, whose handshake is read and checked and
// whose stream is r.nc, in the calling goroutine, and returns once everything
// it started has returned. Cancelling ctx shuts r down as a drain would; over
// HTTP/2 it means the stream is gone (see streamLost).
func (hh *HTTPHandler) serve(ctx context.Context, r *Request) {
	onCancel := r.shutdown
	if r.h2 != nil && onlyStreamEndCancels(ctx) {
		onCancel = r.streamLost
	}
	stop := context.AfterFunc(ctx, onCancel)
	defer stop()
	// The connection outlives ctx's cancellation by its closing handshake.
	_ = hh.srv.serveConn(context.WithoutCancel(ctx), r, hh.h)
}
