package conformance

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"unicode/utf8"
)

// The fuzzer's frame codec (RFC 6455 §5), written independently of wsock's engine.

// Opcodes, as the fuzzer writes them (reserved ones included).
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// maxFrame bounds a frame the fuzzer accepts from the implementation.
const maxFrame = 64 << 20

// frame is a decoded frame.
type frame struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte
}

// readFrame reads a frame, unmasking its payload. A length encoding RFC 6455 forbids is an
// errViolation.
func readFrame(br *bufio.Reader) (frame, error) {
	var h [14]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		return frame{}, err
	}
	fr := frame{fin: h[0]&0x80 != 0, rsv: h[0] >> 4 & 7, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			return frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
		if n <= 125 {
			return frame{}, fmt.Errorf("%w: length %d in a 16-bit field, not the minimal encoding", errViolation, n)
		}
	case 127:
		if _, err := io.ReadFull(br, h[:8]); err != nil {
			return frame{}, err
		}
		n = binary.BigEndian.Uint64(h[:8])
		if n <= 0xffff {
			return frame{}, fmt.Errorf("%w: length %d in a 64-bit field, not the minimal encoding", errViolation, n)
		}
	}
	if n > maxFrame {
		return frame{}, fmt.Errorf("%w: frame of %d bytes, more than the fuzzer accepts", errViolation, n)
	}
	var key [4]byte
	if fr.masked {
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return frame{}, err
		}
	}
	fr.payload = make([]byte, n)
	if _, err := io.ReadFull(br, fr.payload); err != nil {
		return frame{}, err
	}
	if fr.masked {
		maskBytes(key, 0, fr.payload)
	}
	return fr, nil
}

// errViolation marks a frame error that is the implementation's fault.
var errViolation = errors.New("protocol violation")

// appendFrame appends a frame, masked with a random key if mask is set.
func appendFrame(dst []byte, fin bool, rsv, op byte, payload []byte, mask bool) []byte {
	b0 := op&0x0f | (rsv&7)<<4
	if fin {
		b0 |= 0x80
	}
	var b1 byte
	if mask {
		b1 = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, b0, b1|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, b1|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var key [4]byte
	if mask {
		binary.LittleEndian.PutUint32(key[:], rand.Uint32())
		dst = append(dst, key[:]...)
	}
	start := len(dst)
	dst = append(dst, payload...)
	if mask {
		maskBytes(key, 0, dst[start:])
	}
	return dst
}

// maskBytes XORs b with key starting at key offset pos and returns the next offset.
func maskBytes(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

// parseClose checks the implementation's close payload.
func parseClose(p []byte) (closeInfo, string) {
	switch {
	case len(p) == 0:
		return closeInfo{}, ""
	case len(p) == 1:
		return closeInfo{}, "close payload of 1 byte"
	}
	code := binary.BigEndian.Uint16(p)
	if !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999) {
		return closeInfo{}, fmt.Sprintf("close code %d may not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return closeInfo{}, "close reason is not valid UTF-8"
	}
	return closeInfo{hasCode: true, code: code, reason: string(p[2:])}, ""
}

// opName names an opcode in verdicts.
func opName(op byte) string {
	switch op {
	case opCont:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("opcode-%d", op)
}
