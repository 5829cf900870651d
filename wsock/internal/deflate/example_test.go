package deflate_test

import (
	"fmt"

	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// A client and a server negotiate permessage-deflate, then the client sends the server a
// compressed message.
func Example() {
	clientCfg := deflate.Config{ClientNoContextTakeover: true}
	offer := deflate.Offer(clientCfg) // the client's Sec-WebSocket-Extensions

	serverParams, response, ok := deflate.ServerAccept(offer, deflate.Config{})
	if !ok {
		return // proceed without compression
	}
	clientParams, err := deflate.ClientAccept(response, clientCfg)
	if err != nil {
		return // fail the connection
	}
	fmt.Println("offer:   ", offer)
	fmt.Println("response:", response)

	// The client compresses what it sends, the server inflates what it receives. The
	// level follows the window the server allowed the client.
	c := deflate.NewCompressor(clientParams.CompressionLevel(proto.Client, clientCfg.Level), clientParams.ClientNoContextTakeover)
	defer c.Close()
	d := deflate.NewDecompressor(serverParams.ClientNoContextTakeover)
	defer d.Close()

	wire, err := c.Compress(nil, []byte("Hello"))
	if err != nil {
		return
	}
	msg, err := d.Inflate(nil, wire, 1<<20)
	if err != nil {
		return // err is a *proto.Error: fail the connection with its code
	}
	fmt.Printf("%s\n", msg)
	// Output:
	// offer:    permessage-deflate; client_no_context_takeover; client_max_window_bits
	// response: permessage-deflate; client_no_context_takeover
	// Hello
}
