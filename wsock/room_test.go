package wsock

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// roomRounds returns how many rounds r has sent.
func roomRounds(r *Room) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rounds
}

// runRoom runs rm's task in a nursery of its own beside body, and checks that it ends
// with the cancellation body's return causes.
func runRoom(t *testing.T, ctx context.Context, rm *Room, body func(ctx context.Context)) {
	t.Helper()
	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("room", rm.Run)
		body(ctx)
		n.Scope().Cancel("test over")
		return nil
	})
	require.NoError(t, err)
}

func TestRoomSendsEveryPostToEveryMemberInOrder(t *testing.T) {
	for _, n := range []int{3, 3 * broadcastInline} {
		t.Run(fmt.Sprintf("members=%d", n), func(t *testing.T) {
			withRoom(t, n, 0, func(ctx context.Context, r *room) {
				rm := NewRoom(nil)
				for _, c := range r.servers {
					rm.Join(c)
				}
				assert.Equal(t, n, rm.Len())
				const posts = 20
				runRoom(t, ctx, rm, func(ctx context.Context) {
					for k := range posts {
						require.NoError(t, rm.Post(ctx, NewPreparedMessage(TextMessage, fmt.Appendf(nil, "line %d", k))))
					}
					for k := range posts {
						receiveAll(t, ctx, r.clients, fmt.Sprintf("line %d", k))
					}
				})
				assert.LessOrEqual(t, roomRounds(rm), posts)
			})
		})
	}
}

func TestRoomSendsWhatWasPostedMeanwhileAsOneRound(t *testing.T) {
	withRoom(t, 2, 0, func(ctx context.Context, r *room) {
		rm := NewRoom(nil)
		for _, c := range r.servers {
			rm.Join(c)
		}
		for k := range 5 { // before the task runs: all in its first round
			require.NoError(t, rm.Post(ctx, NewPreparedMessage(BinaryMessage, []byte{byte(k)})))
		}
		runRoom(t, ctx, rm, func(ctx context.Context) {
			for k := range 5 {
				receiveAll(t, ctx, r.clients, string([]byte{byte(k)}))
			}
			assert.Equal(t, 1, roomRounds(rm))
		})
	})
}

func TestRoomRemovesTheMembersItCannotSendTo(t *testing.T) {
	withRoom(t, 3, 0, func(ctx context.Context, r *room) {
		rm := NewRoom(nil)
		for _, c := range r.servers {
			rm.Join(c)
		}
		require.NoError(t, r.servers[1].Close(NormalClosure, "gone"))
		runRoom(t, ctx, rm, func(ctx context.Context) {
			require.NoError(t, rm.Post(ctx, NewPreparedMessage(TextMessage, []byte("still here?"))))
			receiveAll(t, ctx, []*Conn{r.clients[0], r.clients[2]}, "still here?")
			waitUntil(t, "the round is over", func() bool { return roomRounds(rm) == 1 })
			assert.Equal(t, 2, rm.Len(), "the closed member left")
		})
	})
}

func TestRoomLeaveStopsTheMessages(t *testing.T) {
	withRoom(t, 2, 0, func(ctx context.Context, r *room) {
		rm := NewRoom(nil)
		rm.Join(r.servers[0])
		rm.Join(r.servers[1])
		rm.Join(r.servers[1]) // twice: one membership
		assert.Equal(t, 2, rm.Len())
		rm.Leave(r.servers[1])
		assert.Equal(t, 1, rm.Len())
		runRoom(t, ctx, rm, func(ctx context.Context) {
			require.NoError(t, rm.Post(ctx, NewPreparedMessage(TextMessage, []byte("a"))))
			receiveAll(t, ctx, r.clients[:1], "a")
			waitUntil(t, "the round is over", func() bool { return roomRounds(rm) == 1 })
			// The member that left got nothing: its next message is this one.
			require.NoError(t, r.servers[1].SendText(ctx, "direct"))
			receiveAll(t, ctx, r.clients[1:], "direct")
		})
	})
}

func TestRoomPostWaitsWhileTheBacklogIsFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rm := NewRoom(&RoomOptions{MaxBacklog: 2})
		pm := NewPreparedMessage(TextMessage, []byte("x"))
		require.NoError(t, rm.Post(ctx, pm))
		require.NoError(t, rm.Post(ctx, pm))

		// A full backlog: a bounded Post gives up when its ctx does.
		err := cancel.FailAfter(ctx, time.Second, func(ctx context.Context) error { return rm.Post(ctx, pm) })
		assert.ErrorIs(t, err, cancel.ErrTooSlow)

		// An unbounded one waits until a round takes the backlog.
		posted := make(chan error, 1)
		//gotrio:go the Post that waits, in the bubble; joined by <-posted
		go func() { posted <- rm.Post(ctx, pm) }()
		synctest.Wait()
		select {
		case err := <-posted:
			t.Fatalf("Post returned %v with the backlog full", err)
		default:
		}
		err = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("room", rm.Run)
			assert.NoError(t, <-posted)
			n.Scope().Cancel("test over")
			return nil
		})
		require.NoError(t, err)
	})
}

func TestRoomRunEndsWithItsCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rm := NewRoom(nil)
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		//gotrio:go the room's task, in the bubble; joined by <-done
		go func() { done <- rm.Run(ctx) }()
		synctest.Wait()
		assert.PanicsWithValue(t, "wsock: Room.Run called twice at once", func() { _ = rm.Run(ctx) })
		stop()
		err := <-done
		assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	})
}

func TestRoomWithNilArgumentsPanics(t *testing.T) {
	rm := NewRoom(nil)
	assert.PanicsWithValue(t, "wsock: Room.Join with a nil *Conn", func() { rm.Join(nil) })
	assert.PanicsWithValue(t, "wsock: Room.Post with a nil *PreparedMessage", func() {
		_ = rm.Post(context.Background(), nil)
	})
}
