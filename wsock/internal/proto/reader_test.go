package proto_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func readAll(t testing.TB, cfg proto.ReaderConfig, stream []byte, cut cuts) got {
	t.Helper()
	w := &wire{b: stream}
	return feed(t, proto.NewReader(cfg), stream, cut(w))
}

func requireCode(t testing.TB, code proto.CloseCode, err error) *proto.Error {
	t.Helper()
	var pe *proto.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, code, pe.Code, "%v", err)
	return pe
}

func TestReaderDecodesRFCExamples(t *testing.T) {
	cases := []struct {
		name   string
		role   proto.Role
		wire   []byte
		events []event
	}{
		{"unmasked text", proto.Client, rfcWire(t, 0), []event{textMsg("Hello")}},
		{"masked text", proto.Server, rfcWire(t, 1), []event{textMsg("Hello")}},
		{"fragmented text", proto.Client, append(rfcWire(t, 2), rfcWire(t, 3)...), []event{textMsg("Hello")}},
		{"unmasked ping", proto.Client, rfcWire(t, 4), []event{pingEv("Hello")}},
		{"masked pong", proto.Server, rfcWire(t, 5), []event{pongEv("Hello")}},
		{"256 bytes", proto.Client, rfcWire(t, 6), []event{binaryMsg(rfcExamples[6].payload)}},
		{"64 KiB", proto.Client, rfcWire(t, 7), []event{binaryMsg(rfcExamples[7].payload)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, cut := range []cuts{whole, every(1)} {
				g := readAll(t, proto.ReaderConfig{Role: tc.role}, bytes.Clone(tc.wire), cut)
				require.NoError(t, g.err)
				assertEvents(t, tc.events, g.events)
			}
		})
	}
}

func TestReaderStreamsAFrameAsItsBytesArrive(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Client})
	frame := proto.AppendFrame(nil, true, proto.OpText, false, []byte("Hello, world"), false, [4]byte{})
	ev, n, err := r.Next(frame[:7]) // header and "Hello"
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	assert.Equal(t, proto.Event{Kind: proto.EventData, Op: proto.OpText, Data: []byte("Hello"), First: true, FrameRemaining: 7}, ev)
	ev, n, err = r.Next(frame[7:])
	require.NoError(t, err)
	assert.Equal(t, len(frame)-7, n)
	assert.Equal(t, proto.Event{Kind: proto.EventData, Op: proto.OpText, Data: []byte(", world"), Final: true}, ev)
}

func TestReaderReportsOneEventPerCall(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Server})
	stream := newWire(true).text("a").ping("p").binary([]byte("b")).b
	var kinds []proto.EventKind
	for len(stream) > 0 {
		ev, n, err := r.Next(stream)
		require.NoError(t, err)
		kinds = append(kinds, ev.Kind)
		stream = stream[n:]
	}
	assert.Equal(t, []proto.EventKind{proto.EventData, proto.EventPing, proto.EventData}, kinds)
}

func TestReaderRequiresMaskedFramesFromClients(t *testing.T) {
	stream := newWire(false).text("hi").b
	g := readAll(t, proto.ReaderConfig{Role: proto.Server}, stream, every(1))
	requireCode(t, proto.ProtocolError, g.err)
	assert.Equal(t, 1, g.errStart, "detected on the second header byte")
}

func TestReaderRejectsMaskedFramesFromServers(t *testing.T) {
	stream := newWire(true).ping("hi").b
	g := readAll(t, proto.ReaderConfig{Role: proto.Client}, stream, every(1))
	requireCode(t, proto.ProtocolError, g.err)
	assert.Equal(t, 1, g.errStart)
}

func TestReaderRejectsRSV1WhereNoExtensionAllowsIt(t *testing.T) {
	inf := &fakeInflater{}
	for name, tc := range map[string]struct {
		inflater proto.Inflater
		build    func(w *wire)
	}{
		"without an inflater": {nil, func(w *wire) { w.frame(true, 4, proto.OpBinary, []byte("x")) }},
		"on a control frame":  {inf, func(w *wire) { w.frame(true, 4, proto.OpPing, nil) }},
		"on a continuation": {inf, func(w *wire) {
			w.frame(false, 4, proto.OpText, []byte("a")).frame(true, 4, proto.OpContinuation, []byte("b"))
		}},
		"RSV2 with an inflater": {inf, func(w *wire) { w.frame(true, 2, proto.OpBinary, []byte("x")) }},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWire(true)
			tc.build(w)
			g := readAll(t, proto.ReaderConfig{Role: proto.Server, Inflater: tc.inflater}, w.b, whole)
			requireCode(t, proto.ProtocolError, g.err)
		})
	}
}

// fakeInflater "decompresses" by copying (or, with shrink, to the first byte only), and
// fails on payloads starting with 0xff.
type fakeInflater struct {
	shrink   bool
	calls    int
	lastSize int
}

var errCorrupt = errors.New("corrupt stream")

func (f *fakeInflater) Inflate(dst, compressed []byte, limit int64) ([]byte, error) {
	f.calls++
	f.lastSize = len(compressed)
	if len(compressed) > 0 && compressed[0] == 0xff {
		return dst, errCorrupt
	}
	if f.shrink && len(compressed) > 0 {
		compressed = compressed[:1]
	}
	if int64(len(compressed)) > limit {
		return dst, &proto.Error{Code: proto.MessageTooBig, Reason: "too big"}
	}
	return append(dst, compressed...), nil
}

func TestReaderInflatesCompressedMessages(t *testing.T) {
	for name, cut := range map[string]cuts{"whole": whole, "frames": perFrame, "bytes": every(1)} {
		t.Run(name, func(t *testing.T) {
			inf := &fakeInflater{}
			w := newWire(true).
				frame(true, 4, proto.OpText, []byte("single frame")).
				frame(false, 4, proto.OpBinary, []byte("frag")).
				ping("between").
				frame(false, 0, proto.OpContinuation, []byte("men")).
				frame(true, 0, proto.OpContinuation, []byte("ted")).
				text("plain")
			g := feed(t, proto.NewReader(proto.ReaderConfig{Role: proto.Server, Inflater: inf}), w.b, cut(w))
			require.NoError(t, g.err)
			assertEvents(t, []event{textMsg("single frame"), pingEv("between"), binaryMsg([]byte("fragmented")), textMsg("plain")}, g.events)
			assert.Equal(t, 2, inf.calls, "uncompressed messages bypass the inflater")
		})
	}
}

func TestReaderHandsOverInflatedDataAsOneOwnedChunk(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Client, Inflater: &fakeInflater{}})
	buf := newWire(false).frame(true, 4, proto.OpBinary, []byte("abc")).b
	ev, _, err := r.Next(buf)
	require.NoError(t, err)
	assert.Equal(t, proto.Event{Kind: proto.EventData, Op: proto.OpBinary, Data: []byte("abc"), First: true, Final: true}, ev)
	clear(buf)
	assert.Equal(t, []byte("abc"), ev.Data, "the inflated message does not alias the input")
}

func TestReaderFailsWith1007WhenInflateFails(t *testing.T) {
	w := newWire(true).frame(true, 4, proto.OpBinary, []byte("\xffbad"))
	g := readAll(t, proto.ReaderConfig{Role: proto.Server, Inflater: &fakeInflater{}}, w.b, whole)
	requireCode(t, proto.InvalidPayload, g.err)
	assert.ErrorIs(t, g.err, errCorrupt)
}

func TestReaderPassesOnTheInflatersMessageTooBig(t *testing.T) {
	w := newWire(true).frame(true, 4, proto.OpBinary, []byte("0123456789"))
	g := readAll(t, proto.ReaderConfig{Role: proto.Server, Inflater: &fakeInflater{}, MaxMessageSize: 5}, w.b, whole)
	requireCode(t, proto.MessageTooBig, g.err)
}

func TestReaderValidatesInflatedText(t *testing.T) {
	w := newWire(true).frame(true, 4, proto.OpText, []byte("ok\xed\xa0\x80"))
	g := readAll(t, proto.ReaderConfig{Role: proto.Server, Inflater: &fakeInflater{}}, w.b, whole)
	requireCode(t, proto.InvalidPayload, g.err)
}

func TestReaderBoundsCompressedDataBeforeBufferingIt(t *testing.T) {
	const limit = 4096
	bound := limit + limit/1024 + 1024
	inf := &fakeInflater{shrink: true}
	cfg := proto.ReaderConfig{Role: proto.Server, Inflater: inf, MaxMessageSize: limit}

	w := newWire(true).fragments(proto.OpBinary, make([]byte, bound), 1000)
	w.b[0] |= 0x40 // the first frame carries RSV1
	g := readAll(t, cfg, w.b, every(512))
	require.NoError(t, g.err, "a compressed message of the bound is accepted")
	assert.Equal(t, bound, inf.lastSize)

	w = newWire(true).frame(false, 4, proto.OpBinary, make([]byte, bound)).frame(true, 0, proto.OpContinuation, []byte{0})
	g = readAll(t, cfg, w.b, every(512))
	requireCode(t, proto.MessageTooBig, g.err)
	f := w.frames[1]
	assert.True(t, g.errStart < f.start+f.hdrLen && f.start+f.hdrLen <= g.errEnd, "fails on the header of the frame that crosses the bound")
}

func TestReaderSumsFragmentLengthsWithoutOverflow(t *testing.T) {
	hdr := func(fin bool, op proto.Opcode, length int64) []byte {
		return proto.AppendHeader(nil, proto.Header{Fin: fin, Op: op, Length: length})
	}
	stream := append(hdr(false, proto.OpBinary, 10), make([]byte, 10)...)
	stream = append(stream, hdr(false, proto.OpContinuation, math.MaxInt64)...)
	for _, limit := range []int64{100, math.MaxInt64} {
		g := readAll(t, proto.ReaderConfig{Role: proto.Client, MaxMessageSize: limit}, bytes.Clone(stream), whole)
		requireCode(t, proto.MessageTooBig, g.err)
	}
}

func TestReaderAcceptsHugeFramesWhenUnlimited(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Client})
	hdr := proto.AppendHeader(nil, proto.Header{Op: proto.OpBinary, Length: math.MaxInt64})
	ev, n, err := r.Next(append(hdr, "abc"...))
	require.NoError(t, err)
	assert.Equal(t, len(hdr)+3, n)
	assert.Equal(t, []byte("abc"), ev.Data)
}

func TestReaderChecksTheLimitOnTheHeaderBeforeAnyPayload(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Client, MaxMessageSize: 1000})
	hdr := proto.AppendHeader(nil, proto.Header{Fin: true, Op: proto.OpBinary, Length: 1001})
	_, _, err := r.Next(hdr)
	requireCode(t, proto.MessageTooBig, err)
}

func TestReaderCollectsControlFramesSplitAcrossReads(t *testing.T) {
	payload := stars(125)
	w := newWire(true).frame(false, 0, proto.OpText, []byte("a")).ping(payload).frame(true, 0, proto.OpContinuation, []byte("b"))
	for _, size := range []int{1, 3, 50, 100} {
		g := readAll(t, proto.ReaderConfig{Role: proto.Server}, bytes.Clone(w.b), every(size))
		require.NoError(t, g.err)
		assertEvents(t, []event{pingEv(payload), textMsg("ab")}, g.events)
	}
}

func TestReaderReportsCloseThenEOF(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Server})
	stream := newWire(true).close(proto.GoingAway, "bye").text("ignored").b
	ev, n, err := r.Next(stream)
	require.NoError(t, err)
	assert.Equal(t, proto.EventClose, ev.Kind)
	assert.Equal(t, proto.GoingAway, ev.Code)
	assert.Equal(t, "bye", ev.Reason)
	assert.Equal(t, []byte("\x03\xe9bye"), ev.Data)
	_, n2, err := r.Next(stream[n:])
	assert.ErrorIs(t, err, io.EOF)
	assert.Zero(t, n2)
}

func TestReaderRepeatsItsError(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Server})
	_, _, err := r.Next([]byte{0x83})
	requireCode(t, proto.ProtocolError, err)
	_, _, err2 := r.Next(newWire(true).text("fine").b)
	assert.Same(t, err, err2)
}

func TestReaderFailsFastOnInvalidTextInsideAFrame(t *testing.T) {
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Client})
	frame := newWire(false).text("valid prefix \xf4\x90\x80\x80 and more").b
	cut := bytes.IndexByte(frame, 0x90) + 1
	ev, n, err := r.Next(frame[:cut-1])
	require.NoError(t, err)
	assert.Equal(t, "valid prefix \xf4", string(ev.Data))
	assert.Equal(t, cut-1, n)
	_, _, err = r.Next(frame[cut-1 : cut])
	requireCode(t, proto.InvalidPayload, err)
}

func TestNewReaderPanicsWithoutARole(t *testing.T) {
	assert.PanicsWithValue(t, "proto: ReaderConfig.Role must be Client or Server", func() {
		proto.NewReader(proto.ReaderConfig{})
	})
}

func TestReaderDoesNotAllocateInSteadyState(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	w := newWire(true)
	for range 50 {
		w.text("small text message").binary(binaryOf(300)).ping("p")
		w.fragments(proto.OpText, textOf(5000), 1000)
	}
	w.fragments(proto.OpBinary, binaryOf(1<<20), 64<<10)
	stream := w.b
	r := proto.NewReader(proto.ReaderConfig{Role: proto.Server, MaxMessageSize: 2 << 20})
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(5, func() {
		src := stream // copied into buf, as a connection reads, so it stays masked
		start, end := 0, 0
		for {
			if start == end {
				if len(src) == 0 {
					return
				}
				end = copy(buf, src)
				src = src[end:]
				start = 0
			}
			_, n, err := r.Next(buf[start:end])
			if err != nil {
				t.Fatal(err)
			}
			start += n
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkReader decodes a stream of masked messages through a 4 KiB read buffer, as the
// connection layer does.
func BenchmarkReader(b *testing.B) {
	for _, size := range []int{16, 4 << 10, 64 << 10} {
		for _, op := range []proto.Opcode{proto.OpText, proto.OpBinary} {
			b.Run(op.String()+"-"+byteSize(size), func(b *testing.B) {
				w := newWire(true)
				payload := bytes.Repeat([]byte("a"), size)
				for range (1 << 20) / size {
					w.frame(true, 0, op, payload)
				}
				stream := w.b
				r := proto.NewReader(proto.ReaderConfig{Role: proto.Server})
				buf := make([]byte, 4096)
				b.SetBytes(int64(w.dataLen()))
				b.ReportAllocs()
				for b.Loop() {
					src := stream
					for len(src) > 0 {
						end := copy(buf, src)
						src = src[end:]
						for p := buf[:end]; len(p) > 0; {
							_, n, err := r.Next(p)
							if err != nil {
								b.Fatal(err)
							}
							p = p[n:]
						}
					}
				}
			})
		}
	}
}
