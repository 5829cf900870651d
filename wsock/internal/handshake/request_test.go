package handshake

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfcRequest is the client handshake of RFC 6455 §1.2, byte for byte.
const rfcRequest = "GET /chat HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

// browserRequest is what Chromium sends for new WebSocket("ws://localhost:8000/chat").
var browserRequest = crlf(`GET /chat HTTP/1.1
Host: localhost:8000
Connection: Upgrade
Pragma: no-cache
Cache-Control: no-cache
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36
Upgrade: websocket
Origin: http://localhost:8000
Sec-WebSocket-Version: 13
Accept-Encoding: gzip, deflate, br, zstd
Accept-Language: en-US,en;q=0.9
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits

`)

func TestParseRequestReadsRFC6455Example(t *testing.T) {
	req, n, err := ParseRequest([]byte(rfcRequest), Limits{})
	require.NoError(t, err)
	assert.Equal(t, len(rfcRequest), n)
	assert.Equal(t, &Request{
		Method: "GET",
		Target: "/chat",
		Proto:  "HTTP/1.1",
		Host:   "server.example.com",
		Header: http.Header{
			"Host":                   {"server.example.com"},
			"Upgrade":                {"websocket"},
			"Connection":             {"Upgrade"},
			"Sec-Websocket-Key":      {"dGhlIHNhbXBsZSBub25jZQ=="},
			"Origin":                 {"http://example.com"},
			"Sec-Websocket-Protocol": {"chat, superchat"},
			"Sec-Websocket-Version":  {"13"},
		},
		Key:       "dGhlIHNhbXBsZSBub25jZQ==",
		Version:   "13",
		Protocols: []string{"chat", "superchat"},
		Origin:    "http://example.com",
	}, withoutHead(req))
	assert.NoError(t, req.Check())
}

// withoutHead returns a copy of r without the head ParseRequest keeps, to compare it
// with a Request written out or made from net/http's.
func withoutHead(r *Request) *Request {
	c := *r
	c.head = ""
	return &c
}

func TestParsedBuildsTheHeaderAgainFromTheHead(t *testing.T) {
	for name, in := range map[string][]byte{
		"rfc example": []byte(rfcRequest),
		"browser":     browserRequest,
		"repeats":     upgrade(nil, "Sec-WebSocket-Protocol: a", "X-Y: 1", "sec-websocket-protocol: b, c", "x-y:  2 "),
	} {
		t.Run(name, func(t *testing.T) {
			req, _, err := ParseRequest(in, Limits{})
			require.NoError(t, err)
			require.NotEmpty(t, req.Header)
			h := req.Parsed()
			assert.Equal(t, req.Header, h, "every field, Host included, values in order")
			h["Extra"] = []string{"x"}
			assert.NotContains(t, req.Parsed(), "Extra", "each call builds a new map")
		})
	}
	assert.Nil(t, FromHTTP(&http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}}).Parsed(),
		"a request made from net/http's has no head")
}

func TestParseRequestLeavesBytesAfterTheHead(t *testing.T) {
	frames := []byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}
	req, n, err := ParseRequest(append([]byte(rfcRequest), frames...), Limits{})
	require.NoError(t, err)
	require.NotNil(t, req)
	assert.Equal(t, len(rfcRequest), n)
}

func TestParseRequestNeedsMoreBytesUntilTheHeadIsComplete(t *testing.T) {
	for i := range len(rfcRequest) {
		req, n, err := ParseRequest([]byte(rfcRequest[:i]), Limits{})
		require.NoError(t, err, "prefix %d", i)
		require.Zero(t, n, "prefix %d", i)
		require.Nil(t, req, "prefix %d", i)
	}
}

// parseIncrementally feeds b to parse one byte more at a time, as a slow peer
// would, and returns the first result that is not "need more bytes".
func parseIncrementally[T any](b []byte, parse func([]byte) (T, int, error)) (v T, n int, err error) {
	for i := 1; i <= len(b); i++ {
		if v, n, err = parse(b[:i]); n != 0 || err != nil {
			return v, n, err
		}
	}
	return v, n, err
}

func TestParseRequestByteByByteGivesTheWholeResult(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 300, MaxHeaders: 8}
	parse := func(b []byte) (*Request, int, error) { return ParseRequest(b, lim) }
	for name, in := range map[string][]byte{
		"rfc example":     []byte(rfcRequest),
		"with frames":     append([]byte(rfcRequest), 0x81, 0x80),
		"bad field late":  crlf("GET / HTTP/1.1\nHost: a\nUpgrade: websocket\nBad Name: x\n\n"),
		"bare LF":         []byte("GET / HTTP/1.1\r\nHost: a\n\r\n"),
		"oversize":        crlf("GET / HTTP/1.1\nHost: a\nX: " + strings.Repeat("y", 300) + "\n\n"),
		"oversize at end": crlf("GET / HTTP/1.1\nX: " + strings.Repeat("y", 276) + "\n\n"),
		"too many fields": crlf("GET / HTTP/1.1\n" + strings.Repeat("A: b\n", 9) + "\n"),
		"bad start line":  crlf("HELLO\n\n"),
	} {
		t.Run(name, func(t *testing.T) {
			whole, wn, werr := parse(in)
			part, pn, perr := parseIncrementally(in, parse)
			assert.Equal(t, werr, perr)
			assert.Equal(t, wn, pn)
			assert.Equal(t, whole, part)
		})
	}
}

func TestParseRequestRejectsMalformedHeadsWith400(t *testing.T) {
	for name, tc := range map[string]struct{ in, msg string }{
		"obsolete line folding":   {"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "folding"},
		"tab folding":             {"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", "folding"},
		"space before first":      {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", "folding"},
		"bare CR in value":        {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "invalid character"},
		"CR before CRLF":          {"GET / HTTP/1.1\r\nX: a\r\r\n\r\n", "invalid character"},
		"NUL in value":            {"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", "invalid character"},
		"DEL in value":            {"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", "invalid character"},
		"NUL in name":             {"GET / HTTP/1.1\r\nX\x00Y: a\r\n\r\n", "invalid header field name"},
		"space in name":           {"GET / HTTP/1.1\r\nX Y: a\r\n\r\n", "invalid header field name"},
		"separator in name":       {"GET / HTTP/1.1\r\nX(Y): a\r\n\r\n", "invalid header field name"},
		"non-ASCII name":          {"GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n", "invalid header field name"},
		"empty name":              {"GET / HTTP/1.1\r\n: a\r\n\r\n", "invalid header field name"},
		"whitespace before colon": {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", "whitespace before colon"},
		"tab before colon":        {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", "whitespace before colon"},
		"no colon":                {"GET / HTTP/1.1\r\nHost a\r\n\r\n", "without a colon"},
		"bare LF line end":        {"GET / HTTP/1.1\nHost: a\n\n", "bare LF"},
		"bare LF at head end":     {"GET / HTTP/1.1\r\nHost: a\r\n\n", "bare LF"},
		"leading empty line":      {"\r\nGET / HTTP/1.1\r\n\r\n", "malformed request line"},
		"no target":               {"GET HTTP/1.1\r\n\r\n", "malformed request line"},
		"double space":            {"GET  / HTTP/1.1\r\n\r\n", "malformed request line"},
		"space in target":         {"GET /a b HTTP/1.1\r\n\r\n", "malformed HTTP version"},
		"control in target":       {"GET /a\x01 HTTP/1.1\r\n\r\n", "malformed request line"},
		"non-ASCII target":        {"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", "malformed request line"},
		"bad method":              {"G(T / HTTP/1.1\r\n\r\n", "malformed request line"},
		"lower-case version":      {"GET / http/1.1\r\n\r\n", "malformed HTTP version"},
		"long version":            {"GET / HTTP/1.10\r\n\r\n", "malformed HTTP version"},
		"no version":              {"GET /\r\n\r\n", "malformed request line"},
		"trailing space":          {"GET / HTTP/1.1 \r\n\r\n", "malformed HTTP version"},
		"not HTTP":                {"SSH-2.0-OpenSSH_9.6\r\n\r\n", "malformed request line"},
	} {
		t.Run(name, func(t *testing.T) {
			req, n, err := ParseRequest([]byte(tc.in), Limits{})
			requireStatus(t, err, http.StatusBadRequest, tc.msg)
			assert.Nil(t, req)
			assert.Zero(t, n)
		})
	}
}

func TestParseRequestRejectsOversizeHeadWith431(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 64}
	head := "GET / HTTP/1.1\r\nHost: a\r\nX: " // 30 bytes
	fits := head + strings.Repeat("y", 64-len(head)-4) + "\r\n\r\n"
	require.Len(t, fits, 64)

	_, n, err := ParseRequest([]byte(fits), lim)
	require.NoError(t, err)
	assert.Equal(t, 64, n)

	over := head + strings.Repeat("y", 64-len(head)-3) + "\r\n\r\n"
	_, n, err = ParseRequest([]byte(over), lim)
	requireStatus(t, err, http.StatusRequestHeaderFieldsTooLarge, "larger than 64 bytes")
	assert.Zero(t, n)

	// An endless head fails as soon as it passes the limit, without an end in sight.
	_, _, err = ParseRequest([]byte(head+strings.Repeat("y", 40)), lim)
	requireStatus(t, err, http.StatusRequestHeaderFieldsTooLarge, "larger than 64 bytes")
}

func TestParseRequestDefaultsTo8KiBHeads(t *testing.T) {
	head := "GET / HTTP/1.1\r\nX: "
	for size, ok := range map[int]bool{8192: true, 8193: false} {
		in := head + strings.Repeat("y", size-len(head)-4) + "\r\n\r\n"
		_, n, err := ParseRequest([]byte(in), Limits{})
		if ok {
			require.NoError(t, err)
			assert.Equal(t, size, n)
		} else {
			requireStatus(t, err, http.StatusRequestHeaderFieldsTooLarge, "8192")
		}
	}
}

func TestParseRequestRejectsTooManyHeadersWith431(t *testing.T) {
	in := "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 3) + "\r\n"
	_, _, err := ParseRequest([]byte(in), Limits{MaxHeaders: 3})
	require.NoError(t, err)
	_, _, err = ParseRequest([]byte(in), Limits{MaxHeaders: 2})
	requireStatus(t, err, http.StatusRequestHeaderFieldsTooLarge, "more than 2 header fields")

	many := "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 101) + "\r\n"
	_, _, err = ParseRequest([]byte(many), Limits{})
	requireStatus(t, err, http.StatusRequestHeaderFieldsTooLarge, "more than 100 header fields")
}

func TestParseRequestMergesSubprotocolListsInOrder(t *testing.T) {
	req, _, err := ParseRequest(crlf(`GET / HTTP/1.1
Sec-WebSocket-Protocol: a, b
sec-websocket-protocol:c
SEC-WEBSOCKET-PROTOCOL: , ,d ,	e	
Sec-WebSocket-Protocol:

`), Limits{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, req.Protocols)
	assert.Equal(t, []string{"a, b", "c", ", ,d ,\te", ""}, req.Header["Sec-Websocket-Protocol"])
}

func TestParseRequestJoinsExtensionFields(t *testing.T) {
	req, _, err := ParseRequest(crlf(`GET / HTTP/1.1
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits
Sec-WebSocket-Extensions:
Sec-WebSocket-Extensions: x-foo, permessage-deflate

`), Limits{})
	require.NoError(t, err)
	assert.Equal(t, "permessage-deflate; client_max_window_bits, x-foo, permessage-deflate", req.Extensions)
}

func TestParseRequestTrimsWhitespaceAroundValues(t *testing.T) {
	req, _, err := ParseRequest([]byte("GET / HTTP/1.1\r\nHost: \t a b \t\r\nX:\r\n\r\n"), Limits{})
	require.NoError(t, err)
	assert.Equal(t, "a b", req.Host)
	assert.Equal(t, []string{""}, req.Header["X"])
}

func TestParseRequestCanonicalizesHeaderNames(t *testing.T) {
	req, _, err := ParseRequest(crlf("GET / HTTP/1.1\nsec-websocket-KEY: k\nx-a-very-unusual-header: v\nHOST: h\n\n"), Limits{})
	require.NoError(t, err)
	assert.Equal(t, http.Header{
		"Sec-Websocket-Key":       {"k"},
		"X-A-Very-Unusual-Header": {"v"},
		"Host":                    {"h"},
	}, req.Header)
	assert.Equal(t, "k", req.Key)
	assert.Equal(t, "h", req.Host)
}

// upgrade returns a valid upgrade request with the fields in edits replaced
// (or, with an empty value, removed) and extra lines appended.
func upgrade(edits map[string]string, extra ...string) []byte {
	lines := []string{
		"GET /chat?x=1 HTTP/1.1", "Host: server.example.com", "Upgrade: websocket",
		"Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
	}
	var out []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		if v, ok := edits[name]; ok {
			if v != "" {
				out = append(out, v)
			}
			continue
		}
		out = append(out, l)
	}
	out = append(out, extra...)
	return []byte(strings.Join(out, "\r\n") + "\r\n\r\n")
}

func TestCheckAcceptsValidUpgradeVariants(t *testing.T) {
	for name, in := range map[string][]byte{
		"plain":                  upgrade(nil),
		"case-insensitive":       upgrade(map[string]string{"Upgrade": "upgrade: WebSocket", "Connection": "CONNECTION: UPGRADE"}),
		"connection list":        upgrade(map[string]string{"Connection": "Connection: keep-alive, Upgrade"}),
		"connection fields":      upgrade(map[string]string{"Connection": "Connection: keep-alive"}, "Connection: upgrade"),
		"upgrade list":           upgrade(map[string]string{"Upgrade": "Upgrade: h2c, websocket"}),
		"later HTTP":             upgrade(map[string]string{"GET /chat?x=1 HTTP/1.1": "GET /chat HTTP/1.2"}),
		"absolute target":        upgrade(map[string]string{"GET /chat?x=1 HTTP/1.1": "GET ws://server.example.com/chat HTTP/1.1"}),
		"zero Content-Length":    upgrade(nil, "Content-Length: 0"),
		"subprotocols":           upgrade(nil, "Sec-WebSocket-Protocol: chat, v2.json"),
		"host with port":         upgrade(map[string]string{"Host": "Host: [::1]:8080"}),
		"origin":                 upgrade(nil, "Origin: https://example.com"),
		"extensions unparsed":    upgrade(nil, "Sec-WebSocket-Extensions: permessage-deflate; x=\"y\""),
		"version with whitespce": upgrade(map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version:  13 "}),
	} {
		t.Run(name, func(t *testing.T) {
			req, _, err := ParseRequest(in, Limits{})
			require.NoError(t, err)
			assert.NoError(t, req.Check())
		})
	}
}

func TestCheckRejectsInvalidUpgrades(t *testing.T) {
	for name, tc := range map[string]struct {
		in     []byte
		status int
		msg    string
	}{
		"POST":                 {upgrade(map[string]string{"GET /chat?x=1 HTTP/1.1": "POST /chat HTTP/1.1"}), 400, "not GET"},
		"lower-case get":       {upgrade(map[string]string{"GET /chat?x=1 HTTP/1.1": "get /chat HTTP/1.1"}), 400, "not GET"},
		"HTTP/1.0":             {upgrade(map[string]string{"GET /chat?x=1 HTTP/1.1": "GET /chat HTTP/1.0"}), 400, "older than HTTP/1.1"},
		"asterisk target":      {upgrade(map[string]string{"GET /chat?x=1 HTTP/1.1": "GET * HTTP/1.1"}), 400, "invalid request target"},
		"ftp target":           {upgrade(map[string]string{"GET /chat?x=1 HTTP/1.1": "GET ftp://a/b HTTP/1.1"}), 400, "invalid request target"},
		"missing Host":         {upgrade(map[string]string{"Host": ""}), 400, "missing Host"},
		"empty Host":           {upgrade(map[string]string{"Host": "Host:"}), 400, "missing Host"},
		"two Hosts":            {upgrade(nil, "Host: evil.example.com"), 400, "more than one Host"},
		"invalid Host":         {upgrade(map[string]string{"Host": "Host: a b"}), 400, "invalid Host"},
		"plain HTTP":           {upgrade(map[string]string{"Upgrade": "", "Connection": ""}), 400, "Upgrade header"},
		"other Upgrade":        {upgrade(map[string]string{"Upgrade": "Upgrade: websocket2"}), 400, "Upgrade header"},
		"missing Connection":   {upgrade(map[string]string{"Connection": ""}), 400, "Connection header"},
		"Connection close":     {upgrade(map[string]string{"Connection": "Connection: close"}), 400, "Connection header"},
		"Connection upgraded":  {upgrade(map[string]string{"Connection": "Connection: upgraded"}), 400, "Connection header"},
		"body by length":       {upgrade(nil, "Content-Length: 5"), 400, "has a body"},
		"bad Content-Length":   {upgrade(nil, "Content-Length: x"), 400, "has a body"},
		"chunked body":         {upgrade(nil, "Transfer-Encoding: chunked"), 400, "has a body"},
		"version 8":            {upgrade(map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 8"}), 426, `"8"`},
		"version list":         {upgrade(map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 13, 8"}), 426, "want 13"},
		"missing version":      {upgrade(map[string]string{"Sec-WebSocket-Version": ""}), 426, `""`},
		"two versions":         {upgrade(nil, "Sec-WebSocket-Version: 13"), 400, "more than one Sec-WebSocket-Version"},
		"missing key":          {upgrade(map[string]string{"Sec-WebSocket-Key": ""}), 400, "missing Sec-WebSocket-Key"},
		"short key":            {upgrade(map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: c2hvcnQ="}), 400, "not 16 bytes"},
		"two keys":             {upgrade(nil, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), 400, "more than one Sec-WebSocket-Key"},
		"two origins":          {upgrade(nil, "Origin: http://a", "Origin: http://b"), 400, "more than one Origin"},
		"non-token subprotocl": {upgrade(nil, "Sec-WebSocket-Protocol: chat/1"), 400, "invalid subprotocol"},
	} {
		t.Run(name, func(t *testing.T) {
			req, _, err := ParseRequest(tc.in, Limits{})
			require.NoError(t, err)
			e := requireStatus(t, req.Check(), tc.status, tc.msg)
			if tc.status == http.StatusUpgradeRequired {
				assert.Equal(t, http.Header{"Sec-Websocket-Version": {"13"}}, e.Header)
			} else {
				assert.Nil(t, e.Header)
			}
		})
	}
}

func TestFromHTTPBuildsTheRequestParseRequestBuilds(t *testing.T) {
	for name, in := range map[string][]byte{
		"rfc example": []byte(rfcRequest),
		"browser":     browserRequest,
		"repeats":     upgrade(nil, "Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b, c", "Sec-WebSocket-Extensions: x", "Sec-WebSocket-Extensions: y"),
	} {
		t.Run(name, func(t *testing.T) {
			want, _, err := ParseRequest(in, Limits{})
			require.NoError(t, err)
			hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
			require.NoError(t, err)
			got := FromHTTP(hr)
			assert.Equal(t, withoutHead(want), got)
			assert.NoError(t, got.Check())
		})
	}
}

func TestFromHTTPKeepsTheBodyVisibleToCheck(t *testing.T) {
	for _, extra := range []string{"Transfer-Encoding: chunked", "Content-Length: 3"} {
		in := upgrade(nil, extra)
		hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(in, "3\r\nabc\r\n0\r\n\r\n"...))))
		require.NoError(t, err)
		requireStatus(t, FromHTTP(hr).Check(), http.StatusBadRequest, "has a body")
	}
}

func TestFromHTTPFallsBackToTheURLForTarget(t *testing.T) {
	hr, err := http.NewRequest(http.MethodGet, "http://example.com/chat?room=1", nil)
	require.NoError(t, err)
	req := FromHTTP(hr)
	assert.Equal(t, "/chat?room=1", req.Target)
	assert.Equal(t, "example.com", req.Host)
	assert.Equal(t, []string{"example.com"}, req.Header["Host"])
}

func TestAppendRequestWritesTheHandshakeHead(t *testing.T) {
	// RFC 6455 §1.2's request, in AppendRequest's field order.
	want := "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Origin: http://example.com\r\n" +
		"\r\n"
	out, err := AppendRequest([]byte("prefix"), "server.example.com", "/chat", "dGhlIHNhbXBsZSBub25jZQ==",
		[]string{"chat", "superchat"}, "", http.Header{"Origin": {"http://example.com"}})
	require.NoError(t, err)
	assert.Equal(t, "prefix"+want, string(out))

	// Parsing it back gives the RFC example's request.
	req, n, err := ParseRequest(out[len("prefix"):], Limits{})
	require.NoError(t, err)
	assert.Equal(t, len(want), n)
	rfc, _, err := ParseRequest([]byte(rfcRequest), Limits{})
	require.NoError(t, err)
	assert.Equal(t, withoutHead(rfc), withoutHead(req))
}

func TestAppendRequestWritesExtensionsAndSortedExtras(t *testing.T) {
	out, err := AppendRequest(nil, "h:1", "/", "dGhlIHNhbXBsZSBub25jZQ==", nil,
		"permessage-deflate; client_max_window_bits",
		http.Header{"X-B": {"2", "3"}, "Authorization": {"Bearer t"}, "X-A": {"1"}, "X-Empty": nil})
	require.NoError(t, err)
	assert.Equal(t, "GET / HTTP/1.1\r\nHost: h:1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"+
		"Authorization: Bearer t\r\nX-A: 1\r\nX-B: 2\r\nX-B: 3\r\n\r\n", string(out))
}

func TestAppendRequestRefusesInvalidInput(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	type args struct {
		host, target, key string
		protocols         []string
		extensions        string
		extra             http.Header
	}
	ok := args{host: "a", target: "/", key: key}
	with := func(f func(*args)) args { a := ok; f(&a); return a }
	for name, tc := range map[string]struct {
		a   args
		msg string
	}{
		"CRLF in host":            {with(func(a *args) { a.host = "a\r\nX: y" }), "invalid host"},
		"empty host":              {with(func(a *args) { a.host = "" }), "invalid host"},
		"space in target":         {with(func(a *args) { a.target = "/a b" }), "invalid request target"},
		"LF in target":            {with(func(a *args) { a.target = "/\nX: y" }), "invalid request target"},
		"empty target":            {with(func(a *args) { a.target = "" }), "invalid request target"},
		"bad key":                 {with(func(a *args) { a.key = "a\r\nb" }), "not 16 bytes"},
		"non-token protocol":      {with(func(a *args) { a.protocols = []string{"a b"} }), "invalid or repeated subprotocol"},
		"repeated protocol":       {with(func(a *args) { a.protocols = []string{"a", "a"} }), "invalid or repeated subprotocol"},
		"CRLF in extensions":      {with(func(a *args) { a.extensions = "x\r\nEvil: 1" }), "invalid character"},
		"CRLF in extra value":     {with(func(a *args) { a.extra = http.Header{"X": {"a\r\nEvil: 1"}} }), "invalid character"},
		"NUL in extra value":      {with(func(a *args) { a.extra = http.Header{"X": {"a\x00"}} }), "invalid character"},
		"bad extra name":          {with(func(a *args) { a.extra = http.Header{"X Y": {"1"}} }), "invalid header field name"},
		"extra Upgrade":           {with(func(a *args) { a.extra = http.Header{"Upgrade": {"h2c"}} }), "set by the handshake"},
		"extra key, lower case":   {with(func(a *args) { a.extra = http.Header{"sec-websocket-key": {key}} }), "set by the handshake"},
		"extra subprotocol":       {with(func(a *args) { a.extra = http.Header{"Sec-Websocket-Protocol": {"chat"}} }), "set by the handshake"},
		"extra Content-Length":    {with(func(a *args) { a.extra = http.Header{"Content-Length": {"1"}} }), "set by the handshake"},
		"extra Transfer-Encoding": {with(func(a *args) { a.extra = http.Header{"Transfer-Encoding": {"chunked"}} }), "set by the handshake"},
	} {
		t.Run(name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := AppendRequest(dst, tc.a.host, tc.a.target, tc.a.key, tc.a.protocols, tc.a.extensions, tc.a.extra)
			requireStatus(t, err, 0, tc.msg)
			assert.Equal(t, "keep", string(out))
		})
	}
}
