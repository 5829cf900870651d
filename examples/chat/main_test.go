package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// withChat runs the chat on a loopback port for the duration of body.
func withChat(t *testing.T, body func(ctx context.Context, addr string) error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	err = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("chat", func(ctx context.Context) error { return run(ctx, ln, logger) })
		defer n.Scope().Cancel("test finished")
		return body(ctx, ln.Addr().String())
	})
	require.NoError(t, err)
}

func TestEveryMessageReachesEveryMember(t *testing.T) {
	withChat(t, func(ctx context.Context, addr string) error {
		url := "ws://" + addr + "/ws"
		return wsock.Open(ctx, url, nil, func(ctx context.Context, alice *wsock.Conn) error {
			return wsock.Open(ctx, url, nil, func(ctx context.Context, bob *wsock.Conn) error {
				for _, step := range []struct {
					from *wsock.Conn
					text string
				}{{alice, "alice: hello"}, {bob, "bob: hi alice"}} {
					if err := step.from.SendText(ctx, step.text); err != nil {
						return err
					}
					for _, member := range []*wsock.Conn{alice, bob} {
						m, err := member.Receive(ctx)
						if err != nil {
							return fmt.Errorf("%s receive: %w", member, err)
						}
						assert.Equal(t, wsock.TextMessage, m.Type)
						assert.Equal(t, step.text, string(m.Data), "received by %s", member)
					}
				}
				return nil
			})
		})
	})
}

func TestPageIsServedOnRoot(t *testing.T) {
	withChat(t, func(ctx context.Context, addr string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return err
		}
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Equal(t, indexHTML, body)
		assert.Contains(t, string(body), "/ws")
		return nil
	})
}

func TestMemberThatFallsBehindIsEvicted(t *testing.T) {
	rm := newRoom(slog.New(slog.NewTextHandler(io.Discard, nil)))
	slow, fast := rm.join(), rm.join()
	for i := range outboxSize + 1 {
		rm.broadcast(fmt.Sprint(i))
		<-fast.outbox // fast keeps up
	}
	select {
	case <-slow.evicted:
	default:
		t.Fatal("a member whose outbox overflowed is not evicted")
	}
	select {
	case <-fast.evicted:
		t.Fatal("a member that keeps up is evicted")
	default:
	}
	assert.Len(t, slow.outbox, outboxSize, "the slow member keeps what fit")
}

func TestMemberWhoLeftGetsNoMessages(t *testing.T) {
	rm := newRoom(slog.New(slog.NewTextHandler(io.Discard, nil)))
	stays, leaves := rm.join(), rm.join()
	rm.leave(leaves)
	rm.broadcast("after leaving")
	assert.Len(t, stays.outbox, 1)
	assert.Empty(t, leaves.outbox)
}
