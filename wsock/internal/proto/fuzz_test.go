package proto_test

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func FuzzParseHeader(f *testing.F) {
	for i := range rfcExamples {
		f.Add(rfcWire(f, i)[:min(14, len(rfcWire(f, i)))])
	}
	f.Add([]byte{0x83})
	f.Add([]byte{0x09, 0x00})
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, n, err := proto.ParseHeader(data)
		if err != nil {
			var pe *proto.Error
			if !errors.As(err, &pe) || pe.Code != proto.ProtocolError || n != 0 {
				t.Fatalf("ParseHeader(%x) = %d, %v", data, n, err)
			}
			return
		}
		if n == 0 {
			if len(data) >= proto.MaxHeaderLen {
				t.Fatalf("ParseHeader(%x) asks for more than %d bytes", data, proto.MaxHeaderLen)
			}
			return
		}
		if n > len(data) || n > proto.MaxHeaderLen || n < 2 {
			t.Fatalf("ParseHeader(%x) used %d bytes", data, n)
		}
		for k := range n {
			if _, m, err := proto.ParseHeader(data[:k]); m != 0 || err != nil {
				t.Fatalf("prefix %x of a valid header: %d, %v", data[:k], m, err)
			}
		}
		if h.Length < 0 || h.Op.IsControl() && (h.Length > 125 || !h.Fin) {
			t.Fatalf("ParseHeader(%x) accepted %+v", data, h)
		}
		enc := proto.AppendHeader(nil, h)
		if len(enc) > n {
			t.Fatalf("re-encoding %+v takes %d bytes, more than the %d parsed", h, len(enc), n)
		}
		h2, n2, err := proto.ParseHeader(enc)
		if err != nil || n2 != len(enc) || h2 != h {
			t.Fatalf("round trip of %+v: %+v, %d, %v", h, h2, n2, err)
		}
	})
}

func FuzzParseClose(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add([]byte("\x03\xe8"))
	f.Add([]byte("\x03\xe8bye"))
	f.Add([]byte("\x0f\xa0\xce\xba\xed\xa0\x80"))
	f.Add([]byte("\x13\x88"))
	f.Fuzz(func(t *testing.T, data []byte) {
		code, reason, err := proto.ParseClose(data)
		wantOK := len(data) == 0 || len(data) >= 2 && len(data) <= 125 &&
			proto.CloseCode(uint16(data[0])<<8|uint16(data[1])).ValidOnWire() && utf8.Valid(data[2:])
		if err != nil {
			var pe *proto.Error
			if wantOK || !errors.As(err, &pe) || pe.Code != proto.ProtocolError && pe.Code != proto.InvalidPayload {
				t.Fatalf("ParseClose(%x): %v", data, err)
			}
			return
		}
		if !wantOK {
			t.Fatalf("ParseClose(%x) accepted %d %q", data, code, reason)
		}
		if len(data) == 0 {
			if code != proto.NoStatusReceived || reason != "" {
				t.Fatalf("empty close payload: %d %q", code, reason)
			}
			return
		}
		enc, err := proto.AppendClose(nil, code, reason)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("AppendClose(%d, %q) = %x, %v; want %x", code, reason, enc, err, data)
		}
	})
}

func FuzzUTF8(f *testing.F) {
	for _, s := range utf8Cases {
		f.Add([]byte(s), uint16(1), uint16(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, i, j uint16) {
		valid := utf8.Valid(data)
		if proto.ValidUTF8(data) != valid {
			t.Fatalf("ValidUTF8(%x) = %v", data, !valid)
		}
		a := min(int(i), len(data))
		b := min(max(a, int(j)), len(data))
		var v proto.UTF8
		ok1 := v.Write(data[:a])
		ok2 := ok1 && v.Write(data[a:b])
		ok3 := ok2 && v.Write(data[b:])
		if got := ok3 && v.Complete(); got != valid {
			t.Fatalf("incremental validation of %x split at %d, %d = %v", data, a, b, got)
		}
		if len(data) <= 256 {
			bad := firstInvalid(data)
			if ok1 != (bad >= a) || ok2 != (bad >= b) || ok3 != (bad >= len(data)) {
				t.Fatalf("%x split at %d, %d: Write results %v %v %v, first invalid byte at %d", data, a, b, ok1, ok2, ok3, bad)
			}
		}
	})
}

// FuzzReader feeds arbitrary bytes to a Reader, whole and in pieces: it must never panic,
// report the same messages and failure either way, fail only with 1002, 1007 or 1009, and
// keep every message, and every compressed message it buffers, within the limits.
func FuzzReader(f *testing.F) {
	f.Add(newWire(true).text("Hello").ping("p").close(1000, "bye").b, byte(0), byte(0), uint16(0))
	f.Add(newWire(false).frame(false, 0, proto.OpText, []byte("κό")).pong("x").frame(true, 0, proto.OpContinuation, []byte("σμε")).b, byte(1), byte(2), uint16(10))
	f.Add(newWire(true).frame(false, 4, proto.OpBinary, []byte("compressed")).frame(true, 0, proto.OpContinuation, []byte("!")).b, byte(2), byte(3), uint16(8))
	f.Add(newWire(false).fragments(proto.OpBinary, binaryOf(300), 100).b, byte(3), byte(5), uint16(250))
	f.Fuzz(func(t *testing.T, data []byte, flags, chop byte, maxSize uint16) {
		limit := int64(maxSize % 2048) // 0: unlimited
		cfg := proto.ReaderConfig{Role: proto.Server, MaxMessageSize: limit}
		if flags&1 != 0 {
			cfg.Role = proto.Client
		}
		run := func(ends func(w *wire) []int) (got, *fakeInflater) {
			c := cfg
			inf := &fakeInflater{}
			if flags&2 != 0 {
				c.Inflater = inf
			}
			w := &wire{b: bytes.Clone(data)}
			g := feed(t, proto.NewReader(c), w.b, ends(w))
			if g.err != nil {
				var pe *proto.Error
				if !errors.As(g.err, &pe) || pe.Code != proto.ProtocolError && pe.Code != proto.InvalidPayload && pe.Code != proto.MessageTooBig {
					t.Fatalf("unexpected error %v", g.err)
				}
			}
			for _, e := range g.events {
				if e.Kind == proto.EventData && limit > 0 && int64(len(e.Data)) > limit {
					t.Fatalf("message of %d bytes with a limit of %d", len(e.Data), limit)
				}
				if e.Kind == proto.EventData && e.Op == proto.OpText && !utf8.Valid(e.Data) {
					t.Fatalf("invalid text message %x", e.Data)
				}
			}
			if limit > 0 && int64(len(g.partial)) > limit {
				t.Fatalf("partial message of %d bytes with a limit of %d", len(g.partial), limit)
			}
			if bound := limit + limit/1024 + 1024; limit > 0 && int64(inf.lastSize) > bound {
				t.Fatalf("buffered %d compressed bytes with a limit of %d", inf.lastSize, limit)
			}
			return g, inf
		}
		a, _ := run(whole)
		b, _ := run(every(int(chop%16) + 1))
		if (a.err == nil) != (b.err == nil) || a.eof != b.eof || len(a.events) != len(b.events) {
			t.Fatalf("whole: %d events, eof %v, %v; in pieces: %d events, eof %v, %v", len(a.events), a.eof, a.err, len(b.events), b.eof, b.err)
		}
		if a.err != nil {
			var pa, pb *proto.Error
			errors.As(a.err, &pa)
			errors.As(b.err, &pb)
			if pa.Code != pb.Code {
				t.Fatalf("whole: %v; in pieces: %v", a.err, b.err)
			}
		}
		for i := range a.events {
			ea, eb := a.events[i], b.events[i]
			if ea.Kind != eb.Kind || ea.Op != eb.Op || ea.Code != eb.Code || ea.Reason != eb.Reason || !bytes.Equal(ea.Data, eb.Data) {
				t.Fatalf("event %d: whole %+v, in pieces %+v", i, ea, eb)
			}
		}
	})
}
