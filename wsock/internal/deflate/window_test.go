package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestCompressionLevelIsHuffmanOnlyBelowFullWindow(t *testing.T) {
	tests := []struct {
		name       string
		p          Params
		role       proto.Role
		configured int
		want       int
	}{
		{"no window parameters", Params{}, proto.Server, flate.BestCompression, flate.BestCompression},
		{"default level stays default", Params{}, proto.Client, 0, 0},
		{"server window 15", Params{ServerMaxWindowBits: 15}, proto.Server, 5, 5},
		{"server window 14", Params{ServerMaxWindowBits: 14}, proto.Server, 5, flate.HuffmanOnly},
		{"server window 8", Params{ServerMaxWindowBits: 8}, proto.Server, 0, flate.HuffmanOnly},
		{"server window binds only the server", Params{ServerMaxWindowBits: 8}, proto.Client, 5, 5},
		{"client window 15", Params{ClientMaxWindowBits: 15}, proto.Client, 5, 5},
		{"client window 10", Params{ClientMaxWindowBits: 10}, proto.Client, 5, flate.HuffmanOnly},
		{"client window binds only the client", Params{ClientMaxWindowBits: 10}, proto.Server, 5, 5},
		{"configured Huffman-only stays", Params{}, proto.Server, flate.HuffmanOnly, flate.HuffmanOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.CompressionLevel(tt.role, tt.configured))
		})
	}
}

func TestScanDeflateMeasuresBackReferences(t *testing.T) {
	// The checker below must see references where they are, or its zeros mean nothing.
	c := NewCompressor(flate.BestCompression, false)
	defer c.Close()
	first, err := c.Compress(nil, []byte("Hello"))
	require.NoError(t, err)
	second, err := c.Compress(nil, []byte("Hello"))
	require.NoError(t, err)

	farthest, size, err := scanDeflate(first)
	require.NoError(t, err)
	assert.Equal(t, 0, farthest, "five literals")
	assert.Equal(t, int64(5), size)
	farthest, size, err = scanDeflate(second)
	require.NoError(t, err)
	assert.Equal(t, 5, farthest, "one match with the previous message (RFC 7692 §7.2.3.2)")
	assert.Equal(t, int64(5), size)

	rng := rand.New(rand.NewPCG(7, 8))
	block := randomBytes(rng, 1000)
	msg := append(bytes.Clone(block), block...)
	for _, level := range []int{flate.BestSpeed, flate.BestCompression} {
		c := NewCompressor(level, true)
		z, err := c.Compress(nil, msg)
		c.Close()
		require.NoError(t, err)
		farthest, size, err := scanDeflate(z)
		require.NoError(t, err)
		assert.Equal(t, 1000, farthest, "level %d repeats the first half", level)
		assert.Equal(t, int64(len(msg)), size, "level %d", level)
	}
}

func TestHuffmanOnlyMessagesFitAnyWindow(t *testing.T) {
	for _, noContextTakeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("noContextTakeover=%t", noContextTakeover), func(t *testing.T) {
			c := NewCompressor(flate.HuffmanOnly, noContextTakeover)
			defer c.Close()
			d := NewDecompressor(noContextTakeover)
			defer d.Close()
			lz := NewCompressor(DefaultLevel, noContextTakeover)
			defer lz.Close()
			var farthestLZ int
			for i, msg := range testMessages() {
				z, err := c.Compress(nil, msg)
				require.NoError(t, err)
				farthest, size, err := scanDeflate(z)
				require.NoError(t, err, "message %d", i)
				assert.Zero(t, farthest, "message %d refers to earlier data", i)
				assert.Equal(t, int64(len(msg)), size, "message %d", i)
				got, err := d.Inflate(nil, z, 0)
				require.NoError(t, err, "message %d", i)
				assert.True(t, bytes.Equal(msg, got), "message %d does not round-trip", i)

				z, err = lz.Compress(nil, msg)
				require.NoError(t, err)
				farthest, _, err = scanDeflate(z)
				require.NoError(t, err)
				farthestLZ = max(farthestLZ, farthest)
			}
			assert.Greater(t, farthestLZ, 1<<8, "the same messages at an LZ77 level overflow a 256-byte window")
		})
	}
}

func TestNegotiatedSmallWindowsGiveHuffmanOnlyCompressors(t *testing.T) {
	msg := jsonPayload(rand.New(rand.NewPCG(9, 10)), 20<<10)
	for bits := 8; bits <= maxWindowBits; bits++ {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			offer := fmt.Sprintf("permessage-deflate; server_max_window_bits=%d", bits)
			server, response, ok := ServerAccept(offer, Config{})
			require.True(t, ok)
			assert.Equal(t, offer, response, "the window is echoed")

			response = fmt.Sprintf("permessage-deflate; client_max_window_bits=%d", bits)
			client, err := ClientAccept(response, Config{})
			require.NoError(t, err)

			for _, side := range []struct {
				name string
				role proto.Role
				p    Params
			}{{"server", proto.Server, server}, {"client", proto.Client, client}} {
				c := NewCompressor(side.p.CompressionLevel(side.role, 0), false)
				for i := range 3 {
					z, err := c.Compress(nil, msg)
					require.NoError(t, err)
					farthest, size, err := scanDeflate(z)
					require.NoError(t, err)
					assert.Equal(t, int64(len(msg)), size)
					if bits < maxWindowBits {
						assert.Zero(t, farthest, "%s message %d", side.name, i)
						assert.Less(t, len(z), len(msg)*4/5, "%s message %d is still entropy-coded", side.name, i)
					} else {
						assert.Greater(t, farthest, 1<<14, "%s message %d: a full window is used", side.name, i)
					}
				}
				c.Close()
			}
		})
	}
}

// scanDeflate walks a compressed permessage-deflate message (RFC 1951 blocks, without the
// 00 00 ff ff tail) and returns the farthest distance any back-reference reaches (0 when
// there is none) and the size of the decompressed data. A peer limited to a window of 2^N
// bytes may reach at most 2^N back. It decodes the blocks itself, independently of
// compress/flate, and outputs nothing.
func scanDeflate(msg []byte) (farthest int, size int64, err error) {
	r := &bitReader{in: append(bytes.Clone(msg), tail...)}
	for r.pos < len(r.in) {
		final, err := r.bits(1)
		if err != nil {
			return 0, 0, err
		}
		typ, err := r.bits(2)
		if err != nil {
			return 0, 0, err
		}
		var lit, dist *huffman
		switch typ {
		case 0:
			n, err := r.stored()
			if err != nil {
				return 0, 0, err
			}
			size += int64(n)
		case 1:
			lit, dist = fixedHuffman()
		case 2:
			if lit, dist, err = r.dynamic(); err != nil {
				return 0, 0, err
			}
		default:
			return 0, 0, errors.New("block type 3")
		}
		if lit != nil {
			far, n, err := r.codes(lit, dist)
			if err != nil {
				return 0, 0, err
			}
			farthest, size = max(farthest, far), size+n
		}
		if final == 1 {
			r.align() // another stream may follow within the message
		}
	}
	return farthest, size, nil
}

// bitReader reads a DEFLATE stream's bits, least significant first.
type bitReader struct {
	in   []byte
	pos  int
	bit  uint32
	nbit uint
}

var errTruncated = errors.New("truncated stream")

func (r *bitReader) bits(n uint) (int, error) {
	for r.nbit < n {
		if r.pos >= len(r.in) {
			return 0, errTruncated
		}
		r.bit |= uint32(r.in[r.pos]) << r.nbit
		r.pos++
		r.nbit += 8
	}
	v := r.bit & (1<<n - 1)
	r.bit >>= n
	r.nbit -= n
	return int(v), nil
}

func (r *bitReader) align() { r.bit, r.nbit = 0, 0 }

// stored skips a stored block's data and returns its length.
func (r *bitReader) stored() (int, error) {
	r.align()
	if len(r.in)-r.pos < 4 {
		return 0, errTruncated
	}
	n := int(r.in[r.pos]) | int(r.in[r.pos+1])<<8
	if n^0xffff != int(r.in[r.pos+2])|int(r.in[r.pos+3])<<8 {
		return 0, errors.New("stored block length does not match its complement")
	}
	r.pos += 4
	if len(r.in)-r.pos < n {
		return 0, errTruncated
	}
	r.pos += n
	return n, nil
}

// huffman is a canonical Huffman code: how many codes have each length, and the symbols
// in code order.
type huffman struct {
	count  [16]int
	symbol []int
}

func newHuffman(lengths []int) (*huffman, error) {
	h := &huffman{symbol: make([]int, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l < len(h.count); l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return nil, errors.New("over-subscribed Huffman code")
		}
	}
	var offs [16]int
	for l := 1; l < len(h.count)-1; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = sym
			offs[l]++
		}
	}
	return h, nil
}

// decode reads one symbol, a code bit at a time.
func (r *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < len(h.count); l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

func fixedHuffman() (lit, dist *huffman) {
	var lengths [288 + 30]int
	for i := range 288 {
		switch {
		case i < 144:
			lengths[i] = 8
		case i < 256:
			lengths[i] = 9
		case i < 280:
			lengths[i] = 7
		default:
			lengths[i] = 8
		}
	}
	for i := 288; i < len(lengths); i++ {
		lengths[i] = 5
	}
	lit, _ = newHuffman(lengths[:288])
	dist, _ = newHuffman(lengths[288:])
	return lit, dist
}

// dynamic reads the code tables of a dynamic block (RFC 1951 §3.2.7).
func (r *bitReader) dynamic() (lit, dist *huffman, err error) {
	var hdr [3]int
	for i, n := range []uint{5, 5, 4} {
		if hdr[i], err = r.bits(n); err != nil {
			return nil, nil, err
		}
	}
	nlen, ndist, ncode := hdr[0]+257, hdr[1]+1, hdr[2]+4
	if nlen > 286 || ndist > 30 {
		return nil, nil, errors.New("too many codes")
	}
	order := [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	cl := make([]int, 19)
	for _, o := range order[:ncode] {
		if cl[o], err = r.bits(3); err != nil {
			return nil, nil, err
		}
	}
	lencode, err := newHuffman(cl)
	if err != nil {
		return nil, nil, err
	}
	lengths := make([]int, nlen+ndist)
	for i := 0; i < len(lengths); {
		sym, err := r.decode(lencode)
		if err != nil {
			return nil, nil, err
		}
		if sym < 16 {
			lengths[i] = sym
			i++
			continue
		}
		l, rep := 0, 0
		switch sym {
		case 16:
			if i == 0 {
				return nil, nil, errors.New("repeat with no previous length")
			}
			l = lengths[i-1]
			rep, err = r.bits(2)
			rep += 3
		case 17:
			rep, err = r.bits(3)
			rep += 3
		default:
			rep, err = r.bits(7)
			rep += 11
		}
		if err != nil {
			return nil, nil, err
		}
		if i+rep > len(lengths) {
			return nil, nil, errors.New("code lengths overflow")
		}
		for ; rep > 0; rep-- {
			lengths[i] = l
			i++
		}
	}
	if lengths[256] == 0 {
		return nil, nil, errors.New("no end-of-block code")
	}
	if lit, err = newHuffman(lengths[:nlen]); err != nil {
		return nil, nil, err
	}
	if dist, err = newHuffman(lengths[nlen:]); err != nil {
		return nil, nil, err
	}
	return lit, dist, nil
}

var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// codes reads the symbols of a compressed block up to its end-of-block code.
func (r *bitReader) codes(lit, dist *huffman) (farthest int, size int64, err error) {
	for {
		sym, err := r.decode(lit)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case sym < 256:
			size++
			continue
		case sym == 256:
			return farthest, size, nil
		case sym > 285:
			return 0, 0, fmt.Errorf("invalid length code %d", sym)
		}
		extra, err := r.bits(lengthExtra[sym-257])
		if err != nil {
			return 0, 0, err
		}
		size += int64(lengthBase[sym-257] + extra)
		dsym, err := r.decode(dist)
		if err != nil {
			return 0, 0, err
		}
		if dsym >= 30 {
			return 0, 0, fmt.Errorf("invalid distance code %d", dsym)
		}
		if extra, err = r.bits(distExtra[dsym]); err != nil {
			return 0, 0, err
		}
		farthest = max(farthest, distBase[dsym]+extra)
	}
}
