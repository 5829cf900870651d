package handshake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// WebSockets over HTTP/2 (RFC 8441). The opening handshake is an extended
// CONNECT request on a stream: ":method CONNECT", ":protocol websocket",
// ":scheme", ":path" and ":authority" instead of GET with Upgrade and
// Connection, and no Sec-WebSocket-Key; a 2xx answer, without
// Sec-WebSocket-Accept, accepts it (§5). The other Sec-WebSocket-* fields and
// Origin mean what they mean in RFC 6455. HTTP/2 frames the heads itself, so
// these functions check and build header maps, not bytes.

// ProtocolPseudoHeader is the key under which net/http's HTTP/2 server puts,
// and its HTTP/2 transport takes, the :protocol pseudo-header of an extended
// CONNECT request.
const ProtocolPseudoHeader = ":protocol"

// IsExtendedConnect reports whether r is an HTTP/2 (or later) CONNECT
// carrying a :protocol, which CheckExtendedConnect then judges; a plain
// CONNECT (a tunnel to a host) is not one.
func (r *Request) IsExtendedConnect() bool {
	major, _, ok := parseProto(r.Proto)
	return ok && major >= 2 && r.Method == http.MethodConnect && len(r.Header[ProtocolPseudoHeader]) > 0
}

// CheckExtendedConnect reports whether r, which IsExtendedConnect, is a valid
// WebSocket opening handshake over HTTP/2 (RFC 8441 §4, §5): :protocol
// "websocket" (case-insensitive), an origin-form :path, a valid :authority
// (in Host), Sec-WebSocket-Version 13, at most one Origin and token
// subprotocols. Sec-WebSocket-Key, Upgrade and Connection play no part.
//
// Failures are *Error with Status 400, except an absent or unsupported
// version: Status 426 with Header "Sec-WebSocket-Version: 13", as in Check.
func (r *Request) CheckExtendedConnect() error {
	h := r.Header
	switch p := h[ProtocolPseudoHeader]; {
	case !r.IsExtendedConnect():
		return badRequest("not an HTTP/2 extended CONNECT request")
	case len(p) != 1 || !strings.EqualFold(p[0], "websocket"):
		return badRequest(":protocol " + quote(strings.Join(p, ", ")) + " is not websocket")
	case !isTarget(r.Target) || r.Target[0] != '/':
		return badRequest("invalid :path " + quote(r.Target))
	case len(h["Host"]) > 1:
		return badRequest("more than one :authority")
	case r.Host == "":
		return badRequest("missing :authority")
	case !validHost(r.Host):
		return badRequest("invalid :authority " + quote(r.Host))
	}
	if err := r.checkVersion(); err != nil {
		return err
	}
	return r.checkOriginAndProtocols()
}

// ExtendedConnectAccept returns the header of a server's 200 answer to an
// extended CONNECT: Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when
// not empty, and the fields of extra. It fails (*Error with Status 0) as
// AppendAccept does: protocol not a token, a value with a control character,
// extra holding a field set here or one HTTP/2 forbids (Connection, Upgrade,
// Transfer-Encoding…) or Content-Length.
func ExtendedConnectAccept(protocol, extensions string, extra http.Header) (http.Header, error) {
	if protocol != "" && !isToken(protocol) {
		return nil, failed("invalid subprotocol " + quote(protocol))
	}
	w := writer{}
	if extensions != "" {
		w.field("Sec-WebSocket-Extensions", extensions)
	}
	w.extra(extra, "Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Content-Length", "Transfer-Encoding", "Keep-Alive", "Proxy-Connection")
	if w.err != nil {
		return nil, w.err
	}
	h := extra.Clone()
	if h == nil {
		h = make(http.Header, 2)
	}
	if protocol != "" {
		h["Sec-Websocket-Protocol"] = []string{protocol}
	}
	if extensions != "" {
		h["Sec-Websocket-Extensions"] = []string{extensions}
	}
	return h, nil
}

// ExtendedConnectRequest returns the regular fields of a client's extended
// CONNECT (the pseudo-headers are the transport's): Sec-WebSocket-Version 13,
// Sec-WebSocket-Protocol with protocols (if any), Sec-WebSocket-Extensions
// (if not empty) and the fields of extra. It fails (*Error with Status 0) as
// AppendRequest does on a subprotocol that is not a token or is repeated, a
// value with a control character, or extra holding a field set here, Host or
// one HTTP/2 forbids.
func ExtendedConnectRequest(protocols []string, extensions string, extra http.Header) (http.Header, error) {
	w := writer{}
	for i, p := range protocols {
		switch {
		case !isToken(p):
			w.fail("invalid subprotocol " + quote(p))
		case slices.Contains(protocols[:i], p):
			w.fail("subprotocol " + quote(p) + " offered twice")
		}
	}
	if extensions != "" {
		w.field("Sec-WebSocket-Extensions", extensions)
	}
	w.extra(extra, "Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Content-Length", "Transfer-Encoding",
		"Keep-Alive", "Proxy-Connection")
	if w.err != nil {
		return nil, w.err
	}
	h := extra.Clone()
	if h == nil {
		h = make(http.Header, 3)
	}
	h["Sec-Websocket-Version"] = []string{"13"}
	if len(protocols) > 0 {
		h["Sec-Websocket-Protocol"] = []string{strings.Join(protocols, ", ")}
	}
	if extensions != "" {
		h["Sec-Websocket-Extensions"] = []string{extensions}
	}
	return h, nil
}

// CheckExtendedConnectAnswer reports whether an answer with status and
// header accepts an extended CONNECT that offered the subprotocols offered
// (RFC 8441 §5: a 2xx status; at most one subprotocol, one we offered). It
// returns that subprotocol and the raw Sec-WebSocket-Extensions, as
// CheckAccept does. Failures are *Error with Status 0.
func CheckExtendedConnectAnswer(status int, h http.Header, offered []string) (protocol, extensions string, err error) {
	if status < 200 || status > 299 {
		return "", "", failed("unexpected status " + strconv.Itoa(status) + ", want 2xx")
	}
	return chosen(h, offered)
}
