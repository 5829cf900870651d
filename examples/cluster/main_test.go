package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsjson"
)

func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) != "" {
		main() // the test binary is a node of a cluster test
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// withNode runs a node with an embedded broker on a loopback port for the duration of
// body, once it is ready.
func withNode(t *testing.T, cfg config, body func(ctx context.Context, addr string) error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Name == "" {
		cfg.Name = "solo"
	}
	if cfg.DisconnectTimeout == 0 {
		cfg.DisconnectTimeout = 5 * time.Second
	}
	ready := make(chan struct{})
	err = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("node", func(ctx context.Context) error {
			return run(ctx, ln, cfg, logger, func() { close(ready) })
		})
		defer n.Scope().Cancel("test finished")
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		return body(ctx, ln.Addr().String())
	})
	require.NoError(t, err)
}

// join connects a member to room on the node at addr, as a task of n, and reads its
// hello.
func join(ctx context.Context, n *nursery.Nursery, addr, room string) (*wsock.Conn, event, error) {
	c, err := wsock.Connect(ctx, n, "ws://"+addr+"/ws?room="+room, nil)
	if err != nil {
		return nil, event{}, err
	}
	var hello event
	if err := wsjson.Receive(ctx, c, &hello); err != nil {
		return nil, event{}, fmt.Errorf("%s: hello: %w", c, err)
	}
	if hello.Kind != "hello" {
		return nil, event{}, fmt.Errorf("%s: first event %+v, want a hello", c, hello)
	}
	return c, hello, nil
}

func TestEveryMessageReachesEveryMemberOfTheRoomOnly(t *testing.T) {
	withNode(t, config{}, func(ctx context.Context, addr string) error {
		return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			defer n.Scope().Cancel("test over")
			alice, hello, err := join(ctx, n, addr, "lobby")
			if err != nil {
				return err
			}
			assert.Equal(t, event{Kind: "hello", Node: "solo", Room: "lobby"}, hello)
			bob, _, err := join(ctx, n, addr, "lobby")
			if err != nil {
				return err
			}
			carol, _, err := join(ctx, n, addr, "elsewhere")
			if err != nil {
				return err
			}
			for _, step := range []struct {
				from *wsock.Conn
				text string
			}{{alice, "alice: hello"}, {bob, "bob: hi alice"}} {
				if err := step.from.SendText(ctx, step.text); err != nil {
					return err
				}
				for _, member := range []*wsock.Conn{alice, bob} {
					var ev event
					if err := wsjson.Receive(ctx, member, &ev); err != nil {
						return fmt.Errorf("%s receive: %w", member, err)
					}
					assert.Equal(t, event{Kind: "chat", Node: "solo", Room: "lobby", Text: step.text}, ev, "received by %s", member)
				}
			}
			// carol's room is another subject: her own message is the first she gets.
			if err := carol.SendText(ctx, "carol: anyone?"); err != nil {
				return err
			}
			var ev event
			if err := wsjson.Receive(ctx, carol, &ev); err != nil {
				return err
			}
			assert.Equal(t, event{Kind: "chat", Node: "solo", Room: "elsewhere", Text: "carol: anyone?"}, ev)
			return nil
		})
	})
}

func TestBadRoomNameIsRejected(t *testing.T) {
	withNode(t, config{}, func(ctx context.Context, addr string) error {
		err := wsock.Open(ctx, "ws://"+addr+"/ws?room=no.dots", nil, func(context.Context, *wsock.Conn) error { return nil })
		var rej *wsock.RejectedError
		require.ErrorAs(t, err, &rej)
		assert.Equal(t, http.StatusBadRequest, rej.StatusCode)
		return nil
	})
}

func TestPageAndConfigAreServed(t *testing.T) {
	peers := []string{"127.0.0.1:8001", "127.0.0.1:8002"}
	withNode(t, config{Name: "n1", Peers: peers}, func(ctx context.Context, addr string) error {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(path string) (string, []byte) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp.Header.Get("Content-Type"), body
		}
		typ, page := get("/")
		assert.Equal(t, "text/html; charset=utf-8", typ)
		assert.Contains(t, string(page), "new WebSocket(")
		typ, body := get("/config.json")
		assert.Equal(t, "application/json", typ)
		var pc pageConfig
		require.NoError(t, json.Unmarshal(body, &pc))
		assert.Equal(t, pageConfig{Node: "n1", Peers: peers}, pc)
		return nil
	})
}

func TestPeersPagesMayConnectAcrossOrigins(t *testing.T) {
	withNode(t, config{Peers: []string{"127.0.0.1:8001"}}, func(ctx context.Context, addr string) error {
		open := func(origin string) error {
			opts := &wsock.DialOptions{Header: http.Header{"Origin": {origin}}}
			return wsock.Open(ctx, "ws://"+addr+"/ws", opts, func(context.Context, *wsock.Conn) error { return nil })
		}
		assert.NoError(t, open("http://127.0.0.1:8001"), "a peer's page")
		var rej *wsock.RejectedError
		if assert.ErrorAs(t, open("http://evil.example"), &rej) {
			assert.Equal(t, http.StatusForbidden, rej.StatusCode)
		}
		return nil
	})
}
