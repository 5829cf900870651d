package handshake

import (
	"net/http"
	"strconv"
)

// Error is a failed opening handshake.
//
// Status is the HTTP status a server should answer with (400 for a malformed
// or non-WebSocket request, 431 for a head over the limits, 426 for an
// unsupported Sec-WebSocket-Version) and Header holds header fields that
// answer must carry (Sec-WebSocket-Version: 13 with a 426). Status is 0 for
// errors found in a response or in a client's own arguments: there is nobody
// to answer.
type Error struct {
	Status int
	Msg    string
	Header http.Header
}

// Error returns "websocket handshake: " followed by Msg.
func (e *Error) Error() string { return "websocket handshake: " + e.Msg }

// badRequest is a 400 answer to a malformed or non-WebSocket request.
func badRequest(msg string) *Error { return &Error{Status: http.StatusBadRequest, Msg: msg} }

// tooLarge is a 431 answer to a request head over the limits.
func tooLarge(msg string) *Error {
	return &Error{Status: http.StatusRequestHeaderFieldsTooLarge, Msg: msg}
}

// badVersion is the 426 answer RFC 6455 §4.2.2 asks for when the client
// speaks a version we do not.
func badVersion(got string) *Error {
	return &Error{
		Status: http.StatusUpgradeRequired,
		Msg:    "unsupported Sec-WebSocket-Version " + strconv.Quote(got) + ", want 13",
		Header: http.Header{"Sec-Websocket-Version": {"13"}},
	}
}

// failed is an error with no status to answer: a bad response or bad arguments.
func failed(msg string) *Error { return &Error{Msg: msg} }

// quote quotes peer-supplied text for an error message, cut to a readable length.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
