package handshake

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Request is the head of a client's opening handshake (RFC 6455 §4.1).
type Request struct {
	Method string // "GET"
	Target string // request-target as sent: "/path?query", or an absolute URI
	Proto  string // "HTTP/1.1"
	Host   string // the Host field
	// Header holds every field as received, Host included, under canonical keys.
	Header http.Header

	Key     string // Sec-WebSocket-Key
	Version string // Sec-WebSocket-Version
	// Protocols are the Sec-WebSocket-Protocol elements of all such fields, in order.
	Protocols []string
	// Extensions is the raw Sec-WebSocket-Extensions offer, all fields joined with ", ".
	Extensions string
	Origin     string // Origin, "" if absent

	head string // the head ParseRequest parsed, from which Parsed builds Header again
}

// Parsed returns the header fields of the head ParseRequest parsed, as Header held them
// (a new map each call), or nil for a request ParseRequest did not make. A server that
// keeps a request for a connection's life may drop Header once it has checked the
// request, and build it again only if asked.
func (r *Request) Parsed() http.Header {
	if r.head == "" {
		return nil
	}
	return buildHeader(r.head, strings.Count(r.head, "\r\n")-2)
}

// ParseRequest parses a request head from the start of b. It returns the
// request and the length of its head; n == 0 && err == nil means b does not
// hold the whole head yet: call again with more bytes.
//
// Parsing is strict (RFC 9112): lines end in CRLF, the request line is
// "method SP target SP HTTP/x.y", and obsolete line folding, whitespace before
// a colon, bare CR or LF, NUL and other control characters are rejected with
// a *Error of Status 400. A head over lim.MaxHeaderBytes or with more than
// lim.MaxHeaders fields is rejected with Status 431, as soon as b shows it.
// ParseRequest checks the syntax only; Check tells whether the request is a
// WebSocket upgrade. Strings in req share one copy of the head, not b.
func ParseRequest(b []byte, lim Limits) (req *Request, n int, err error) {
	end, fields, e := scanHead(b, lim, checkRequestLine, badRequest, tooLarge)
	if e != nil {
		return nil, 0, e
	}
	if end == 0 {
		return nil, 0, nil
	}
	head := string(b[:end])
	method, rest, _ := strings.Cut(head[:strings.Index(head, "\r\n")], " ")
	target, proto, _ := strings.Cut(rest, " ")
	req = &Request{Method: method, Target: target, Proto: proto, Header: buildHeader(head, fields), head: head}
	req.fill()
	return req, end, nil
}

// checkRequestLine validates "method SP request-target SP HTTP-version".
func checkRequestLine(line []byte) *Error {
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || !isToken(method) || !isTarget(target) {
		return badRequest("malformed request line " + quote(string(line)))
	}
	if _, _, ok := parseProto(proto); !ok {
		return badRequest("malformed HTTP version in request line " + quote(string(line)))
	}
	return nil
}

// isTarget reports whether t is a non-empty run of visible ASCII characters.
func isTarget[S ~string | ~[]byte](t S) bool {
	if len(t) == 0 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}

// fill sets the fields derived from r.Header.
func (r *Request) fill() {
	h := r.Header
	r.Host = first(h["Host"])
	r.Key = first(h["Sec-Websocket-Key"])
	r.Version = first(h["Sec-Websocket-Version"])
	r.Origin = first(h["Origin"])
	r.Protocols = splitList(h["Sec-Websocket-Protocol"])
	r.Extensions = joinValues(h["Sec-Websocket-Extensions"])
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// splitList returns the elements of the comma-separated lists in values, or nil.
func splitList(values []string) []string {
	n := 0
	listElements(values, func(string) bool { n++; return true })
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	listElements(values, func(e string) bool { out = append(out, e); return true })
	return out
}

// Check reports whether r is a valid WebSocket upgrade request (RFC 6455 §4.2.1):
// a GET, HTTP/1.1 or later, an origin-form or absolute http(s)/ws(s) target,
// exactly one valid Host, no body, Upgrade naming "websocket" and Connection
// naming "upgrade" (case-insensitive, anywhere in their comma-separated lists),
// Sec-WebSocket-Version 13, one Sec-WebSocket-Key that decodes to 16 bytes and
// token subprotocols.
//
// Failures are *Error with Status 400, except an absent or unsupported
// version: Status 426 with Header "Sec-WebSocket-Version: 13", so the client
// learns what we speak. A method other than GET is a 400, not a 405: it is a
// malformed upgrade, and 405 would oblige an Allow field.
//
// Check reads Method, Proto, Target, Host, Key, Version and Protocols, and
// Header for Upgrade, Connection, the body fields and repeated fields.
func (r *Request) Check() error {
	h := r.Header
	switch {
	case r.Method != "GET":
		return badRequest("method " + quote(r.Method) + " is not GET")
	case !atLeast11(r.Proto):
		return badRequest("protocol " + quote(r.Proto) + " is older than HTTP/1.1")
	case !validRequestTarget(r.Target):
		return badRequest("invalid request target " + quote(r.Target))
	case len(h["Host"]) > 1:
		return badRequest("more than one Host header")
	case r.Host == "":
		return badRequest("missing Host header")
	case !validHost(r.Host):
		return badRequest("invalid Host header " + quote(r.Host))
	}
	if n, ok := parseContentLength(h["Content-Length"]); !ok || n > 0 || len(h["Transfer-Encoding"]) > 0 {
		return badRequest("upgrade request has a body")
	}
	if !hasToken(h["Upgrade"], "websocket") {
		return badRequest(`not a WebSocket handshake: Upgrade header does not name "websocket"`)
	}
	if !hasToken(h["Connection"], "upgrade") {
		return badRequest(`not a WebSocket handshake: Connection header does not name "upgrade"`)
	}
	if err := r.checkVersion(); err != nil {
		return err
	}
	switch {
	case len(h["Sec-Websocket-Key"]) > 1:
		return badRequest("more than one Sec-WebSocket-Key header")
	case r.Key == "":
		return badRequest("missing Sec-WebSocket-Key header")
	case !validKey(r.Key):
		return badRequest("Sec-WebSocket-Key " + quote(r.Key) + " is not 16 bytes in base64")
	}
	return r.checkOriginAndProtocols()
}

// checkVersion wants exactly one Sec-WebSocket-Version, 13.
func (r *Request) checkVersion() error {
	if r.Version != "13" {
		return badVersion(r.Version)
	}
	if len(r.Header["Sec-Websocket-Version"]) > 1 {
		return badRequest("more than one Sec-WebSocket-Version header")
	}
	return nil
}

// checkOriginAndProtocols wants at most one Origin and token subprotocols.
func (r *Request) checkOriginAndProtocols() error {
	if len(r.Header["Origin"]) > 1 {
		return badRequest("more than one Origin header")
	}
	for _, p := range r.Protocols {
		if !isToken(p) {
			return badRequest("invalid subprotocol " + quote(p))
		}
	}
	return nil
}

// validRequestTarget accepts the origin form ("/path?query") and, as RFC 6455
// §4.2.1 allows, an absolute http, https, ws or wss URI.
func validRequestTarget(t string) bool {
	if !isTarget(t) {
		return false
	}
	if t[0] == '/' {
		return true
	}
	u, err := url.ParseRequestURI(t)
	if err != nil || u.Host == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ws", "wss":
		return true
	}
	return false
}

// FromHTTP builds the Request ParseRequest would have built from r, for a
// handshake that arrives through a net/http server (http.Handler mounting).
// Header is a copy of r.Header with Host added back, and with the
// Transfer-Encoding and Content-Length net/http takes out of it, so that Check
// judges both paths alike.
func FromHTTP(r *http.Request) *Request {
	h := r.Header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	if r.Host != "" {
		h["Host"] = []string{r.Host}
	}
	if len(r.TransferEncoding) > 0 {
		h["Transfer-Encoding"] = slices.Clone(r.TransferEncoding)
	}
	// An extended CONNECT's body is the WebSocket's stream, not a body that
	// Check should see.
	extendedConnect := r.ProtoMajor >= 2 && r.Method == http.MethodConnect && len(r.Header[ProtocolPseudoHeader]) > 0
	if r.ContentLength != 0 && len(h["Content-Length"]) == 0 && !extendedConnect {
		h["Content-Length"] = []string{"1"} // unknown (-1) or positive: a body either way
	}
	target := r.RequestURI
	if target == "" && r.URL != nil {
		target = r.URL.RequestURI()
	}
	req := &Request{Method: r.Method, Target: target, Proto: r.Proto, Header: h}
	req.fill()
	return req
}

// AppendRequest appends a client's opening handshake to dst:
//
//	GET target HTTP/1.1
//	Host: host
//	Upgrade: websocket
//	Connection: Upgrade
//	Sec-WebSocket-Key: key
//	Sec-WebSocket-Version: 13
//	Sec-WebSocket-Protocol: protocols, comma-separated (if any)
//	Sec-WebSocket-Extensions: extensions (if not empty)
//	extra fields, sorted by name
//
// It fails (*Error with Status 0, dst returned unchanged) on input that is not
// valid in its place: a bad host, target or key, a subprotocol that is not a
// token or is repeated, or a value with a control character such as CR or LF,
// which could inject header lines. extra may not hold the fields written here
// nor Content-Length or Transfer-Encoding; Origin and the like go in extra.
func AppendRequest(dst []byte, host, target, key string, protocols []string,
	extensions string, extra http.Header) ([]byte, error) {
	w := writer{b: dst}
	switch {
	case !validHost(host):
		w.fail("invalid host " + quote(host))
	case !isTarget(target):
		w.fail("invalid request target " + quote(target))
	case !validKey(key):
		w.fail("Sec-WebSocket-Key " + quote(key) + " is not 16 bytes in base64")
	}
	for i, p := range protocols {
		if !isToken(p) || slices.Contains(protocols[:i], p) {
			w.fail("invalid or repeated subprotocol " + quote(p))
		}
	}
	if w.err != nil {
		return dst, w.err
	}
	w.b = append(w.b, "GET "...)
	w.b = append(w.b, target...)
	w.b = append(w.b, " HTTP/1.1\r\nHost: "...)
	w.b = append(w.b, host...)
	w.b = append(w.b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	w.b = append(w.b, key...)
	w.b = append(w.b, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if len(protocols) > 0 {
		w.b = append(w.b, "Sec-WebSocket-Protocol: "...)
		for i, p := range protocols {
			if i > 0 {
				w.b = append(w.b, ", "...)
			}
			w.b = append(w.b, p...)
		}
		w.b = append(w.b, "\r\n"...)
	}
	if extensions != "" {
		w.field("Sec-WebSocket-Extensions", extensions)
	}
	w.extra(extra, "Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Content-Length", "Transfer-Encoding")
	if w.err != nil {
		return dst, w.err
	}
	return append(w.b, "\r\n"...), nil
}
