package nursery_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

var (
	errBoom  = errors.New("boom")
	errOther = errors.New("other")
)

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

// waitCancelled blocks until ctx is done and returns its error, as a task
// that honours cancellation does.
func waitCancelled(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// group asserts that err is an *ErrorGroup and returns it.
func group(t *testing.T, err error) *nursery.ErrorGroup {
	t.Helper()
	var g *nursery.ErrorGroup
	require.ErrorAs(t, err, &g)
	return g
}

// B26
func TestRunWaitsForBodyAndEveryTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var finished atomic.Int32
		start := time.Now()
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(func(ctx context.Context) error {
				time.Sleep(2 * time.Second)
				n.Go(func(ctx context.Context) error { // started into n by a task
					time.Sleep(3 * time.Second)
					finished.Add(1)
					return nil
				})
				finished.Add(1)
				return nil
			})
			n.Go(func(ctx context.Context) error {
				time.Sleep(time.Second)
				finished.Add(1)
				return nil
			})
			return nil // the body returns at once
		})
		require.NoError(t, err)
		assert.Equal(t, int32(3), finished.Load())
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

// B26
func TestRunWaitsWhileTasksBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		returned := make(chan error)
		go func() {
			returned <- nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				n.Go(func(ctx context.Context) error { <-release; return nil })
				return nil
			})
		}()
		synctest.Wait()
		select {
		case <-returned:
			t.Fatal("Run returned while a task was still running")
		default:
		}
		close(release)
		assert.NoError(t, <-returned)
	})
}

// B27
func TestFirstFailureCancelsSiblingsAndBody(t *testing.T) {
	var siblingCause, bodyCause error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("sibling", func(ctx context.Context) error {
			<-ctx.Done()
			siblingCause = context.Cause(ctx)
			return ctx.Err()
		})
		n.GoNamed("failer", func(ctx context.Context) error { return errBoom })
		<-ctx.Done()
		bodyCause = context.Cause(ctx)
		return nil
	})
	assert.ErrorIs(t, err, errBoom)
	for _, cause := range []error{siblingCause, bodyCause} {
		var c *cancel.Cancelled
		require.ErrorAs(t, cause, &c)
		assert.Equal(t, cancel.SourceNursery, c.Source)
		assert.Equal(t, "task failer failed: boom", c.Reason)
		assert.ErrorIs(t, cause, context.Canceled)
	}
}

// B27
func TestBodyFailureCancelsTasks(t *testing.T) {
	var cause error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		})
		return errBoom
	})
	assert.Equal(t, []error{errBoom}, group(t, err).Errs)
	var c *cancel.Cancelled
	require.ErrorAs(t, cause, &c)
	assert.Equal(t, cancel.SourceNursery, c.Source)
	assert.Equal(t, "body failed: boom", c.Reason)
}

// B27: only non-cancellation failures cancel the nursery.
func TestCancellationErrorDoesNotCancelSiblings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var bodyErr error
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("timedout", func(ctx context.Context) error { return context.DeadlineExceeded })
			time.Sleep(time.Second)
			bodyErr = ctx.Err()
			return nil
		})
		assert.NoError(t, bodyErr)
		// Nothing cancelled the nursery, so the error is not stripped.
		g := group(t, err)
		require.Len(t, g.Errs, 1)
		assert.ErrorIs(t, g.Errs[0], context.DeadlineExceeded)
	})
}

// B27: a timeout that is a failure (cancel.ErrTooSlow) cancels the siblings.
func TestTooSlowIsAFailureThatCancelsSiblings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(waitCancelled)
			n.GoNamed("slow", func(ctx context.Context) error {
				return cancel.FailAfter(ctx, time.Second, func(ctx context.Context) error {
					return cancel.Sleep(ctx, time.Hour)
				})
			})
			return nil
		})
		g := group(t, err)
		require.Len(t, g.Errs, 1)
		assert.ErrorIs(t, g.Errs[0], cancel.ErrTooSlow)
	})
}

// B28
func TestEveryFailureReturnedInOrderAsOneGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			// These tasks ignore cancellation, so all of them fail.
			n.GoNamed("second", func(ctx context.Context) error {
				time.Sleep(2 * time.Second)
				return &codeError{42}
			})
			n.GoNamed("first", func(ctx context.Context) error {
				time.Sleep(time.Second)
				return errBoom
			})
			time.Sleep(3 * time.Second)
			return errOther
		})
		g := group(t, err)
		require.Len(t, g.Errs, 3)
		assert.Equal(t, &nursery.TaskError{Task: "first", Err: errBoom}, g.Errs[0])
		assert.Equal(t, &nursery.TaskError{Task: "second", Err: &codeError{42}}, g.Errs[1])
		assert.Equal(t, errOther, g.Errs[2])
		assert.ErrorIs(t, err, errBoom)
		assert.ErrorIs(t, err, errOther)
		var ce *codeError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 42, ce.code)
		assert.Equal(t, "3 errors: task first: boom; task second: code 42; other", err.Error())
	})
}

// B28
func TestSingleFailureIsStillAGroup(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("only", func(ctx context.Context) error { return errBoom })
		return nil
	})
	g := group(t, err)
	assert.Equal(t, []error{&nursery.TaskError{Task: "only", Err: errBoom}}, g.Errs)
	assert.Equal(t, "task only: boom", err.Error())
	assert.Same(t, errBoom, errors.Unwrap(g.Errs[0]))
}

// B29
func TestCancellationCausedByTheNurseryIsStripped(t *testing.T) {
	var scope *cancel.Scope
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(waitCancelled)
		n.Go(func(ctx context.Context) error { return cancel.Sleep(ctx, time.Hour) }) // a *cancel.Cancelled
		n.Go(func(ctx context.Context) error {
			<-ctx.Done()
			return fmt.Errorf("read: %w", ctx.Err())
		})
		n.GoNamed("failer", func(ctx context.Context) error { return errBoom })
		scope = n.Scope()
		return waitCancelled(ctx)
	})
	g := group(t, err)
	assert.Equal(t, []error{&nursery.TaskError{Task: "failer", Err: errBoom}}, g.Errs)
	assert.NotErrorIs(t, err, context.Canceled)
	assert.True(t, scope.CancelledCaught(), "the nursery's scope caught its cancellation")
}

// B29
func TestNurseryCancelledByItsScopeReturnsNil(t *testing.T) {
	var scope *cancel.Scope
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		scope = n.Scope()
		for range 3 {
			n.Go(waitCancelled)
		}
		n.Scope().Cancel("enough")
		return waitCancelled(ctx)
	})
	assert.NoError(t, err)
	assert.True(t, scope.CancelCalled())
	assert.True(t, scope.CancelledCaught())
}

// B29
func TestNurseryDeadlineIsStripped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var scope *cancel.Scope
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			scope = n.Scope()
			n.Scope().SetTimeout(time.Second)
			n.Go(func(ctx context.Context) error { return cancel.Sleep(ctx, time.Hour) })
			return nil
		})
		assert.NoError(t, err)
		assert.True(t, scope.CancelledCaught(), "like a MoveOnAfter around the tasks")
		assert.Equal(t, time.Second, time.Since(start))
	})
}

// B29: a failure that joins cancellation keeps only its real part.
func TestMixedFailureKeepsOnlyItsRealPart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("mixed", func(ctx context.Context) error {
				<-ctx.Done()
				return errors.Join(errOther, ctx.Err())
			})
			n.GoNamed("failer", func(ctx context.Context) error { return errBoom })
			return nil
		})
		g := group(t, err)
		require.Len(t, g.Errs, 2)
		var te *nursery.TaskError
		require.ErrorAs(t, g.Errs[1], &te)
		assert.Equal(t, "mixed", te.Task)
		assert.ErrorIs(t, te, errOther)
		assert.NotErrorIs(t, err, context.Canceled)
	})
}

// B30
func TestCancellationFromOutsideStaysInTheGroup(t *testing.T) {
	outer := cancel.New()
	var inner error
	err := outer.Run(context.Background(), func(ctx context.Context) error {
		inner = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("waiter", waitCancelled)
			outer.Cancel("from outside")
			return nil
		})
		return inner
	})
	assert.NoError(t, err, "the outer scope strips the cancellation")
	assert.True(t, outer.CancelledCaught())
	g := group(t, inner)
	require.Len(t, g.Errs, 1)
	assert.ErrorIs(t, g.Errs[0], context.Canceled)
}

// B30: with a failure and an outside cancellation, only the failure survives
// the enclosing scope.
func TestOutsideCancellationAndFailureBothReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := cancel.New()
		var inner error
		err := outer.Run(context.Background(), func(ctx context.Context) error {
			inner = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.GoNamed("waiter", waitCancelled)
				n.GoNamed("failer", func(ctx context.Context) error {
					outer.Cancel("from outside")
					time.Sleep(time.Second)
					return errBoom
				})
				return nil
			})
			return inner
		})
		g := group(t, inner)
		require.Len(t, g.Errs, 2)
		assert.ErrorIs(t, g.Errs[0], errBoom)
		assert.ErrorIs(t, g.Errs[1], context.Canceled)
		assert.ErrorIs(t, err, errBoom)
		assert.NotErrorIs(t, err, context.Canceled)
	})
}

// B31
func TestInnerGroupsStayNested(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("outer", func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, m *nursery.Nursery) error {
				m.GoNamed("inner", func(ctx context.Context) error { return errBoom })
				return nil
			})
		})
		return nil
	})
	g := group(t, err)
	require.Len(t, g.Errs, 1)
	te, ok := g.Errs[0].(*nursery.TaskError)
	require.True(t, ok)
	assert.Equal(t, "outer", te.Task)
	innerGroup, ok := te.Err.(*nursery.ErrorGroup)
	require.True(t, ok, "the inner group is not flattened")
	assert.Equal(t, []error{&nursery.TaskError{Task: "outer/inner", Err: errBoom}}, innerGroup.Errs)
	assert.ErrorIs(t, err, errBoom)
}

// B32
func TestAllNilReturnsNilEvenIfParentCancelled(t *testing.T) {
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	err := nursery.Run(parent, func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			<-ctx.Done()
			return nil
		})
		stop()
		<-ctx.Done()
		return nil
	})
	assert.NoError(t, err)
}

// B33
func TestTasksInheritTheNurseryScopeNotTheSpawners(t *testing.T) {
	var taskErr error
	var taskScope, nurseryScope *cancel.Scope
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		nurseryScope = n.Scope()
		spawned := cancel.New()
		return spawned.Run(ctx, func(ctx context.Context) error {
			cancelled := make(chan struct{})
			n.Go(func(ctx context.Context) error {
				<-cancelled
				taskErr = ctx.Err()
				taskScope = cancel.Current(ctx)
				return nil
			})
			spawned.Cancel("spawner's scope")
			close(cancelled)
			return nil
		})
	})
	require.NoError(t, err)
	assert.NoError(t, taskErr)
	assert.Same(t, nurseryScope, taskScope)
}

// B35
func TestGoOnCancelledNurseryStillRunsTheTask(t *testing.T) {
	ran := false
	var taskErr error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Scope().Cancel("before Go")
		n.Go(func(ctx context.Context) error {
			ran = true
			taskErr = ctx.Err()
			return taskErr
		})
		return nil
	})
	assert.NoError(t, err)
	assert.True(t, ran)
	assert.ErrorIs(t, taskErr, context.Canceled)
}

// B36
func TestTasksMayGoWhileTheNurseryDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var depth atomic.Int32
		var spawn func(ctx context.Context, n *nursery.Nursery) func(context.Context) error
		spawn = func(ctx context.Context, n *nursery.Nursery) func(context.Context) error {
			return func(ctx context.Context) error {
				time.Sleep(time.Second) // the body has long returned
				if depth.Add(1) < 3 {
					n.Go(spawn(ctx, n))
				}
				return nil
			}
		}
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(spawn(ctx, n))
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, int32(3), depth.Load())
	})
}

// B37
func TestGoAfterRunPanicsWithErrClosed(t *testing.T) {
	var kept *nursery.Nursery
	require.NoError(t, nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		//gotrio:nurseryescape the test calls Go after Run returned to see it panic with ErrClosed
		kept = n
		return nil
	}))
	noop := func(ctx context.Context) error { return nil }
	assert.PanicsWithValue(t, nursery.ErrClosed, func() { kept.Go(noop) })
	assert.PanicsWithValue(t, nursery.ErrClosed, func() { kept.GoNamed("late", noop) })
}

// B37
func TestStartAfterRunReturnsErrClosed(t *testing.T) {
	var kept *nursery.Nursery
	require.NoError(t, nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		//gotrio:nurseryescape the test calls Start after Run returned to see ErrClosed
		kept = n
		return nil
	}))
	called := false
	v, err := nursery.Start(context.Background(), kept, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
		called = true
		return nil
	})
	assert.ErrorIs(t, err, nursery.ErrClosed)
	assert.Zero(t, v)
	assert.False(t, called)
}

func TestGoWithNilFunctionPanics(t *testing.T) {
	require.NoError(t, nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		assert.PanicsWithValue(t, "nursery: Go with a nil function", func() { n.Go(nil) })
		assert.PanicsWithValue(t, "nursery: GoNamed with a nil function", func() { n.GoNamed("x", nil) })
		return nil
	}))
}
