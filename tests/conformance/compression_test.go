package conformance

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Sections 12 and 13: permessage-deflate (RFC 7692). The fuzzer negotiates the extension
// with Autobahn's offers (as a client) or accept rules (as a server), and compresses and
// decompresses with compress/flate on its own.

// pmdOffer is an offer of Autobahn's client (PerMessageDeflateOffer).
type pmdOffer struct {
	acceptNoContextTakeover  bool // client_no_context_takeover: the client can reset
	acceptMaxWindowBits      bool // client_max_window_bits: the server may shrink the client's window
	requestNoContextTakeover bool
	requestMaxWindowBits     int
}

// autobahnOffer is PerMessageDeflateOffer(requestNoContextTakeover, requestMaxWindowBits).
func autobahnOffer(noContextTakeover bool, maxWindowBits int) pmdOffer {
	return pmdOffer{true, true, noContextTakeover, maxWindowBits}
}

func (o pmdOffer) String() string {
	s := "permessage-deflate"
	if o.acceptNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if o.acceptMaxWindowBits {
		s += "; client_max_window_bits"
	}
	if o.requestNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if o.requestMaxWindowBits != 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(o.requestMaxWindowBits)
	}
	return s
}

func offerHeader(offers []pmdOffer) string {
	s := make([]string, len(offers))
	for i, o := range offers {
		s[i] = o.String()
	}
	return strings.Join(s, ", ")
}

// pmdAccept is an accept rule of Autobahn's server: what it requests of the client's side.
type pmdAccept struct {
	requestNoContextTakeover bool
	requestMaxWindowBits     int
}

// fits reports whether the rule can accept offer o (PerMessageDeflateOfferAccept refuses
// to request what the client did not say it supports).
func (a pmdAccept) fits(o pmdOffer) bool {
	return (!a.requestNoContextTakeover || o.acceptNoContextTakeover) && (a.requestMaxWindowBits == 0 || o.acceptMaxWindowBits)
}

// response is the Sec-WebSocket-Extensions answer accepting o with a.
func (a pmdAccept) response(o pmdOffer) string {
	s := "permessage-deflate"
	if o.requestNoContextTakeover {
		s += "; server_no_context_takeover"
	}
	if o.requestMaxWindowBits != 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(o.requestMaxWindowBits)
	}
	if a.requestNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if a.requestMaxWindowBits != 0 {
		s += "; client_max_window_bits=" + strconv.Itoa(a.requestMaxWindowBits)
	}
	return s
}

// pmdParams are the parameters of one permessage-deflate element.
type pmdParams struct {
	serverNoContextTakeover, clientNoContextTakeover bool
	serverMaxWindowBits, clientMaxWindowBits         int // 0: absent; -1: present without value
}

// parseExtensions parses a Sec-WebSocket-Extensions value into permessage-deflate
// elements; any other extension, or a malformed or duplicated parameter, is an error.
func parseExtensions(h string) ([]pmdParams, error) {
	var out []pmdParams
	for _, elem := range strings.Split(h, ",") {
		parts := strings.Split(elem, ";")
		if name := strings.TrimSpace(parts[0]); name != "permessage-deflate" {
			return nil, fmt.Errorf("extension %q in %q", name, h)
		}
		var p pmdParams
		seen := map[string]bool{}
		for _, prm := range parts[1:] {
			name, value, hasValue := strings.Cut(strings.TrimSpace(prm), "=")
			name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
			if seen[name] {
				return nil, fmt.Errorf("parameter %s twice in %q", name, h)
			}
			seen[name] = true
			bits := -1
			if hasValue {
				n, err := strconv.Atoi(value)
				if err != nil || n < 8 || n > 15 {
					return nil, fmt.Errorf("parameter %s=%q in %q", name, value, h)
				}
				bits = n
			}
			switch {
			case name == "server_no_context_takeover" && !hasValue:
				p.serverNoContextTakeover = true
			case name == "client_no_context_takeover" && !hasValue:
				p.clientNoContextTakeover = true
			case name == "server_max_window_bits" && hasValue:
				p.serverMaxWindowBits = bits
			case name == "client_max_window_bits":
				p.clientMaxWindowBits = bits
			default:
				return nil, fmt.Errorf("parameter %q in %q", prm, h)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// clientSession checks the server's answer to the fuzzer's offers (RFC 7692 §7.1: one
// element, consistent with one of the offers) and returns the session it sets up.
func clientSession(answer string, offers []pmdOffer) (*pmdSession, error) {
	ps, err := parseExtensions(answer)
	if err != nil {
		return nil, fmt.Errorf("server's extensions: %w", err)
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("server answered %d extensions (%q), one was to be chosen", len(ps), answer)
	}
	p := ps[0]
	if p.clientMaxWindowBits < 0 {
		return nil, fmt.Errorf("client_max_window_bits without a value in the answer %q", answer)
	}
	fitsOne := false
	for _, o := range offers {
		fitsOne = fitsOne || (!o.requestNoContextTakeover || p.serverNoContextTakeover) &&
			(o.requestMaxWindowBits == 0) == (p.serverMaxWindowBits == 0) &&
			p.serverMaxWindowBits <= o.requestMaxWindowBits &&
			(p.clientMaxWindowBits == 0 || o.acceptMaxWindowBits)
	}
	if !fitsOne {
		return nil, fmt.Errorf("server's answer %q accepts none of the offers %q", answer, offerHeader(offers))
	}
	return newPMDSession(answer, p.clientNoContextTakeover, p.clientMaxWindowBits, p.serverNoContextTakeover, p.serverMaxWindowBits), nil
}

// serverSession answers the client's offers with the first accept rule that fits one of
// them, as Autobahn's server does; nil and "" if none fits (the extension is declined).
func serverSession(offer string, accepts []pmdAccept) (*pmdSession, string, error) {
	ps, err := parseExtensions(offer)
	if err != nil {
		return nil, "", fmt.Errorf("client's offer: %w", err)
	}
	offers := make([]pmdOffer, len(ps))
	for i, p := range ps {
		if p.serverMaxWindowBits < 0 {
			return nil, "", fmt.Errorf("server_max_window_bits without a value in the offer %q", offer)
		}
		offers[i] = pmdOffer{p.clientNoContextTakeover, p.clientMaxWindowBits != 0, p.serverNoContextTakeover, p.serverMaxWindowBits}
	}
	for _, a := range accepts {
		for _, o := range offers {
			if a.fits(o) {
				answer := a.response(o)
				return newPMDSession(answer, o.requestNoContextTakeover, o.requestMaxWindowBits, a.requestNoContextTakeover, a.requestMaxWindowBits), answer, nil
			}
		}
	}
	return nil, "", nil
}

// pmdSession compresses the fuzzer's messages and decompresses the implementation's.
// compress runs on the script's goroutine, decompress on the reader's; they share nothing.
type pmdSession struct {
	negotiated string

	noContextTakeover bool // our compressor starts afresh for every message
	out               bytes.Buffer
	w                 *flate.Writer

	peerNoContextTakeover bool   // the peer must start afresh: decode without history
	peerWindow            int    // the farthest back the peer may refer, 2^max_window_bits
	history               []byte // the peer's last 32 KiB, the window its next message may refer to
}

// newPMDSession sets up a session: maxWindowBits limits our window, peerMaxWindowBits the
// peer's (0 means absent, 15). A window below 15 bits, which compress/flate cannot
// produce, is honoured with Huffman-only blocks, which refer to no earlier data at all.
func newPMDSession(negotiated string, noContextTakeover bool, maxWindowBits int, peerNoContextTakeover bool, peerMaxWindowBits int) *pmdSession {
	s := &pmdSession{negotiated: negotiated, noContextTakeover: noContextTakeover, peerNoContextTakeover: peerNoContextTakeover,
		peerWindow: 1 << 15}
	if peerMaxWindowBits > 0 {
		s.peerWindow = 1 << peerMaxWindowBits
	}
	level := flate.DefaultCompression
	if maxWindowBits > 0 && maxWindowBits < 15 {
		level = flate.HuffmanOnly
	}
	s.w, _ = flate.NewWriter(&s.out, level)
	return s
}

// compress returns msg compressed as one permessage-deflate message (RFC 7692 §7.2.1).
func (s *pmdSession) compress(msg []byte) []byte {
	s.out.Reset()
	if s.noContextTakeover {
		s.w.Reset(&s.out)
	}
	_, _ = s.w.Write(msg)
	_ = s.w.Flush()
	return bytes.TrimSuffix(bytes.Clone(s.out.Bytes()), []byte{0, 0, 0xff, 0xff})
}

// decompress inflates a compressed message of the peer (RFC 7692 §7.2.2). When the peer's
// window is below 32 KiB, it first checks that no back-reference reaches beyond it.
func (s *pmdSession) decompress(data []byte) ([]byte, error) {
	if s.peerWindow < 1<<15 {
		farthest, _, err := scanDeflate(data)
		if err != nil {
			return nil, err
		}
		if farthest > s.peerWindow {
			return nil, fmt.Errorf("a back-reference reaches %d bytes back, beyond the peer's window of %d bytes (%s)",
				farthest, s.peerWindow, s.negotiated)
		}
	}
	in := append(bytes.Clone(data), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff) // tail, then an empty final block
	var dict []byte
	if !s.peerNoContextTakeover {
		dict = s.history
	}
	r := flate.NewReaderDict(bytes.NewReader(in), dict)
	out, err := io.ReadAll(io.LimitReader(r, maxFrame+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxFrame {
		return nil, fmt.Errorf("message inflates beyond %d bytes", maxFrame)
	}
	if !s.peerNoContextTakeover {
		h := append(s.history, out...)
		s.history = bytes.Clone(h[max(0, len(h)-32<<10):])
	}
	return out, nil
}

// --- cases -----------------------------------------------------------------------------

// compressionCase is a case of section 12 or 13.
type compressionCase struct {
	count, size, fragSize int
	offers                []pmdOffer  // the fuzzer client's offers
	accepts               []pmdAccept // the fuzzer server's accept rules
	data                  string      // test data: "json", "lena", "faust", "html" or "pdf"
	dataSize              int
	binary                bool
}

var (
	compressedRE = regexp.MustCompile(`Send (\d+) compressed messages each of payload size (\d+), auto-fragment to (\d+) octets`)
	pairsRE      = regexp.MustCompile(`\((True|False), (\d+)\)`)
	dataRE       = regexp.MustCompile(`^(.*) \((utf8|binary), (\d+) bytes\)`)
)

// parsePairs returns the (requestNoContextTakeover, requestMaxWindowBits) pairs in s.
func parsePairs(s string) [][2]int {
	var out [][2]int
	for _, m := range pairsRE.FindAllStringSubmatch(s, -1) {
		bits, _ := strconv.Atoi(m[2])
		out = append(out, [2]int{map[string]int{"True": 1, "False": 0}[m[1]], bits})
	}
	return out
}

// compressionCaseOf reads a case of section 12 or 13 from its description and its
// subcategory's.
func compressionCaseOf(c abCase, subcategory string) (*compressionCase, error) {
	m := compressedRE.FindStringSubmatch(c.Description)
	d := dataRE.FindStringSubmatch(subcategory)
	if m == nil || d == nil {
		return nil, fmt.Errorf("case %s: cannot read %q / %q", c.ID, c.Description, subcategory)
	}
	cc := &compressionCase{binary: d[2] == "binary"}
	cc.count, _ = strconv.Atoi(m[1])
	cc.size, _ = strconv.Atoi(m[2])
	cc.fragSize, _ = strconv.Atoi(m[3])
	cc.dataSize, _ = strconv.Atoi(d[3])
	for _, kind := range []string{"json", "lena", "faust", "html", "pdf"} {
		if strings.Contains(strings.ToLower(d[1]), kind) {
			cc.data = kind
		}
	}
	if cc.data == "" {
		return nil, fmt.Errorf("case %s: unknown test data %q", c.ID, d[1])
	}
	offers, accepts := [][2]int{{0, 0}}, [][2]int{{0, 0}} // section 12: the defaults
	if strings.HasPrefix(c.ID, "13.") {
		_, after, _ := strings.Cut(c.Description, "client offers")
		offers = parsePairs(after)
		_, after, _ = strings.Cut(subcategory, "server accept")
		accepts = parsePairs(after)
	}
	if len(offers) == 0 || len(accepts) == 0 {
		return nil, fmt.Errorf("case %s: no offers or accept rules in %q / %q", c.ID, c.Description, subcategory)
	}
	for _, p := range offers {
		cc.offers = append(cc.offers, autobahnOffer(p[0] == 1, p[1]))
	}
	for _, p := range accepts {
		cc.accepts = append(cc.accepts, pmdAccept{p[0] == 1, p[1]})
	}
	return cc, nil
}

// messages is how many messages the fuzzer sends: Autobahn's 1000, cut to a budget of
// about 256 KiB per case, at least 2; under the race detector 16 KiB, 1 to 50 messages.
func (cc *compressionCase) messages() int {
	budget, least, most := 256<<10, 2, cc.count
	if raceEnabled {
		budget, least, most = 16<<10, 1, 50
	}
	return min(max(budget/max(cc.size, 1), least), most)
}

// script is the case's script: send each message, wait for its echo and compare, as
// Autobahn's Case12_X_X does, then close with 1000.
func (cc *compressionCase) script(f *fuzzer) *outcome {
	if f.pmd == nil {
		f.sendClose(1000, "")
		return &outcome{Unimplemented, "permessage-deflate was not negotiated with these parameters"}
	}
	op := opText
	if cc.binary {
		op = opBinary
	}
	data := testData(cc.data, cc.dataSize)
	ptr, n := 0, cc.messages()
	for i := range n {
		msg := make([]byte, 0, cc.size)
		for len(msg) < cc.size {
			k := min(cc.size-len(msg), len(data)-ptr)
			msg = append(msg, data[ptr:ptr+k]...)
			ptr = (ptr + k) % len(data)
		}
		f.sendMessage(op, msg, cc.fragSize)
		f.waitFor(f.timeout, func(s state) bool { return len(s.events) > i || s.settled() })
		s := f.snapshot()
		if len(s.events) <= i {
			f.sendClose(1000, "")
			return &outcome{Failed, fmt.Sprintf("no echo of message %d/%d (%s)", i+1, n, f.pmd.negotiated)}
		}
		if e := s.events[i]; e.kind != "message" || e.op != op || !bytes.Equal(e.data, msg) {
			f.sendClose(1000, "")
			return &outcome{Failed, fmt.Sprintf("echo %d/%d differs: got %s, want %s message of %d bytes (%s)",
				i+1, n, describe(e), opName(op), len(msg), f.pmd.negotiated)}
		}
	}
	f.sendClose(1000, "")
	return &outcome{OK, fmt.Sprintf("%d messages echoed (%s)", n, f.pmd.negotiated)}
}

// --- test data -------------------------------------------------------------------------

var (
	testDataMu    sync.Mutex
	testDataCache = map[string][]byte{}
)

// testData returns n bytes standing in for one of Autobahn's test files: synthetic data of
// the same kind, so that it compresses alike. Text ("utf8") data is ASCII, so that any
// slice of it is valid UTF-8, as Autobahn's files are. It is shared and read-only.
func testData(kind string, n int) []byte {
	testDataMu.Lock()
	defer testDataMu.Unlock()
	key := kind + strconv.Itoa(n)
	if b, ok := testDataCache[key]; ok {
		return b
	}
	rng := rand.New(rand.NewPCG(12, uint64(n)))
	var b []byte
	switch kind {
	case "json":
		names := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
		b = append(b, '[')
		for i := 0; len(b) < n; i++ {
			b = fmt.Appendf(b, `{"id":%d,"name":%q,"active":%t,"score":%.4f,"tags":[%q,%q]},`+"\n",
				i, names[rng.IntN(8)], rng.IntN(2) == 0, rng.Float64()*100, names[rng.IntN(8)], names[rng.IntN(8)])
		}
	case "html":
		words := strings.Fields("the quick brown fox jumps over the lazy dog while web sockets carry frames")
		b = append(b, "<!DOCTYPE html>\n<html><body>\n"...)
		for i := 0; len(b) < n; i++ {
			b = fmt.Appendf(b, "<div class=\"r%d\"><p>%s %s %s</p><a href=\"/p/%d\">link</a></div>\n",
				i%7, words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(1000))
		}
	case "faust":
		words := strings.Fields("Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie " +
			"durchaus studiert mit heißem Bemühn da steh ich nun ich armer Tor und bin so klug als wie zuvor")
		for len(b) < n {
			b = append(b, words[rng.IntN(len(words))]...)
			sep := byte(' ')
			if rng.IntN(12) == 0 {
				sep = '\n'
			}
			b = append(b, sep)
		}
	case "lena":
		b = make([]byte, n)
		for i := range b {
			b[i] = byte((i%512+i/512)/4 + rng.IntN(8))
		}
	case "pdf":
		b = append(b, "%PDF-1.4\n"...)
		for i := 1; len(b) < n; i++ {
			stream := make([]byte, 500+rng.IntN(4000))
			for j := range stream {
				stream[j] = byte(rng.Uint32())
			}
			b = fmt.Appendf(b, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", i, len(stream))
			b = append(b, stream...)
			b = append(b, "\nendstream\nendobj\n"...)
		}
	}
	b = b[:n:n]
	testDataCache[key] = b
	return b
}
