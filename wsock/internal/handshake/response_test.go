package handshake

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfcResponse is the server handshake of RFC 6455 §1.2–1.3, byte for byte.
const rfcResponse = "HTTP/1.1 101 Switching Protocols\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
	"Sec-WebSocket-Protocol: chat\r\n" +
	"\r\n"

const rfcKey = "dGhlIHNhbXBsZSBub25jZQ=="

func TestAppendAcceptWritesRFC6455Example(t *testing.T) {
	out, err := AppendAccept(nil, rfcKey, "chat", "", nil)
	require.NoError(t, err)
	assert.Equal(t, rfcResponse, string(out))
}

func TestAppendAcceptWritesExtensionsAndSortedExtras(t *testing.T) {
	out, err := AppendAccept([]byte("x"), rfcKey, "", "permessage-deflate; server_no_context_takeover",
		http.Header{"Set-Cookie": {"a=1", "b=2"}, "Date": {"today"}})
	require.NoError(t, err)
	assert.Equal(t, "xHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"+
		"Date: today\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n", string(out))
}

func TestAppendAcceptRefusesInvalidInput(t *testing.T) {
	for name, tc := range map[string]struct {
		protocol, extensions string
		extra                http.Header
		msg                  string
	}{
		"non-token protocol":   {protocol: "chat\r\nX: y", msg: "invalid subprotocol"},
		"CRLF in extensions":   {extensions: "a\nb", msg: "invalid character"},
		"CRLF in extra":        {extra: http.Header{"X": {"\r\n"}}, msg: "invalid character"},
		"extra Accept":         {extra: http.Header{"Sec-WebSocket-Accept": {"x"}}, msg: "set by the handshake"},
		"extra Connection":     {extra: http.Header{"Connection": {"close"}}, msg: "set by the handshake"},
		"extra Content-Length": {extra: http.Header{"Content-Length": {"0"}}, msg: "set by the handshake"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := AppendAccept([]byte("keep"), rfcKey, tc.protocol, tc.extensions, tc.extra)
			requireStatus(t, err, 0, tc.msg)
			assert.Equal(t, "keep", string(out))
		})
	}
}

func TestParseResponseReadsRFC6455Example(t *testing.T) {
	resp, n, err := ParseResponse([]byte(rfcResponse+"\x81\x00"), Limits{})
	require.NoError(t, err)
	assert.Equal(t, len(rfcResponse), n)
	assert.Equal(t, &Response{
		Status: 101,
		Reason: "Switching Protocols",
		Proto:  "HTTP/1.1",
		Header: http.Header{
			"Upgrade":                {"websocket"},
			"Connection":             {"Upgrade"},
			"Sec-Websocket-Accept":   {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
			"Sec-Websocket-Protocol": {"chat"},
		},
	}, resp)
	protocol, extensions, err := resp.CheckAccept(rfcKey, []string{"chat", "superchat"})
	require.NoError(t, err)
	assert.Equal(t, "chat", protocol)
	assert.Empty(t, extensions)
}

func TestParseResponseByteByByteGivesTheWholeResult(t *testing.T) {
	parse := func(b []byte) (*Response, int, error) { return ParseResponse(b, Limits{MaxHeaderBytes: 200}) }
	for name, in := range map[string][]byte{
		"rfc example": []byte(rfcResponse),
		"rejection":   crlf("HTTP/1.1 403 Forbidden\nContent-Length: 2\n\nno"),
		"bad length":  crlf("HTTP/1.1 403 Forbidden\nContent-Length: 2, 3\n\n"),
		"bad field":   crlf("HTTP/1.1 101 OK\nA\x00: b\n\n"),
		"oversize":    crlf("HTTP/1.1 101 OK\nA: " + strings.Repeat("b", 200) + "\n\n"),
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

func TestParseResponseReadsStatusLines(t *testing.T) {
	for line, want := range map[string]Response{
		"HTTP/1.1 101 Switching Protocols": {Status: 101, Reason: "Switching Protocols", Proto: "HTTP/1.1"},
		"HTTP/1.1 101":                     {Status: 101, Proto: "HTTP/1.1"},
		"HTTP/1.1 400 ":                    {Status: 400, Proto: "HTTP/1.1"},
		"HTTP/1.1 100 Continue":            {Status: 100, Reason: "Continue", Proto: "HTTP/1.1"},
		"HTTP/1.0 503 Service Unavailable": {Status: 503, Reason: "Service Unavailable", Proto: "HTTP/1.0"},
		"HTTP/1.1 999 \tOdd\xff reason ":   {Status: 999, Reason: "\tOdd\xff reason ", Proto: "HTTP/1.1"},
	} {
		resp, _, err := ParseResponse([]byte(line+"\r\n\r\n"), Limits{})
		require.NoError(t, err, line)
		want.Header = http.Header{}
		assert.Equal(t, &want, resp, line)
	}
}

func TestParseResponseRejectsMalformedHeadsAsPlainErrors(t *testing.T) {
	for name, tc := range map[string]struct{ in, msg string }{
		"two-digit status":   {"HTTP/1.1 10 X\r\n\r\n", "malformed status line"},
		"status below 100":   {"HTTP/1.1 099 X\r\n\r\n", "malformed status code"},
		"letters in status":  {"HTTP/1.1 1O1 X\r\n\r\n", "malformed status code"},
		"double space":       {"HTTP/1.1  101 X\r\n\r\n", "malformed status line"},
		"no space after":     {"HTTP/1.1 101X\r\n\r\n", "malformed status line"},
		"HTTP/2":             {"HTTP/2 101 X\r\n\r\n", "malformed"},
		"lower case":         {"http/1.1 101 X\r\n\r\n", "malformed HTTP version"},
		"CR in reason":       {"HTTP/1.1 101 X\rY\r\n\r\n", "invalid character in reason"},
		"folding":            {"HTTP/1.1 101 X\r\nA: b\r\n c\r\n\r\n", "folding"},
		"bare LF":            {"HTTP/1.1 101 X\nA: b\n\n", "bare LF"},
		"space before colon": {"HTTP/1.1 101 X\r\nA : b\r\n\r\n", "whitespace before colon"},
		"bad length":         {"HTTP/1.1 400 X\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
		"empty length":       {"HTTP/1.1 400 X\r\nContent-Length:\r\n\r\n", "invalid Content-Length"},
		"two lengths":        {"HTTP/1.1 400 X\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "invalid Content-Length"},
		"oversize":           {"HTTP/1.1 101 X\r\nA: " + strings.Repeat("b", 8192) + "\r\n\r\n", "larger than 8192 bytes"},
		"too many fields":    {"HTTP/1.1 101 X\r\n" + strings.Repeat("A: b\r\n", 101) + "\r\n", "more than 100 header fields"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, n, err := ParseResponse([]byte(tc.in), Limits{})
			requireStatus(t, err, 0, tc.msg)
			assert.Nil(t, resp)
			assert.Zero(t, n)
		})
	}
}

// accept returns a valid 101 for rfcKey with the fields in edits replaced
// (or, with an empty value, removed) and extra lines appended.
func accept(edits map[string]string, extra ...string) *Response {
	lines := []string{"HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
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
	resp, _, err := ParseResponse([]byte(strings.Join(out, "\r\n")+"\r\n\r\n"), Limits{})
	if err != nil {
		panic(err)
	}
	return resp
}

func TestCheckAcceptAcceptsValidAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		resp                 *Response
		offered              []string
		protocol, extensions string
	}{
		"plain":            {resp: accept(nil)},
		"case-insensitive": {resp: accept(map[string]string{"Upgrade": "Upgrade: WEBSOCKET", "Connection": "Connection: upgrade"})},
		"connection list":  {resp: accept(map[string]string{"Connection": "Connection: keep-alive, Upgrade"})},
		"offered protocol": {resp: accept(nil, "Sec-WebSocket-Protocol: superchat"), offered: []string{"chat", "superchat"}, protocol: "superchat"},
		"no protocol":      {resp: accept(nil), offered: []string{"chat"}},
		"empty protocol":   {resp: accept(nil, "Sec-WebSocket-Protocol:"), offered: []string{"chat"}},
		"extensions":       {resp: accept(nil, "Sec-WebSocket-Extensions: a", "Sec-WebSocket-Extensions: b; c=1"), extensions: "a, b; c=1"},
	} {
		t.Run(name, func(t *testing.T) {
			protocol, extensions, err := tc.resp.CheckAccept(rfcKey, tc.offered)
			require.NoError(t, err)
			assert.Equal(t, tc.protocol, protocol)
			assert.Equal(t, tc.extensions, extensions)
		})
	}
}

func TestCheckAcceptRejectsInvalidAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		resp    *Response
		offered []string
		msg     string
	}{
		"not 101":            {accept(map[string]string{"HTTP/1.1 101 Switching Protocols": "HTTP/1.1 200 OK"}), nil, "unexpected status 200"},
		"HTTP/1.0":           {accept(map[string]string{"HTTP/1.1 101 Switching Protocols": "HTTP/1.0 101 Switching Protocols"}), nil, "older than HTTP/1.1"},
		"no Upgrade":         {accept(map[string]string{"Upgrade": ""}), nil, "Upgrade header"},
		"other Upgrade":      {accept(map[string]string{"Upgrade": "Upgrade: h2c"}), nil, "Upgrade header"},
		"no Connection":      {accept(map[string]string{"Connection": ""}), nil, "Connection header"},
		"Connection close":   {accept(map[string]string{"Connection": "Connection: close"}), nil, "Connection header"},
		"no Accept":          {accept(map[string]string{"Sec-WebSocket-Accept": ""}), nil, "got 0"},
		"two Accepts":        {accept(nil, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), nil, "got 2"},
		"wrong Accept":       {accept(map[string]string{"Sec-WebSocket-Accept": "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="}), nil, "does not match"},
		"unoffered protocol": {accept(nil, "Sec-WebSocket-Protocol: chat"), []string{"superchat"}, "did not offer"},
		"protocol unasked":   {accept(nil, "Sec-WebSocket-Protocol: chat"), nil, "did not offer"},
		"protocol list":      {accept(nil, "Sec-WebSocket-Protocol: chat, superchat"), []string{"chat", "superchat"}, "did not offer"},
		"protocol case":      {accept(nil, "Sec-WebSocket-Protocol: Chat"), []string{"chat"}, "did not offer"},
		"two protocols":      {accept(nil, "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"), []string{"chat"}, "more than one"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := tc.resp.CheckAccept(rfcKey, tc.offered)
			requireStatus(t, err, 0, tc.msg)
		})
	}
}

func TestBodyLengthFollowsRFC9112(t *testing.T) {
	for name, tc := range map[string]struct {
		head    string
		n       int64
		chunked bool
	}{
		"length":            {"HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\n\r\n", 12, false},
		"repeated length":   {"HTTP/1.1 403 Forbidden\r\nContent-Length: 12, 12\r\nContent-Length: 12\r\n\r\n", 12, false},
		"zero":              {"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 0, false},
		"chunked":           {"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n", -1, true},
		"chunked last":      {"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n", -1, true},
		"chunked wins":      {"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -1, true},
		"chunked not last":  {"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", -1, false},
		"until EOF":         {"HTTP/1.1 403 Forbidden\r\n\r\n", -1, false},
		"no content":        {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, false},
		"not modified":      {"HTTP/1.1 304 Not Modified\r\n\r\n", 0, false},
		"interim":           {"HTTP/1.1 100 Continue\r\n\r\n", 0, false},
		"switching":         {"HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, false},
		"redirect":          {"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 3\r\n\r\n", 3, false},
		"server error body": {"HTTP/1.0 500 Oops\r\n\r\n", -1, false},
	} {
		t.Run(name, func(t *testing.T) {
			resp, _, err := ParseResponse([]byte(tc.head), Limits{})
			require.NoError(t, err)
			n, chunked := resp.BodyLength()
			assert.Equal(t, tc.n, n)
			assert.Equal(t, tc.chunked, chunked)
		})
	}
}

func TestAppendRejectWritesStatusHeadersAndBody(t *testing.T) {
	out, err := AppendReject([]byte("x"), http.StatusForbidden,
		http.Header{"Content-Type": {"text/plain"}, "X-Reason": {"origin"}}, []byte("go away"))
	require.NoError(t, err)
	assert.Equal(t, "xHTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: origin\r\n"+
		"Content-Length: 7\r\nConnection: close\r\n\r\ngo away", string(out))

	// A client reads it back whole.
	resp, n, err := ParseResponse(out[1:], Limits{})
	require.NoError(t, err)
	assert.Equal(t, 403, resp.Status)
	length, chunked := resp.BodyLength()
	assert.False(t, chunked)
	assert.Equal(t, "go away", string(out[1+n:1+n+int(length)]))
}

func TestAppendRejectAnswersCheckErrors(t *testing.T) {
	req, _, err := ParseRequest(upgrade(map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 8"}), Limits{})
	require.NoError(t, err)
	e := requireStatus(t, req.Check(), http.StatusUpgradeRequired, "want 13")
	out, err := AppendReject(nil, e.Status, e.Header, nil)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 426 Upgrade Required\r\nSec-Websocket-Version: 13\r\n"+
		"Content-Length: 0\r\nConnection: close\r\n\r\n", string(out))
}

func TestAppendRejectOmitsBodyFramingForNoContent(t *testing.T) {
	out, err := AppendReject(nil, http.StatusNoContent, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", string(out))
}

func TestAppendRejectLeavesUnknownReasonsEmpty(t *testing.T) {
	out, err := AppendReject(nil, 599, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 599 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n", string(out))
}

func TestAppendRejectRefusesInvalidInput(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		h      http.Header
		body   string
		msg    string
	}{
		"interim status":  {status: 101, msg: "not 200-599"},
		"status too big":  {status: 600, msg: "not 200-599"},
		"no-content body": {status: 304, body: "x", msg: "takes no body"},
		"CRLF injection":  {status: 400, h: http.Header{"X": {"a\r\nSet-Cookie: evil"}}, msg: "invalid character"},
		"own Connection":  {status: 400, h: http.Header{"Connection": {"keep-alive"}}, msg: "set by the handshake"},
		"own length":      {status: 400, h: http.Header{"content-length": {"3"}}, msg: "set by the handshake"},
		"chunking":        {status: 400, h: http.Header{"Transfer-Encoding": {"chunked"}}, msg: "set by the handshake"},
		"bad name":        {status: 400, h: http.Header{"X:Y": {"1"}}, msg: "invalid header field name"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := AppendReject([]byte("keep"), tc.status, tc.h, []byte(tc.body))
			requireStatus(t, err, 0, tc.msg)
			assert.Equal(t, "keep", string(out))
		})
	}
}
