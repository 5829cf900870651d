package deflate

import (
	"cmp"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Autobahn|Testsuite sections 12 and 13 send 1000 compressed messages per case and expect
// them echoed unchanged. The rows below are the parts of those cases that concern a codec:
// the payload, the message size and the negotiated parameters. Cases 12.x.11–18 and
// 13.x.11–18 repeat sizes 8 KiB–128 KiB with auto-fragmentation, which is framing (package
// proto reassembles the compressed message before Inflate sees it), so they add nothing here.
// To keep the suite fast, each size sends about 64 KiB (at least 2 messages, at most
// Autobahn's 1000) instead of 1000 messages; under the race detector about 16 KiB (1 to 100
// messages). Rows whose negotiated context takeover flags were already exercised on the
// same payload are checked for their negotiation only.

// autobahnSizes are the message sizes of cases 12.x.1–10 and 13.x.1–10.
var autobahnSizes = []int{16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072}

// autobahnPayloads stand in for the files of section 12 with synthetic data of the same kind
// and size.
var autobahnPayloads = []struct {
	id, desc string
	size     int
	gen      func(rng *rand.Rand, n int) []byte
}{
	{"12.1", "Large JSON data file (utf8)", 194056, jsonPayload},
	{"12.2", "Lena Picture, Bitmap 512x512 bw (binary)", 263222, bitmapPayload},
	{"12.3", "Human readable text, Goethe's Faust I (German) (binary)", 222218, textPayload},
	{"12.4", "Large HTML file (utf8)", 263647, htmlPayload},
	{"12.5", "A larger PDF (binary)", 1042328, pdfPayload},
}

// autobahnDefaultOffer is what Autobahn's client sends in section 12, and its server's answer.
const (
	autobahnDefaultOffer    = "permessage-deflate; client_max_window_bits"
	autobahnDefaultResponse = "permessage-deflate"
)

func TestAutobahnSection12DifferentPayloads(t *testing.T) {
	for _, pl := range autobahnPayloads {
		t.Run(pl.id, func(t *testing.T) {
			payload := pl.gen(rand.New(rand.NewPCG(12, uint64(pl.size))), pl.size)
			server, _, ok := ServerAccept(autobahnDefaultOffer, Config{})
			require.True(t, ok)
			client, err := ClientAccept(autobahnDefaultResponse, Config{})
			require.NoError(t, err)
			require.Equal(t, server, client, "our client and our server agree with Autobahn alike")
			for i, size := range autobahnSizes {
				echoMessages(t, fmt.Sprintf("%s.%d", pl.id, i+1), server, payload, size)
			}
		})
	}
}

// autobahnParams is a (requestNoContextTakeover, requestMaxWindowBits) pair of section 13:
// what Autobahn's client asks of the server (server_no_context_takeover,
// server_max_window_bits) and what its server asks of the client (client_...).
type autobahnParams struct {
	noContextTakeover bool
	maxWindowBits     int
}

func TestAutobahnSection13DifferentParameters(t *testing.T) {
	tests := []struct {
		id     string
		params []autobahnParams
	}{
		{"13.1", []autobahnParams{{false, 0}}},
		{"13.2", []autobahnParams{{true, 0}}},
		{"13.3", []autobahnParams{{false, 9}}},
		{"13.4", []autobahnParams{{false, 15}}},
		{"13.5", []autobahnParams{{true, 9}}},
		{"13.6", []autobahnParams{{true, 15}}},
		{"13.7", []autobahnParams{{true, 9}, {true, 0}, {false, 0}}},
	}
	rng := rand.New(rand.NewPCG(13, 0))
	payload := jsonPayload(rng, autobahnPayloads[0].size)
	type codecs struct {
		noContextTakeover [2]bool
		huffmanOnly       [2]bool
	}
	echoed := make(map[codecs]bool)
	echo := func(t *testing.T, id string, p Params) {
		key := codecs{
			[2]bool{p.ServerNoContextTakeover, p.ClientNoContextTakeover},
			[2]bool{p.CompressionLevel(proto.Server, 0) == flate.HuffmanOnly, p.CompressionLevel(proto.Client, 0) == flate.HuffmanOnly},
		}
		if echoed[key] {
			return
		}
		echoed[key] = true
		for i, size := range autobahnSizes {
			echoMessages(t, fmt.Sprintf("%s.%d", id, i+1), p, payload, size)
		}
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			// Our server answers Autobahn's client and accepts its first offer, whatever
			// window it asks for.
			offers := make([]string, len(tt.params))
			for i, ap := range tt.params {
				offers[i] = autobahnOffer(ap)
			}
			p, response, ok := ServerAccept(strings.Join(offers, ", "), Config{})
			require.True(t, ok)
			want := tt.params[0]
			require.Equal(t, want.noContextTakeover, p.ServerNoContextTakeover, response)
			require.Equal(t, want.maxWindowBits, p.ServerMaxWindowBits, response)
			echo(t, tt.id, p)

			// Our client meets Autobahn's server, which imposes the first pair: our offer
			// has client_max_window_bits, so every rule of Autobahn's server fits it.
			require.Contains(t, Offer(Config{}), "client_max_window_bits")
			p, err := ClientAccept(autobahnResponse(want), Config{})
			require.NoError(t, err)
			require.Equal(t, want.noContextTakeover, p.ClientNoContextTakeover)
			require.Equal(t, want.maxWindowBits, p.ClientMaxWindowBits)
			echo(t, tt.id+" (our client)", p)
		})
	}
}

// autobahnOffer is the offer Autobahn's client makes in section 13.
func autobahnOffer(ap autobahnParams) string {
	s := "permessage-deflate; client_max_window_bits"
	if ap.noContextTakeover {
		s += "; server_no_context_takeover"
	}
	if ap.maxWindowBits != 0 {
		s += fmt.Sprintf("; server_max_window_bits=%d", ap.maxWindowBits)
	}
	return s
}

// autobahnResponse is the answer Autobahn's server gives in section 13.
func autobahnResponse(ap autobahnParams) string {
	s := "permessage-deflate"
	if ap.noContextTakeover {
		s += "; client_no_context_takeover"
	}
	if ap.maxWindowBits != 0 {
		s += fmt.Sprintf("; client_max_window_bits=%d", ap.maxWindowBits)
	}
	return s
}

// echoMessages sends successive size-byte slices of payload from client to server and back,
// through the four codecs that p configures, and checks each arrives unchanged and that
// each compressor keeps within its negotiated window.
func echoMessages(t *testing.T, id string, p Params, payload []byte, size int) {
	t.Helper()
	clientC := NewCompressor(p.CompressionLevel(proto.Client, 0), p.ClientNoContextTakeover)
	serverD := NewDecompressor(p.ClientNoContextTakeover)
	serverC := NewCompressor(p.CompressionLevel(proto.Server, 0), p.ServerNoContextTakeover)
	clientD := NewDecompressor(p.ServerNoContextTakeover)
	window := func(bits int) int { return 1 << cmp.Or(bits, maxWindowBits) }
	clientWindow, serverWindow := window(p.ClientMaxWindowBits), window(p.ServerMaxWindowBits)
	defer func() {
		clientC.Close()
		serverD.Close()
		serverC.Close()
		clientD.Close()
	}()
	const limit = 1 << 20 // MaxMessageSize's default
	budget, least, most := 64<<10, 2, 1000
	if raceEnabled {
		budget, least, most = 16<<10, 1, 100
	}
	count := min(max(budget/size, least), most)
	var wire, got, echoed []byte
	off := 0
	for i := range count {
		msg := make([]byte, size)
		for n := 0; n < size; {
			c := copy(msg[n:], payload[off:])
			n += c
			off = (off + c) % len(payload)
		}
		var err error
		wire, err = clientC.Compress(wire[:0], msg)
		require.NoError(t, err)
		requireWithinWindow(t, wire, clientWindow, "%s: message %d to the server", id, i)
		got, err = serverD.Inflate(got[:0], wire, limit)
		require.NoError(t, err, "%s: message %d to the server", id, i)
		require.Equal(t, msg, got, "%s: message %d to the server", id, i)
		wire, err = serverC.Compress(wire[:0], got)
		require.NoError(t, err)
		requireWithinWindow(t, wire, serverWindow, "%s: echo %d", id, i)
		echoed, err = clientD.Inflate(echoed[:0], wire, limit)
		require.NoError(t, err, "%s: echo %d", id, i)
		require.Equal(t, msg, echoed, "%s: echo %d", id, i)
	}
}

// requireWithinWindow checks that no back-reference of the compressed message z reaches
// farther than window bytes. Only windows below 32 KiB are checked: scanning every message
// of the section would make the suite slow for nothing compress/flate could break.
func requireWithinWindow(t *testing.T, z []byte, window int, msgAndArgs ...any) {
	t.Helper()
	if window >= 1<<maxWindowBits {
		return
	}
	farthest, _, err := scanDeflate(z)
	require.NoError(t, err, msgAndArgs...)
	require.LessOrEqual(t, farthest, window, msgAndArgs...)
}

// jsonPayload returns n bytes of JSON-like UTF-8 text.
func jsonPayload(rng *rand.Rand, n int) []byte {
	names := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	var b strings.Builder
	b.WriteString("[")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":%q,"active":%t,"score":%.4f,"tags":[%q,%q],"geo":{"lat":%.6f,"lon":%.6f}},`,
			i, names[rng.IntN(len(names))], rng.IntN(2) == 0, rng.Float64()*100,
			names[rng.IntN(len(names))], names[rng.IntN(len(names))], rng.Float64()*180-90, rng.Float64()*360-180)
		if i%5 == 4 {
			b.WriteString("\n ")
		}
	}
	return []byte(b.String()[:n])
}

// textPayload returns n bytes of German-looking prose, with multi-byte characters.
func textPayload(rng *rand.Rand, n int) []byte {
	words := strings.Fields("Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie " +
		"durchaus studiert mit heißem Bemühn da steh ich nun ich armer Tor und bin so klug als wie zuvor " +
		"Heiße Magister heiße Doktor gar über Grün Tür Mädchen Größe")
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(12) == 0 {
			b.WriteString(",\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return []byte(b.String()[:n])
}

// htmlPayload returns n bytes of HTML.
func htmlPayload(rng *rand.Rand, n int) []byte {
	text := textPayload(rng, n)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>Test</title></head><body>\n")
	for i := 0; b.Len() < n; i++ {
		start := rng.IntN(len(text) - 200)
		fmt.Fprintf(&b, "<div class=\"row r%d\"><p id=\"p%d\">%s</p><a href=\"/page/%d\">link</a></div>\n",
			i%7, i, text[start:start+rng.IntN(200)], rng.IntN(1000))
	}
	return []byte(b.String()[:n])
}

// bitmapPayload returns n bytes that look like an 8-bit grayscale picture: smooth gradients
// with noise.
func bitmapPayload(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		x, y := i%512, i/512
		b[i] = byte((x+y)/4 + rng.IntN(8))
	}
	return b
}

// pdfPayload returns n bytes that look like a PDF: text objects around compressed (random)
// streams.
func pdfPayload(rng *rand.Rand, n int) []byte {
	b := []byte("%PDF-1.4\n")
	for i := 1; len(b) < n; i++ {
		stream := randomBytes(rng, 500+rng.IntN(4000))
		b = fmt.Appendf(b, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", i, len(stream))
		b = append(b, stream...)
		b = append(b, "\nendstream\nendobj\n"...)
	}
	return b[:n]
}
