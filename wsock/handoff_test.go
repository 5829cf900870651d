package wsock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Tests of the hand-over of the read turn from the reader task to a Receive that asks
// for it (turn.go) while the peer's Close frame arrives: whoever reads it, the Receive
// returns ErrClosed and the peer gets its answer.

// handOffRounds is how many times each test plays its race: the frame and the hand-over
// meet at a different point each time.
const handOffRounds = 10

func TestPeersCloseArrivingAsAReceiveAsksTheTaskForTheTurnEndsTheReceive(t *testing.T) {
	for _, order := range []struct {
		name       string
		closeFirst bool
	}{{"receive first", false}, {"close first", true}} {
		t.Run(order.name, func(t *testing.T) {
			for range handOffRounds {
				receiveAsTheTaskReads(t, order.closeFirst)
			}
		})
	}
}

// receiveAsTheTaskReads plays one round: the handler receives a message, waits until
// the reader task has taken the turn back (the grace period passed), then receives
// again while the client sends its Close, after or before the handler's Receive begins.
func receiveAsTheTaskReads(t *testing.T, closeFirst bool) {
	proceed := make(chan struct{})
	results := make(chan error, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, c := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			if _, err := c.Receive(ctx); err != nil {
				results <- err
				return nil
			}
			<-proceed
			_, err := c.Receive(ctx)
			results <- err
			return nil
		})
		defer rc.nc.Close()
		rc.send(proto.OpText, "first")
		waitUntil(t, "the reader task reads again", func() bool {
			return taskGoroutines(t, c.String()+" reader") == 1
		})
		if closeFirst {
			rc.send(proto.OpClose, "\x03\xe9")
			close(proceed)
		} else {
			close(proceed)
			rc.send(proto.OpClose, "\x03\xe9")
		}
		select {
		case err := <-results:
			require.ErrorIs(t, err, ErrClosed)
		case <-time.After(10 * time.Second):
			t.Fatal("the handler's Receive did not return for the peer's Close")
		}
		rc.expect(proto.OpClose, "\x03\xe9")
		assert.Equal(t, GoingAway, c.CloseReason().Code)
		return nil
	})
	require.NoError(t, err)
}
