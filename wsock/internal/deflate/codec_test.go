package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// The proto package's Reader uses a Decompressor through this interface.
var _ proto.Inflater = (*Decompressor)(nil)

// rfcHello is "Hello" compressed with one fixed-Huffman block (RFC 7692 §7.2.3.1).
var rfcHello = []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}

// rfcStoredHello is "Hello" in a stored block (RFC 7692 §7.2.3.3).
var rfcStoredHello = []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}

func TestInflateRFC7692Examples(t *testing.T) {
	tests := []struct {
		name       string
		compressed []byte
		want       string
	}{
		{"7.2.3.1 one compressed block", rfcHello, "Hello"},
		{
			// The same message sent as two fragments, reassembled before inflating.
			"7.2.3.1 fragmented",
			append([]byte{0xf2, 0x48, 0xcd}, 0xc9, 0xc9, 0x07, 0x00),
			"Hello",
		},
		{"7.2.3.3 block with no compression", rfcStoredHello, "Hello"},
		{"7.2.3.4 block with BFINAL set", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, "Hello"},
		{
			"7.2.3.5 two blocks in one message",
			[]byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00},
			"Hello",
		},
		{"7.2.3.6 empty fragment", []byte{0x00}, ""},
	}
	for _, tt := range tests {
		for _, noTakeover := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				d := NewDecompressor(noTakeover)
				defer d.Close()
				got, err := d.Inflate(nil, tt.compressed, 0)
				require.NoError(t, err)
				assert.Equal(t, tt.want, string(got))
			})
		}
	}
}

func TestInflateSharesSlidingWindowAcrossMessages(t *testing.T) {
	// RFC 7692 §7.2.3.2: the second "Hello" refers to the first.
	d := NewDecompressor(false)
	defer d.Close()
	first, err := d.Inflate(nil, rfcHello, 0)
	require.NoError(t, err)
	second, err := d.Inflate(nil, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 0)
	require.NoError(t, err)
	assert.Equal(t, "Hello", string(first))
	assert.Equal(t, "Hello", string(second))
}

func TestInflateWithoutContextTakeoverRejectsReferencesToEarlierMessages(t *testing.T) {
	d := NewDecompressor(true)
	defer d.Close()
	_, err := d.Inflate(nil, rfcHello, 0)
	require.NoError(t, err)
	_, err = d.Inflate(nil, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 0)
	requireCloseCode(t, err, proto.InvalidPayload)
}

func TestCompressMatchesRFC7692Examples(t *testing.T) {
	tests := []struct {
		name  string
		level int
		want  []byte
	}{
		// Levels 7 to 9 run the lazy matcher, which encodes even five bytes.
		{"7.2.3.1 one compressed block", flate.BestCompression, rfcHello},
		// The fast levels (1 to 6 and the default) do not search inputs shorter than 13
		// bytes: they store them.
		{"7.2.3.3 block with no compression", flate.BestSpeed, rfcStoredHello},
		{"7.2.3.3 at the default level", flate.DefaultCompression, rfcStoredHello},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCompressor(tt.level, true)
			defer c.Close()
			got, err := c.Compress(nil, []byte("Hello"))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCompressSharesSlidingWindowAcrossMessages(t *testing.T) {
	c := NewCompressor(flate.BestCompression, false)
	defer c.Close()
	first, err := c.Compress(nil, []byte("Hello"))
	require.NoError(t, err)
	second, err := c.Compress(nil, []byte("Hello"))
	require.NoError(t, err)
	assert.Equal(t, rfcHello, first)
	// RFC 7692 §7.2.3.2 shows f2 00 11 00 00 (a literal and a match); the lazy matcher finds
	// the whole five-byte match and needs one byte less.
	assert.Equal(t, []byte{0x02, 0x13, 0x00, 0x00}, second)

	d := NewDecompressor(false)
	defer d.Close()
	for _, m := range [][]byte{first, second} {
		got, err := d.Inflate(nil, m, 0)
		require.NoError(t, err)
		assert.Equal(t, "Hello", string(got))
	}
}

func TestCompressWithoutContextTakeoverForgetsEarlierMessages(t *testing.T) {
	c := NewCompressor(flate.BestCompression, true)
	defer c.Close()
	for range 3 {
		got, err := c.Compress(nil, []byte("Hello"))
		require.NoError(t, err)
		assert.Equal(t, rfcHello, got)
	}
}

// TestCompressContextTakeoverAtEveryLevel checks RFC 7692 §7.2.3.2 at every LZ77 level with a
// message every level searches: with context takeover a repeated message is one reference to
// the previous one; without, it compresses as the first one did.
func TestCompressContextTakeoverAtEveryLevel(t *testing.T) {
	msg := []byte(`{"id":17,"user":"user-17","room":"general","text":"hello"}`)
	for _, level := range []int{flate.DefaultCompression, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		t.Run(strconv.Itoa(level), func(t *testing.T) {
			c := NewCompressor(level, false)
			defer c.Close()
			first, err := c.Compress(nil, msg)
			require.NoError(t, err)
			second, err := c.Compress(nil, msg)
			require.NoError(t, err)
			farthest, size, err := scanDeflate(second)
			require.NoError(t, err)
			assert.Equal(t, len(msg), farthest, "the repeat refers to the previous message")
			assert.Equal(t, int64(len(msg)), size)
			assert.Less(t, len(second), 8, "the repeat is one match: %x", second)

			d := NewDecompressor(false)
			defer d.Close()
			for _, z := range [][]byte{first, second} {
				got, err := d.Inflate(nil, z, 0)
				require.NoError(t, err)
				assert.Equal(t, string(msg), string(got))
			}

			fresh := NewCompressor(level, true)
			defer fresh.Close()
			for range 2 {
				got, err := fresh.Compress(nil, msg)
				require.NoError(t, err)
				assert.Equal(t, first, got, "without context takeover every message starts afresh")
			}
		})
	}
}

func TestCompressEmptyMessageIsOneZeroByte(t *testing.T) {
	// RFC 7692 §7.2.3.6.
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		for _, noTakeover := range []bool{false, true} {
			c := NewCompressor(level, noTakeover)
			got, err := c.Compress(nil, nil)
			require.NoError(t, err)
			assert.Equal(t, []byte{0x00}, got)
			_, err = c.Compress(nil, []byte("some earlier message"))
			require.NoError(t, err)
			got, err = c.Compress(nil, []byte{})
			require.NoError(t, err)
			assert.Equal(t, []byte{0x00}, got, "after a message, level %d", level)
			c.Close()
		}
	}
}

func TestInflateAcceptsZeroLengthMessage(t *testing.T) {
	d := NewDecompressor(false)
	defer d.Close()
	got, err := d.Inflate([]byte("x"), nil, 10)
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))
}

func TestCompressAppendsToDst(t *testing.T) {
	c := NewCompressor(flate.BestCompression, false)
	defer c.Close()
	got, err := c.Compress([]byte("head:"), []byte("Hello"))
	require.NoError(t, err)
	assert.Equal(t, append([]byte("head:"), rfcHello...), got)
}

func TestInflateAppendsToDst(t *testing.T) {
	d := NewDecompressor(true)
	defer d.Close()
	got, err := d.Inflate([]byte("head:"), rfcHello, 5)
	require.NoError(t, err, "limit counts this message only, not dst")
	assert.Equal(t, "head:Hello", string(got))
}

func TestRoundTripEveryLevel(t *testing.T) {
	msgs := testMessages()
	if raceEnabled {
		msgs = msgs[:8]
	}
	for _, level := range []int{0, flate.HuffmanOnly, flate.DefaultCompression, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		for _, noTakeover := range []bool{false, true} {
			c := NewCompressor(level, noTakeover)
			d := NewDecompressor(noTakeover)
			for i, m := range msgs {
				z, err := c.Compress(nil, m)
				require.NoError(t, err)
				got, err := d.Inflate(nil, z, 0)
				require.NoError(t, err)
				require.Equal(t, m, got, "level %d, no takeover %v, message %d", level, noTakeover, i)
			}
			c.Close()
			d.Close()
		}
	}
}

// TestCompressorInteropsWithFreshDecompressor checks each combination of sender and receiver
// context takeover that negotiation can produce: whatever the compressor emits, the
// decompressor that the same Params build reads, and a compressor without context takeover
// produces messages that a brand-new decompressor reads on their own.
func TestCompressorInteropsWithFreshDecompressor(t *testing.T) {
	msgs := testMessages()
	for _, p := range []Params{{}, {ServerNoContextTakeover: true}, {ClientNoContextTakeover: true}, {ServerNoContextTakeover: true, ClientNoContextTakeover: true}} {
		t.Run(p.String(), func(t *testing.T) {
			// Server to client, then client to server.
			for _, noTakeover := range []bool{p.ServerNoContextTakeover, p.ClientNoContextTakeover} {
				c := NewCompressor(0, noTakeover)
				d := NewDecompressor(noTakeover)
				for i, m := range msgs {
					z, err := c.Compress(nil, m)
					require.NoError(t, err)
					got, err := d.Inflate(nil, z, 0)
					require.NoError(t, err)
					require.Equal(t, m, got, "message %d", i)
					if noTakeover {
						fresh := NewDecompressor(true)
						got, err = fresh.Inflate(nil, z, 0)
						fresh.Close()
						require.NoError(t, err)
						require.Equal(t, m, got, "message %d with a fresh decompressor", i)
					}
				}
				c.Close()
				d.Close()
			}
		})
	}
}

func TestDecompressorWithContextTakeoverReadsIndependentMessages(t *testing.T) {
	c := NewCompressor(0, true)
	defer c.Close()
	d := NewDecompressor(false)
	defer d.Close()
	for i, m := range testMessages() {
		z, err := c.Compress(nil, m)
		require.NoError(t, err)
		got, err := d.Inflate(nil, z, 0)
		require.NoError(t, err)
		require.Equal(t, m, got, "message %d", i)
	}
}

func TestDecompressorWithoutContextTakeoverFailsOnSharedWindow(t *testing.T) {
	c := NewCompressor(flate.DefaultCompression, false)
	defer c.Close()
	d := NewDecompressor(true)
	defer d.Close()
	msg := []byte("a message long enough for compress/flate to look for matches in it")
	z, err := c.Compress(nil, msg)
	require.NoError(t, err)
	_, err = d.Inflate(nil, z, 0)
	require.NoError(t, err)
	z, err = c.Compress(nil, msg)
	require.NoError(t, err)
	_, err = d.Inflate(nil, z, 0)
	requireCloseCode(t, err, proto.InvalidPayload)
}

func TestContextTakeoverReachesBackAcrossSeveralMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := randomBytes(rng, 20<<10)
	b := randomBytes(rng, 10<<10)
	c := NewCompressor(flate.DefaultCompression, false)
	defer c.Close()
	d := NewDecompressor(false)
	defer d.Close()
	var last []byte
	for _, m := range [][]byte{a, b, a} {
		z, err := c.Compress(nil, m)
		require.NoError(t, err)
		got, err := d.Inflate(nil, z, 0)
		require.NoError(t, err)
		require.Equal(t, m, got)
		last = z
	}
	assert.Less(t, len(last), 1<<10, "the repeat of a, 30 KiB back, compresses to references")
}

func TestContextTakeoverWindowSlidesPastLargeMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := NewCompressor(flate.DefaultCompression, false)
	defer c.Close()
	d := NewDecompressor(false)
	defer d.Close()
	big := randomBytes(rng, 100<<10)
	msgs := [][]byte{randomBytes(rng, 1000), big, big[len(big)-5000:], randomBytes(rng, 31<<10), big[len(big)-40000:]}
	for range 50 {
		msgs = append(msgs, randomBytes(rng, 10+rng.IntN(3000)), prefix(msgs[rng.IntN(len(msgs))], rng.IntN(2000)))
	}
	for i, m := range msgs {
		z, err := c.Compress(nil, m)
		require.NoError(t, err)
		got, err := d.Inflate(nil, z, 0)
		require.NoError(t, err)
		require.Equal(t, m, got, "message %d", i)
	}
}

func TestInflateContinuesAfterFinalBlockWithinMessage(t *testing.T) {
	// A sender that flushes with final blocks (RFC 7692 §7.2.3.4) starts a new DEFLATE
	// stream, which may refer to the earlier ones and to earlier messages.
	var msg bytes.Buffer
	w, err := flate.NewWriter(&msg, flate.DefaultCompression)
	require.NoError(t, err)
	_, err = w.Write([]byte("Hello, Hello"))
	require.NoError(t, err)
	require.NoError(t, w.Close()) // final block
	w2, err := flate.NewWriterDict(&msg, flate.DefaultCompression, []byte("earlier Hello, Hello"))
	require.NoError(t, err)
	_, err = w2.Write([]byte(" Hello, Hello, earlier"))
	require.NoError(t, err)
	require.NoError(t, w2.Flush())
	z := bytes.TrimSuffix(msg.Bytes(), []byte(tail))

	d := NewDecompressor(false)
	defer d.Close()
	_, err = d.Inflate(nil, []byte{0x00, 0x08, 0x00, 0xf7, 0xff, 'e', 'a', 'r', 'l', 'i', 'e', 'r', ' ', 0x00}, 0)
	require.NoError(t, err)
	got, err := d.Inflate(nil, z, 0)
	require.NoError(t, err)
	assert.Equal(t, "Hello, Hello Hello, Hello, earlier", string(got))
}

func TestInflateStreamAfterFinalBlockSeesLast32KiB(t *testing.T) {
	tests := []struct {
		name                 string
		history, firstStream int
	}{
		{"short history and stream", 100, 100},
		{"history trimmed to fit", 30 << 10, 10 << 10},
		{"first stream fills the window", 1000, 40 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.history), uint64(tt.firstStream)))
			history := randomBytes(rng, tt.history)
			first := randomBytes(rng, tt.firstStream)
			seen := append(append([]byte(nil), history...), first...)
			window := seen[max(0, len(seen)-windowSize):]
			// The second stream copies the oldest and the newest bytes it may refer to.
			n := min(300, len(window)/2)
			second := append(append([]byte(nil), window[:n]...), window[len(window)-n:]...)

			var msg bytes.Buffer
			w, err := flate.NewWriter(&msg, flate.BestCompression)
			require.NoError(t, err)
			_, err = w.Write(first)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			w, err = flate.NewWriterDict(&msg, flate.BestCompression, window)
			require.NoError(t, err)
			_, err = w.Write(second)
			require.NoError(t, err)
			require.NoError(t, w.Flush())
			z := bytes.TrimSuffix(msg.Bytes(), []byte(tail))
			require.Less(t, len(z)-len(first), 100, "the second stream is all references")

			c := NewCompressor(0, false)
			defer c.Close()
			h, err := c.Compress(nil, history)
			require.NoError(t, err)
			d := NewDecompressor(false)
			defer d.Close()
			_, err = d.Inflate(nil, h, 0)
			require.NoError(t, err)
			got, err := d.Inflate(nil, z, 0)
			require.NoError(t, err)
			require.Equal(t, append(first, second...), got)
		})
	}
}

func TestInflateLimit(t *testing.T) {
	msg := bytes.Repeat([]byte("0123456789"), 10)
	c := NewCompressor(0, true)
	defer c.Close()
	z, err := c.Compress(nil, msg)
	require.NoError(t, err)

	tests := []struct {
		name  string
		dst   []byte
		limit int64
		ok    bool
	}{
		{"unlimited", nil, 0, true},
		{"negative is unlimited", nil, -1, true},
		{"exactly the limit", nil, 100, true},
		{"one over", nil, 99, false},
		{"far over", nil, 1, false},
		{"spare capacity in dst does not lift the limit", make([]byte, 0, 1000), 99, false},
		{"dst content does not count", make([]byte, 500), 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecompressor(true)
			defer d.Close()
			got, err := d.Inflate(tt.dst, z, tt.limit)
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, msg, got[len(tt.dst):])
				return
			}
			requireCloseCode(t, err, proto.MessageTooBig)
			assert.Equal(t, tt.dst, got, "dst is returned unchanged")
		})
	}
}

func TestInflateStopsDecompressionBombWithoutAllocatingIt(t *testing.T) {
	const size = 1 << 20
	c := NewCompressor(flate.BestCompression, true)
	defer c.Close()
	bomb, err := c.Compress(nil, make([]byte, size))
	require.NoError(t, err)
	require.Less(t, len(bomb), 2<<10, "1 MiB of zeros compresses to about 1 KiB")

	d := NewDecompressor(false)
	defer d.Close()
	const limit = 64 << 10
	_, err = d.Inflate(nil, bomb[:10], limit) // warm the reader pool
	requireCloseCode(t, err, proto.InvalidPayload)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = d.Inflate(nil, bomb, limit)
	runtime.ReadMemStats(&after)
	requireCloseCode(t, err, proto.MessageTooBig)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4*limit), "bytes allocated while inflating")

	got, err := d.Inflate(nil, bomb, size)
	require.NoError(t, err, "the same message fits a limit of its size")
	assert.Len(t, got, size)
}

func TestInflateRejectsCorruptData(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"reserved block type", []byte{0x06}},
		{"stored length mismatch", []byte{0x00, 0x05, 0x00, 0x00, 0x00}},
		{"reference before the start", []byte{0x02, 0x13, 0x00, 0x00}},
		{"invalid dynamic Huffman header", []byte{0xff, 0xff, 0xff, 0xff}},
		{"stored block longer than the message", []byte{0x00, 0x00, 0x01, 0xff, 0xfe, 'a'}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecompressor(true)
			defer d.Close()
			got, err := d.Inflate([]byte("dst"), tt.data, 1<<20)
			requireCloseCode(t, err, proto.InvalidPayload)
			assert.Equal(t, "dst", string(got))
		})
	}
}

func TestNewCompressorPanicsOnInvalidLevel(t *testing.T) {
	for _, level := range []int{-3, 10} {
		assert.PanicsWithValue(t, "deflate: invalid compression level "+strconv.Itoa(level), func() { NewCompressor(level, false) })
	}
}

func TestUseAfterClosePanics(t *testing.T) {
	c := NewCompressor(0, false)
	_, err := c.Compress(nil, []byte("x"))
	require.NoError(t, err)
	c.Close()
	c.Close()
	assert.PanicsWithValue(t, "deflate: Compress called after Close", func() { _, _ = c.Compress(nil, nil) })

	d := NewDecompressor(false)
	d.Close()
	d.Close()
	assert.PanicsWithValue(t, "deflate: Inflate called after Close", func() { _, _ = d.Inflate(nil, []byte{0}, 0) })
}

func TestCompressorDoesNotKeepCallerBuffers(t *testing.T) {
	c := NewCompressor(0, false)
	defer c.Close()
	dst := make([]byte, 0, 1<<10)
	_, err := c.Compress(dst, []byte("hello"))
	require.NoError(t, err)
	assert.Nil(t, c.w.out)
}

// requireCloseCode asserts that err is a *proto.Error with code.
func requireCloseCode(t *testing.T, err error, code proto.CloseCode) {
	t.Helper()
	var pe *proto.Error
	require.True(t, errors.As(err, &pe), "want *proto.Error, got %v", err)
	require.Equal(t, code, pe.Code, "error %v", err)
	require.NotEmpty(t, pe.Reason)
	require.LessOrEqual(t, len(pe.Reason), 123, "the reason fits a close frame")
}

// testMessages returns messages of the kinds a connection carries: empty, tiny, text, JSON,
// random bytes and long runs, some of them repeating earlier ones.
func testMessages() [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	json := jsonPayload(rng, 8<<10)
	msgs := [][]byte{
		{},
		[]byte("x"),
		[]byte("Hello"),
		[]byte("Hello"),
		json[:300],
		json,
		json[100:5000],
		randomBytes(rng, 3000),
		make([]byte, 70<<10),
		{},
		textPayload(rng, 40<<10),
		bytes.Repeat([]byte("ab"), 20000),
		json[:300],
	}
	return msgs
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func prefix(b []byte, n int) []byte { return b[:min(n, len(b))] }

// TestCompressorAndDecompressorInteropWithCompressFlate checks both directions against the
// standard library's implementation, which the package does not use: compress/flate reads a
// connection's compressed messages as one stream (each with the tail RFC 7692 §7.2.1 strips),
// and our Decompressor reads what compress/flate's writer sends with context takeover.
func TestCompressorAndDecompressorInteropWithCompressFlate(t *testing.T) {
	msgs := testMessages()
	if raceEnabled {
		msgs = msgs[:8]
	}
	for _, level := range []int{flate.HuffmanOnly, flate.DefaultCompression, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		t.Run(strconv.Itoa(level), func(t *testing.T) {
			c := NewCompressor(level, false)
			defer c.Close()
			var stream, want []byte
			for _, m := range msgs {
				z, err := c.Compress(nil, m)
				require.NoError(t, err)
				stream = append(append(stream, z...), tail...)
				want = append(want, m...)
			}
			got := make([]byte, len(want))
			_, err := io.ReadFull(flate.NewReader(bytes.NewReader(stream)), got)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "compress/flate reads our messages at level %d", level)

			var out bytes.Buffer
			w, err := flate.NewWriter(&out, level)
			require.NoError(t, err)
			d := NewDecompressor(false)
			defer d.Close()
			for i, m := range msgs {
				out.Reset()
				_, err := w.Write(m)
				require.NoError(t, err)
				require.NoError(t, w.Flush())
				got, err := d.Inflate(nil, bytes.TrimSuffix(out.Bytes(), []byte(tail)), 0)
				require.NoError(t, err, "message %d", i)
				require.True(t, bytes.Equal(m, got), "we read compress/flate's message %d at level %d", i, level)
			}
		})
	}
}
