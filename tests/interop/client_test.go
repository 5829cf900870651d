package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock"
)

// caseTimeout bounds one client case against a peer server.
const caseTimeout = 30 * time.Second

// peerServer describes a server peer script.
type peerServer struct {
	script  string
	args    []string
	name    string // as its rejection body says: "rejected by NAME"
	deflate bool   // accepts permessage-deflate
}

func TestClientWithTrioWebsocketServer(t *testing.T) {
	requirePeer(t, trioWebsocket)
	runClientInterop(t, peerServer{script: "trio_server.py", name: "trio-websocket"})
}

func TestClientWithWebsocketsServer(t *testing.T) {
	requirePeer(t, pyWebsockets)
	runClientInterop(t, peerServer{script: "websockets_server.py", name: "websockets", deflate: true})
}

func TestClientWithWsServer(t *testing.T) {
	requirePeer(t, nodeWS)
	t.Run("plain", func(t *testing.T) {
		runClientInterop(t, peerServer{script: "ws_server.js", args: []string{"--mode", "plain"}, name: "ws-plain"})
	})
	t.Run("deflate", func(t *testing.T) {
		runClientInterop(t, peerServer{script: "ws_server.js", args: []string{"--mode", "deflate"}, name: "ws-deflate", deflate: true})
	})
}

// runClientInterop starts the peer server and runs every client case against
// it with wsock.Open, one subtest per case; the peer must exit 0 at the end.
func runClientInterop(t *testing.T, ps peerServer) {
	t.Helper()
	peer := startServerPeer(t.Context(), t, ps.script, ps.args...)
	base := fmt.Sprintf("ws://127.0.0.1:%d", peer.port)
	dialOptions := func(t *testing.T) *wsock.DialOptions {
		return &wsock.DialOptions{
			ConnectTimeout:    caseTimeout,
			DisconnectTimeout: caseTimeout,
			MaxMessageSize:    maxMessageSize,
			Logger:            testLogger(t),
		}
	}
	open := func(t *testing.T, path string, opts *wsock.DialOptions, body func(ctx context.Context, c *wsock.Conn) error) error {
		t.Helper()
		ctx, stop := context.WithTimeout(t.Context(), caseTimeout)
		defer stop()
		if opts == nil {
			opts = dialOptions(t)
		}
		return wsock.Open(ctx, base+path, opts, body)
	}

	for _, ec := range echoCases() {
		t.Run(ec.name, func(t *testing.T) {
			err := open(t, "/echo", nil, func(ctx context.Context, c *wsock.Conn) error {
				if err := c.Send(ctx, ec.typ, ec.data); err != nil {
					return err
				}
				m, err := c.Receive(ctx)
				if err != nil {
					return err
				}
				assert.Equal(t, ec.typ, m.Type)
				assert.True(t, bytes.Equal(ec.data, m.Data), "echo of %d bytes differs (got %d bytes)", len(ec.data), len(m.Data))
				return nil
			})
			require.NoError(t, err)
		})
	}

	t.Run("ping", func(t *testing.T) {
		err := open(t, "/echo", nil, func(ctx context.Context, c *wsock.Conn) error {
			return c.Ping(ctx, []byte("ping from gotrio"))
		})
		require.NoError(t, err)
	})

	t.Run("server-ping", func(t *testing.T) {
		err := open(t, "/ping", nil, func(ctx context.Context, c *wsock.Conn) error {
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			assert.Equal(t, "pinged", string(m.Data), "the peer got our pong and says so")
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("close-from-client", func(t *testing.T) {
		err := open(t, "/echo?case=close-from-client", nil, func(ctx context.Context, c *wsock.Conn) error {
			if err := c.SendText(ctx, "hello"); err != nil {
				return err
			}
			if _, err := c.Receive(ctx); err != nil {
				return err
			}
			if err := c.Close(clientClose.code, clientClose.reason); err != nil {
				return err
			}
			r := c.CloseReason()
			if assert.NotNil(t, r, "CloseReason after Close") {
				assert.NotEqual(t, wsock.AbnormalClosure, r.Code, "the close handshake completed")
			}
			return nil
		})
		require.NoError(t, err)
		line, err := peer.waitLine(t.Context(), "CLOSE close-from-client ")
		require.NoError(t, err, "the peer reports the close it received")
		assert.Equal(t, fmt.Sprintf("CLOSE close-from-client %d %s", clientClose.code, clientClose.reason), line)
	})

	t.Run("close-from-server", func(t *testing.T) {
		err := open(t, "/close", nil, func(ctx context.Context, c *wsock.Conn) error {
			m, err := c.Receive(ctx)
			var closed *wsock.ClosedError
			if !assert.ErrorAs(t, err, &closed, "got %v instead of the peer's close", m) {
				return nil
			}
			require.NotNil(t, closed.Reason)
			assert.Equal(t, serverClose.code, closed.Reason.Code)
			assert.Equal(t, serverClose.reason, closed.Reason.Reason)
			assert.Equal(t, closed.Reason, c.CloseReason())
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("reject", func(t *testing.T) {
		err := open(t, "/reject", nil, func(context.Context, *wsock.Conn) error {
			return errors.New("the connection was accepted, want a rejection")
		})
		require.ErrorIs(t, err, wsock.ErrHandshake)
		var rejected *wsock.RejectedError
		require.ErrorAs(t, err, &rejected)
		assert.Equal(t, http.StatusForbidden, rejected.StatusCode)
		assert.Equal(t, "yes", rejected.Header.Get(rejectHeader))
		assert.Equal(t, rejectBody+ps.name, string(rejected.Body))
	})

	t.Run("subprotocol", func(t *testing.T) {
		opts := dialOptions(t)
		opts.Subprotocols = offered
		err := open(t, "/subprotocol", opts, func(ctx context.Context, c *wsock.Conn) error {
			assert.Equal(t, supported, c.Subprotocol())
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			assert.Equal(t, supported, string(m.Data), "the peer's view of the subprotocol")
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("deflate", func(t *testing.T) {
		payload := makeText(256 << 10)
		err := open(t, "/echo", nil, func(ctx context.Context, c *wsock.Conn) error {
			ext := c.ResponseHeader().Get("Sec-WebSocket-Extensions")
			if ps.deflate {
				assert.Contains(t, ext, "permessage-deflate", "negotiated extensions")
			} else {
				assert.Empty(t, ext, "a peer without deflate negotiates none")
			}
			if err := c.SendText(ctx, payload); err != nil {
				return err
			}
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			assert.True(t, string(m.Data) == payload, "echo of the compressible text differs")
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("deflate-context-takeover", func(t *testing.T) {
		opts := dialOptions(t)
		opts.Compression.ContextTakeover = true
		err := open(t, "/echo", opts, func(ctx context.Context, c *wsock.Conn) error {
			ext := c.ResponseHeader().Get("Sec-WebSocket-Extensions")
			if ps.deflate {
				assert.Contains(t, ext, "permessage-deflate", "negotiated extensions")
				assert.NotContains(t, ext, "no_context_takeover", "both compressors keep their window")
			}
			for i, m := range streamMessages() {
				if err := c.Send(ctx, m.typ, m.data); err != nil {
					return err
				}
				got, err := c.Receive(ctx)
				if err != nil {
					return err
				}
				assert.Equal(t, m.typ, got.Type, "message %d", i)
				assert.True(t, bytes.Equal(m.data, got.Data), "echo of message %d differs", i)
			}
			return nil
		})
		require.NoError(t, err)
	})

	peer.stop()
	for _, line := range peer.out.Lines() {
		assert.False(t, strings.HasPrefix(line, "FAIL "), "the peer reports a failure: %s", line)
	}
}
