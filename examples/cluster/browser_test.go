package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/internal/chromiumtest"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/wsjson"
)

// TestBrowserPageMovesToTheNextNodeWhenItsNodeDrains loads the real page from node n1 in
// headless Chromium, with -peers naming n1 and n2 and no load balancer, drains n1 (what
// SIGTERM does) and checks that the page reconnects to n2 by itself and chats there with
// a member of n2.
func TestBrowserPageMovesToTheNextNodeWhenItsNodeDrains(t *testing.T) {
	chromiumtest.Require(t)
	natsServer := findNATS(t)
	err := cancel.FailAfter(t.Context(), time.Minute, func(ctx context.Context) error {
		natsAddr := (&process{}).start(t, ctx, "nats", natsServer, nil, `Listening for client connections on (\S+)`,
			"-a", "127.0.0.1", "-p", "-1")
		var lns []net.Listener
		var peers []string
		for range 2 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			lns = append(lns, ln)
			peers = append(peers, ln.Addr().String())
		}
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			defer n.Scope().Cancel("test over")
			n1 := cancel.New()
			var ready []chan struct{}
			for i, name := range []string{"n1", "n2"} {
				ready = append(ready, make(chan struct{}))
				cfg := config{Name: name, NATS: "nats://" + natsAddr, Peers: peers, DisconnectTimeout: 5 * time.Second}
				node := func(ctx context.Context) error {
					return run(ctx, lns[i], cfg, logger, func() { close(ready[i]) })
				}
				if name == "n1" {
					n.GoNamed(name, func(ctx context.Context) error { return n1.Run(ctx, node) })
				} else {
					n.GoNamed(name, node)
				}
			}
			for _, r := range ready {
				select {
				case <-r:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
			browser, err := chromiumtest.Start(ctx, t)
			if err != nil {
				return err
			}
			defer browser.Stop()
			return browser.OpenPage(ctx, "http://"+peers[0]+"/?room=lobby", "ada", func(ctx context.Context, p *chromiumtest.Page) error {
				if _, err := p.WaitForLine(ctx, "connected to n1"); err != nil {
					return err
				}
				n1.Cancel("SIGTERM") // n1 drains
				lines, err := p.WaitForLine(ctx, "connected to n2")
				if err != nil {
					return err
				}
				assert.True(t, hasPrefix(lines, "disconnected (1001"), "the page was told n1 is going away: %q", lines)

				c, _, err := join(ctx, n, peers[1], "lobby")
				if err != nil {
					return err
				}
				if err := p.Say(ctx, "back on n2"); err != nil {
					return err
				}
				var ev event
				if err := wsjson.Receive(ctx, c, &ev); err != nil {
					return err
				}
				assert.Equal(t, event{Kind: "chat", Node: "n2", Room: "lobby", Text: "ada: back on n2"}, ev)
				if err := c.SendText(ctx, "welcome back"); err != nil {
					return err
				}
				if _, err := p.WaitForLine(ctx, "welcome back via n2"); err != nil {
					return err
				}
				return p.Screenshot(ctx, t)
			})
		})
	})
	require.NoError(t, err)
}

func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
