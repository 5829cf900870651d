package proto

import "strconv"

// Role is the side of the connection an endpoint plays. It decides the masking rules: a
// client masks every frame it sends and a server masks none (RFC 6455 §5.1).
type Role uint8

// The two roles.
const (
	Client Role = iota + 1
	Server
)

// Opcode is a frame's opcode (RFC 6455 §5.2).
type Opcode uint8

// The opcodes RFC 6455 defines; every other value is reserved and fails the connection.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is in the control range (0x8–0xF), reserved control opcodes
// included: such frames must be final and carry at most 125 bytes.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// known reports whether RFC 6455 defines o.
func (o Opcode) known() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}

// String returns the opcode's name ("text", "ping", ...) or "Opcode(0x3)" for reserved values.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "Opcode(0x" + strconv.FormatUint(uint64(o), 16) + ")"
}
