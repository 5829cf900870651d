package wsock

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/handshake"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// serveInterim plays, on a loopback TCP listener, a server that answers the
// opening handshake with interim interim 1xx answers, then 101, and then
// answers the client's Close frame. It serves one client as a task of n and
// returns the URL.
func serveInterim(t *testing.T, n *nursery.Nursery, interim int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	n.Go(func(context.Context) error {
		defer ln.Close()
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		defer nc.Close()
		req, _, err := handshake.ParseRequest(readHead(t, nc), handshake.Limits{})
		if err != nil {
			return err
		}
		var answer strings.Builder
		for i := range interim {
			if i%2 == 0 {
				answer.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			} else {
				answer.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
			}
		}
		answer.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + handshake.AcceptKey(req.Key) + "\r\n\r\n")
		if _, err := io.WriteString(nc, answer.String()); err != nil {
			return err
		}
		f, err := readPeerFrame(nc)
		if err != nil {
			return nil // the client gave up on the handshake
		}
		assert.Equal(t, proto.OpClose, f.op)
		return writePeerFrame(nc, proto.OpClose, f.payload, false)
	})
	return "ws://" + ln.Addr().String() + "/"
}

func TestClientSkipsUpToFiveInterimAnswers(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		url := serveInterim(t, n, maxInterimResponses)
		return Open(ctx, url, &DialOptions{Compression: CompressionOptions{Disabled: true}},
			func(context.Context, *Conn) error { return nil })
	})
	assert.NoError(t, err)
}

func TestClientFailsOnMoreThanFiveInterimAnswers(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		url := serveInterim(t, n, maxInterimResponses+1)
		err := Open(ctx, url, nil, func(context.Context, *Conn) error {
			t.Error("opened")
			return nil
		})
		assert.EqualError(t, err, "wsock: open "+url+": read response: more than 5 interim 1xx answers")
		assert.ErrorIs(t, err, ErrHandshake)
		var re *RejectedError
		assert.NotErrorAs(t, err, &re, "an interim answer is no refusal")
		return nil
	})
	assert.NoError(t, err)
}
