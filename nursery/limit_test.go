package nursery_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// gauge counts the tasks running and remembers the most at once.
type gauge struct{ running, most, ran atomic.Int64 }

// task runs for a second, counted.
func (g *gauge) task(ctx context.Context) error {
	now := g.running.Add(1)
	defer g.running.Add(-1)
	g.ran.Add(1)
	for m := g.most.Load(); now > m && !g.most.CompareAndSwap(m, now); m = g.most.Load() {
	}
	return cancel.Sleep(ctx, time.Second)
}

func TestSetLimitBoundsHowManyTasksRunAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g gauge
		start := time.Now()
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.SetLimit(3)
			for range 20 {
				n.Go(g.task)
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, int64(20), g.ran.Load())
		assert.Equal(t, int64(3), g.most.Load())
		assert.Equal(t, 7*time.Second, time.Since(start), "20 tasks of a second, three at a time")
	})
}

func TestGoWaitsWhileTheLimitIsReached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var secondRan atomic.Bool
		goReturned := make(chan struct{})
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.SetLimit(1)
			n.Go(func(ctx context.Context) error { <-release; return nil })
			//gotrio:nurseryescape Go must block outside the body so the body can see it wait; joined by <-goReturned
			go func() {
				defer close(goReturned)
				n.Go(func(ctx context.Context) error { secondRan.Store(true); return nil })
			}()
			synctest.Wait()
			select {
			case <-goReturned:
				t.Error("Go returned while the only place was taken")
			default:
			}
			assert.False(t, secondRan.Load())
			close(release)
			<-goReturned
			return nil
		})
		require.NoError(t, err)
		assert.True(t, secondRan.Load())
	})
}

// A Go waiting for a place stops waiting when the nursery is cancelled: its
// task starts beyond the limit with a done context, even though the task
// holding the place ignores the cancellation until that new task runs.
func TestWaitingGoOnCancelledNurseryStartsTheTaskAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := cancel.New()
		var lateErr error
		go func() {
			time.Sleep(time.Second)
			outer.Cancel("shutting down")
		}()
		err := outer.Run(context.Background(), func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.SetLimit(1)
				late := make(chan struct{})
				n.Go(func(ctx context.Context) error {
					<-late // holds the only place until the late task has run
					return nil
				})
				n.Go(func(ctx context.Context) error {
					lateErr = ctx.Err()
					close(late)
					return nil
				})
				return nil
			})
		})
		require.NoError(t, err)
		assert.ErrorIs(t, lateErr, context.Canceled, "the late task ran with a done context")
	})
}

// Tasks that call Go on their own nursery while every place is taken do
// not deadlock the nursery once it is cancelled.
func TestTasksWaitingInGoDrainWhenTheNurseryIsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var children atomic.Int64
		var bothRunning sync.WaitGroup
		bothRunning.Add(2)
		start := time.Now()
		s, err := cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.SetLimit(2)
				for range 2 {
					n.Go(func(ctx context.Context) error {
						bothRunning.Done()
						bothRunning.Wait() // both places are taken now
						n.Go(func(ctx context.Context) error { children.Add(1); return nil })
						return nil
					})
				}
				return nil
			})
		})
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())
		assert.Equal(t, time.Second, time.Since(start), "stuck until the deadline cancelled the nursery")
		assert.Equal(t, int64(2), children.Load())
	})
}

func TestStartWaitsForAPlaceAndHoldsItUntilTheTaskReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var order []string
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.SetLimit(1)
			_, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
				ts.Started(1)
				<-release // holds the place after Started too
				order = append(order, "started task")
				return nil
			})
			require.NoError(t, err)
			go func() {
				time.Sleep(time.Second)
				close(release)
			}()
			n.Go(func(ctx context.Context) error {
				order = append(order, "next task")
				return nil
			})
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"started task", "next task"}, order)
	})
}

func TestStartWaitingForAPlaceReturnsTheCallersCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ran := false
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.SetLimit(1)
			n.Go(func(ctx context.Context) error { return cancel.Sleep(ctx, time.Hour) })
			var startErr error
			s, err := cancel.MoveOnAfter(ctx, time.Second, func(ctx context.Context) error {
				_, startErr = nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
					ran = true
					ts.Started(1)
					return nil
				})
				return startErr
			})
			assert.True(t, s.CancelledCaught())
			assert.ErrorIs(t, startErr, context.DeadlineExceeded)
			n.Scope().Cancel("done")
			return err
		})
		require.NoError(t, err)
		assert.False(t, ran, "the task never ran")
	})
}

func TestNegativeLimitRemovesTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.SetLimit(1)
			n.SetLimit(-1)
			for range 10 {
				n.Go(func(ctx context.Context) error { return cancel.Sleep(ctx, time.Second) })
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, time.Second, time.Since(start), "all ten at once")
	})
}

func TestSetLimitMisusePanics(t *testing.T) {
	assert.PanicsWithValue(t, "nursery: SetLimit(0) would block every task", func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.SetLimit(0)
			return nil
		})
	})
	release := make(chan struct{})
	var v any
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer close(release)
		n.Go(func(ctx context.Context) error { <-release; return nil })
		func() {
			defer func() { v = recover() }()
			n.SetLimit(2)
		}()
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "nursery: SetLimit while tasks are running", v)
}

func TestLimiterBoundsTasksAcrossNurseries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := nursery.NewLimiter(2)
		var g gauge
		start := time.Now()
		err := nursery.Run(context.Background(), func(ctx context.Context, outer *nursery.Nursery) error {
			for range 3 { // three pages, each with its own nursery of fetches
				outer.Go(func(ctx context.Context) error {
					return nursery.Run(ctx, func(ctx context.Context, page *nursery.Nursery) error {
						page.SetLimiter(l)
						for range 2 {
							page.Go(g.task)
						}
						return nil
					})
				})
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, int64(6), g.ran.Load())
		assert.Equal(t, int64(2), g.most.Load(), "two places shared by three nurseries")
		assert.Equal(t, 3*time.Second, time.Since(start), "six tasks of a second, two at a time")
	})
}

func TestNewLimiterWithoutPlacesPanics(t *testing.T) {
	assert.PanicsWithValue(t, "nursery: NewLimiter(0): a limit needs at least one place", func() { nursery.NewLimiter(0) })
}
