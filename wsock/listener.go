package wsock

import (
	"crypto/tls"
	"net"
	"reflect"
	"strconv"
)

// serverListener is a listener of a Server, and whether it speaks TLS.
type serverListener struct {
	net.Listener
	tls bool
}

// NewServer returns a Server that serves on listeners the caller made
// (trio-websocket's WebSocketServer with its listeners): TCP listeners, unix
// sockets, listeners from tls.NewListener, any net.Listener, and several at
// once (say IPv4 and IPv6, or ws and wss); Listen is NewServer on one TCP
// listener. With opts.TLSConfig every listener is wrapped in TLS, so leave it
// nil for listeners that do TLS themselves. The server owns the listeners:
// Serve (or Close) closes them.
//
// It fails, with an error matching ErrBadOption, on invalid options, and
// panics without a listener or with a nil one.
func NewServer(opts *ServerOptions, listeners ...net.Listener) (*Server, error) {
	if len(listeners) == 0 {
		panic("wsock: NewServer without a listener")
	}
	for _, ln := range listeners {
		if ln == nil {
			panic("wsock: NewServer with a nil listener")
		}
	}
	srv, err := newServerConfig(opts)
	if err != nil {
		return nil, &opError{"new server", err}
	}
	return newServer(srv, listeners...), nil
}

func newServer(srv *serverConfig, listeners ...net.Listener) *Server {
	s := &Server{srv: srv, conns: newConnSet()}
	for _, ln := range listeners {
		sl := serverListener{Listener: ln, tls: isTLSListener(ln)}
		if srv.opts.TLSConfig != nil {
			sl = serverListener{Listener: tls.NewListener(ln, srv.opts.TLSConfig), tls: true}
		}
		s.lns = append(s.lns, sl)
	}
	return s
}

// tlsListenerType is the type of tls.NewListener's listeners, which package
// tls does not export.
var tlsListenerType = reflect.TypeOf(tls.NewListener(nil, nil))

// isTLSListener reports whether ln came from tls.NewListener.
func isTLSListener(ln net.Listener) bool { return reflect.TypeOf(ln) == tlsListenerType }

// An Endpoint is an address a Server listens on (trio-websocket's Endpoint).
type Endpoint struct {
	// Addr is the listener's address: a *net.TCPAddr for TCP, a
	// *net.UnixAddr for a unix socket.
	Addr net.Addr
	// TLS reports whether connections on it start with a TLS handshake: the
	// server wraps it with ServerOptions.TLSConfig, or it came from
	// tls.NewListener. Other listeners that do TLS are not recognised.
	TLS bool
}

// Port returns the endpoint's TCP port, 0 if it is not TCP.
func (e Endpoint) Port() int {
	if a, ok := e.Addr.(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// URL returns the ws:// or wss:// URL of a TCP endpoint, without a path and
// without the port when it is the scheme's default ("ws://127.0.0.1:8000",
// "wss://[::1]"): add the resource to it. The host is the listening address
// as it is, so an endpoint listening on every address (0.0.0.0, ::) has that
// address in its URL. A non-TCP endpoint has no URL (""): reach a unix socket
// with DialOptions.DialContext.
func (e Endpoint) URL() string {
	a, ok := e.Addr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	scheme, defaultPort := "ws", 80
	if e.TLS {
		scheme, defaultPort = "wss", 443
	}
	host := a.IP.String()
	if a.IP == nil {
		host = "0.0.0.0"
	}
	if a.Port == defaultPort {
		if a.IP.To4() == nil && a.IP != nil {
			host = "[" + host + "]"
		}
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// Endpoints returns the endpoints the server listens on, in the order of its
// listeners.
func (s *Server) Endpoints() []Endpoint {
	eps := make([]Endpoint, len(s.lns))
	for i, ln := range s.lns {
		eps[i] = Endpoint{Addr: ln.Addr(), TLS: ln.tls}
	}
	return eps
}
