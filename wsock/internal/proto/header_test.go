package proto_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// rfcExamples are the frames of RFC 6455 §5.7.
var rfcExamples = []struct {
	name    string
	fin     bool
	op      proto.Opcode
	payload []byte
	masked  bool
	wire    string // hex, header and (masked) payload; long payloads are appended
}{
	{"unmasked text Hello", true, proto.OpText, []byte("Hello"), false, "810548656c6c6f"},
	{"masked text Hello", true, proto.OpText, []byte("Hello"), true, "818537fa213d7f9f4d5158"},
	{"first fragment Hel", false, proto.OpText, []byte("Hel"), false, "010348656c"},
	{"final fragment lo", true, proto.OpContinuation, []byte("lo"), false, "80026c6f"},
	{"unmasked ping Hello", true, proto.OpPing, []byte("Hello"), false, "890548656c6c6f"},
	{"masked pong Hello", true, proto.OpPong, []byte("Hello"), true, "8a8537fa213d7f9f4d5158"},
	{"256 bytes binary", true, proto.OpBinary, bytes.Repeat([]byte{0xab}, 256), false, "827e0100"},
	{"64 KiB binary", true, proto.OpBinary, bytes.Repeat([]byte{0xcd}, 65536), false, "827f0000000000010000"},
}

func rfcWire(t testing.TB, i int) []byte {
	ex := rfcExamples[i]
	w := unhex(t, ex.wire)
	if len(ex.payload) > 125 {
		w = append(w, ex.payload...)
	}
	return w
}

func TestAppendFrameEncodesRFCExamplesByteForByte(t *testing.T) {
	for i, ex := range rfcExamples {
		t.Run(ex.name, func(t *testing.T) {
			payload := bytes.Clone(ex.payload)
			got := proto.AppendFrame(nil, ex.fin, ex.op, false, payload, ex.masked, rfcKey)
			assert.Equal(t, rfcWire(t, i), got)
			assert.Equal(t, ex.payload, payload, "the payload must not be modified")
		})
	}
}

func TestParseHeaderDecodesRFCExamples(t *testing.T) {
	for i, ex := range rfcExamples {
		t.Run(ex.name, func(t *testing.T) {
			w := rfcWire(t, i)
			h, n, err := proto.ParseHeader(w)
			require.NoError(t, err)
			want := proto.Header{Fin: ex.fin, Op: ex.op, Masked: ex.masked, Length: int64(len(ex.payload))}
			if ex.masked {
				want.Key = rfcKey
			}
			assert.Equal(t, want, h)
			assert.Equal(t, len(w)-len(ex.payload), n)
		})
	}
}

func TestParseHeaderAsksForMoreBytesOnEveryPrefix(t *testing.T) {
	headers := []proto.Header{
		{Fin: true, Op: proto.OpText, Length: 5},
		{Fin: true, Op: proto.OpText, Masked: true, Key: rfcKey, Length: 5},
		{Op: proto.OpBinary, Length: 300},
		{Op: proto.OpBinary, Masked: true, Key: rfcKey, Length: 300},
		{Fin: true, Op: proto.OpBinary, Masked: true, Key: rfcKey, Length: 1 << 40},
	}
	for _, h := range headers {
		b := proto.AppendHeader(nil, h)
		for k := range len(b) {
			_, n, err := proto.ParseHeader(b[:k])
			require.NoError(t, err, "prefix of %d bytes", k)
			require.Zero(t, n, "prefix of %d bytes", k)
		}
		got, n, err := proto.ParseHeader(append(b, "payload"...))
		require.NoError(t, err)
		assert.Equal(t, len(b), n)
		assert.Equal(t, h, got)
	}
}

func TestAppendHeaderRoundTripsThroughParseHeader(t *testing.T) {
	for _, length := range []int64{0, 1, 125, 126, 127, 0xffff, 0x10000, 1 << 32, math.MaxInt64} {
		for _, masked := range []bool{false, true} {
			for _, op := range []proto.Opcode{proto.OpContinuation, proto.OpText, proto.OpBinary} {
				h := proto.Header{Fin: length%2 == 0, Rsv1: true, Rsv2: masked, Rsv3: !masked, Op: op, Masked: masked, Length: length}
				if masked {
					h.Key = rfcKey
				}
				b := proto.AppendHeader(nil, h)
				got, n, err := proto.ParseHeader(b)
				require.NoError(t, err)
				assert.Equal(t, len(b), n)
				assert.Equal(t, h, got)
			}
		}
	}
}

func TestAppendHeaderUsesTheShortestLengthEncoding(t *testing.T) {
	for length, size := range map[int64]int{0: 2, 125: 2, 126: 4, 0xffff: 4, 0x10000: 10, math.MaxInt64: 10} {
		assert.Len(t, proto.AppendHeader(nil, proto.Header{Op: proto.OpBinary, Length: length}), size, "length %d", length)
		assert.Len(t, proto.AppendHeader(nil, proto.Header{Op: proto.OpBinary, Masked: true, Length: length}), size+4, "masked length %d", length)
	}
}

func TestParseHeaderAcceptsNonMinimalLengthEncodings(t *testing.T) {
	h, n, err := proto.ParseHeader(unhex(t, "827e0005"))
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.EqualValues(t, 5, h.Length)
	h, n, err = proto.ParseHeader(unhex(t, "827f0000000000000005"))
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	assert.EqualValues(t, 5, h.Length)
}

func TestParseHeaderRejectsWhatTheHeaderShowsIsInvalid(t *testing.T) {
	for name, wire := range map[string]string{
		"reserved opcode 3":              "83",
		"reserved opcode 7":              "07",
		"reserved control opcode 0xB":    "8b",
		"reserved control opcode 0xF":    "8f",
		"fragmented ping":                "09",
		"fragmented close":               "08",
		"ping of 126 bytes":              "897e",
		"pong with a 64-bit length":      "8aff",
		"close of 126 bytes":             "887e007e",
		"length with the top bit set":    "827f8000000000000000",
		"masked length with top bit":     "82ff8000000000000000",
		"length of 2^64-1":               "027fffffffffffffffff",
		"reserved opcode, other bits ok": "c3",
	} {
		t.Run(name, func(t *testing.T) {
			_, n, err := proto.ParseHeader(unhex(t, wire))
			var pe *proto.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, proto.ProtocolError, pe.Code)
			assert.Zero(t, n)
		})
	}
}

func TestParseHeaderAcceptsControlFramesOf125Bytes(t *testing.T) {
	h, n, err := proto.ParseHeader(unhex(t, "897d"))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.EqualValues(t, 125, h.Length)
}

func TestAppendHeaderPanicsOnNegativeLength(t *testing.T) {
	assert.PanicsWithValue(t, "proto: negative payload length -1", func() {
		proto.AppendHeader(nil, proto.Header{Op: proto.OpBinary, Length: -1})
	})
}

func TestAppendFrameAppendsToDst(t *testing.T) {
	dst := []byte("prefix")
	got := proto.AppendFrame(dst, true, proto.OpText, true, []byte("x"), false, [4]byte{})
	assert.Equal(t, append([]byte("prefix"), 0xc1, 0x01, 'x'), got)
}

func TestOpcodeString(t *testing.T) {
	for op, s := range map[proto.Opcode]string{
		proto.OpContinuation: "continuation", proto.OpText: "text", proto.OpBinary: "binary",
		proto.OpClose: "close", proto.OpPing: "ping", proto.OpPong: "pong", 3: "Opcode(0x3)", 0xb: "Opcode(0xb)",
	} {
		assert.Equal(t, s, op.String())
	}
}

func TestOpcodeIsControl(t *testing.T) {
	for op := proto.Opcode(0); op < 16; op++ {
		assert.Equal(t, op >= 8, op.IsControl(), "opcode %d", op)
	}
}

// BenchmarkAppendFrame is the sending side of a client: header and masked payload, with a
// fresh key, into a reused buffer.
func BenchmarkAppendFrame(b *testing.B) {
	for _, size := range []int{16, 125, 4 << 10, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			payload := bytes.Repeat([]byte("x"), size)
			keys := proto.NewMaskKeys()
			dst := make([]byte, 0, size+proto.MaxHeaderLen)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = proto.AppendFrame(dst[:0], true, proto.OpBinary, false, payload, true, keys.Next())
			}
		})
	}
}

func BenchmarkParseHeader(b *testing.B) {
	hdr := proto.AppendHeader(nil, proto.Header{Fin: true, Op: proto.OpBinary, Masked: true, Key: rfcKey, Length: 4096})
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := proto.ParseHeader(hdr); n == 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}
