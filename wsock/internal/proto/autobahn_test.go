package proto_test

// Table tests derived from the Autobahn|Testsuite fuzzing client (sections 1–7, 9 and 10;
// 12 and 13 are compression cases, covered by the deflate package). Each row rebuilds the
// bytes the fuzzer sends for a case and feeds them to a Reader, as a server (masked frames)
// and as a client (the mirror: unmasked frames), in one piece, frame by frame, byte by byte
// and in 4 KiB reads. Where the case fails the connection, the row marks the byte that makes
// the stream invalid, and the Reader must fail on the piece holding that byte.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

type abRow struct {
	id      string
	build   func(w *wire)
	want    []event         // events before the end of the stream or the error
	partial string          // data of a message the stream leaves unfinished
	code    proto.CloseCode // the Reader must fail with this code; 0 if it must not fail
	cuts    []cuts          // ways to split the stream besides the default ones
}

type abCase struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Expectation string `json:"expectation"`
}

func loadAutobahnCases(t testing.TB) []abCase {
	t.Helper()
	b, err := os.ReadFile("testdata/autobahn-cases.json")
	require.NoError(t, err)
	var doc struct{ Cases []abCase }
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc.Cases
}

func receiverSection(id string) bool {
	s, _, _ := strings.Cut(id, ".")
	return s != "0" && s != "8" && s != "12" && s != "13"
}

func TestAutobahnRowsCoverEveryReceiverCase(t *testing.T) {
	var want []string
	for _, c := range loadAutobahnCases(t) {
		if receiverSection(c.ID) {
			want = append(want, c.ID)
		}
	}
	var have []string
	for _, r := range autobahnRows(t) {
		have = append(have, r.id)
	}
	assert.Equal(t, want, have)
}

func TestAutobahn(t *testing.T) {
	for _, row := range autobahnRows(t) {
		t.Run(row.id, func(t *testing.T) {
			for _, role := range []proto.Role{proto.Server, proto.Client} {
				w := newWire(role == proto.Server)
				row.build(w)
				name := "server"
				if role == proto.Client {
					name = "client"
				}
				var seen [][]int
				for _, c := range chopsFor(w, row.cuts) {
					ends := c.cuts(w)
					if slices.ContainsFunc(seen, func(e []int) bool { return slices.Equal(e, ends) }) {
						continue // e.g. frame by frame when there is only one frame
					}
					seen = append(seen, ends)
					runRow(t, name+"/"+c.name, row, w, role, 0, c.cuts)
				}
				if row.code == 0 {
					checkSizeLimit(t, name, row, w, role)
				}
			}
		})
	}
}

type chop struct {
	name string
	cuts cuts
}

func chopsFor(w *wire, extra []cuts) []chop {
	cs := []chop{{"whole", whole}, {"frames", perFrame}}
	byteWise := 128 << 10
	if raceEnabled {
		byteWise = 8 << 10
	}
	if len(w.b) <= byteWise {
		cs = append(cs, chop{"bytes", every(1)})
	}
	if len(w.b) > 4096 {
		cs = append(cs, chop{"4KiB", every(4096)})
	}
	for i, c := range extra {
		cs = append(cs, chop{"extra" + strconv.Itoa(i), c})
	}
	return cs
}

func runRow(t *testing.T, name string, row abRow, w *wire, role proto.Role, maxSize int64, cut cuts) {
	t.Helper()
	r := proto.NewReader(proto.ReaderConfig{Role: role, MaxMessageSize: maxSize})
	g := feed(t, r, bytes.Clone(w.b), cut(w))
	if row.code == 0 {
		require.NoError(t, g.err, name)
	} else {
		var pe *proto.Error
		require.ErrorAs(t, g.err, &pe, name)
		require.Equal(t, row.code, pe.Code, "%s: %v", name, g.err)
		if assert.GreaterOrEqual(t, w.bad, 0, "row must mark the offending byte") {
			assert.True(t, g.errStart <= w.bad && w.bad < g.errEnd,
				"%s: failed on bytes [%d,%d), the offending byte is at %d", name, g.errStart, g.errEnd, w.bad)
		}
		delivered := len(g.partial)
		for _, e := range g.events {
			if e.Kind == proto.EventData {
				delivered += len(e.Data)
			}
		}
		assert.LessOrEqual(t, delivered, w.dataBefore(w.bad), "%s: data from beyond the offending byte was delivered", name)
	}
	assertEvents(t, row.want, g.events)
	if row.code == 0 {
		assert.Equal(t, row.partial, string(g.partial), "%s: unfinished message", name)
	}
	wantEOF := len(row.want) > 0 && row.want[len(row.want)-1].Kind == proto.EventClose
	assert.Equal(t, wantEOF, g.eof, "%s: io.EOF after a close frame", name)
}

// checkSizeLimit runs a passing row again with MaxMessageSize set to its largest message,
// which must pass, and to one byte less, which must fail with 1009 on the header of the frame
// that crosses the limit (its last byte is the offending one), before any of its payload is
// delivered.
func checkSizeLimit(t *testing.T, name string, row abRow, w *wire, role proto.Role) {
	largest := int64(-1)
	for _, e := range row.want {
		if e.Kind == proto.EventData {
			largest = max(largest, int64(len(e.Data)))
		}
	}
	if largest < 0 {
		return
	}
	cut := whole
	if len(w.b) > 4096 {
		cut = every(4096)
	}
	runRow(t, name+"/limit-exact", row, w, role, largest, cut)
	if largest < 2 {
		return
	}
	limit := largest - 1
	over := *w
	var size int64
	for _, f := range w.frames {
		if f.op.IsControl() {
			continue
		}
		if f.op != proto.OpContinuation {
			size = 0
		}
		size += int64(f.end - f.start - f.hdrLen)
		if size > limit {
			over.bad = f.start + f.hdrLen - 1
			break
		}
	}
	tooBig := abRow{id: row.id, code: proto.MessageTooBig}
	for _, e := range row.want {
		if e.Kind == proto.EventData && int64(len(e.Data)) > limit {
			break
		}
		tooBig.want = append(tooBig.want, e)
	}
	runRow(t, name+"/limit-1", tooBig, &over, role, limit, cut)
}

// Payloads in the fuzzer's style.
func stars(n int) string { return strings.Repeat("*", n) }

func fe(n int) []byte { return bytes.Repeat([]byte{0xfe}, n) }

// textOf returns n bytes of valid UTF-8 mixing ASCII with 2-, 3- and 4-byte code points, so
// that fragment and chop boundaries fall inside code points.
func textOf(n int) []byte {
	return cached(proto.OpText, n, func() []byte {
		const pat = "BAsd7&jh23 µ€𝄞 Hello-µ@ßöäüàá-UTF-8!! κόσμε "
		b := bytes.Repeat([]byte(pat), n/len(pat)+1)[:n]
		for i := len(b) - 1; i >= 0 && i >= len(b)-3 && !utf8.Valid(b); i-- {
			b[i] = '*'
		}
		return b
	})
}

func binaryOf(n int) []byte {
	return cached(proto.OpBinary, n, func() []byte {
		b := make([]byte, n)
		rng := rand.NewChaCha8([32]byte{9})
		_, _ = rng.Read(b)
		return b
	})
}

type payloadKey struct {
	op proto.Opcode
	n  int
}

var payloads = map[payloadKey][]byte{} // only the test goroutine uses it

func cached(op proto.Opcode, n int, gen func() []byte) []byte {
	k := payloadKey{op, n}
	if b, ok := payloads[k]; ok {
		return b
	}
	b := gen()
	payloads[k] = b
	return b
}

// big scales the sizes of section 9 down under the race detector (so do the 1000-message
// rows of 9.7 and 9.8).
func big(n int) int {
	if raceEnabled && n > 64<<10 {
		return n / 64
	}
	return n
}

func messages(op proto.Opcode, msg []byte, count int) []event {
	evs := make([]event, count)
	for i := range evs {
		evs[i] = event{Kind: proto.EventData, Op: op, Data: msg}
	}
	return evs
}

var (
	kosme      = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	binPayload = "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
)

func autobahnRows(t testing.TB) []abRow {
	const hello = "Hello, world!"
	var rows []abRow
	add := func(r abRow) { rows = append(rows, r) }

	// 1 Framing: text and binary messages around the length encoding boundaries.
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536, 65536} {
		id := "1.1." + strconv.Itoa(i+1)
		var cs []cuts
		if i == 7 {
			cs = []cuts{every(997)}
		}
		add(abRow{id: id, build: func(w *wire) { w.text(stars(n)) }, want: []event{textMsg(stars(n))}, cuts: cs})
	}
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536, 65536} {
		id := "1.2." + strconv.Itoa(i+1)
		var cs []cuts
		if i == 7 {
			cs = []cuts{every(997)}
		}
		add(abRow{id: id, build: func(w *wire) { w.binary(fe(n)) }, want: []event{binaryMsg(fe(n))}, cuts: cs})
	}

	// 2 Pings and pongs.
	pings := func(w *wire) {
		for i := range 10 {
			w.ping("payload-" + strconv.Itoa(i))
		}
	}
	var tenPings []event
	for i := range 10 {
		tenPings = append(tenPings, pingEv("payload-"+strconv.Itoa(i)))
	}
	add(abRow{id: "2.1", build: func(w *wire) { w.ping("") }, want: []event{pingEv("")}})
	add(abRow{id: "2.2", build: func(w *wire) { w.ping(hello) }, want: []event{pingEv(hello)}})
	add(abRow{id: "2.3", build: func(w *wire) { w.ping(binPayload) }, want: []event{pingEv(binPayload)}})
	add(abRow{id: "2.4", build: func(w *wire) { w.ping(string(fe(125))) }, want: []event{pingEv(string(fe(125)))}})
	add(abRow{id: "2.5", build: func(w *wire) { w.ping(string(fe(126))).badAt(1) }, code: proto.ProtocolError})
	add(abRow{id: "2.6", build: func(w *wire) { w.ping(string(fe(125))) }, want: []event{pingEv(string(fe(125)))}})
	add(abRow{id: "2.7", build: func(w *wire) { w.pong("") }, want: []event{pongEv("")}})
	add(abRow{id: "2.8", build: func(w *wire) { w.pong("unsolicited pong payload") }, want: []event{pongEv("unsolicited pong payload")}})
	add(abRow{id: "2.9", build: func(w *wire) { w.pong("unsolicited pong payload").ping("ping payload") },
		want: []event{pongEv("unsolicited pong payload"), pingEv("ping payload")}})
	add(abRow{id: "2.10", build: pings, want: tenPings})
	add(abRow{id: "2.11", build: pings, want: tenPings})

	// 3 Reserved bits: without a negotiated extension every RSV bit fails the connection.
	add(abRow{id: "3.1", build: func(w *wire) { w.frame(true, 1, proto.OpText, []byte(hello)).badAt(0) }, code: proto.ProtocolError})
	for i, rsv := range []byte{2, 3, 4} {
		add(abRow{id: "3." + strconv.Itoa(i+2), build: func(w *wire) {
			w.text(hello).frame(true, rsv, proto.OpText, []byte(hello)).badAt(0).ping(hello)
		}, want: []event{textMsg(hello)}, code: proto.ProtocolError})
	}
	add(abRow{id: "3.5", build: func(w *wire) { w.frame(true, 5, proto.OpBinary, []byte(binPayload)).badAt(0) }, code: proto.ProtocolError})
	add(abRow{id: "3.6", build: func(w *wire) { w.frame(true, 6, proto.OpPing, []byte(hello)).badAt(0) }, code: proto.ProtocolError})
	add(abRow{id: "3.7", build: func(w *wire) { w.frame(true, 7, proto.OpClose, nil).badAt(0) }, code: proto.ProtocolError})

	// 4 Reserved opcodes.
	for _, base := range []struct {
		sub string
		op  proto.Opcode
	}{{"4.1.", 3}, {"4.2.", 11}} {
		op := base.op
		add(abRow{id: base.sub + "1", build: func(w *wire) { w.frame(true, 0, op, nil).badAt(0) }, code: proto.ProtocolError})
		add(abRow{id: base.sub + "2", build: func(w *wire) { w.frame(true, 0, op+1, []byte("reserved opcode payload")).badAt(0) }, code: proto.ProtocolError})
		for i := 3; i <= 5; i++ {
			op, payload := op+proto.Opcode(i-1), []byte("reserved opcode payload")
			if i == 3 {
				payload = nil
			}
			add(abRow{id: base.sub + strconv.Itoa(i), build: func(w *wire) {
				w.text(hello).frame(true, 0, op, payload).badAt(0).ping(hello)
			}, want: []event{textMsg(hello)}, code: proto.ProtocolError})
		}
	}

	// 5 Fragmentation.
	for i, op := range []proto.Opcode{proto.OpPing, proto.OpPong} {
		add(abRow{id: "5." + strconv.Itoa(i+1), build: func(w *wire) {
			w.frame(false, 0, op, []byte("fragment1")).badAt(0).frame(true, 0, proto.OpContinuation, []byte("fragment2"))
		}, code: proto.ProtocolError})
	}
	twoFragments := func(w *wire) {
		w.frame(false, 0, proto.OpText, []byte("fragment1")).frame(true, 0, proto.OpContinuation, []byte("fragment2"))
	}
	for i := 3; i <= 5; i++ {
		add(abRow{id: "5." + strconv.Itoa(i), build: twoFragments, want: []event{textMsg("fragment1fragment2")}})
	}
	for i := 6; i <= 8; i++ {
		add(abRow{id: "5." + strconv.Itoa(i), build: func(w *wire) {
			w.frame(false, 0, proto.OpText, []byte("fragment1")).ping("pongme!").frame(true, 0, proto.OpContinuation, []byte("fragment2"))
		}, want: []event{pingEv("pongme!"), textMsg("fragment1fragment2")}})
	}
	for i := 9; i <= 14; i++ {
		fin := i <= 11
		add(abRow{id: "5." + strconv.Itoa(i), build: func(w *wire) {
			w.frame(fin, 0, proto.OpContinuation, []byte("non-continuation payload")).badAt(0).text(hello)
		}, code: proto.ProtocolError})
	}
	add(abRow{id: "5.15", build: func(w *wire) {
		twoFragments(w)
		w.frame(false, 0, proto.OpContinuation, []byte("fragment3")).badAt(0).text("fragment4")
	}, want: []event{textMsg("fragment1fragment2")}, code: proto.ProtocolError})
	for i, fin := range []bool{false, true} {
		add(abRow{id: "5." + strconv.Itoa(16+i), build: func(w *wire) {
			for range 2 {
				w.frame(fin, 0, proto.OpContinuation, []byte("fragment1"))
				if w.bad < 0 {
					w.badAt(0)
				}
				w.frame(false, 0, proto.OpText, []byte("fragment2")).frame(true, 0, proto.OpContinuation, []byte("fragment3"))
			}
		}, code: proto.ProtocolError})
	}
	add(abRow{id: "5.18", build: func(w *wire) {
		w.frame(false, 0, proto.OpText, []byte("fragment1")).frame(true, 0, proto.OpText, []byte("fragment2")).badAt(0)
	}, code: proto.ProtocolError})
	for _, id := range []string{"5.19", "5.20"} {
		add(abRow{id: id, build: func(w *wire) {
			w.frame(false, 0, proto.OpText, []byte("fragment1")).
				frame(false, 0, proto.OpContinuation, []byte("fragment2")).
				ping("pongme 1!").
				frame(false, 0, proto.OpContinuation, []byte("fragment3")).
				frame(false, 0, proto.OpContinuation, []byte("fragment4")).
				ping("pongme 2!").
				frame(true, 0, proto.OpContinuation, []byte("fragment5"))
		}, want: []event{pingEv("pongme 1!"), pingEv("pongme 2!"), textMsg("fragment1fragment2fragment3fragment4fragment5")}})
	}

	// 6 UTF-8 handling.
	add(abRow{id: "6.1.1", build: func(w *wire) { w.text("") }, want: []event{textMsg("")}})
	add(abRow{id: "6.1.2", build: func(w *wire) {
		w.frame(false, 0, proto.OpText, nil).frame(false, 0, proto.OpContinuation, nil).frame(true, 0, proto.OpContinuation, nil)
	}, want: []event{textMsg("")}})
	add(abRow{id: "6.1.3", build: func(w *wire) {
		w.frame(false, 0, proto.OpText, nil).frame(false, 0, proto.OpContinuation, []byte("middle frame payload")).frame(true, 0, proto.OpContinuation, nil)
	}, want: []event{textMsg("middle frame payload")}})
	for _, c := range loadAutobahnCases(t) {
		if strings.HasPrefix(c.ID, "6.") && !strings.HasPrefix(c.ID, "6.1.") {
			rows = append(rows, utf8Row(t, c))
		}
	}

	// 7 Close handling: a close frame ends the stream; what follows is ignored.
	add(abRow{id: "7.1.1", build: func(w *wire) { w.text("Hello World!").close(1000, "") },
		want: []event{textMsg("Hello World!"), closeEv(1000, "")}})
	add(abRow{id: "7.1.2", build: func(w *wire) { w.close(1000, "").close(1000, "") }, want: []event{closeEv(1000, "")}})
	add(abRow{id: "7.1.3", build: func(w *wire) { w.close(1000, "").ping("Hello World!") }, want: []event{closeEv(1000, "")}})
	add(abRow{id: "7.1.4", build: func(w *wire) { w.close(1000, "").text("Hello World!") }, want: []event{closeEv(1000, "")}})
	add(abRow{id: "7.1.5", build: func(w *wire) {
		w.frame(false, 0, proto.OpText, []byte("fragment1")).close(1000, "").frame(true, 0, proto.OpContinuation, []byte("fragment2"))
	}, want: []event{closeEv(1000, "")}, partial: "fragment1"})
	bigText := textOf(256 << 10)
	add(abRow{id: "7.1.6", build: func(w *wire) { w.text(string(bigText)).close(1000, "").ping("Hello World!") },
		want: []event{{Kind: proto.EventData, Op: proto.OpText, Data: bigText}, closeEv(1000, "")}})
	add(abRow{id: "7.3.1", build: func(w *wire) { w.frame(true, 0, proto.OpClose, nil) }, want: []event{closeEv(proto.NoStatusReceived, "")}})
	add(abRow{id: "7.3.2", build: func(w *wire) { lastByte(w.frame(true, 0, proto.OpClose, []byte("a"))) },
		code: proto.ProtocolError})
	add(abRow{id: "7.3.3", build: func(w *wire) { w.close(1000, "") }, want: []event{closeEv(1000, "")}})
	add(abRow{id: "7.3.4", build: func(w *wire) { w.close(1000, "Hello World!") }, want: []event{closeEv(1000, "Hello World!")}})
	add(abRow{id: "7.3.5", build: func(w *wire) { w.close(1000, stars(123)) }, want: []event{closeEv(1000, stars(123))}})
	add(abRow{id: "7.3.6", build: func(w *wire) { w.frame(true, 0, proto.OpClose, append([]byte{0x03, 0xe8}, stars(124)...)).badAt(1) },
		code: proto.ProtocolError})
	add(abRow{id: "7.5.1", build: func(w *wire) {
		lastByte(w.frame(true, 0, proto.OpClose, []byte("\x03\xe8"+kosme+"\xed\xa0\x80edited")))
	},
		code: proto.InvalidPayload})
	for i, code := range []proto.CloseCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		add(abRow{id: "7.7." + strconv.Itoa(i+1), build: func(w *wire) { w.close(code, "") }, want: []event{closeEv(code, "")}})
	}
	rawClose := func(code uint16) func(w *wire) {
		return func(w *wire) { lastByte(w.frame(true, 0, proto.OpClose, []byte{byte(code >> 8), byte(code)})) }
	}
	for i, code := range []uint16{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		add(abRow{id: "7.9." + strconv.Itoa(i+1), build: rawClose(code), code: proto.ProtocolError})
	}
	// 7.13: "undefined by the spec"; outside every registered range, so a protocol error.
	add(abRow{id: "7.13.1", build: rawClose(5000), code: proto.ProtocolError})
	add(abRow{id: "7.13.2", build: rawClose(65535), code: proto.ProtocolError})

	// 9 Limits: big messages, many fragments, small reads, many messages.
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	fragSizes := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	chopSizes := []int{64, 128, 256, 512, 1024, 2048}
	rttSizes := []int{0, 16, 64, 256, 1024, 4096}
	for sub, op := range []proto.Opcode{proto.OpText, proto.OpBinary} {
		payload := textOf
		if op == proto.OpBinary {
			payload = binaryOf
		}
		for i, n := range sizes {
			msg := payload(big(n))
			add(abRow{id: "9." + strconv.Itoa(1+sub) + "." + strconv.Itoa(i+1), build: func(w *wire) {
				w.frame(true, 0, op, msg)
			}, want: messages(op, msg, 1)})
		}
	}
	for sub, op := range []proto.Opcode{proto.OpText, proto.OpBinary} {
		payload := textOf
		if op == proto.OpBinary {
			payload = binaryOf
		}
		msg := payload(big(4 << 20))
		for i, n := range fragSizes {
			add(abRow{id: "9." + strconv.Itoa(3+sub) + "." + strconv.Itoa(i+1), build: func(w *wire) {
				w.fragments(op, msg, n)
			}, want: messages(op, msg, 1)})
		}
	}
	for sub, op := range []proto.Opcode{proto.OpText, proto.OpBinary} {
		payload := textOf
		if op == proto.OpBinary {
			payload = binaryOf
		}
		msg := payload(big(1 << 20))
		for i, n := range chopSizes {
			add(abRow{id: "9." + strconv.Itoa(5+sub) + "." + strconv.Itoa(i+1), build: func(w *wire) {
				w.frame(true, 0, op, msg)
			}, want: messages(op, msg, 1), cuts: []cuts{every(n)}})
		}
	}
	for sub, op := range []proto.Opcode{proto.OpText, proto.OpBinary} {
		payload := textOf
		if op == proto.OpBinary {
			payload = binaryOf
		}
		count := 1000
		if raceEnabled {
			count = 100
		}
		for i, n := range rttSizes {
			msg := payload(n)
			add(abRow{id: "9." + strconv.Itoa(7+sub) + "." + strconv.Itoa(i+1), build: func(w *wire) {
				for range count {
					w.frame(true, 0, op, msg)
				}
			}, want: messages(op, msg, count)})
		}
	}

	// 10 Auto-fragmentation: the fuzzer sends 64 KiB in 1300-byte frames.
	msg := textOf(65536)
	add(abRow{id: "10.1.1", build: func(w *wire) { w.fragments(proto.OpText, msg, 1300) }, want: messages(proto.OpText, msg, 1)})

	// Rows in the order of the case list.
	order := map[string]int{}
	for i, c := range loadAutobahnCases(t) {
		order[c.ID] = i
	}
	slices.SortStableFunc(rows, func(a, b abRow) int { return order[a.id] - order[b.id] })
	return rows
}

// lastByte marks the last byte of the last frame as the offending one: a close payload is
// checked once complete.
func lastByte(w *wire) { w.bad = w.last().end - 1 }

var (
	payloadHex = regexp.MustCompile(`Payload: 0x([0-9a-f]*)`)
	quotedHex  = regexp.MustCompile(`b'([0-9a-f]*)'`)
	partHex    = regexp.MustCompile(`PART(\d) = b'([0-9a-f]*)'`)
)

// utf8Row turns a case of section 6 into a row from the payload its description gives.
func utf8Row(t testing.TB, c abCase) abRow {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		require.NoError(t, err, c.ID)
		return b
	}
	var frags [][]byte // the message's frames
	var msg []byte
	var truncate int // 6.4.4: the frame declares more payload than is sent
	var cs []cuts
	switch {
	case payloadHex.MatchString(c.Description):
		msg = unhex(payloadHex.FindStringSubmatch(c.Description)[1])
		frags = [][]byte{msg}
	case strings.HasPrefix(c.ID, "6.4."):
		parts := partHex.FindAllStringSubmatch(c.Description, -1)
		require.Len(t, parts, 3, c.ID)
		for _, p := range parts {
			frags = append(frags, unhex(p[2]))
		}
		msg = bytes.Join(frags, nil)
		if c.ID == "6.4.3" || c.ID == "6.4.4" {
			// One frame sent in three pieces, split where the parts meet.
			p1, p2 := len(frags[0]), len(frags[1])
			if c.ID == "6.4.4" {
				truncate = len("8080656469746564") / 2 // the third part of 6.4.2, never sent
				msg = append(msg, unhex("8080656469746564")...)
			}
			frags = [][]byte{msg}
			cs = []cuts{func(w *wire) []int {
				h := w.last().start + w.last().hdrLen
				return []int{h + p1, h + p1 + p2, len(w.b)}
			}}
		}
	default:
		var hexes [][]byte
		for _, m := range quotedHex.FindAllStringSubmatch(c.Description, -1) {
			hexes = append(hexes, unhex(m[1]))
		}
		require.NotEmpty(t, hexes, c.ID)
		msg = bytes.Join(hexes, nil)
		frags = hexes
		if strings.Contains(c.Description, "fragments of 1 octet") {
			frags = nil
			for i := range msg {
				frags = append(frags, msg[i:i+1])
			}
		}
	}
	valid := strings.Contains(c.Expectation, "echo")
	require.Equal(t, valid, utf8.Valid(msg), "%s: the expectation disagrees with unicode/utf8", c.ID)
	row := abRow{id: c.ID, cuts: cs}
	row.build = func(w *wire) {
		first := w.dataLen()
		for i, f := range frags {
			op := proto.OpText
			if i > 0 {
				op = proto.OpContinuation
			}
			w.frame(i == len(frags)-1, 0, op, f)
		}
		if truncate > 0 {
			w.b = w.b[:len(w.b)-truncate]
			w.spans[len(w.spans)-1].n -= truncate
			w.frames[len(w.frames)-1].end -= truncate
		}
		if !valid {
			if i := firstInvalid(msg); i < len(msg) {
				w.bad = w.dataOffset(first + i)
			} else {
				w.bad = w.last().end - 1
			}
		}
	}
	if valid {
		row.want = []event{{Kind: proto.EventData, Op: proto.OpText, Data: msg}}
	} else {
		row.code = proto.InvalidPayload
	}
	return row
}

// firstInvalid returns the index of the first byte after which p can no longer begin a valid
// UTF-8 string, or len(p) if every prefix can still be completed. It relies on
// unicode/utf8 only: a prefix can be completed if appending at most three bytes makes it valid
// (A0, 90 and 80 cover the second-byte ranges of every lead byte; later bytes are 80).
func firstInvalid(p []byte) int {
	completable := func(q []byte) bool {
		if utf8.Valid(q) {
			return true
		}
		for k := 1; k <= 3; k++ {
			for _, c := range []byte{0x80, 0x90, 0xa0} {
				s := append(bytes.Clone(q), c)
				s = append(s, bytes.Repeat([]byte{0x80}, k-1)...)
				if utf8.Valid(s) {
					return true
				}
			}
		}
		return false
	}
	for i := range p {
		if !completable(p[:i+1]) {
			return i
		}
	}
	return len(p)
}
