package proto

import (
	"encoding/binary"
	"strconv"
)

// MaxHeaderLen is the size of the longest frame header: 2 bytes, an 8-byte extended length
// and a 4-byte mask key.
const MaxHeaderLen = 14

// maxControlPayload is the largest payload a control frame may carry (RFC 6455 §5.5).
const maxControlPayload = 125

// Header is a frame header (RFC 6455 §5.2). Key is meaningful only when Masked is set.
type Header struct {
	Fin, Rsv1, Rsv2, Rsv3 bool
	Op                    Opcode
	Masked                bool
	Key                   [4]byte
	Length                int64
}

// ParseHeader decodes the frame header at the start of b and reports its length n.
// n == 0 && err == nil means b holds only part of a header: call again with more bytes.
//
// It validates what the header alone shows, as soon as the offending byte is in b: a reserved
// opcode, a fragmented control frame, a control frame longer than 125 bytes and a 64-bit
// length with the most significant bit set are *Error with ProtocolError. Reserved bits,
// masking and the frame's place in a message are the [Reader]'s to check. Lengths encoded
// with more bytes than needed are accepted.
func ParseHeader(b []byte) (h Header, n int, err error) {
	n, err = parseHeader(&h, b)
	if n == 0 {
		return Header{}, 0, err
	}
	return h, n, nil
}

// parseHeader is ParseHeader writing into h, which holds garbage unless n > 0.
func parseHeader(h *Header, b []byte) (n int, err error) {
	if len(b) == 0 {
		return 0, nil
	}
	b0 := b[0]
	h.Op = Opcode(b0 & 0x0f)
	h.Fin = b0&0x80 != 0
	if !h.Op.known() {
		return 0, protocolError("reserved opcode 0x" + strconv.FormatUint(uint64(h.Op), 16))
	}
	if h.Op.IsControl() && !h.Fin {
		return 0, protocolError("fragmented " + h.Op.String() + " frame")
	}
	if len(b) < 2 {
		return 0, nil
	}
	b1 := b[1]
	h.Masked = b1&0x80 != 0
	length := b1 & 0x7f
	if h.Op.IsControl() && length > maxControlPayload {
		return 0, protocolError(h.Op.String() + " frame longer than 125 bytes")
	}
	n = 2
	switch length {
	case 126:
		if len(b) < 4 {
			return 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return 0, nil
		}
		l := binary.BigEndian.Uint64(b[2:])
		if l>>63 != 0 {
			return 0, protocolError("payload length with the most significant bit set")
		}
		h.Length = int64(l)
		n = 10
	default:
		h.Length = int64(length)
	}
	if h.Masked {
		if len(b) < n+4 {
			return 0, nil
		}
		copy(h.Key[:], b[n:n+4])
		n += 4
	}
	h.Rsv1 = b0&0x40 != 0
	h.Rsv2 = b0&0x20 != 0
	h.Rsv3 = b0&0x10 != 0
	return n, nil
}

// AppendHeader appends h's wire encoding to dst, with the shortest length encoding. It panics
// if h.Length is negative.
func AppendHeader(dst []byte, h Header) []byte {
	if h.Length < 0 {
		panic("proto: negative payload length " + strconv.FormatInt(h.Length, 10))
	}
	b0 := byte(h.Op & 0x0f)
	if h.Fin {
		b0 |= 0x80
	}
	if h.Rsv1 {
		b0 |= 0x40
	}
	if h.Rsv2 {
		b0 |= 0x20
	}
	if h.Rsv3 {
		b0 |= 0x10
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch {
	case h.Length <= 125:
		dst = append(dst, b0, b1|byte(h.Length))
	case h.Length <= 0xffff:
		dst = append(dst, b0, b1|126, byte(h.Length>>8), byte(h.Length))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Key[:]...)
	}
	return dst
}

// AppendFrame appends a whole frame to dst: the header, then payload, masked with key when
// mask is set. payload itself is not modified.
func AppendFrame(dst []byte, fin bool, op Opcode, rsv1 bool, payload []byte, mask bool, key [4]byte) []byte {
	dst = AppendHeader(dst, Header{Fin: fin, Rsv1: rsv1, Op: op, Masked: mask, Key: key, Length: int64(len(payload))})
	start := len(dst)
	dst = append(dst, payload...)
	if mask {
		Mask(key, 0, dst[start:])
	}
	return dst
}
