package handshake

import (
	"testing"
)

func BenchmarkParseRequest(b *testing.B) {
	b.SetBytes(int64(len(browserRequest)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRequest(browserRequest, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRequestIncomplete is the cost of a read that ends mid-head.
func BenchmarkParseRequestIncomplete(b *testing.B) {
	in := browserRequest[:len(browserRequest)-3]
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := ParseRequest(in, Limits{}); n != 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkServerHandshake is a server's whole share: parse, check, answer.
func BenchmarkServerHandshake(b *testing.B) {
	b.SetBytes(int64(len(browserRequest)))
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		req, _, err := ParseRequest(browserRequest, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if err := req.Check(); err != nil {
			b.Fatal(err)
		}
		if buf, err = AppendAccept(buf[:0], req.Key, "", "permessage-deflate", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientHandshake is a client's whole share: build, parse the 101, check it.
func BenchmarkClientHandshake(b *testing.B) {
	resp := []byte(rfcResponse)
	offered := []string{"chat", "superchat"}
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = AppendRequest(buf[:0], "server.example.com", "/chat", rfcKey, offered, "", nil); err != nil {
			b.Fatal(err)
		}
		r, _, err := ParseResponse(resp, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.CheckAccept(rfcKey, offered); err != nil {
			b.Fatal(err)
		}
	}
}
