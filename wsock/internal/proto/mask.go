package proto

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// Mask XORs b in place with key (RFC 6455 §5.3), starting at byte pos (taken modulo 4) of the
// key, and returns the key offset for the bytes that follow b. Masking a frame's payload in
// several pieces gives the same bytes as masking it at once:
//
//	pos := 0
//	pos = proto.Mask(key, pos, part1)
//	pos = proto.Mask(key, pos, part2)
//
// Masking twice with the same key and offset restores the original bytes.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	next := (pos + len(b)) & 3
	if len(b) < 8 {
		for i := range b {
			b[i] ^= key[(pos+i)&3]
		}
		return next
	}
	// Rotate the key so that its byte 0 applies to b[0], then widen it to 64 bits. Loads and
	// stores go through encoding/binary, which the compiler turns into single unaligned
	// moves, so no head loop is needed to reach alignment.
	k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
	k := uint64(k32)<<32 | uint64(k32)
	for len(b) >= 64 {
		_ = b[63]
		binary.LittleEndian.PutUint64(b[0:], binary.LittleEndian.Uint64(b[0:])^k)
		binary.LittleEndian.PutUint64(b[8:], binary.LittleEndian.Uint64(b[8:])^k)
		binary.LittleEndian.PutUint64(b[16:], binary.LittleEndian.Uint64(b[16:])^k)
		binary.LittleEndian.PutUint64(b[24:], binary.LittleEndian.Uint64(b[24:])^k)
		binary.LittleEndian.PutUint64(b[32:], binary.LittleEndian.Uint64(b[32:])^k)
		binary.LittleEndian.PutUint64(b[40:], binary.LittleEndian.Uint64(b[40:])^k)
		binary.LittleEndian.PutUint64(b[48:], binary.LittleEndian.Uint64(b[48:])^k)
		binary.LittleEndian.PutUint64(b[56:], binary.LittleEndian.Uint64(b[56:])^k)
		b = b[64:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	// Every step above consumed a multiple of 4 bytes, so the tail starts at key byte 0 of
	// the rotated key.
	for i := range b {
		b[i] ^= byte(k >> (8 * i))
	}
	return next
}

// MaskKeys yields the unpredictable mask keys a client must use (RFC 6455 §10.3) from a
// ChaCha8 generator seeded from crypto/rand. The zero value seeds itself on first use.
// A MaskKeys is not safe for concurrent use.
type MaskKeys struct {
	src    rand.ChaCha8
	seeded bool
}

// NewMaskKeys returns a seeded MaskKeys.
func NewMaskKeys() *MaskKeys {
	m := new(MaskKeys)
	m.seed()
	return m
}

func (m *MaskKeys) seed() {
	var s [32]byte
	_, _ = crand.Read(s[:]) // never fails: crypto/rand crashes the program instead
	m.src.Seed(s)
	m.seeded = true
}

// Next returns a fresh mask key.
func (m *MaskKeys) Next() [4]byte {
	if !m.seeded {
		m.seed()
	}
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], uint32(m.src.Uint64()))
	return k
}
