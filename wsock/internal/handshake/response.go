package handshake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Response is the head of a server's answer to an opening handshake: the 101
// that accepts it, an interim 1xx, or a rejection.
type Response struct {
	Status int    // 101 on success
	Reason string // reason phrase, possibly empty
	Proto  string // "HTTP/1.1"
	// Header holds every field as received, under canonical keys.
	Header http.Header
}

// ParseResponse parses a response head from the start of b, with the same
// rules, incremental contract (n == 0 && err == nil: need more bytes) and
// limits as ParseRequest; its errors are *Error with Status 0. The status line
// is "HTTP/x.y SP 3DIGIT SP reason"; a missing SP before an empty reason is
// tolerated. A Content-Length that is not one decimal length is an error.
//
// Any status from 100 to 999 parses. A 1xx other than 101 is an interim
// response: the client discards it and parses the head after it.
func ParseResponse(b []byte, lim Limits) (resp *Response, n int, err error) {
	end, fields, e := scanHead(b, lim, checkStatusLine, badResponse, badResponse)
	if e != nil {
		return nil, 0, e
	}
	if end == 0 {
		return nil, 0, nil
	}
	head := string(b[:end])
	line := head[:strings.Index(head, "\r\n")]
	resp = &Response{Proto: line[:8], Header: buildHeader(head, fields)}
	resp.Status, _ = strconv.Atoi(line[9:12])
	if len(line) > 12 {
		resp.Reason = line[13:]
	}
	if _, ok := parseContentLength(resp.Header["Content-Length"]); !ok {
		return nil, 0, badResponse("invalid Content-Length " + quote(strings.Join(resp.Header["Content-Length"], ", ")))
	}
	return resp, end, nil
}

func badResponse(msg string) *Error { return failed("bad response: " + msg) }

// checkStatusLine validates "HTTP-version SP status-code [SP reason-phrase]".
func checkStatusLine(line []byte) *Error {
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return badResponse("malformed status line " + quote(string(line)))
	}
	if _, _, ok := parseProto(line[:8]); !ok {
		return badResponse("malformed HTTP version in status line " + quote(string(line)))
	}
	if !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || line[9] == '0' {
		return badResponse("malformed status code in status line " + quote(string(line)))
	}
	if len(line) > 12 && !isFieldValue(line[13:]) {
		return badResponse("invalid character in reason phrase " + quote(string(line)))
	}
	return nil
}

// CheckAccept reports whether r accepts the handshake we sent with key and the
// subprotocols offered (RFC 6455 §4.1, client steps 1–6): status 101,
// HTTP/1.1 or later, Upgrade naming "websocket" and Connection naming
// "upgrade" (case-insensitive, in their comma-separated lists), exactly one
// Sec-WebSocket-Accept equal to AcceptKey(key), and at most one subprotocol,
// which must be one we offered (exact match). It returns that subprotocol ("" if
// none) and the raw Sec-WebSocket-Extensions, fields joined with ", ", for the
// extension negotiation to judge; a client that offered none must reject any.
// Failures are *Error with Status 0.
func (r *Response) CheckAccept(key string, offered []string) (protocol, extensions string, err error) {
	h := r.Header
	switch {
	case r.Status != http.StatusSwitchingProtocols:
		return "", "", failed("unexpected status " + strconv.Itoa(r.Status) + " " + quote(r.Reason) + ", want 101")
	case !atLeast11(r.Proto):
		return "", "", failed("protocol " + quote(r.Proto) + " is older than HTTP/1.1")
	case !hasToken(h["Upgrade"], "websocket"):
		return "", "", failed(`Upgrade header does not name "websocket"`)
	case !hasToken(h["Connection"], "upgrade"):
		return "", "", failed(`Connection header does not name "upgrade"`)
	case len(h["Sec-Websocket-Accept"]) != 1:
		return "", "", failed("want one Sec-WebSocket-Accept header, got " + strconv.Itoa(len(h["Sec-Websocket-Accept"])))
	case !acceptMatches(h["Sec-Websocket-Accept"][0], key):
		return "", "", failed("Sec-WebSocket-Accept " + quote(h["Sec-Websocket-Accept"][0]) + " does not match the key")
	}
	return chosen(h, offered)
}

// chosen returns the subprotocol and raw extensions a server's answer h
// chose, failing if it chose more than one subprotocol or one not offered.
func chosen(h http.Header, offered []string) (protocol, extensions string, err error) {
	switch ps := h["Sec-Websocket-Protocol"]; {
	case len(ps) > 1:
		return "", "", failed("more than one Sec-WebSocket-Protocol header")
	case len(ps) == 1 && ps[0] != "":
		if !slices.Contains(offered, ps[0]) {
			return "", "", failed("server chose subprotocol " + quote(ps[0]) + ", which we did not offer")
		}
		protocol = ps[0]
	}
	return protocol, joinValues(h["Sec-Websocket-Extensions"]), nil
}

// acceptMatches reports whether got == AcceptKey(key), without allocating.
func acceptMatches(got, key string) bool {
	var buf [acceptLen]byte
	return string(appendAcceptKey(buf[:0], key)) == got
}

// BodyLength reports how the body of a response that is not a 101 is
// delimited (RFC 9112 §6.3): n >= 0 bytes by Content-Length, chunked (n is
// then -1: decode with DecodeChunked), or n == -1 to the end of the connection.
// 1xx, 204 and 304 responses have no body (n == 0). Transfer-Encoding wins over
// Content-Length.
func (r *Response) BodyLength() (n int64, chunked bool) {
	if r.Status < 200 || r.Status == http.StatusNoContent || r.Status == http.StatusNotModified {
		return 0, false
	}
	if te := r.Header["Transfer-Encoding"]; len(te) > 0 {
		var last string
		listElements(te, func(e string) bool { last = e; return true })
		return -1, strings.EqualFold(last, "chunked")
	}
	if n, ok := parseContentLength(r.Header["Content-Length"]); ok && n >= 0 {
		return n, false
	}
	return -1, false
}

// AppendAccept appends the server's 101 answer to a request carrying key:
//
//	HTTP/1.1 101 Switching Protocols
//	Upgrade: websocket
//	Connection: Upgrade
//	Sec-WebSocket-Accept: AcceptKey(key)
//	Sec-WebSocket-Protocol: protocol (if not empty)
//	Sec-WebSocket-Extensions: extensions (if not empty)
//	extra fields, sorted by name
//
// It fails (*Error with Status 0, dst returned unchanged) when protocol is not
// a token, a value holds a control character such as CR or LF (header
// injection), or extra holds a field written here, Content-Length or
// Transfer-Encoding.
func AppendAccept(dst []byte, key, protocol, extensions string, extra http.Header) ([]byte, error) {
	if protocol != "" && !isToken(protocol) {
		return dst, failed("invalid subprotocol " + quote(protocol))
	}
	w := writer{b: dst}
	w.b = append(w.b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	w.b = appendAcceptKey(w.b, key)
	w.b = append(w.b, "\r\n"...)
	if protocol != "" {
		w.field("Sec-WebSocket-Protocol", protocol)
	}
	if extensions != "" {
		w.field("Sec-WebSocket-Extensions", extensions)
	}
	w.extra(extra, "Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Content-Length", "Transfer-Encoding")
	if w.err != nil {
		return dst, w.err
	}
	return append(w.b, "\r\n"...), nil
}

// AppendReject appends a response refusing the handshake: the status line with
// http.StatusText's reason (empty for unknown codes), the fields of h sorted by
// name, Content-Length (omitted for 204 and 304), "Connection: close", and body.
//
// status must be a final status, 200 to 599; 204 and 304 take no body. It
// fails (*Error with Status 0, dst returned unchanged) on a bad status, a value
// with a control character such as CR or LF (header injection), or h holding
// Content-Length, Transfer-Encoding or Connection, which it sets itself.
func AppendReject(dst []byte, status int, h http.Header, body []byte) ([]byte, error) {
	noBody := status == http.StatusNoContent || status == http.StatusNotModified
	switch {
	case status < 200 || status > 599:
		return dst, failed("rejection status " + strconv.Itoa(status) + " is not 200-599")
	case noBody && len(body) > 0:
		return dst, failed("status " + strconv.Itoa(status) + " takes no body")
	}
	w := writer{b: dst}
	w.b = append(w.b, "HTTP/1.1 "...)
	w.b = strconv.AppendInt(w.b, int64(status), 10)
	w.b = append(w.b, ' ')
	w.b = append(w.b, http.StatusText(status)...)
	w.b = append(w.b, "\r\n"...)
	w.extra(h, "Content-Length", "Transfer-Encoding", "Connection")
	if w.err != nil {
		return dst, w.err
	}
	if !noBody {
		w.b = append(w.b, "Content-Length: "...)
		w.b = strconv.AppendInt(w.b, int64(len(body)), 10)
		w.b = append(w.b, "\r\n"...)
	}
	w.b = append(w.b, "Connection: close\r\n\r\n"...)
	return append(w.b, body...), nil
}
