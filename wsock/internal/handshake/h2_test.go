package handshake

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumH2Request is the extended CONNECT Chromium sends for
// new WebSocket("wss://localhost:8443/chat", ["chat"]) on an HTTP/2
// connection, as net/http's server presents it.
func chromiumH2Request() *http.Request {
	r := &http.Request{
		Method:     http.MethodConnect,
		URL:        &url.URL{Path: "/chat", RawQuery: "room=1"},
		RequestURI: "/chat?room=1",   // the :path
		Host:       "localhost:8443", // the :authority
		Proto:      "HTTP/2.0", ProtoMajor: 2,
		ContentLength: -1,
	}
	r.Header = http.Header{
		":protocol":                {"websocket"},
		"Origin":                   {"https://localhost:8443"},
		"Sec-Websocket-Version":    {"13"},
		"Sec-Websocket-Protocol":   {"chat"},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
		"User-Agent":               {"Mozilla/5.0 HeadlessChrome/156.0.0.0"},
	}
	return r
}

func TestCheckExtendedConnectAcceptsChromiumsRequest(t *testing.T) {
	req := FromHTTP(chromiumH2Request())
	require.True(t, req.IsExtendedConnect())
	require.NoError(t, req.CheckExtendedConnect())
	assert.Equal(t, "/chat?room=1", req.Target)
	assert.Equal(t, "localhost:8443", req.Host)
	assert.Equal(t, []string{"chat"}, req.Protocols)
	assert.Equal(t, "permessage-deflate; client_max_window_bits", req.Extensions)
	assert.Empty(t, req.Key)
	assert.NotContains(t, req.Header, "Content-Length", "the stream is no body")
}

func TestIsExtendedConnectWantsHTTP2ConnectWithProtocol(t *testing.T) {
	for name, tc := range map[string]struct {
		adjust func(r *http.Request)
		want   bool
	}{
		"chromium":         {func(*http.Request) {}, true},
		"HTTP/1.1 CONNECT": {func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1 }, false},
		"plain CONNECT":    {func(r *http.Request) { delete(r.Header, ":protocol") }, false},
		"GET":              {func(r *http.Request) { r.Method = http.MethodGet }, false},
	} {
		t.Run(name, func(t *testing.T) {
			r := chromiumH2Request()
			tc.adjust(r)
			assert.Equal(t, tc.want, FromHTTP(r).IsExtendedConnect())
		})
	}
}

func TestCheckExtendedConnectRejectsBadRequests(t *testing.T) {
	for name, tc := range map[string]struct {
		adjust func(r *Request)
		status int
		msg    string
	}{
		"not extended CONNECT": {func(r *Request) { r.Method = "GET" }, 400, "not an HTTP/2 extended CONNECT"},
		"other protocol":       {func(r *Request) { r.Header[":protocol"] = []string{"connect-udp"} }, 400, "is not websocket"},
		"two protocols":        {func(r *Request) { r.Header[":protocol"] = []string{"websocket", "websocket"} }, 400, "is not websocket"},
		"asterisk path":        {func(r *Request) { r.Target = "*" }, 400, "invalid :path"},
		"absolute path":        {func(r *Request) { r.Target = "https://a/b" }, 400, "invalid :path"},
		"no authority":         {func(r *Request) { r.Host = ""; delete(r.Header, "Host") }, 400, "missing :authority"},
		"bad authority":        {func(r *Request) { r.Host = "a b"; r.Header["Host"] = []string{"a b"} }, 400, "invalid :authority"},
		"no version":           {func(r *Request) { r.Version = "" }, 426, "unsupported Sec-WebSocket-Version"},
		"old version":          {func(r *Request) { r.Version = "8" }, 426, "unsupported Sec-WebSocket-Version"},
		"two versions":         {func(r *Request) { r.Header["Sec-Websocket-Version"] = []string{"13", "13"} }, 400, "more than one Sec-WebSocket-Version"},
		"two origins":          {func(r *Request) { r.Header["Origin"] = []string{"https://a", "https://b"} }, 400, "more than one Origin"},
		"bad subprotocol":      {func(r *Request) { r.Protocols = []string{"a b"} }, 400, "invalid subprotocol"},
	} {
		t.Run(name, func(t *testing.T) {
			req := FromHTTP(chromiumH2Request())
			tc.adjust(req)
			err := req.CheckExtendedConnect()
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Equal(t, tc.status, e.Status)
			assert.Contains(t, e.Msg, tc.msg)
			if tc.status == http.StatusUpgradeRequired {
				assert.Equal(t, "13", e.Header.Get("Sec-WebSocket-Version"))
			}
		})
	}
}

func TestExtendedConnectAcceptBuildsTheAnswerHeader(t *testing.T) {
	h, err := ExtendedConnectAccept("chat", "permessage-deflate", http.Header{"Set-Cookie": {"a=b"}})
	require.NoError(t, err)
	assert.Equal(t, http.Header{
		"Sec-Websocket-Protocol":   {"chat"},
		"Sec-Websocket-Extensions": {"permessage-deflate"},
		"Set-Cookie":               {"a=b"},
	}, h)
	assert.NotContains(t, h, "Sec-Websocket-Accept", "RFC 8441 §5: no accept key")
}

func TestExtendedConnectAcceptRefusesBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		protocol string
		extra    http.Header
	}{
		"subprotocol not a token":  {"a b", nil},
		"header injection":         {"", http.Header{"X": {"a\r\nB: c"}}},
		"connection-specific":      {"", http.Header{"Connection": {"close"}}},
		"accept key":               {"", http.Header{"Sec-WebSocket-Accept": {"x"}}},
		"framing":                  {"", http.Header{"Content-Length": {"0"}}},
		"subprotocol in extra":     {"", http.Header{"Sec-Websocket-Protocol": {"chat"}}},
		"invalid field name":       {"", http.Header{"A B": {"c"}}},
		"transfer-coding in extra": {"", http.Header{"Transfer-Encoding": {"chunked"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ExtendedConnectAccept(tc.protocol, "", tc.extra)
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Zero(t, e.Status)
		})
	}
}

func TestExtendedConnectRequestBuildsTheRequestHeader(t *testing.T) {
	h, err := ExtendedConnectRequest([]string{"chat", "superchat"}, "permessage-deflate", http.Header{"Origin": {"https://a"}})
	require.NoError(t, err)
	assert.Equal(t, http.Header{
		"Sec-Websocket-Version":    {"13"},
		"Sec-Websocket-Protocol":   {"chat, superchat"},
		"Sec-Websocket-Extensions": {"permessage-deflate"},
		"Origin":                   {"https://a"},
	}, h)
	assert.NotContains(t, h, "Sec-Websocket-Key", "RFC 8441 §5: no key")
}

func TestExtendedConnectRequestRefusesBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		protocols []string
		extra     http.Header
	}{
		"subprotocol not a token": {[]string{"a b"}, nil},
		"subprotocol twice":       {[]string{"a", "a"}, nil},
		"header injection":        {nil, http.Header{"X": {"a\nB: c"}}},
		"host":                    {nil, http.Header{"Host": {"a"}}},
		"upgrade":                 {nil, http.Header{"Upgrade": {"websocket"}}},
		"key":                     {nil, http.Header{"Sec-Websocket-Key": {"x"}}},
		"version":                 {nil, http.Header{"Sec-Websocket-Version": {"13"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ExtendedConnectRequest(tc.protocols, "", tc.extra)
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Zero(t, e.Status)
		})
	}
}

func TestCheckExtendedConnectAnswer(t *testing.T) {
	for name, tc := range map[string]struct {
		status   int
		header   http.Header
		protocol string
		ext      string
		msg      string
	}{
		"200":                  {200, http.Header{}, "", "", ""},
		"with choices":         {200, http.Header{"Sec-Websocket-Protocol": {"b"}, "Sec-Websocket-Extensions": {"permessage-deflate"}}, "b", "permessage-deflate", ""},
		"other 2xx":            {204, nil, "", "", ""},
		"101":                  {101, nil, "", "", "unexpected status 101"},
		"403":                  {403, nil, "", "", "unexpected status 403"},
		"subprotocol not ours": {200, http.Header{"Sec-Websocket-Protocol": {"c"}}, "", "", "did not offer"},
		"two subprotocols":     {200, http.Header{"Sec-Websocket-Protocol": {"a", "b"}}, "", "", "more than one"},
	} {
		t.Run(name, func(t *testing.T) {
			protocol, ext, err := CheckExtendedConnectAnswer(tc.status, tc.header, []string{"a", "b"})
			if tc.msg != "" {
				var e *Error
				require.True(t, errors.As(err, &e), "%v", err)
				assert.Zero(t, e.Status)
				assert.Contains(t, e.Msg, tc.msg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.protocol, protocol)
			assert.Equal(t, tc.ext, ext)
		})
	}
}
