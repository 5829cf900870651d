package proto

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
)

// CloseCode is the status code of a close frame (RFC 6455 §7.4, IANA "WebSocket Close Code
// Number Registry").
type CloseCode uint16

// Registered close codes. NoStatusReceived, AbnormalClosure and TLSHandshake are reported
// locally and never appear on the wire.
const (
	NormalClosure      CloseCode = 1000
	GoingAway          CloseCode = 1001
	ProtocolError      CloseCode = 1002
	UnsupportedData    CloseCode = 1003
	NoStatusReceived   CloseCode = 1005
	AbnormalClosure    CloseCode = 1006
	InvalidPayload     CloseCode = 1007
	PolicyViolation    CloseCode = 1008
	MessageTooBig      CloseCode = 1009
	MandatoryExtension CloseCode = 1010
	InternalError      CloseCode = 1011
	ServiceRestart     CloseCode = 1012
	TryAgainLater      CloseCode = 1013
	BadGateway         CloseCode = 1014
	TLSHandshake       CloseCode = 1015
)

// MaxCloseReason is the longest close reason, in bytes, that fits a control frame's 125-byte
// payload after the 2-byte code.
const MaxCloseReason = 123

var closeNames = [...]string{
	NormalClosure - 1000:      "NORMAL_CLOSURE",
	GoingAway - 1000:          "GOING_AWAY",
	ProtocolError - 1000:      "PROTOCOL_ERROR",
	UnsupportedData - 1000:    "UNSUPPORTED_DATA",
	NoStatusReceived - 1000:   "NO_STATUS_RCVD",
	AbnormalClosure - 1000:    "ABNORMAL_CLOSURE",
	InvalidPayload - 1000:     "INVALID_FRAME_PAYLOAD_DATA",
	PolicyViolation - 1000:    "POLICY_VIOLATION",
	MessageTooBig - 1000:      "MESSAGE_TOO_BIG",
	MandatoryExtension - 1000: "MANDATORY_EXT",
	InternalError - 1000:      "INTERNAL_ERROR",
	ServiceRestart - 1000:     "SERVICE_RESTART",
	TryAgainLater - 1000:      "TRY_AGAIN_LATER",
	BadGateway - 1000:         "BAD_GATEWAY",
	TLSHandshake - 1000:       "TLS_HANDSHAKE_FAILED",
}

// Name returns the code's registry name as wsproto and trio-websocket spell it
// ("NORMAL_CLOSURE", "GOING_AWAY", ...); "REGISTERED" for 3000–3999 (registered with IANA by
// libraries and frameworks), "PRIVATE_USE" for 4000–4999 and "UNKNOWN" for anything else.
func (c CloseCode) Name() string {
	switch {
	case c >= 1000 && int(c-1000) < len(closeNames) && closeNames[c-1000] != "":
		return closeNames[c-1000]
	case c >= 3000 && c <= 3999:
		return "REGISTERED"
	case c >= 4000 && c <= 4999:
		return "PRIVATE_USE"
	}
	return "UNKNOWN"
}

// ValidOnWire reports whether c may be sent in a close frame: 1000–1003, 1007–1014 and
// 3000–4999. 1004 is reserved; 1005, 1006 and 1015 are for local reporting only.
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// Error is a protocol violation by the peer: the connection must be failed with Code.
// Reason is short ASCII text, fit to be sent as the close frame's reason.
type Error struct {
	Code   CloseCode
	Reason string

	err error // underlying cause, if any (an Inflater's error)
}

// Error returns "websocket: <reason> (close <code>)".
func (e *Error) Error() string {
	return "websocket: " + e.Reason + " (close " + strconv.Itoa(int(e.Code)) + ")"
}

// Unwrap returns the error that caused the violation, if any.
func (e *Error) Unwrap() error { return e.err }

func protocolError(reason string) *Error { return &Error{Code: ProtocolError, Reason: reason} }

// ParseClose decodes a close frame's payload. An empty payload yields NoStatusReceived. A
// 1-byte payload, a payload longer than 125 bytes or a code that is not [CloseCode.ValidOnWire]
// is an *Error with ProtocolError; a reason that is not valid UTF-8 is an *Error with
// InvalidPayload.
func ParseClose(p []byte) (code CloseCode, reason string, err error) {
	switch {
	case len(p) == 0:
		return NoStatusReceived, "", nil
	case len(p) == 1:
		return 0, "", protocolError("close payload of 1 byte")
	case len(p) > maxControlPayload:
		return 0, "", protocolError("close payload longer than 125 bytes")
	}
	code = CloseCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return 0, "", protocolError("invalid close code " + strconv.Itoa(int(code)))
	}
	if !ValidUTF8(p[2:]) {
		return 0, "", &Error{Code: InvalidPayload, Reason: "close reason is not valid UTF-8"}
	}
	return code, string(p[2:]), nil
}

// AppendClose appends a close frame payload to dst: code (big-endian) then reason. Code 0
// with an empty reason appends nothing (a close frame without status). It fails if code is
// neither 0 nor [CloseCode.ValidOnWire], if a reason comes without a code, or if the reason
// is longer than [MaxCloseReason] bytes or not valid UTF-8; dst is then returned unchanged.
func AppendClose(dst []byte, code CloseCode, reason string) ([]byte, error) {
	if code == 0 && reason == "" {
		return dst, nil
	}
	if !code.ValidOnWire() {
		return dst, errors.New("websocket: append close: code " + strconv.Itoa(int(code)) + " may not be sent")
	}
	if len(reason) > MaxCloseReason {
		return dst, errors.New("websocket: append close: reason longer than 123 bytes")
	}
	if !utf8.ValidString(reason) {
		return dst, errors.New("websocket: append close: reason is not valid UTF-8")
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...), nil
}
