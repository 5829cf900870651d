package proto_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// wire builds the byte stream a peer sends, masked as a client's when mask is set.
type wire struct {
	b      []byte
	mask   bool
	key    uint32
	frames []frameInfo
	spans  []span // where the data frames' payloads are, in order
	bad    int    // wire offset of the byte that makes the stream invalid, or -1
}

// span is the payload of a data frame: n bytes at wire offset at.
type span struct{ at, n int }

type frameInfo struct {
	start, hdrLen, end int
	op                 proto.Opcode
}

func newWire(mask bool) *wire { return &wire{mask: mask, key: 0x3d21fa37, bad: -1} }

// frame appends a frame; rsv is the 3-bit RSV field as Autobahn numbers it (4 = RSV1).
func (w *wire) frame(fin bool, rsv byte, op proto.Opcode, payload []byte) *wire {
	h := proto.Header{Fin: fin, Rsv1: rsv&4 != 0, Rsv2: rsv&2 != 0, Rsv3: rsv&1 != 0, Op: op, Length: int64(len(payload))}
	if w.mask {
		w.key = w.key*1664525 + 1013904223
		h.Masked = true
		h.Key = [4]byte{byte(w.key), byte(w.key >> 8), byte(w.key >> 16), byte(w.key >> 24)}
	}
	start := len(w.b)
	w.b = proto.AppendHeader(w.b, h)
	hdrLen := len(w.b) - start
	if op == proto.OpText || op == proto.OpBinary || op == proto.OpContinuation {
		w.spans = append(w.spans, span{len(w.b), len(payload)})
	}
	w.b = append(w.b, payload...)
	if w.mask {
		proto.Mask(h.Key, 0, w.b[start+hdrLen:])
	}
	w.frames = append(w.frames, frameInfo{start: start, hdrLen: hdrLen, end: len(w.b), op: op})
	return w
}

func (w *wire) text(s string) *wire   { return w.frame(true, 0, proto.OpText, []byte(s)) }
func (w *wire) binary(b []byte) *wire { return w.frame(true, 0, proto.OpBinary, b) }
func (w *wire) ping(s string) *wire   { return w.frame(true, 0, proto.OpPing, []byte(s)) }
func (w *wire) pong(s string) *wire   { return w.frame(true, 0, proto.OpPong, []byte(s)) }
func (w *wire) close(code proto.CloseCode, reason string) *wire {
	p, err := proto.AppendClose(nil, code, reason)
	if err != nil {
		panic(err)
	}
	return w.frame(true, 0, proto.OpClose, p)
}

// fragments appends msg as a message of op split into frames of at most size bytes.
func (w *wire) fragments(op proto.Opcode, msg []byte, size int) *wire {
	for first := true; first || len(msg) > 0; first = false {
		n := min(size, len(msg))
		if !first {
			op = proto.OpContinuation
		}
		w.frame(n == len(msg), 0, op, msg[:n])
		msg = msg[n:]
	}
	return w
}

// dataLen returns the number of data payload bytes so far.
func (w *wire) dataLen() int {
	n := 0
	for _, s := range w.spans {
		n += s.n
	}
	return n
}

// dataOffset returns the wire offset of data payload byte k.
func (w *wire) dataOffset(k int) int {
	for _, s := range w.spans {
		if k < s.n {
			return s.at + k
		}
		k -= s.n
	}
	panic("dataOffset out of range")
}

// dataBefore returns the number of data payload bytes at wire offsets below off.
func (w *wire) dataBefore(off int) int {
	n := 0
	for _, s := range w.spans {
		n += min(s.n, max(0, off-s.at))
	}
	return n
}

// last returns the most recent frame.
func (w *wire) last() frameInfo { return w.frames[len(w.frames)-1] }

// badAt marks byte i of the last frame as the one that makes the stream invalid.
func (w *wire) badAt(i int) *wire {
	w.bad = w.last().start + i
	return w
}

// got is what a Reader reported for a stream: messages reassembled from their chunks.
type got struct {
	events   []event
	partial  []byte // chunks of a message that did not finish
	err      error
	errStart int // the piece of the stream whose processing failed: [errStart, errEnd)
	errEnd   int
	eof      bool
}

// event is an Event with a message's chunks joined.
type event struct {
	Kind   proto.EventKind
	Op     proto.Opcode
	Data   []byte
	Code   proto.CloseCode
	Reason string
}

// cuts splits stream lengths into pieces.
type cuts func(w *wire) []int // piece ends, increasing, the last is len(w.b)

func whole(w *wire) []int { return []int{len(w.b)} }

func perFrame(w *wire) []int {
	var ends []int
	for _, f := range w.frames {
		ends = append(ends, f.end)
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(w.b) {
		ends = append(ends, len(w.b))
	}
	return ends
}

func every(size int) cuts {
	return func(w *wire) []int {
		var ends []int
		for e := size; e < len(w.b); e += size {
			ends = append(ends, e)
		}
		return append(ends, len(w.b))
	}
}

// feed passes the stream to r piece by piece, as a connection's read loop would, and checks
// the Reader's contract on the way: n never exceeds the input, EventNone means all bytes were
// used, the chunks of a message are flagged and typed consistently, nothing is left pending
// once a piece is used up, and errors and io.EOF are sticky.
func feed(t testing.TB, r *proto.Reader, stream []byte, ends []int) got {
	t.Helper()
	// Plain comparisons: this loop runs once per byte in the byte-wise cases.
	var g got
	var msgOp proto.Opcode
	inMsg := false
	start := 0
	for _, end := range ends {
		p := stream[start:end]
		for {
			ev, n, err := r.Next(p)
			if err != nil {
				if errors.Is(err, io.EOF) {
					g.eof = true
				} else {
					g.err, g.errStart, g.errEnd = err, start, end
				}
				if _, n2, err2 := r.Next(p[n:]); err2 != err || n2 != 0 {
					t.Fatalf("after %v, Next returned %d, %v: the error must be sticky", err, n2, err2)
				}
				return g
			}
			if n > len(p) {
				t.Fatalf("Next used %d bytes of %d", n, len(p))
			}
			p = p[n:]
			switch ev.Kind {
			case proto.EventNone:
				if len(p) > 0 {
					t.Fatalf("EventNone left %d bytes unused", len(p))
				}
			case proto.EventData:
				if ev.First == inMsg {
					t.Fatalf("chunk with First = %v inside a message = %v", ev.First, inMsg)
				}
				if ev.First {
					if ev.Op != proto.OpText && ev.Op != proto.OpBinary {
						t.Fatalf("message of type %v", ev.Op)
					}
					msgOp, inMsg, g.partial = ev.Op, true, g.partial[:0]
				}
				if ev.Op != msgOp {
					t.Fatalf("chunk of type %v in a %v message", ev.Op, msgOp)
				}
				g.partial = append(g.partial, ev.Data...)
				if ev.Final {
					g.events = append(g.events, event{Kind: proto.EventData, Op: msgOp, Data: bytes.Clone(g.partial)})
					inMsg, g.partial = false, g.partial[:0]
				}
			default:
				g.events = append(g.events, event{Kind: ev.Kind, Data: bytes.Clone(ev.Data), Code: ev.Code, Reason: ev.Reason})
			}
			if ev.Kind == proto.EventNone || len(p) == 0 {
				break
			}
		}
		ev, n, err := r.Next(nil)
		if errors.Is(err, io.EOF) {
			g.eof = true
			return g
		}
		if err != nil || ev.Kind != proto.EventNone || n != 0 {
			t.Fatalf("Next(nil) = %v, %d, %v: nothing may be pending once the input is used up", ev.Kind, n, err)
		}
		start = end
	}
	if !inMsg {
		g.partial = nil
	}
	return g
}

// assertEvents compares events without printing megabytes of payload.
func assertEvents(t testing.TB, want, got []event) {
	t.Helper()
	if slices.EqualFunc(want, got, func(w, g event) bool {
		return w.Kind == g.Kind && w.Op == g.Op && w.Code == g.Code && w.Reason == g.Reason && bytes.Equal(w.Data, g.Data)
	}) {
		return
	}
	if !assert.Equal(t, len(want), len(got), "number of events") {
		return
	}
	for i := range want {
		w, g := want[i], got[i]
		assert.Equal(t, w.Kind, g.Kind, "event %d kind", i)
		assert.Equal(t, w.Op, g.Op, "event %d opcode", i)
		assert.Equal(t, w.Code, g.Code, "event %d close code", i)
		assert.Equal(t, w.Reason, g.Reason, "event %d close reason", i)
		if len(w.Data) > 256 || len(g.Data) > 256 {
			assert.Equal(t, len(w.Data), len(g.Data), "event %d payload length", i)
			assert.True(t, bytes.Equal(w.Data, g.Data), "event %d payload", i)
		} else {
			assert.Equal(t, string(w.Data), string(g.Data), "event %d payload", i)
		}
	}
}

// Expected events.
func textMsg(s string) event   { return event{Kind: proto.EventData, Op: proto.OpText, Data: []byte(s)} }
func binaryMsg(b []byte) event { return event{Kind: proto.EventData, Op: proto.OpBinary, Data: b} }
func pingEv(s string) event    { return event{Kind: proto.EventPing, Data: []byte(s)} }
func pongEv(s string) event    { return event{Kind: proto.EventPong, Data: []byte(s)} }
func closeEv(code proto.CloseCode, reason string) event {
	var p []byte
	if code != proto.NoStatusReceived {
		p, _ = proto.AppendClose(nil, code, reason)
	}
	return event{Kind: proto.EventClose, Data: p, Code: code, Reason: reason}
}

func itoa(n int) string { return strconv.Itoa(n) }
