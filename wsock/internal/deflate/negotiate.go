package deflate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/klauspost/compress/flate"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// extensionName is the token that names the extension in Sec-WebSocket-Extensions.
const extensionName = "permessage-deflate"

// maxWindowBits is the largest LZ77 window RFC 7692 allows (32 KiB), and the only one we
// compress with at LZ77 levels.
const maxWindowBits = 15

// DefaultLevel is the compression level used when Config.Level is 0. Compression runs on
// every message a connection sends, so the default favours speed: flate.BestSpeed gets most
// of the ratio of the default level on text and JSON for a fraction of the CPU.
const DefaultLevel = flate.BestSpeed

// DefaultThreshold is the message size under which messages are sent uncompressed when
// Config.Threshold is 0: below it, deflate's block headers cost about as much as it saves.
const DefaultThreshold = 128

// Config is the permessage-deflate configuration an endpoint wants. The zero value asks for
// context takeover in both directions, DefaultLevel and DefaultThreshold.
type Config struct {
	// ServerNoContextTakeover makes the server reset its compressor after every message. A
	// client requests it in its offer (the server must then agree or decline the offer); a
	// server imposes it in its response. It trades compression ratio for memory: the server's
	// compressor state (about 1 MiB per connection) and the client's 32 KiB window.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover makes the client reset its compressor after every message. A
	// client announces it in its offer; a server imposes it in its response, saving its
	// 32 KiB window per connection.
	ClientNoContextTakeover bool
	// Level is the compress/flate level of our compressor: flate.HuffmanOnly,
	// flate.DefaultCompression or 1 (flate.BestSpeed) to 9 (flate.BestCompression). 0 means
	// DefaultLevel; there is no "no compression" level, since not negotiating the extension
	// does that better.
	Level int
	// Threshold is the size in bytes under which the connection layer sends a message
	// uncompressed (see Config.ShouldCompress). 0 means DefaultThreshold; a negative value
	// compresses every message.
	Threshold int
	// FullClientWindow makes a client leave client_max_window_bits out of its offer, so no
	// server can ask our compressor for a window below 32 KiB (which we honour with
	// Huffman-only compression, see Params.CompressionLevel). Servers that want a small
	// client window then decline the offer instead; others get full-window compression.
	FullClientWindow bool
}

// ShouldCompress reports whether a message of size bytes is worth compressing under c's
// Threshold.
func (c Config) ShouldCompress(size int) bool {
	t := c.Threshold
	if t == 0 {
		t = DefaultThreshold
	}
	return size >= t
}

// Params is a negotiated permessage-deflate configuration (RFC 7692 §7.1): the parameters of
// the server's response, which bind both endpoints.
type Params struct {
	// ServerNoContextTakeover: the server compresses every message independently.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client compresses every message independently.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits limits the server's LZ77 window to 2^bits bytes; 0 means the
	// parameter is absent (15).
	ServerMaxWindowBits int
	// ClientMaxWindowBits limits the client's LZ77 window to 2^bits bytes; 0 means the
	// parameter is absent (15).
	ClientMaxWindowBits int
}

// CompressionLevel returns the compress/flate level for the Compressor of the endpoint in
// role under p: configured (0 means DefaultLevel), or flate.HuffmanOnly when p limits that
// endpoint's window below 15 bits. We compress with a 32 KiB window at every LZ77 level; Huffman-only output refers to no earlier data, so it fits any window (RFC 7692
// §7.1.2), at the cost of the ratio that back-references would bring.
func (p Params) CompressionLevel(role proto.Role, configured int) int {
	bits := p.ServerMaxWindowBits
	if role == proto.Client {
		bits = p.ClientMaxWindowBits
	}
	if bits != 0 && bits < maxWindowBits {
		return flate.HuffmanOnly
	}
	return configured
}

// String returns p as a Sec-WebSocket-Extensions response value, for example
// "permessage-deflate; server_no_context_takeover".
func (p Params) String() string {
	var b strings.Builder
	b.WriteString(extensionName)
	if p.ServerNoContextTakeover {
		b.WriteString("; server_no_context_takeover")
	}
	if p.ClientNoContextTakeover {
		b.WriteString("; client_no_context_takeover")
	}
	if p.ServerMaxWindowBits != 0 {
		b.WriteString("; server_max_window_bits=")
		b.WriteString(strconv.Itoa(p.ServerMaxWindowBits))
	}
	if p.ClientMaxWindowBits != 0 {
		b.WriteString("; client_max_window_bits=")
		b.WriteString(strconv.Itoa(p.ClientMaxWindowBits))
	}
	return b.String()
}

// Offer returns the Sec-WebSocket-Extensions value a client sends to offer permessage-deflate
// with cfg. Unless cfg.FullClientWindow is set, it offers client_max_window_bits, without a
// value, so that a server that wants the client's window smaller than 32 KiB accepts the
// offer instead of declining it; see Params.CompressionLevel for what a smaller window costs.
func Offer(cfg Config) string {
	offer := Params{
		ServerNoContextTakeover: cfg.ServerNoContextTakeover,
		ClientNoContextTakeover: cfg.ClientNoContextTakeover,
	}.String()
	if cfg.FullClientWindow {
		return offer
	}
	return offer + "; client_max_window_bits"
}

// ClientAccept validates the server's Sec-WebSocket-Extensions response to a client that sent
// Offer(cfg), and returns the negotiated parameters. Call it only when the response carries
// the header: a server that declined every offer omits it. The response must name exactly
// one extension, permessage-deflate, with the parameters RFC 7692 §7.1 allows in a response.
// An error means the connection must be failed (RFC 7692 §5).
//
// A response without server_no_context_takeover is accepted even if cfg asked for it: the
// returned Params then say the server keeps its context, and a Decompressor built from them
// reads its messages correctly.
func ClientAccept(response string, cfg Config) (Params, error) {
	exts, err := parseExtensions(response)
	if err != nil {
		return Params{}, fmt.Errorf("deflate: parse extension response: %w", err)
	}
	switch {
	case len(exts) == 0:
		return Params{}, fmt.Errorf("deflate: check extension response: no extension in %q", response)
	case len(exts) > 1:
		return Params{}, fmt.Errorf("deflate: check extension response: %d extensions in %q, offered one", len(exts), response)
	case !strings.EqualFold(exts[0].name, extensionName):
		return Params{}, fmt.Errorf("deflate: check extension response: extension %q was not offered", exts[0].name)
	}
	o, err := parseParams(exts[0].params)
	if err != nil {
		return Params{}, fmt.Errorf("deflate: check extension response: %w", err)
	}
	if cfg.FullClientWindow && o.clientMaxWindowBits != 0 {
		// RFC 7692 §7.1.2.2: not offered, so it must not be in the response.
		return Params{}, errors.New("deflate: check extension response: client_max_window_bits was not offered")
	}
	if o.clientMaxWindowBits < 0 {
		// RFC 7692 §7.1.2.2: a response must give the client's window size.
		return Params{}, errors.New("deflate: check extension response: client_max_window_bits needs a value")
	}
	return Params{
		ServerNoContextTakeover: o.serverNoContextTakeover,
		ClientNoContextTakeover: o.clientNoContextTakeover || cfg.ClientNoContextTakeover,
		ServerMaxWindowBits:     o.serverMaxWindowBits,
		ClientMaxWindowBits:     o.clientMaxWindowBits,
	}, nil
}

// ServerAccept picks the first permessage-deflate offer in a client's Sec-WebSocket-Extensions
// value that this package can honour, and returns the negotiated parameters and the value of
// the response header. ok is false when no offer is acceptable; the server then omits the
// extension and proceeds without compression.
//
// As RFC 7692 §5 requires, an offer with an unknown, duplicated or invalid parameter is
// declined. A malformed header declines every offer in it. The response includes
// server_no_context_takeover and client_no_context_takeover when cfg sets them or the offer
// asks for them, and echoes the offer's server_max_window_bits (RFC 7692 §7.1.2.1): below
// 15, Params.CompressionLevel makes the server compress Huffman-only. It ignores
// client_max_window_bits, which only tells us the client's window will be small, something
// any Decompressor handles.
func ServerAccept(offerHeader string, cfg Config) (p Params, response string, ok bool) {
	exts, err := parseExtensions(offerHeader)
	if err != nil {
		return Params{}, "", false
	}
	for _, e := range exts {
		if !strings.EqualFold(e.name, extensionName) {
			continue
		}
		o, err := parseParams(e.params)
		if err != nil {
			continue
		}
		p = Params{
			ServerNoContextTakeover: o.serverNoContextTakeover || cfg.ServerNoContextTakeover,
			ClientNoContextTakeover: o.clientNoContextTakeover || cfg.ClientNoContextTakeover,
			// Accepting an offer that has server_max_window_bits requires answering it
			// with a value no larger (RFC 7692 §7.1.2.1).
			ServerMaxWindowBits: o.serverMaxWindowBits,
		}
		return p, p.String(), true
	}
	return Params{}, "", false
}

// elementParams are the parameters of one permessage-deflate element, validated.
type elementParams struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int // 0: absent
	clientMaxWindowBits     int // 0: absent; -1: present without a value (offers only)
}

// parseParams validates the parameters of a permessage-deflate offer or response against
// RFC 7692 §7.1: known names (case-insensitively), each at most once, no value for the
// no_context_takeover flags, 8..15 for the window sizes. client_max_window_bits may lack a
// value, which only an offer allows; ClientAccept rejects it without one.
func parseParams(params []param) (elementParams, error) {
	var o elementParams
	var seen [len(paramNames)]bool
	for _, prm := range params {
		i := paramIndex(prm.name)
		if i < 0 {
			return elementParams{}, fmt.Errorf("unknown parameter %q", prm.name)
		}
		if seen[i] {
			return elementParams{}, fmt.Errorf("duplicate parameter %q", prm.name)
		}
		seen[i] = true
		switch i {
		case serverNoContextTakeover, clientNoContextTakeover:
			if prm.hasValue {
				return elementParams{}, fmt.Errorf("parameter %q takes no value", prm.name)
			}
			o.serverNoContextTakeover = o.serverNoContextTakeover || i == serverNoContextTakeover
			o.clientNoContextTakeover = o.clientNoContextTakeover || i == clientNoContextTakeover
		case serverMaxWindowBits:
			if !prm.hasValue {
				return elementParams{}, fmt.Errorf("parameter %q needs a value", prm.name)
			}
			bits, ok := parseWindowBits(prm.value)
			if !ok {
				return elementParams{}, fmt.Errorf("parameter %q=%q: want 8 to 15", prm.name, prm.value)
			}
			o.serverMaxWindowBits = bits
		case clientMaxWindowBits:
			if !prm.hasValue {
				o.clientMaxWindowBits = -1
				continue
			}
			bits, ok := parseWindowBits(prm.value)
			if !ok {
				return elementParams{}, fmt.Errorf("parameter %q=%q: want 8 to 15", prm.name, prm.value)
			}
			o.clientMaxWindowBits = bits
		}
	}
	return o, nil
}

// The parameters RFC 7692 §7.1 defines, as indexes into paramNames.
const (
	serverNoContextTakeover = iota
	clientNoContextTakeover
	serverMaxWindowBits
	clientMaxWindowBits
)

var paramNames = [...]string{
	serverNoContextTakeover: "server_no_context_takeover",
	clientNoContextTakeover: "client_no_context_takeover",
	serverMaxWindowBits:     "server_max_window_bits",
	clientMaxWindowBits:     "client_max_window_bits",
}

func paramIndex(name string) int {
	for i, n := range paramNames {
		if strings.EqualFold(name, n) {
			return i
		}
	}
	return -1
}

// parseWindowBits parses a window size, a decimal integer in 8..15 (RFC 7692 §7.1.2).
// Leading zeros, which RFC 7692 forbids senders, are tolerated.
func parseWindowBits(v string) (int, bool) {
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > maxWindowBits {
			return 0, false
		}
	}
	return n, n >= 8
}
