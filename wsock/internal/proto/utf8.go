package proto

import "encoding/binary"

// The validator is a shift-based DFA: a state is the bit offset (6 × state number) of its
// slot in the 64-bit transition row of the next byte, so one transition is a table load and
// a shift: state = utf8Table[b] >> (state & 63). The states follow RFC 3629 §4 (Unicode
// Table 3-7), which excludes overlong forms, surrogates and code points above U+10FFFF.
const (
	sAccept = iota * 6 // between code points
	sReject            // invalid; a sink
	sTail1             // one continuation byte (80–BF) to go
	sTail2             // two continuation bytes (80–BF) to go
	sE0                // after E0: A0–BF, then one more
	sED                // after ED: 80–9F (no surrogates), then one more
	sF0                // after F0: 90–BF, then two more
	sF1                // after F1–F3: 80–BF, then two more
	sF4                // after F4: 80–8F (≤ U+10FFFF), then two more
	sEnd               // 9 states × 6 bits = 54 bits: a row fits a uint64
)

var utf8Table = func() (t [256]uint64) {
	next := func(state int, b byte) int {
		in := func(lo, hi byte) bool { return lo <= b && b <= hi }
		switch state {
		case sAccept:
			switch {
			case b < 0x80:
				return sAccept
			case in(0xc2, 0xdf):
				return sTail1
			case b == 0xe0:
				return sE0
			case b == 0xed:
				return sED
			case in(0xe1, 0xef):
				return sTail2
			case b == 0xf0:
				return sF0
			case in(0xf1, 0xf3):
				return sF1
			case b == 0xf4:
				return sF4
			}
		case sTail1:
			if in(0x80, 0xbf) {
				return sAccept
			}
		case sTail2:
			if in(0x80, 0xbf) {
				return sTail1
			}
		case sE0:
			if in(0xa0, 0xbf) {
				return sTail1
			}
		case sED:
			if in(0x80, 0x9f) {
				return sTail1
			}
		case sF0:
			if in(0x90, 0xbf) {
				return sTail2
			}
		case sF1:
			if in(0x80, 0xbf) {
				return sTail2
			}
		case sF4:
			if in(0x80, 0x8f) {
				return sTail2
			}
		}
		return sReject
	}
	for b := range t {
		for s := 0; s < sEnd; s += 6 {
			t[b] |= uint64(next(s, byte(b))) << s
		}
	}
	return t
}()

const asciiMask = 0x8080808080808080

// UTF8 validates a byte stream incrementally, across any split, including splits inside a
// code point. The zero value is ready to use and expects the start of a stream.
type UTF8 struct {
	state uint64
}

// Write feeds p to the validator. It reports false as soon as the stream so far (p included)
// can no longer be valid UTF-8, whatever follows; it then keeps reporting false until Reset.
// A stream that ends inside a code point is not invalid yet: see Complete.
func (v *UTF8) Write(p []byte) bool {
	st := v.state
	for len(p) > 0 {
		if st == sAccept {
			// Between code points: skip ASCII 32, then 8, bytes at a time.
			for len(p) >= 32 {
				w := binary.LittleEndian.Uint64(p) | binary.LittleEndian.Uint64(p[8:]) |
					binary.LittleEndian.Uint64(p[16:]) | binary.LittleEndian.Uint64(p[24:])
				if w&asciiMask != 0 {
					break
				}
				p = p[32:]
			}
			for len(p) >= 8 && binary.LittleEndian.Uint64(p)&asciiMask == 0 {
				p = p[8:]
			}
		}
		// Run the DFA over a block, then look for ASCII again. Checking for rejection per
		// block instead of per byte keeps the loop to one load and one shift per byte.
		blk := p[:min(len(p), 16)]
		p = p[len(blk):]
		for len(blk) >= 4 {
			st = utf8Table[blk[0]] >> (st & 63)
			st = utf8Table[blk[1]] >> (st & 63)
			st = utf8Table[blk[2]] >> (st & 63)
			st = utf8Table[blk[3]] >> (st & 63)
			blk = blk[4:]
		}
		for _, c := range blk {
			st = utf8Table[c] >> (st & 63)
		}
		st &= 63
		if st == sReject {
			break
		}
	}
	v.state = st
	return st != sReject
}

// Complete reports whether the stream written so far is valid UTF-8 that ends on a code point
// boundary, as a whole text message must.
func (v *UTF8) Complete() bool { return v.state == sAccept }

// Reset makes v ready for a new stream.
func (v *UTF8) Reset() { v.state = sAccept }

// ValidUTF8 reports whether p is entirely valid UTF-8; it agrees with unicode/utf8.Valid.
func ValidUTF8(p []byte) bool {
	var v UTF8
	return v.Write(p) && v.Complete()
}
