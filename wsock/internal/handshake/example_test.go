package handshake_test

import (
	"fmt"
	"strings"

	"github.com/gotrio/gotrio/wsock/internal/handshake"
)

// The server side of the handshake example of RFC 6455 §1.2–1.3.
func Example() {
	in := []byte("GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Origin: http://example.com\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n\r\n")

	req, n, err := handshake.ParseRequest(in, handshake.Limits{})
	if err != nil || n == 0 {
		fmt.Println("incomplete or bad:", err)
		return
	}
	if err := req.Check(); err != nil {
		fmt.Println(err)
		return
	}
	out, err := handshake.AppendAccept(nil, req.Key, req.Protocols[0], "", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %v\n%s", req.Target, req.Protocols, strings.ReplaceAll(string(out), "\r\n", "\n"))
	// Output:
	// /chat [chat superchat]
	// HTTP/1.1 101 Switching Protocols
	// Upgrade: websocket
	// Connection: Upgrade
	// Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
	// Sec-WebSocket-Protocol: chat
}
