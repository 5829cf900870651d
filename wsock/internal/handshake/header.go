package handshake

import (
	"bytes"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
)

// Default limits, used where a Limits field is zero or negative.
const (
	defaultMaxHeaderBytes = 8 << 10
	defaultMaxHeaders     = 100
)

// Limits bound a head (the start line, the header field lines and the empty
// line that ends them). A zero or negative field means its default.
type Limits struct {
	// MaxHeaderBytes bounds the whole head in bytes; default 8 KiB.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of header field lines; default 100.
	MaxHeaders int
}

func (l Limits) maxBytes() int {
	if l.MaxHeaderBytes <= 0 {
		return defaultMaxHeaderBytes
	}
	return l.MaxHeaderBytes
}

func (l Limits) maxHeaders() int {
	if l.MaxHeaders <= 0 {
		return defaultMaxHeaders
	}
	return l.MaxHeaders
}

// Character classes of RFC 9110 §5.6.2 (tchar) and §5.5 (field-vchar).
var tchar, fieldChar [256]bool

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0:
			tchar[c] = true
		}
		// VCHAR, obs-text, SP and HTAB: everything but the other controls and DEL.
		fieldChar[c] = c == '\t' || (c >= ' ' && c != 0x7f)
	}
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken[S ~string | ~[]byte](s S) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// isFieldValue reports whether s may appear in a header field value: no control
// character but HTAB, so no CR, LF or NUL.
func isFieldValue[S ~string | ~[]byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if !fieldChar[s[i]] {
			return false
		}
	}
	return true
}

// isOWS reports whether c is optional whitespace (RFC 9110 §5.6.3).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS strips leading and trailing SP and HTAB.
func trimOWS[S ~string | ~[]byte](s S) S {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// scanHead validates the head at the start of b line by line and reports its
// length, or 0 when b holds no complete head yet. startLine validates the first
// line. Lines are checked in order and only once they are complete and inside
// the byte limit, so feeding b one byte at a time meets the same error as
// feeding it whole. Overruns are reported with over, other faults with bad.
//
// Lines must end in CRLF: a bare LF or a bare CR is an error, not a line end.
// RFC 9112 §2.2 lets a recipient take a bare LF as a line end; WebSocket
// clients and servers all send CRLF, so we do not.
func scanHead(b []byte, lim Limits, startLine func([]byte) *Error,
	bad, over func(string) *Error) (end, fields int, err *Error) {
	maxBytes, maxFields := lim.maxBytes(), lim.maxHeaders()
	window := b[:min(len(b), maxBytes)]
	for pos := 0; ; {
		i := bytes.IndexByte(window[pos:], '\n')
		if i < 0 {
			if len(b) > maxBytes {
				return 0, 0, over("head larger than " + strconv.Itoa(maxBytes) + " bytes")
			}
			return 0, 0, nil
		}
		lf := pos + i
		if lf == pos || b[lf-1] != '\r' {
			return 0, 0, bad("line ends in a bare LF, want CRLF")
		}
		line := b[pos : lf-1]
		switch {
		case pos == 0:
			if err := startLine(line); err != nil {
				return 0, 0, err
			}
		case len(line) == 0:
			return lf + 1, fields, nil
		default:
			if fields++; fields > maxFields {
				return 0, 0, over("more than " + strconv.Itoa(maxFields) + " header fields")
			}
			if msg := checkFieldLine(line); msg != "" {
				return 0, 0, bad(msg)
			}
		}
		pos = lf + 1
	}
}

// checkFieldLine validates one "name: value" line (CRLF stripped) and returns
// what is wrong with it, or "".
func checkFieldLine(line []byte) string {
	if isOWS(line[0]) {
		// RFC 9112 §5.2: obs-fold is deprecated and a server may reject it;
		// so is whitespace between the start line and the first field.
		return "obsolete line folding in header"
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return "header line without a colon: " + quote(string(line))
	}
	name := line[:colon]
	if len(name) > 0 && isOWS(name[len(name)-1]) {
		// RFC 9112 §5.1: a server MUST reject whitespace before the colon.
		return "whitespace before colon in header " + quote(string(trimOWS(name)))
	}
	if !isToken(name) {
		return "invalid header field name " + quote(string(name))
	}
	if !isFieldValue(line[colon+1:]) {
		return "invalid character in value of header " + string(name)
	}
	return ""
}

// buildHeader turns the field lines of a head scanned by scanHead into an
// http.Header with canonical keys. head is the whole head as one string (one
// allocation) so that names and values are substrings of it.
func buildHeader(head string, fields int) http.Header {
	h := make(http.Header, fields)
	strs := make([]string, fields) // one backing array for all single-valued fields
	rest := head[strings.Index(head, "\r\n")+2:]
	for {
		eol := strings.Index(rest, "\r\n")
		if eol == 0 {
			return h
		}
		line := rest[:eol]
		rest = rest[eol+2:]
		colon := strings.IndexByte(line, ':')
		key := canonicalKey(line[:colon])
		value := trimOWS(line[colon+1:])
		if vs, ok := h[key]; ok {
			h[key] = append(vs, value)
			continue
		}
		strs[0] = value
		h[key] = strs[:1:1]
		strs = strs[1:]
	}
}

// commonKeys interns the canonical spelling of names that are usually sent in
// another case, so canonicalizing them does not allocate.
var commonKeys = map[string]string{}

func init() {
	for _, k := range []string{
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Sec-Websocket-Accept", "Www-Authenticate",
		"Content-Md5", "Dnt", "Etag", "Te", "X-Forwarded-For", "X-Real-Ip",
	} {
		commonKeys[k] = k
	}
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey for a valid token, without
// an allocation when name is already canonical or is a common header.
func canonicalKey(name string) string {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (upper && 'a' <= c && c <= 'z') || (!upper && 'A' <= c && c <= 'Z') {
			return recase(name)
		}
		upper = c == '-'
	}
	return name
}

func recase(name string) string {
	var buf [64]byte
	if len(name) > len(buf) {
		return textproto.CanonicalMIMEHeaderKey(name)
	}
	b := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if k, ok := commonKeys[string(b)]; ok {
		return k
	}
	return string(b)
}

// listElements calls yield for each non-empty element of the comma-separated
// lists in values (RFC 9110 §5.6.1), trimmed of OWS, until yield returns false.
func listElements(values []string, yield func(string) bool) {
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if elem = trimOWS(elem); elem != "" && !yield(elem) {
				return
			}
		}
	}
}

// hasToken reports whether the lists in values contain token, compared
// ASCII case-insensitively.
func hasToken(values []string, token string) bool {
	found := false
	listElements(values, func(e string) bool {
		found = strings.EqualFold(e, token)
		return !found
	})
	return found
}

// joinValues joins the non-empty trimmed values with ", ", which the list
// syntax makes equivalent to sending them in separate fields.
func joinValues(values []string) string {
	var first string
	var parts []string
	for _, v := range values {
		switch v = trimOWS(v); {
		case v == "":
		case first == "":
			first = v
		case parts == nil:
			parts = []string{first, v}
		default:
			parts = append(parts, v)
		}
	}
	if parts == nil {
		return first
	}
	return strings.Join(parts, ", ")
}

// parseContentLength returns the value of the Content-Length fields, or -1 when
// there are none. Repeated equal values ("42, 42") are one length (RFC 9112 §6.3);
// anything else is invalid.
func parseContentLength(values []string) (n int64, ok bool) {
	n = -1
	ok = true
	listElements(values, func(e string) bool {
		v, err := strconv.ParseUint(e, 10, 63)
		if err != nil || (n >= 0 && int64(v) != n) {
			ok = false
			return false
		}
		n = int64(v)
		return true
	})
	if ok && n < 0 && len(values) > 0 {
		ok = false // fields present but all empty
	}
	return n, ok
}

// parseProto parses "HTTP/x.y" (RFC 9112 §2.3: one digit each).
func parseProto[S ~string | ~[]byte](p S) (major, minor int, ok bool) {
	if len(p) != 8 || string(p[:5]) != "HTTP/" || p[6] != '.' ||
		!isDigit(p[5]) || !isDigit(p[7]) {
		return 0, 0, false
	}
	return int(p[5] - '0'), int(p[7] - '0'), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// atLeast11 reports whether proto is HTTP/1.1 or later.
func atLeast11(proto string) bool {
	major, minor, ok := parseProto(proto)
	return ok && (major > 1 || major == 1 && minor >= 1)
}

// validHost reports whether h is a plausible Host value: a reg-name, IPv4 or
// bracketed IP literal, with an optional port. Only the character set is
// checked, as net/http's httpguts.ValidHostHeader does.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !tchar[c] && strings.IndexByte(":[]()@;=,", c) < 0 {
			return false
		}
	}
	return true
}

// writer appends a head and remembers the first invalid input.
type writer struct {
	b   []byte
	err *Error
}

func (w *writer) fail(msg string) {
	if w.err == nil {
		w.err = failed(msg)
	}
}

// field appends "name: value\r\n", failing if value could inject header lines.
func (w *writer) field(name, value string) {
	if !isFieldValue(value) {
		w.fail("invalid character in value of header " + name + ": " + quote(value))
		return
	}
	w.b = append(w.b, name...)
	w.b = append(w.b, ": "...)
	w.b = append(w.b, value...)
	w.b = append(w.b, "\r\n"...)
}

// extra appends the fields of h in sorted key order, failing on invalid names
// or values and on any field in reserved (canonical keys): those the head
// writes itself or that would change its framing.
func (w *writer) extra(h http.Header, reserved ...string) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !isToken(k) {
			w.fail("invalid header field name " + quote(k))
			return
		}
		if slices.Contains(reserved, textproto.CanonicalMIMEHeaderKey(k)) {
			w.fail("header " + k + " is set by the handshake and may not be given as an extra header")
			return
		}
		for _, v := range h[k] {
			w.field(k, v)
		}
	}
}
