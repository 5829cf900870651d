package handshake

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(rfcRequest))
	f.Add(browserRequest)
	f.Add(upgrade(nil, "Sec-WebSocket-Protocol: a, b", "Sec-WebSocket-Protocol: c", "Content-Length: 0"))
	f.Add([]byte("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\r\nHost: a\r\n\r\n\x81\x80"))
	lim := Limits{MaxHeaderBytes: 1024, MaxHeaders: 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, n, err := ParseRequest(b, lim)
		require.True(t, n >= 0 && n <= len(b), "n = %d of %d", n, len(b))
		if err != nil {
			var e *Error
			require.True(t, errors.As(err, &e))
			require.Contains(t, []int{400, 431}, e.Status)
			require.Nil(t, req)
			require.Zero(t, n)
			return
		}
		if n == 0 {
			require.Nil(t, req)
			return
		}
		require.LessOrEqual(t, n, lim.MaxHeaderBytes)
		// The head alone parses the same, and one byte less is incomplete.
		again, n2, err := ParseRequest(b[:n], lim)
		require.NoError(t, err)
		require.Equal(t, n, n2)
		require.Equal(t, req, again)
		// The header built again from the head is the one parsed.
		require.Equal(t, req.Header, req.Parsed())
		short, n3, err := ParseRequest(b[:n-1], lim)
		require.NoError(t, err)
		require.Zero(t, n3)
		require.Nil(t, short)

		if err := req.Check(); err != nil {
			var e *Error
			require.True(t, errors.As(err, &e))
			require.Contains(t, []int{400, 426}, e.Status)
			_, err := AppendReject(nil, e.Status, e.Header, []byte(e.Msg))
			require.NoError(t, err)
			return
		}
		// A valid upgrade can be answered, and the answer checks out.
		out, err := AppendAccept(nil, req.Key, "", "", nil)
		require.NoError(t, err)
		resp, _, err := ParseResponse(out, Limits{})
		require.NoError(t, err)
		_, _, err = resp.CheckAccept(req.Key, req.Protocols)
		assert.NoError(t, err)
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(rfcResponse))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n" + wiki))
	f.Add([]byte("HTTP/1.1 101\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: a\r\n\r\n"))
	lim := Limits{MaxHeaderBytes: 1024, MaxHeaders: 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, n, err := ParseResponse(b, lim)
		require.True(t, n >= 0 && n <= len(b), "n = %d of %d", n, len(b))
		if err != nil {
			var e *Error
			require.True(t, errors.As(err, &e))
			require.Zero(t, e.Status)
			require.Nil(t, resp)
			require.Zero(t, n)
			return
		}
		if n == 0 {
			require.Nil(t, resp)
			return
		}
		require.LessOrEqual(t, n, lim.MaxHeaderBytes)
		again, n2, err := ParseResponse(b[:n], lim)
		require.NoError(t, err)
		require.Equal(t, n, n2)
		require.Equal(t, resp, again)
		short, n3, err := ParseResponse(b[:n-1], lim)
		require.NoError(t, err)
		require.Zero(t, n3)
		require.Nil(t, short)

		require.True(t, resp.Status >= 100 && resp.Status <= 999)
		if protocol, _, err := resp.CheckAccept(rfcKey, []string{"chat"}); err == nil {
			require.Contains(t, []string{"", "chat"}, protocol)
		}
		length, chunked := resp.BodyLength()
		require.GreaterOrEqual(t, length, int64(-1))
		if chunked {
			checkDecodeChunked(t, b[n:])
		}
	})
}

func FuzzDecodeChunked(f *testing.F) {
	f.Add([]byte(wiki))
	f.Add([]byte("0\r\n\r\n"))
	f.Add([]byte("5\r\nhelloXX0\r\n\r\n"))
	f.Add([]byte("3;x=\"y\"\r\nabc\r\n0\r\nA: b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeChunked(t, b) })
}

// checkDecodeChunked checks DecodeChunked's contract on b: bounded results,
// and a body found in b[:n] alone, with b[:n-1] incomplete.
func checkDecodeChunked(t *testing.T, b []byte) {
	const max = 64
	body, n, done, err := DecodeChunked(b, max)
	require.True(t, n >= 0 && n <= len(b), "n = %d of %d", n, len(b))
	if err != nil || !done {
		require.Nil(t, body)
		require.Zero(t, n)
		require.False(t, done)
		return
	}
	require.LessOrEqual(t, len(body), max)
	again, n2, done2, err := DecodeChunked(b[:n], max)
	require.NoError(t, err)
	require.True(t, done2)
	require.Equal(t, n, n2)
	require.Equal(t, body, again)
	_, n3, done3, err := DecodeChunked(b[:n-1], max)
	require.NoError(t, err)
	require.False(t, done3)
	require.Zero(t, n3)
}

func FuzzCheckExtendedConnect(f *testing.F) {
	f.Add("websocket", "/chat?room=1", "localhost:8443", "13", "https://localhost:8443", "chat, superchat")
	f.Add("WebSocket", "/", "[::1]:443", "13", "", "")
	f.Add("connect-udp", "*", "", "8", "null", "a b")
	f.Fuzz(func(t *testing.T, protocol, path, authority, version, origin, subprotocols string) {
		r := &http.Request{
			Method: http.MethodConnect, RequestURI: path, Host: authority,
			Proto: "HTTP/2.0", ProtoMajor: 2, ContentLength: -1,
			Header: http.Header{
				":protocol":              {protocol},
				"Sec-Websocket-Version":  {version},
				"Origin":                 {origin},
				"Sec-Websocket-Protocol": {subprotocols},
			},
		}
		req := FromHTTP(r)
		require.True(t, req.IsExtendedConnect())
		if err := req.CheckExtendedConnect(); err != nil {
			var e *Error
			require.True(t, errors.As(err, &e))
			require.Contains(t, []int{400, 426}, e.Status)
			return
		}
		// A valid request can be answered with any subprotocol it proposed.
		for _, p := range req.Protocols {
			h, err := ExtendedConnectAccept(p, "", nil)
			require.NoError(t, err)
			_, _, err = CheckExtendedConnectAnswer(http.StatusOK, h, req.Protocols)
			require.NoError(t, err)
		}
	})
}
