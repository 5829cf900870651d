// Package handshake implements the WebSocket opening handshake of RFC 6455 §4
// for both roles, sans-IO: it parses and builds HTTP/1.1 heads held in byte
// slices and never touches a socket, a goroutine or a clock. The connection
// layer in package wsock does the reading and writing.
//
// A server accumulates bytes until ParseRequest returns a request, checks it,
// and answers:
//
//	req, n, err := handshake.ParseRequest(buf, handshake.Limits{})
//	switch {
//	case err != nil: // *Error: answer with AppendReject(nil, e.Status, e.Header, msg)
//	case n == 0:     // need more bytes
//	default:
//		if err := req.Check(); err != nil { /* reject as above */ }
//		out, err := handshake.AppendAccept(nil, req.Key, protocol, extensions, nil)
//		// write out; buf[n:] already holds the first frames
//	}
//
// A client builds its request with NewKey and AppendRequest, parses the answer
// with ParseResponse, and either checks a 101 with CheckAccept or reads a
// rejection's body as BodyLength and DecodeChunked say.
//
// Over HTTP/2 (RFC 8441) the handshake is an extended CONNECT whose heads
// the HTTP/2 layer frames: a server checks the request net/http parsed with
// FromHTTP, IsExtendedConnect and CheckExtendedConnect and answers 200 with
// ExtendedConnectAccept's header; a client sends ExtendedConnectRequest's
// header and checks the answer with CheckExtendedConnectAnswer.
//
// Parsing is strict, as RFC 9112 allows a recipient to be: lines end in CRLF,
// and obsolete line folding, whitespace before a colon, bare CR or LF and
// control characters are errors. Every head is bounded by Limits. The Append
// functions refuse values that could inject header lines rather than drop them.
package handshake
