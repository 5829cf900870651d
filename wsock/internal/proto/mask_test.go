package proto_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func maskBytewise(key [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
}

func TestMaskMatchesBytewiseXORForEveryOffsetAndAlignment(t *testing.T) {
	key := [4]byte{0x01, 0x23, 0x45, 0x67}
	src := binaryOf(300 + 8)
	for align := range 8 {
		for pos := range 4 {
			for n := range 300 {
				got := bytes.Clone(src)
				want := bytes.Clone(src)
				next := proto.Mask(key, pos, got[align:align+n])
				maskBytewise(key, pos, want[align:align+n])
				require.Equal(t, want, got, "align %d pos %d len %d", align, pos, n)
				require.Equal(t, (pos+n)%4, next)
			}
		}
	}
}

func TestMaskInPiecesEqualsMaskAtOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	for range 200 {
		src := binaryOf(rng.IntN(2000))
		want := bytes.Clone(src)
		proto.Mask(key, 0, want)
		got := bytes.Clone(src)
		pos := 0
		for rest := got; len(rest) > 0; {
			n := min(len(rest), rng.IntN(100))
			pos = proto.Mask(key, pos, rest[:n])
			rest = rest[n:]
		}
		require.Equal(t, want, got)
	}
}

func TestMaskTwiceRestoresThePayload(t *testing.T) {
	src := binaryOf(1000)
	b := bytes.Clone(src)
	proto.Mask(rfcKey, 3, b)
	assert.NotEqual(t, src, b)
	proto.Mask(rfcKey, 3, b)
	assert.Equal(t, src, b)
}

func TestMaskKeysAreFreshAndZeroValueIsSeeded(t *testing.T) {
	for name, m := range map[string]*proto.MaskKeys{"new": proto.NewMaskKeys(), "zero": new(proto.MaskKeys)} {
		seen := map[[4]byte]bool{}
		for range 1000 {
			seen[m.Next()] = true
		}
		assert.Greater(t, len(seen), 990, name)
	}
	// Two generators must not share a seed.
	a, b := proto.NewMaskKeys(), new(proto.MaskKeys)
	assert.NotEqual(t, []any{a.Next(), a.Next()}, []any{b.Next(), b.Next()})
}

func BenchmarkMask(b *testing.B) {
	for _, size := range []int{16, 125, 1 << 10, 4 << 10, 64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			buf := make([]byte, size+1)[1:] // unaligned
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				proto.Mask(rfcKey, 1, buf)
			}
		})
	}
}

func BenchmarkMaskKeys(b *testing.B) {
	m := proto.NewMaskKeys()
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Next()
	}
}
