package wsock

import (
	"errors"
	"strings"

	"github.com/gotrio/gotrio/wsock/internal/handshake"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// handshakeError is the type of the handshake sentinels: each one is itself and matches
// ErrHandshake.
type handshakeError struct{ msg string }

func (e *handshakeError) Error() string { return e.msg }

// Is makes every handshake sentinel match ErrHandshake.
func (e *handshakeError) Is(target error) bool { return target == ErrHandshake }

// Timeout reports whether the error is a timeout, as net.Error does.
func (e *handshakeError) Timeout() bool { return e != ErrHandshake }

var (
	// ErrHandshake matches every failure of an opening or a closing handshake that was
	// attempted: dial and TLS errors, rejected (*RejectedError) or malformed handshakes,
	// ErrConnectTimeout and ErrDisconnectTimeout. It does not match ErrBadURL nor
	// ErrBadOption: nothing is attempted then, and retrying cannot help.
	ErrHandshake error = &handshakeError{"wsock: handshake failed"}

	// ErrConnectTimeout reports that connecting and the opening handshake did not finish
	// within ConnectTimeout. It matches ErrHandshake; it does not match
	// context.DeadlineExceeded, so that nurseries do not mistake it for a cancellation.
	ErrConnectTimeout error = &handshakeError{"wsock: connect timeout"}

	// ErrDisconnectTimeout reports that the closing handshake did not finish within
	// DisconnectTimeout: the peer did not answer our Close frame in time, and the TCP
	// connection was closed anyway. It matches ErrHandshake.
	ErrDisconnectTimeout error = &handshakeError{"wsock: disconnect timeout"}

	// ErrBadURL matches the failure of Open and Connect on a URL they cannot use: one
	// that does not parse, whose scheme is not ws or wss, or that has no host. Nothing
	// is dialled.
	ErrBadURL = errors.New("wsock: bad URL")

	// ErrBadOption matches the failure of a call given an invalid option: a compression
	// level out of range, a handshake header field the handshake sets itself, a
	// subprotocol that is not an HTTP token, an AcceptOptions.Subprotocol the client did
	// not propose. Nothing is sent.
	ErrBadOption = errors.New("wsock: bad option")

	// ErrKeepAliveTimeout is the cause of a connection that keep-alive gave up on: a
	// ping got no pong within KeepAliveOptions.Timeout. The *ClosedError of such a
	// connection (1006, AbnormalClosure) unwraps to it.
	ErrKeepAliveTimeout = errors.New("wsock: keepalive: no pong within the keep-alive timeout")

	// ErrClosed matches every *ClosedError: errors.Is(err, ErrClosed) tells whether an
	// operation failed because the connection is closing or closed.
	ErrClosed = errors.New("wsock: connection closed")
)

// ClosedError is returned by operations on a connection that is closing or closed. Reason
// says how it closed: the peer's Close frame, the code we failed the connection with, or
// AbnormalClosure (1006) when the TCP connection ended without a close handshake. While our
// own close handshake is in progress, it is the code and reason we sent.
type ClosedError struct {
	Reason *CloseReason

	err error // what ended the connection, for abnormal closures (an I/O error)
}

// Error returns "wsock: connection closed: CODE (NAME): REASON".
func (e *ClosedError) Error() string {
	s := "wsock: connection closed"
	if e.Reason != nil {
		s += ": " + e.Reason.String()
	}
	var pe *proto.Error
	if e.err != nil && (!errors.As(e.err, &pe) || e.Reason == nil || pe.Reason != e.Reason.Reason) {
		// A protocol violation's text is the reason already given.
		s += ": " + strings.TrimPrefix(e.err.Error(), "wsock: ")
	}
	return s
}

// Is makes every *ClosedError match ErrClosed.
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// Unwrap returns the I/O error that ended the connection abnormally, if any.
func (e *ClosedError) Unwrap() error { return e.err }

// CloseStatus returns the close code of err: the Reason.Code of the *ClosedError in err's
// chain (AbnormalClosure for a connection that ended without a close handshake), or -1
// if there is none, as for nil and for errors that did not come from a closed
// connection.
//
//	if wsock.CloseStatus(err) == wsock.NormalClosure { ... }
func CloseStatus(err error) StatusCode {
	var ce *ClosedError
	if errors.As(err, &ce) && ce.Reason != nil {
		return ce.Reason.Code
	}
	return -1
}

// usageError is a bad URL or a bad option: "bad URL: why", matching its sentinel.
type usageError struct {
	kind error // ErrBadURL or ErrBadOption
	msg  string
}

func (e *usageError) Error() string {
	return strings.TrimPrefix(e.kind.Error(), "wsock: ") + ": " + e.msg
}

func (e *usageError) Is(target error) bool { return target == e.kind }

func badURL(msg string) error    { return &usageError{ErrBadURL, msg} }
func badOption(msg string) error { return &usageError{ErrBadOption, msg} }

// badOptionFrom is the engine's refusal to build a handshake from our
// arguments, as a bad option.
func badOptionFrom(err error) error {
	var he *handshake.Error
	if errors.As(err, &he) {
		return badOption(he.Msg)
	}
	return badOption(err.Error())
}

// opError is the failure of an operation on a target: "wsock: VERB TARGET: CAUSE". The
// cause's own "wsock: " prefix is dropped, so that the text says it once.
type opError struct {
	op  string // "open ws://example.com/chat", "accept", "listen"
	err error
}

func (e *opError) Error() string {
	return "wsock: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "wsock: ")
}

func (e *opError) Unwrap() error { return e.err }
