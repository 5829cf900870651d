package interop

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

// runServerInterop serves the interop paths on loopback while a client peer
// script runs its cases, then checks the peer's report and what the server
// saw. configure, if not nil, adjusts the server's options.
func runServerInterop(t *testing.T, script string, args []string, configure func(*wsock.ServerOptions), expected []string) {
	t.Helper()
	srv := newInteropServer()
	opts := serverOptions(t)
	if configure != nil {
		configure(opts)
	}
	var results map[string]caseResult
	var peerErr error
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		server, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", srv.handle, opts))
		if err != nil {
			return err
		}
		results, peerErr = runClientPeer(ctx, t, script, server.Port(), args...)
		n.Scope().Cancel("the peer is done")
		return nil
	})
	require.NoError(t, err, "serve")
	requireCases(t, results, expected)
	srv.check(t)
	srv.checkExtensions(t, opts, slices.Contains(expected, "deflate"))
	assert.NoError(t, peerErr, "the peer exits 0 when every case passes")
}

// withContextTakeover lets both sides' compressors keep their window
// between messages (off by default).
func withContextTakeover(o *wsock.ServerOptions) { o.Compression.ContextTakeover = true }

func TestServerWithTrioWebsocketClient(t *testing.T) {
	requirePeer(t, trioWebsocket)
	runServerInterop(t, "trio_client.py", nil, nil, clientCaseNames("ping"))
}

func TestServerWithWebsocketsClient(t *testing.T) {
	requirePeer(t, pyWebsockets)
	expected := clientCaseNames("ping", "deflate", "deflate-stream")
	t.Run("default", func(t *testing.T) {
		runServerInterop(t, "websockets_client.py", nil, nil, expected)
	})
	t.Run("context-takeover", func(t *testing.T) {
		runServerInterop(t, "websockets_client.py", nil, withContextTakeover, expected)
	})
}

func TestServerWithWsClient(t *testing.T) {
	requirePeer(t, nodeWS)
	for _, tc := range []struct {
		mode, name string
		configure  func(*wsock.ServerOptions)
	}{
		{"plain", "plain", nil},
		{"deflate", "deflate", nil},
		{"deflate-options", "deflate-options", nil},
		{"deflate", "deflate-context-takeover", withContextTakeover},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expected := clientCaseNames("ping")
			if tc.mode != "plain" {
				expected = append(expected, "deflate", "deflate-stream")
			}
			runServerInterop(t, "ws_client.js", []string{"--mode", tc.mode}, tc.configure, expected)
		})
	}
}
