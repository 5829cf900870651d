package wsock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/pprof"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// room is n server connections, each with a client Conn at the other end of a net.Pipe,
// their readers running, and stuck server connections whose peers never read, so that a
// send to one blocks.
type room struct {
	servers, clients []*Conn
	stuck            []*Conn
}

// withRoom runs body with a room of n connections and stuck stuck ones. When body
// returns, the readers are cancelled and joined.
func withRoom(t testing.TB, n, stuck int, body func(ctx context.Context, r *room)) {
	t.Helper()
	var r room
	err := nursery.Run(context.Background(), func(ctx context.Context, nu *nursery.Nursery) error {
		for range n {
			cn, sn := net.Pipe()
			client, server := newConn(testConfig(cn, proto.Client)), newConn(testConfig(sn, proto.Server))
			runIn(nu, client, make(chan error, 1))
			runIn(nu, server, make(chan error, 1))
			r.clients = append(r.clients, client)
			r.servers = append(r.servers, server)
		}
		for range stuck {
			ours, theirs := net.Pipe()
			c := newConn(testConfig(ours, proto.Server))
			runIn(nu, c, make(chan error, 1))
			r.stuck = append(r.stuck, c)
			defer theirs.Close()
		}
		body(ctx, &r)
		nu.Scope().Cancel("test over")
		return nil
	})
	require.NoError(t, err)
}

// receiveAll checks that every one of cs receives want next.
func receiveAll(t *testing.T, ctx context.Context, cs []*Conn, want string) {
	t.Helper()
	for _, c := range cs {
		m, err := c.Receive(ctx)
		require.NoError(t, err, c.String())
		assert.Equal(t, want, string(m.Data), c.String())
	}
}

// broadcastWorkersRunning reports whether a goroutine of a Broadcast worker task exists.
func broadcastWorkersRunning(t *testing.T) bool {
	var profile bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&profile, 1))
	return bytes.Contains(profile.Bytes(), []byte("wsock.Broadcast worker"))
}

func TestBroadcastDeliversToEveryConnection(t *testing.T) {
	for _, n := range []int{1, broadcastInline, 3 * broadcastInline} {
		t.Run(fmt.Sprintf("conns=%d", n), func(t *testing.T) {
			withRoom(t, n, 0, func(ctx context.Context, r *room) {
				pm := NewPreparedMessage(TextMessage, []byte("hello, room"))
				sent := make(chan error, 1)
				//gotrio:go the broadcaster, so that the test can read meanwhile; joined by <-sent
				go func() { sent <- Broadcast(ctx, pm, r.servers, nil) }()
				receiveAll(t, ctx, r.clients, "hello, room")
				assert.NoError(t, <-sent)
			})
		})
	}
}

func TestBroadcastSkipsClosedConnectionsAndReportsThem(t *testing.T) {
	for _, n := range []int{8, 3 * broadcastInline} {
		t.Run(fmt.Sprintf("conns=%d", n), func(t *testing.T) {
			withRoom(t, n, 0, func(ctx context.Context, r *room) {
				closed := []int{1, n - 1}
				for _, i := range closed {
					require.NoError(t, r.servers[i].Close(NormalClosure, "left"))
				}
				pm := NewPreparedMessage(TextMessage, []byte("still here?"))
				sent := make(chan error, 1)
				//gotrio:go the broadcaster, so that the test can read meanwhile; joined by <-sent
				go func() { sent <- Broadcast(ctx, pm, r.servers, nil) }()
				var open []*Conn
				for i, c := range r.clients {
					if i != closed[0] && i != closed[1] {
						open = append(open, c)
					}
				}
				receiveAll(t, ctx, open, "still here?")

				err := <-sent
				var be *BroadcastError
				require.ErrorAs(t, err, &be)
				require.Len(t, be.Failed, 2)
				for k, i := range closed {
					assert.Same(t, r.servers[i], be.Failed[k].Conn)
					assert.ErrorIs(t, be.Failed[k].Err, ErrClosed)
					assert.Contains(t, err.Error(), "send to "+r.servers[i].String()+": ")
				}
				assert.ErrorIs(t, err, ErrClosed)
				var ce *ClosedError
				assert.ErrorAs(t, err, &ce)
			})
		})
	}
}

func TestBroadcastKeepsEachConnectionsOrder(t *testing.T) {
	withRoom(t, 2*broadcastInline, 0, func(ctx context.Context, r *room) {
		pm := NewPreparedMessage(TextMessage, []byte("b"))
		sent := make(chan error, 1)
		//gotrio:go the sender, so that the test can read meanwhile; joined by <-sent
		go func() {
			for _, c := range r.servers {
				if err := c.SendText(ctx, "a"); err != nil {
					sent <- err
					return
				}
			}
			if err := Broadcast(ctx, pm, r.servers, nil); err != nil {
				sent <- err
				return
			}
			for _, c := range r.servers {
				if err := c.SendText(ctx, "c"); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
		for _, c := range r.clients {
			for _, want := range []string{"a", "b", "c"} {
				m, err := c.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, want, string(m.Data), c.String())
			}
		}
		assert.NoError(t, <-sent)
	})
}

// A connection whose peer stops reading holds one worker; the others deliver to every
// other connection meanwhile.
func TestBroadcastSlowConnectionDoesNotStallTheOthers(t *testing.T) {
	withRoom(t, 3*broadcastInline, 1, func(ctx context.Context, r *room) {
		pm := NewPreparedMessage(TextMessage, []byte("hi"))
		bctx, stop := context.WithCancel(ctx)
		defer stop()
		sent := make(chan error, 1)
		//gotrio:go the broadcaster, blocked on the stuck connection; joined by <-sent
		go func() { sent <- Broadcast(bctx, pm, append(r.stuck, r.servers...), nil) }()
		receiveAll(t, ctx, r.clients, "hi")
		select {
		case err := <-sent:
			t.Fatalf("Broadcast returned %v while a send was blocked", err)
		default:
		}
		stop()
		assert.ErrorIs(t, <-sent, context.Canceled)
	})
}

func TestBroadcastCancelledStopsAndJoinsTheWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Two stuck connections block two workers, one of them a task (the caller's
		// goroutine is the other).
		withRoom(t, 3*broadcastInline, 2, func(ctx context.Context, r *room) {
			pm := NewPreparedMessage(TextMessage, []byte("hi"))
			bctx, stop := context.WithCancel(ctx)
			sent := make(chan error, 1)
			//gotrio:go the broadcaster, blocked on the stuck connection; joined by <-sent
			go func() { sent <- Broadcast(bctx, pm, append(r.stuck, r.servers...), nil) }()
			synctest.Wait()
			require.True(t, broadcastWorkersRunning(t))
			stop()
			err := <-sent
			assert.ErrorIs(t, err, context.Canceled)
			var be *BroadcastError
			assert.False(t, errors.As(err, &be), "an interrupted send is no failure: %v", err)
			// A write interrupt that a worker registered on an already-cancelled ctx runs
			// in a goroutine of its own that carries the worker's labels; let it end.
			synctest.Wait()
			assert.False(t, broadcastWorkersRunning(t), "workers joined")
		})
	})
}

func TestBroadcastSendTimeoutBoundsASlowConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRoom(t, 3, 1, func(ctx context.Context, r *room) {
			pm := NewPreparedMessage(TextMessage, []byte("hi"))
			conns := append(r.stuck, r.servers...)
			sent := make(chan error, 1)
			start := time.Now()
			//gotrio:go the broadcaster; joined by <-sent
			go func() { sent <- Broadcast(ctx, pm, conns, &BroadcastOptions{SendTimeout: time.Second}) }()
			receiveAll(t, ctx, r.clients, "hi") // inline, after the stuck one's bound
			err := <-sent
			assert.Equal(t, time.Second, time.Since(start))
			var be *BroadcastError
			require.ErrorAs(t, err, &be)
			require.Len(t, be.Failed, 1)
			assert.Same(t, r.stuck[0], be.Failed[0].Conn)
			assert.ErrorIs(t, err, cancel.ErrTooSlow)
		})
	})
}

func TestBroadcastToFewConnectionsRunsInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRoom(t, broadcastInline-1, 1, func(ctx context.Context, r *room) {
			pm := NewPreparedMessage(TextMessage, []byte("hi"))
			bctx, stop := context.WithCancel(ctx)
			sent := make(chan error, 1)
			//gotrio:go the broadcaster, blocked on the stuck connection; joined by <-sent
			go func() { sent <- Broadcast(bctx, pm, append(r.stuck, r.servers...), nil) }()
			synctest.Wait()
			assert.False(t, broadcastWorkersRunning(t))
			stop()
			assert.ErrorIs(t, <-sent, context.Canceled)
		})
	})
	assert.Zero(t, broadcastWorkers(broadcastInline))
	assert.Equal(t, 2, broadcastWorkers(broadcastInline+1))
}

func TestBroadcastWithNilArgumentsPanics(t *testing.T) {
	assert.PanicsWithValue(t, "wsock: Broadcast with a nil *PreparedMessage", func() {
		_ = Broadcast(context.Background(), nil, nil, nil)
	})
	assert.PanicsWithValue(t, "wsock: Broadcast to a nil *Conn", func() {
		_ = Broadcast(context.Background(), NewPreparedMessage(TextMessage, nil), []*Conn{nil}, nil)
	})
}

func TestBroadcastAllocatesNothingPerRecipient(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const n = 4 * broadcastInline
	withDiscardRoom(t, n, func(ctx context.Context, conns []*Conn) {
		pm := NewPreparedMessage(BinaryMessage, make([]byte, 256))
		require.NoError(t, Broadcast(ctx, pm, conns, nil))
		allocs := testing.AllocsPerRun(20, func() {
			if err := Broadcast(ctx, pm, conns, nil); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%.1f allocations per Broadcast to %d connections", allocs, n)
		assert.Less(t, allocs, float64(n)/8, "a constant per call, not one per recipient")
	})
}

// withDiscardRoom runs body with n server connections whose peers discard what they read.
func withDiscardRoom(t testing.TB, n int, body func(ctx context.Context, conns []*Conn)) {
	t.Helper()
	err := nursery.Run(context.Background(), func(ctx context.Context, nu *nursery.Nursery) error {
		var conns []*Conn
		var peers []net.Conn
		for range n {
			ours, theirs := net.Pipe()
			c := newConn(testConfig(ours, proto.Server))
			runIn(nu, c, make(chan error, 1))
			nu.GoNamed("discarding peer", func(context.Context) error {
				_, _ = io.Copy(io.Discard, theirs)
				return nil
			})
			conns, peers = append(conns, c), append(peers, theirs)
		}
		body(ctx, conns)
		for _, p := range peers {
			p.Close()
		}
		nu.Scope().Cancel("test over")
		return nil
	})
	require.NoError(t, err)
}

// BenchmarkBroadcast measures Broadcast of a 256-byte message to 1000 server connections
// over net.Pipe, whose peers discard what they read; ns/op is per broadcast.
func BenchmarkBroadcast(b *testing.B) {
	const n = 1000
	withDiscardRoom(b, n, func(ctx context.Context, conns []*Conn) {
		pm := NewPreparedMessage(BinaryMessage, make([]byte, 256))
		if err := Broadcast(ctx, pm, conns, nil); err != nil { // frames pm, watches ctx
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := Broadcast(ctx, pm, conns, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
	})
}
