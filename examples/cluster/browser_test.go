package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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

// TestBrowserPageMovesToTheNextPeerWhenItsNodeDrains loads the real page from node n1 in
// headless Chromium, with -peers naming n1 and n2 and no load balancer, drains n1 (what
// SIGTERM does) and checks that the page reconnects to n2 by itself and chats there.
func TestBrowserPageMovesToTheNextPeerWhenItsNodeDrains(t *testing.T) {
	withBrowserAndNodes(t, true, func(ctx context.Context, n *nursery.Nursery, tn *twoNodes, b *chromiumtest.Browser) error {
		return b.OpenPage(ctx, "http://"+tn.addrs[0]+"/?room=lobby", "ada", func(ctx context.Context, p *chromiumtest.Page) error {
			return pageMovesToN2(t, ctx, n, tn, p)
		})
	})
}

// TestBrowserPageBehindALoadBalancerLandsOnALiveNode loads the page through a load
// balancer in front of n1 and n2 (nodes without -peers), drains the node the page is on
// and checks that the page, reconnecting to the same URL, lands on the other node.
func TestBrowserPageBehindALoadBalancerLandsOnALiveNode(t *testing.T) {
	withBrowserAndNodes(t, false, func(ctx context.Context, n *nursery.Nursery, tn *twoNodes, b *chromiumtest.Browser) error {
		lb := httptest.NewServer(newBalancer(tn.addrs))
		defer lb.Close() // after the page: its WebSocket is a request through lb
		return b.OpenPage(ctx, lb.URL+"/?room=lobby", "ada", func(ctx context.Context, p *chromiumtest.Page) error {
			return pageMovesToN2(t, ctx, n, tn, p)
		})
	})
}

// pageMovesToN2 checks that the page, on n1, moves to n2 when n1 drains, and that it
// chats there with a member of n2, started in n.
func pageMovesToN2(t *testing.T, ctx context.Context, n *nursery.Nursery, tn *twoNodes, p *chromiumtest.Page) error {
	if _, err := p.WaitForLine(ctx, "connected to n1"); err != nil {
		return err
	}
	tn.n1.Cancel("SIGTERM") // n1 drains
	lines, err := p.WaitForLine(ctx, "connected to n2")
	if err != nil {
		return err
	}
	assert.True(t, hasPrefix(lines, "disconnected (1001"), "the page was told n1 is going away: %q", lines)
	c, _, err := join(ctx, n, tn.addrs[1], "lobby")
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
}

// twoNodes are nodes n1 and n2, in this process, sharing a real nats-server.
type twoNodes struct {
	addrs []string      // n1's and n2's
	n1    *cancel.Scope // cancelling it drains n1
}

// withBrowserAndNodes runs body with headless Chromium and two ready nodes, whose -peers
// name both when withPeers, and the nursery they run in, for the test's members.
func withBrowserAndNodes(t *testing.T, withPeers bool, body func(ctx context.Context, n *nursery.Nursery, tn *twoNodes, b *chromiumtest.Browser) error) {
	chromiumtest.Require(t)
	natsServer := findNATS(t)
	err := cancel.FailAfter(t.Context(), time.Minute, func(ctx context.Context) error {
		natsAddr := (&process{}).start(t, ctx, "nats", natsServer, nil, `Listening for client connections on (\S+)`,
			"-a", "127.0.0.1", "-p", "-1")
		tn := &twoNodes{n1: cancel.New()}
		var lns []net.Listener
		for range 2 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			lns = append(lns, ln)
			tn.addrs = append(tn.addrs, ln.Addr().String())
		}
		var peers []string
		if withPeers {
			peers = tn.addrs
		}
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			defer n.Scope().Cancel("test over")
			var ready []chan struct{}
			for i, name := range []string{"n1", "n2"} {
				ready = append(ready, make(chan struct{}))
				cfg := config{Name: name, NATS: "nats://" + natsAddr, Peers: peers, DisconnectTimeout: 5 * time.Second}
				node := func(ctx context.Context) error {
					return run(ctx, lns[i], cfg, logger, func() { close(ready[i]) })
				}
				if name == "n1" {
					n.GoNamed(name, func(ctx context.Context) error { return tn.n1.Run(ctx, node) })
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
			b, err := chromiumtest.Start(ctx, t)
			if err != nil {
				return err
			}
			defer b.Stop()
			return body(ctx, n, tn, b)
		})
	})
	require.NoError(t, err)
}

// newBalancer is a load balancer as the page sees one: one URL, behind which each new
// connection goes to the first of the nodes that accepts it (a node that drains closes
// its listener first).
func newBalancer(nodes []string) http.Handler {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var errs []error
		for _, node := range nodes {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, node)
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "nodes"}) // dial picks the node
			r.Out.Host = r.In.Host                            // the page's origin is the balancer's
		},
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
}

func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
