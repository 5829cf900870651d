package nursery_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

type whereKey struct{}

// B39
func TestStartReturnsTheStartedValueAndTheTaskRunsOn(t *testing.T) {
	release := make(chan struct{})
	taskDone := false
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		v, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[string]) error {
			ts.Started("ready")
			<-release
			taskDone = true
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, "ready", v)
		assert.False(t, taskDone, "Start returns at Started, not when the task ends")
		close(release)
		return nil
	})
	assert.NoError(t, err)
	assert.True(t, taskDone, "Run joins the started task")
}

// B39: after Started the task's failures are the nursery's.
func TestStartedTaskFailureFailsTheNursery(t *testing.T) {
	var bodyCause error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			ts.Started(1)
			return errBoom
		})
		require.NoError(t, err)
		<-ctx.Done()
		bodyCause = context.Cause(ctx)
		return nil
	})
	te := group(t, err).Errs[0].(*nursery.TaskError)
	assert.Same(t, errBoom, te.Err)
	assert.Contains(t, te.Task, "TestStartedTaskFailureFailsTheNursery")
	var c *cancel.Cancelled
	require.ErrorAs(t, bodyCause, &c)
	assert.Equal(t, cancel.SourceNursery, c.Source)
}

// B40
func TestErrorBeforeStartedIsReturnedAsItself(t *testing.T) {
	var bodyErr error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		v, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			return errBoom
		})
		assert.Same(t, errBoom, err, "not wrapped, not grouped")
		assert.Zero(t, v)
		bodyErr = ctx.Err()
		return nil
	})
	assert.NoError(t, err, "the nursery is not affected")
	assert.NoError(t, bodyErr, "the nursery is not cancelled")
}

// B40: a panic before Started is the caller's: Start panics, not the tasks.
func TestPanicBeforeStartedPanicsInStart(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		v := recovered(func() {
			_, _ = nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
				panic("early")
			})
		})
		pe := panicError(t, v)
		assert.Equal(t, "early", pe.Value)
		assert.NoError(t, ctx.Err())
		return nil
	})
	assert.NoError(t, err)
}

// B41
func TestReturnWithoutStartedIsErrNotStarted(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			return nil
		})
		assert.ErrorIs(t, err, nursery.ErrNotStarted)
		return nil
	})
	assert.NoError(t, err)
}

// B42
func TestStartedTwicePanicsWithErrAlreadyStarted(t *testing.T) {
	v := recovered(func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
				ts.Started(1)
				ts.Started(2)
				return nil
			})
			return err
		})
	})
	pe := panicError(t, v)
	assert.Equal(t, nursery.ErrAlreadyStarted, pe.Value)
	assert.ErrorIs(t, pe, nursery.ErrAlreadyStarted, "errors.Is matches the recovered value")
	assert.EqualError(t, nursery.ErrAlreadyStarted, "nursery: Started called twice")
}

func TestStartedAfterTheTaskReturnedPanics(t *testing.T) {
	var status nursery.TaskStatus[int]
	require.NoError(t, nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			status = ts
			return nil
		})
		assert.ErrorIs(t, err, nursery.ErrNotStarted)
		return nil
	}))
	assert.PanicsWithValue(t, "nursery: Started called after the task returned", func() { status.Started(1) })
}

// B43: before Started the task lives under the caller's context (values,
// cancellation); after it, under the nursery's.
func TestStartedMovesTheTaskFromCallerToNursery(t *testing.T) {
	var before, after any
	var afterCallerCancel, afterNurseryCancel error
	callerCancelled, nurseryCancelled := make(chan struct{}), make(chan struct{})
	checked := make(chan struct{})
	base := context.WithValue(context.Background(), whereKey{}, "nursery")
	err := nursery.Run(base, func(ctx context.Context, n *nursery.Nursery) error {
		caller := cancel.New()
		err := caller.Run(context.WithValue(ctx, whereKey{}, "caller"), func(callerCtx context.Context) error {
			_, err := nursery.Start(callerCtx, n, func(ctx context.Context, ts nursery.TaskStatus[struct{}]) error {
				before = ctx.Value(whereKey{})
				ts.Started(struct{}{})
				after = ctx.Value(whereKey{})
				<-callerCancelled
				afterCallerCancel = ctx.Err()
				close(checked)
				<-nurseryCancelled
				afterNurseryCancel = ctx.Err()
				return ctx.Err()
			})
			return err
		})
		require.NoError(t, err)
		caller.Cancel("the caller moves on")
		close(callerCancelled)
		<-checked
		n.Scope().Cancel("done")
		close(nurseryCancelled)
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, "caller", before)
	assert.Equal(t, "nursery", after)
	assert.NoError(t, afterCallerCancel, "the caller's cancellation no longer reaches the task")
	assert.ErrorIs(t, afterNurseryCancel, context.Canceled)
}

// B43: a cancellation of the caller before Started reaches the task, and its
// error is Start's.
func TestCallerCancellationReachesTaskBeforeStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var startErr error
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			s, err := cancel.MoveOnAfter(ctx, time.Second, func(ctx context.Context) error {
				_, startErr = nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
					return cancel.Sleep(ctx, time.Hour) // never ready in time
				})
				return startErr
			})
			assert.True(t, s.CancelledCaught())
			assert.NoError(t, ctx.Err(), "the nursery is not cancelled")
			return err
		})
		assert.NoError(t, err)
		assert.ErrorIs(t, startErr, context.DeadlineExceeded)
	})
}

// B44: Started hands the value over even when the caller is cancelled.
func TestStartedHandsTheValueOverWhenCallerIsCancelled(t *testing.T) {
	var taskErr error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		caller := cancel.New()
		return caller.Run(ctx, func(callerCtx context.Context) error {
			v, err := nursery.Start(callerCtx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
				caller.Cancel("caller gave up")
				<-ctx.Done()   // the task sees it…
				ts.Started(42) // …but is ready anyway
				taskErr = ctx.Err()
				return nil
			})
			assert.NoError(t, err)
			assert.Equal(t, 42, v)
			assert.ErrorIs(t, callerCtx.Err(), context.Canceled)
			return nil
		})
	})
	assert.NoError(t, err)
	assert.ErrorIs(t, taskErr, context.Canceled, "a delivered cancellation stays")
}

// B45
func TestStartIntoCancelledNurseryCancelsTheTaskAtOnce(t *testing.T) {
	var before, after error
	var cause error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Scope().Cancel("closing")
		_, err := nursery.Start(context.Background(), n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			before = ctx.Err()
			ts.Started(1)
			after = ctx.Err()
			cause = context.Cause(ctx)
			return after
		})
		return err
	})
	assert.NoError(t, err)
	assert.NoError(t, before, "the caller's context is not cancelled")
	assert.ErrorIs(t, after, context.Canceled)
	var c *cancel.Cancelled
	require.ErrorAs(t, cause, &c)
	assert.Equal(t, "closing", c.Reason)
}

// B46
func TestPendingStartKeepsTheNurseryOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		nc := make(chan *nursery.Nursery)
		runDone := make(chan error)
		go func() {
			runDone <- nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				//gotrio:nurseryescape the test hands n to a goroutine that must Start into it while Run drains
				nc <- n
				<-entered
				return nil // the body returns while Start is pending
			})
		}()
		n := <-nc
		startDone := make(chan int)
		go func() {
			v, err := nursery.Start(context.Background(), n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
				close(entered)
				<-release
				ts.Started(7)
				n.Go(func(ctx context.Context) error { return nil }) // n is still open
				return nil
			})
			assert.NoError(t, err)
			startDone <- v
		}()
		synctest.Wait()
		select {
		case <-runDone:
			t.Fatal("Run returned while a Start was pending")
		default:
		}
		close(release)
		assert.Equal(t, 7, <-startDone)
		assert.NoError(t, <-runDone)
	})
}

// B46: a pending Start that fails lets the nursery close.
func TestFailedPendingStartLetsTheNurseryClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nc := make(chan *nursery.Nursery)
		entered := make(chan struct{})
		runDone := make(chan error)
		go func() {
			runDone <- nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				//gotrio:nurseryescape the test hands n to a goroutine that must Start into it while Run drains
				nc <- n
				<-entered
				return nil // the body returns while Start is pending
			})
		}()
		n := <-nc
		_, err := nursery.Start(context.Background(), n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			close(entered)
			time.Sleep(time.Second)
			return errBoom
		})
		assert.Same(t, errBoom, err)
		assert.NoError(t, <-runDone)
	})
}

func TestIgnoredStatusLetsAStartFunctionRunWithGo(t *testing.T) {
	serve := func(ctx context.Context, ts nursery.TaskStatus[int]) error {
		ts.Started(80)
		return nil
	}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error { return serve(ctx, nursery.Ignored[int]()) })
		return serve(ctx, nursery.Ignored[int]())
	})
	assert.NoError(t, err)
}

// startUnderCancelledCaller calls Start from inside a scope of ctx that is
// already cancelled; the task calls Started, then runs after.
func startUnderCancelledCaller(ctx context.Context, n *nursery.Nursery, after func(ctx context.Context) error) error {
	caller := cancel.New()
	caller.Cancel("caller gave up")
	return caller.Run(ctx, func(callerCtx context.Context) error {
		_, err := nursery.Start(callerCtx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			ts.Started(1)
			return after(ctx)
		})
		return err
	})
}

// A task started from a caller that is already cancelled moves into the
// nursery with the caller's cancellation delivered (Go cannot un-cancel a
// context). No scope around the nursery will catch that cancellation, so it
// is not a failure: the task's cancellation status is the nursery's from
// Started on (Trio's start semantics).
func TestStartUnderCancelledCallerIsNotAFailure(t *testing.T) {
	var taskErr error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		return startUnderCancelledCaller(ctx, n, func(ctx context.Context) error {
			taskErr = cancel.Checkpoint(ctx)
			return taskErr
		})
	})
	assert.NoError(t, err)
	assert.True(t, cancel.IsCancellation(taskErr), "the task did see the caller's cancellation")
}

// A real failure joined to such a foreign cancellation is still a failure,
// without its cancellation part.
func TestStartUnderCancelledCallerKeepsRealFailures(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		return startUnderCancelledCaller(ctx, n, func(ctx context.Context) error {
			return errors.Join(cancel.Checkpoint(ctx), errBoom)
		})
	})
	g := group(t, err)
	require.Len(t, g.Errs, 1)
	assert.ErrorIs(t, err, errBoom)
	assert.NotErrorIs(t, err, context.Canceled)
}

// When the nursery is cancelled too, the cancellation is the nursery's and
// is stripped as usual; when an enclosing scope is cancelled, it reaches
// that scope.
func TestStartUnderCancelledCallerInCancelledNurseryPassesToTheCatcher(t *testing.T) {
	outer := cancel.New()
	var inner error
	err := outer.Run(context.Background(), func(ctx context.Context) error {
		inner = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			return startUnderCancelledCaller(ctx, n, func(ctx context.Context) error {
				outer.Cancel("from outside")
				return cancel.Checkpoint(ctx)
			})
		})
		return inner
	})
	assert.NoError(t, err)
	assert.True(t, outer.CancelledCaught(), "the enclosing scope caught it")
	assert.True(t, cancel.IsCancellation(inner))
}
