package proto_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// utf8Cases are boundary cases from Markus Kuhn's UTF-8 decoder stress test, plus long runs
// that exercise the ASCII fast path next to multi-byte sequences.
var utf8Cases = []string{
	"", "a", "hello world", "κόσμε", "\x00", "\x7f", "\u0080", "\u07ff", "\u0800", "\uffff",
	"\U00010000", "\U0010ffff", "\ud7ff", "\ue000", "\ufffd",
	"\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf", "\x80", "\xbf", "\x80\xbf", "\xc0\x20", "\xe0\x20",
	"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfe", "\xff",
	"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",
	"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
	"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80",
	strings.Repeat("a", 100), strings.Repeat("a", 100) + "\xff", strings.Repeat("a", 33) + "é" + strings.Repeat("b", 40),
	strings.Repeat("a", 15) + "\xe2\x82", strings.Repeat("a", 16) + "\xe2\x82\xac" + strings.Repeat("c", 16),
	strings.Repeat("€", 20), strings.Repeat("€", 20) + "\xed\xa0\x80", strings.Repeat("\U0001d11e", 9) + "x",
}

func TestValidUTF8AgreesWithUnicodeUTF8(t *testing.T) {
	for _, s := range utf8Cases {
		assert.Equal(t, utf8.ValidString(s), proto.ValidUTF8([]byte(s)), "%q", s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff}
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(2) == 0 {
				b[i] = 'x'
			} else {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		require.Equal(t, utf8.Valid(b), proto.ValidUTF8(b), "%x", b)
	}
}

func TestValidUTF8AcceptsEveryCodePoint(t *testing.T) {
	var b []byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if utf8.ValidRune(r) {
			b = utf8.AppendRune(b, r)
		}
	}
	assert.True(t, proto.ValidUTF8(b))
}

func TestUTF8ValidatesAcrossEverySplit(t *testing.T) {
	for _, s := range utf8Cases {
		b := []byte(s)
		for i := 0; i <= len(b); i++ {
			for j := i; j <= len(b); j++ {
				var v proto.UTF8
				ok := v.Write(b[:i]) && v.Write(b[i:j]) && v.Write(b[j:]) && v.Complete()
				require.Equal(t, utf8.Valid(b), ok, "%q split at %d and %d", s, i, j)
			}
		}
	}
}

func TestUTF8FailsOnTheFirstInvalidByte(t *testing.T) {
	for _, s := range utf8Cases {
		b := []byte(s)
		bad := firstInvalid(b)
		var v proto.UTF8
		for i := range b {
			ok := v.Write(b[i : i+1])
			require.Equal(t, i < bad, ok, "%q byte %d (first invalid at %d)", s, i, bad)
			if !ok {
				break
			}
		}
	}
}

func TestUTF8StaysInvalidUntilReset(t *testing.T) {
	var v proto.UTF8
	require.False(t, v.Write([]byte{0xff}))
	assert.False(t, v.Write([]byte("valid")))
	assert.False(t, v.Complete())
	v.Reset()
	assert.True(t, v.Write([]byte("valid")))
	assert.True(t, v.Complete())
}

func TestUTF8IsIncompleteInsideACodePoint(t *testing.T) {
	var v proto.UTF8
	require.True(t, v.Write([]byte("\xe2\x82")))
	assert.False(t, v.Complete())
	require.True(t, v.Write([]byte("\xac")))
	assert.True(t, v.Complete())
}

func BenchmarkValidUTF8(b *testing.B) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"ascii-16B", bytes.Repeat([]byte("a"), 16)},
		{"ascii-4KiB", bytes.Repeat([]byte("a"), 4<<10)},
		{"ascii-64KiB", bytes.Repeat([]byte("a"), 64<<10)},
		{"mixed-64KiB", textOf(64 << 10)},
		{"greek-64KiB", bytes.Repeat([]byte("κόσμε"), (64<<10)/len("κόσμε"))},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			for b.Loop() {
				if !proto.ValidUTF8(in.data) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(in.name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if !utf8.Valid(in.data) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
