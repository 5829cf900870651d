package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// FuzzInflate feeds arbitrary bytes to a decompressor as two messages (split at split) and
// checks that it never panics, never returns more than the limit, fails only with 1007 or
// 1009, and leaves dst alone when it fails.
func FuzzInflate(f *testing.F) {
	f.Add(rfcHello, uint8(255), false)
	f.Add(append(append([]byte(nil), rfcHello...), 0xf2, 0x00, 0x11, 0x00, 0x00), uint8(7), false)
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, uint8(255), true)
	f.Add([]byte{0x00}, uint8(0), true)
	f.Add([]byte{0x06}, uint8(255), false)
	c := NewCompressor(0, false)
	bomb, err := c.Compress(nil, make([]byte, 100<<10))
	c.Close()
	require.NoError(f, err)
	f.Add(bomb, uint8(255), false)

	const limit = 4096
	f.Fuzz(func(t *testing.T, data []byte, split uint8, noTakeover bool) {
		d := NewDecompressor(noTakeover)
		defer d.Close()
		k := min(int(split), len(data))
		for _, msg := range [][]byte{data[:k], data[k:]} {
			dst := []byte("dst")
			out, err := d.Inflate(dst, msg, limit)
			if err != nil {
				var pe *proto.Error
				require.True(t, errors.As(err, &pe), "error %v", err)
				require.Contains(t, []proto.CloseCode{proto.InvalidPayload, proto.MessageTooBig}, pe.Code)
				require.Equal(t, "dst", string(out))
				return
			}
			require.Equal(t, "dst", string(out[:3]))
			require.LessOrEqual(t, len(out)-3, limit)
		}
	})
}

// FuzzRoundTrip checks that whatever a Compressor emits, the matching Decompressor restores,
// and that at flate.HuffmanOnly it refers to no earlier data. It compresses two messages: data
// repeated 1+repeat times, then that message's second half.
//
// The repetition keeps long messages short on disk: the fuzzer minimizes only data, trying
// up to quadratically many candidates for up to 60 s, and spent its whole run doing that to
// the 3000-byte "abc…" seeds' mutants when they were spelled out. Every input starts from
// fresh flate state (forgetPooledState), so that its coverage, like its result, depends on it
// alone: a pooled flate writer is new or reset depending on whether a GC emptied the pool, and
// a reset one at levels 1–6 keeps its hash tables, the earlier input's entries put out of
// reach but still looked at. Fresh state costs about 0.1–0.4 ms an input, instrumented.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("Hello"), int8(0), false, uint8(0))
	f.Add([]byte(""), int8(-2), true, uint8(0))
	f.Add([]byte("abcabcabcabc"), int8(9), false, uint8(249))  // level 7, "abc"×1000
	f.Add([]byte("abcabcabcabc"), int8(-2), false, uint8(249)) // level 0: DefaultLevel
	// Every level, with and without context takeover, on text that repeats, so that the
	// second message refers to the first.
	text := []byte("the quick brown fox jumps over the lazy dog; 0123456789 the lazy dog sleeps. ")
	for level := range int8(12) {
		f.Add(text, level, level%2 == 1, uint8(1))
	}
	f.Add(text, int8(0), false, uint8(255)) // Huffman-only over 20 KB
	f.Fuzz(func(t *testing.T, data []byte, level int8, noTakeover bool, repeat uint8) {
		forgetPooledState()
		lvl := int(uint8(level))%12 - 2 // flate.HuffmanOnly to flate.BestCompression
		c := NewCompressor(lvl, noTakeover)
		defer c.Close()
		d := NewDecompressor(noTakeover)
		defer d.Close()
		first := bytes.Repeat(data, 1+int(repeat))
		for _, msg := range [][]byte{first, first[len(first)/2:]} {
			z, err := c.Compress(nil, msg)
			require.NoError(t, err)
			got, err := d.Inflate(nil, z, int64(len(msg)))
			require.NoError(t, err)
			require.True(t, bytes.Equal(msg, got))
			farthest, size, err := scanDeflate(z)
			require.NoError(t, err)
			require.Equal(t, int64(len(msg)), size)
			require.LessOrEqual(t, farthest, 1<<maxWindowBits)
			if lvl == flate.HuffmanOnly {
				require.Zero(t, farthest, "Huffman-only output fits any window")
			}
		}
	})
}

// forgetPooledState empties the pools of flate writers and readers, so that the Compressors
// and Decompressors made next build their flate state from scratch and behave, to the last
// branch, as in a process that ran nothing before. Draining the pools with Get would not do:
// an item in another P's private slot is out of Get's reach. Nothing may use the pools
// concurrently.
func forgetPooledState() {
	writerPools = [len(writerPools)]sync.Pool{}
	readerPool = sync.Pool{}
}

// FuzzParseExtensions checks that parsing never panics, that what parses survives a
// round trip through its canonical form, and that the negotiation functions agree with each
// other on whatever they accept.
func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"",
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_max_window_bits=10, permessage-deflate",
		`permessage-deflate; server_max_window_bits="15"; server_no_context_takeover`,
		"permessage-deflate; client_no_context_takeover; server_no_context_takeover",
		`x; a="\"", , y`,
		"permessage-deflate;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exts, err := parseExtensions(s)
		if err == nil {
			again, err := parseExtensions(formatExtensions(exts))
			require.NoError(t, err)
			require.Equal(t, exts, again)
		}

		p, response, ok := ServerAccept(s, Config{})
		if ok {
			require.True(t, p.ServerMaxWindowBits == 0 || p.ServerMaxWindowBits >= 8 && p.ServerMaxWindowBits <= maxWindowBits)
			require.Zero(t, p.ClientMaxWindowBits, "our server never limits the client's window")
			cp, err := ClientAccept(response, Config{})
			require.NoError(t, err, "our client takes our server's response %q", response)
			require.Equal(t, p, cp)
		} else {
			require.Empty(t, response)
		}

		if cp, err := ClientAccept(s, Config{}); err == nil {
			assert.True(t, cp.ClientMaxWindowBits == 0 || cp.ClientMaxWindowBits >= 8 && cp.ClientMaxWindowBits <= 15)
			assert.True(t, cp.ServerMaxWindowBits == 0 || cp.ServerMaxWindowBits >= 8 && cp.ServerMaxWindowBits <= 15)
		}
	})
}

// formatExtensions writes exts in canonical form; parsed values are always tokens.
func formatExtensions(exts []extension) string {
	var b strings.Builder
	for i, e := range exts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.name)
		for _, p := range e.params {
			b.WriteString("; ")
			b.WriteString(p.name)
			if p.hasValue {
				b.WriteString("=")
				b.WriteString(p.value)
			}
		}
	}
	return b.String()
}
