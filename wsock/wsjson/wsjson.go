// Package wsjson sends and receives JSON values as WebSocket text messages.
//
// Each value is one text message: Send encodes v into a pooled buffer and sends it with
// (*wsock.Conn).Send; Receive takes the next message with (*wsock.Conn).Receive, decodes
// it into v and gives the message's buffer back (Message.Release).
//
// What a message that does not decode does to the connection depends on whose fault it is:
//
//   - A text message that is valid JSON but does not fit v (a string for an int field, say)
//     is the application's business: Receive returns a *DecodeError and the connection is
//     left as it was; the next Receive reads the next message.
//   - A text message that is not JSON at all, or a binary message, means the peer does not
//     speak this connection's protocol: Receive closes the connection (1007 Invalid
//     Payload for bad JSON, 1003 Unsupported Data for a binary message, as
//     coder/websocket's wsjson does) and returns a *DecodeError. The close handshake is
//     bounded by the connection's DisconnectTimeout.
//
// Both errors match ErrDecode with errors.Is, and errors.As finds the *json.SyntaxError or
// *json.UnmarshalTypeError behind them.
package wsjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/gotrio/gotrio/wsock"
)

// ErrDecode matches every *DecodeError.
var ErrDecode = errors.New("wsjson: cannot decode message")

// DecodeError reports a message that Receive could not decode into the value.
type DecodeError struct {
	// Type is the type of the message received.
	Type wsock.MessageType
	// Closed is true when Receive closed the connection because of the message (it was
	// binary, or not JSON), false when the connection is still usable.
	Closed bool

	err error // json's error; nil for a binary message
}

// Error describes the message and why it did not decode.
func (e *DecodeError) Error() string {
	s := "wsjson: receive: cannot decode " + e.Type.String() + " message"
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	if e.Closed {
		s += " (connection closed)"
	}
	return s
}

// Is makes every *DecodeError match ErrDecode.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// Unwrap returns the decoder's error, if any.
func (e *DecodeError) Unwrap() error { return e.err }

// maxPooled is the largest encoding buffer given back to the pool, so that one huge value
// does not keep its buffer alive forever.
const maxPooled = 64 << 10

// encoder is a buffer with a json.Encoder writing into it, pooled together.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// Send encodes v as JSON (as json.Marshal does) and sends it as one text message, as
// (*wsock.Conn).Send does. An error from encoding is returned before anything is sent and
// leaves the connection as it was; errors from Send are returned as they are.
func Send(ctx context.Context, c *wsock.Conn, v any) error {
	e := encoders.Get().(*encoder)
	defer func() {
		if e.buf.Cap() <= maxPooled {
			e.buf.Reset()
			encoders.Put(e)
		}
	}()
	if err := e.enc.Encode(v); err != nil {
		return fmt.Errorf("wsjson: send: encode %T: %w", v, err)
	}
	b := e.buf.Bytes()
	return c.Send(ctx, wsock.TextMessage, b[:len(b)-1]) // without Encode's newline
}

// Receive receives the next message and decodes it into v, which must be a non-nil
// pointer, as json.Unmarshal does. Errors from (*wsock.Conn).Receive, such as ctx's or a
// *wsock.ClosedError, are returned as they are; a message that does not decode is a
// *DecodeError (see the package doc for when it closes the connection).
func Receive(ctx context.Context, c *wsock.Conn, v any) error {
	msg, err := c.Receive(ctx)
	if err != nil {
		return err
	}
	defer msg.Release()
	if msg.Type != wsock.TextMessage {
		_ = c.Close(wsock.UnsupportedData, "expected a JSON text message")
		return &DecodeError{Type: msg.Type, Closed: true}
	}
	err = json.Unmarshal(msg.Data, v)
	if err == nil {
		return nil
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		_ = c.Close(wsock.InvalidPayload, "message is not JSON")
		return &DecodeError{Type: msg.Type, Closed: true, err: err}
	}
	return &DecodeError{Type: msg.Type, err: err}
}
