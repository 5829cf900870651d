package nursery_test

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// recovered runs f and returns what it panicked with (nil if it returned).
func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// panicError asserts that v is a *PanicError and returns it.
func panicError(t *testing.T, v any) *nursery.PanicError {
	t.Helper()
	pe, ok := v.(*nursery.PanicError)
	require.Truef(t, ok, "panic value %#v is not a *nursery.PanicError", v)
	return pe
}

func panicsWithKaboom(ctx context.Context) error { panic("kaboom") }

// B38: a task's panic cancels its siblings, every task is joined, then Run
// panics in the caller's goroutine.
func TestTaskPanicCancelsSiblingsJoinsAndRepanics(t *testing.T) {
	siblingDone := false
	var siblingCause error
	v := recovered(func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("sibling", func(ctx context.Context) error {
				<-ctx.Done()
				siblingCause = context.Cause(ctx)
				siblingDone = true
				return ctx.Err()
			})
			n.GoNamed("panicker", panicsWithKaboom)
			return nil
		})
	})
	pe := panicError(t, v)
	assert.Equal(t, "kaboom", pe.Value)
	assert.Equal(t, "panicker", pe.Task)
	assert.Contains(t, string(pe.Stack), "panicsWithKaboom", "the stack is the task's, at the panic")
	assert.Empty(t, pe.Suppressed)
	assert.True(t, siblingDone, "siblings are joined before the re-panic")
	var c *cancel.Cancelled
	require.ErrorAs(t, siblingCause, &c)
	assert.Equal(t, cancel.SourceNursery, c.Source)
	assert.Equal(t, "task panicker panicked: kaboom", c.Reason)
}

// B38
func TestGoexitInTaskIsAFailure(t *testing.T) {
	siblingDone := false
	v := recovered(func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("sibling", func(ctx context.Context) error {
				siblingDone = true
				return waitCancelled(ctx)
			})
			n.GoNamed("quitter", func(ctx context.Context) error {
				runtime.Goexit()
				return nil
			})
			return nil
		})
	})
	pe := panicError(t, v)
	assert.Equal(t, nursery.ErrGoexit, pe.Value)
	assert.ErrorIs(t, pe, nursery.ErrGoexit)
	assert.Equal(t, "quitter", pe.Task)
	assert.True(t, siblingDone)
}

// B38: a panicking body cancels and joins the tasks, then its panic goes on
// with the original value.
func TestBodyPanicCancelsAndJoinsTasksThenContinues(t *testing.T) {
	taskDone := false
	var taskErr error
	v := recovered(func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(func(ctx context.Context) error {
				taskErr = waitCancelled(ctx)
				taskDone = true
				return taskErr
			})
			panic("body broke")
		})
	})
	assert.Equal(t, "body broke", v)
	assert.True(t, taskDone)
	assert.ErrorIs(t, taskErr, context.Canceled)
}

// B38: Goexit in the body also joins the tasks before the goroutine ends.
func TestBodyGoexitJoinsTasks(t *testing.T) {
	taskDone := false
	exited := make(chan struct{})
	//gotrio:go runtime.Goexit must end a goroutine of the test's own; joined by <-exited
	go func() {
		defer close(exited)
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(func(ctx context.Context) error {
				err := waitCancelled(ctx)
				taskDone = true
				return err
			})
			runtime.Goexit()
			return nil
		})
	}()
	<-exited
	assert.True(t, taskDone)
}

// B38: with several failures the first panic wins; the rest are in
// Suppressed, in order.
func TestFirstPanicWinsOthersAreSuppressed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := recovered(func() {
			_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				// These tasks ignore cancellation.
				n.GoNamed("first", func(ctx context.Context) error {
					time.Sleep(time.Second)
					panic("first")
				})
				n.GoNamed("second", func(ctx context.Context) error {
					time.Sleep(2 * time.Second)
					panic("second")
				})
				n.GoNamed("third", func(ctx context.Context) error {
					time.Sleep(3 * time.Second)
					return errBoom
				})
				return nil
			})
		})
		pe := panicError(t, v)
		assert.Equal(t, "first", pe.Value)
		require.Len(t, pe.Suppressed, 2)
		second := panicError(t, pe.Suppressed[0])
		assert.Equal(t, "second", second.Value)
		assert.Equal(t, &nursery.TaskError{Task: "third", Err: errBoom}, pe.Suppressed[1])
	})
}

// B38: an error before the panic is suppressed by it.
func TestPanicAfterErrorStillPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := recovered(func() {
			_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				n.GoNamed("failer", func(ctx context.Context) error { return errBoom })
				n.GoNamed("panicker", func(ctx context.Context) error {
					time.Sleep(time.Second)
					panic("late")
				})
				return nil
			})
		})
		pe := panicError(t, v)
		assert.Equal(t, "late", pe.Value)
		assert.Equal(t, []error{&nursery.TaskError{Task: "failer", Err: errBoom}}, pe.Suppressed)
	})
}

// B38: a panic from a nested nursery reaches the outer caller unchanged.
func TestPanicFromNestedNurseryPassesThrough(t *testing.T) {
	v := recovered(func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("outer", func(ctx context.Context) error {
				return nursery.Run(ctx, func(ctx context.Context, m *nursery.Nursery) error {
					m.GoNamed("inner", panicsWithKaboom)
					return nil
				})
			})
			return nil
		})
	})
	pe := panicError(t, v)
	assert.Equal(t, "kaboom", pe.Value)
	assert.Equal(t, "outer/inner", pe.Task)
	assert.Contains(t, string(pe.Stack), "panicsWithKaboom")
}

func TestPanicErrorMessageNamesTaskValueAndStack(t *testing.T) {
	pe := panicError(t, recovered(func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("worker", panicsWithKaboom)
			return nil
		})
	}))
	assert.Contains(t, pe.Error(), "nursery: task worker panicked: kaboom\n\ngoroutine ")
	assert.Contains(t, pe.Error(), "panicsWithKaboom")
	assert.Nil(t, pe.Unwrap(), "a non-error value unwraps to nil")
}
