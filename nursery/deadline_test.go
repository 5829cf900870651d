package nursery_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// rounds is how often the simultaneous-deadline tests repeat: which of two
// timers due at one instant runs first is random, so one round proves little.
const rounds = 200

// When an enclosing scope and the nursery's scope are due at the same
// instant, the enclosing one catches, whichever timer runs first (Trio
// cancels every due scope in one batch).
func TestSimultaneousDeadlinesOutermostScopeCatchesOverNursery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range rounds {
			at := time.Now().Add(time.Second)
			err := cancel.FailAt(context.Background(), at, func(ctx context.Context) error {
				return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
					n.Scope().SetDeadline(at)
					n.Go(waitCancelled)
					return nil
				})
			})
			require.ErrorIs(t, err, cancel.ErrTooSlow, "round %d", round)
		}
	})
}

// The same between two nested nurseries and an enclosing FailAt, all due
// at one instant.
func TestSimultaneousDeadlinesOutermostScopeCatchesOverNestedNurseries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range rounds {
			at := time.Now().Add(time.Second)
			var outerCaught, innerCaught bool
			err := cancel.FailAt(context.Background(), at, func(ctx context.Context) error {
				return nursery.Run(ctx, func(ctx context.Context, outer *nursery.Nursery) error {
					outer.Scope().SetDeadline(at)
					defer func() { outerCaught = outer.Scope().CancelledCaught() }()
					return nursery.Run(ctx, func(ctx context.Context, inner *nursery.Nursery) error {
						inner.Scope().SetDeadline(at)
						defer func() { innerCaught = inner.Scope().CancelledCaught() }()
						inner.Go(waitCancelled)
						return nil
					})
				})
			})
			require.ErrorIs(t, err, cancel.ErrTooSlow, "round %d", round)
			assert.False(t, outerCaught, "round %d", round)
			assert.False(t, innerCaught, "round %d", round)
		}
	})
}

// An overall deadline over tasks that return nil when cancelled still
// reports: the nursery's end is a checkpoint, so FailAfter returns
// ErrTooSlow.
func TestFailAfterOverTasksThatSwallowCancellationIsTooSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		quiet := func(ctx context.Context) error {
			<-ctx.Done()
			return nil // a task that treats cancellation as a normal end
		}
		err := cancel.FailAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.Go(quiet)
				n.Go(quiet)
				return nil
			})
		})
		assert.ErrorIs(t, err, cancel.ErrTooSlow)

		s, err := cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.Go(quiet)
				return nil
			})
		})
		assert.NoError(t, err, "MoveOnAfter swallows it")
		assert.True(t, s.CancelledCaught())
	})
}

// The same when the tasks' own timers end them at the deadline's instant,
// before the deadline's timer has run.
func TestFailAtOverTasksEndingAtTheDeadlineInstantIsTooSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range rounds {
			at := time.Now().Add(time.Second)
			err := cancel.FailAt(context.Background(), at, func(ctx context.Context) error {
				return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
					n.Go(func(ctx context.Context) error {
						time.Sleep(time.Until(at)) // ignores ctx, ends on the instant
						return nil
					})
					return nil
				})
			})
			require.ErrorIs(t, err, cancel.ErrTooSlow, "round %d", round)
		}
	})
}
