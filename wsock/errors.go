package wsock

import "errors"

// handshakeError is the type of the handshake sentinels: each one is itself and matches
// ErrHandshake.
type handshakeError struct{ msg string }

func (e *handshakeError) Error() string { return e.msg }

// Is makes every handshake sentinel match ErrHandshake.
func (e *handshakeError) Is(target error) bool { return target == ErrHandshake }

// Timeout reports whether the error is a timeout, as net.Error does.
func (e *handshakeError) Timeout() bool { return e != ErrHandshake }

var (
	// ErrHandshake matches every failure to open or to close a connection's handshake:
	// dial errors, rejected or malformed handshakes, ErrConnectTimeout and
	// ErrDisconnectTimeout.
	ErrHandshake error = &handshakeError{"wsock: handshake failed"}

	// ErrConnectTimeout reports that connecting and the opening handshake did not finish
	// within ConnectTimeout. It matches ErrHandshake; it does not match
	// context.DeadlineExceeded, so that nurseries do not mistake it for a cancellation.
	ErrConnectTimeout error = &handshakeError{"wsock: connect timeout"}

	// ErrDisconnectTimeout reports that the closing handshake did not finish within
	// DisconnectTimeout: the peer did not answer our Close frame in time, and the TCP
	// connection was closed anyway. It matches ErrHandshake.
	ErrDisconnectTimeout error = &handshakeError{"wsock: disconnect timeout"}

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
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Is makes every *ClosedError match ErrClosed.
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// Unwrap returns the I/O error that ended the connection abnormally, if any.
func (e *ClosedError) Unwrap() error { return e.err }
