package wsock

import (
	"strconv"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// MessageType is the type of a data message: text (UTF-8) or binary.
type MessageType int

// The two message types, with the values of their RFC 6455 opcodes.
const (
	TextMessage   MessageType = MessageType(proto.OpText)
	BinaryMessage MessageType = MessageType(proto.OpBinary)
)

// String returns "text", "binary" or "MessageType(N)" for other values.
func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// valid reports whether t is TextMessage or BinaryMessage.
func (t MessageType) valid() bool { return t == TextMessage || t == BinaryMessage }

// Message is a whole data message, reassembled from its fragments and decompressed.
type Message struct {
	Type MessageType
	// Data is the message's payload; it belongs to the receiver, the Conn keeps no
	// reference to it.
	Data []byte
}
