package cancel_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
)

func TestNegativeTimeoutPanicsWithPackagePrefix(t *testing.T) {
	body := func(context.Context) error { return nil }
	cases := map[string]func(){
		"WithTimeout": func() { cancel.WithTimeout(-time.Second) },
		"SetTimeout before Run": func() {
			cancel.New().SetTimeout(-1)
		},
		"SetTimeout during Run": func() {
			s := cancel.New()
			_ = s.Run(context.Background(), func(context.Context) error {
				s.SetTimeout(-time.Nanosecond)
				return nil
			})
		},
		"MoveOnAfter": func() { _, _ = cancel.MoveOnAfter(context.Background(), -time.Second, body) },
		"FailAfter":   func() { _ = cancel.FailAfter(context.Background(), -time.Second, body) },
		"Sleep":       func() { _ = cancel.Sleep(context.Background(), -time.Second) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			var v any
			func() {
				defer func() { v = recover() }()
				f()
			}()
			msg, ok := v.(string)
			require.True(t, ok, "panics with a string, got %#v", v)
			assert.True(t, strings.HasPrefix(msg, "cancel:"), msg)
			assert.Contains(t, msg, "negative")
		})
	}
}

func TestSettersBeforeRunTakeEffectAtEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Now().Add(time.Minute)
		s := cancel.New()
		s.SetDeadline(at)
		d, ok := s.Deadline()
		require.True(t, ok)
		assert.Equal(t, at, d)
		assert.False(t, s.CancelCalled(), "not running: the deadline arms at entry")

		time.Sleep(2 * time.Minute) // the deadline passes before Run
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			require.Error(t, ctx.Err(), "cancelled at entry")
			return cancel.Checkpoint(ctx)
		}))
		assert.True(t, s.CancelledCaught())

		removed := cancel.New(cancel.WithDeadline(time.Now()))
		removed.SetDeadline(time.Time{})
		require.NoError(t, removed.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Checkpoint(ctx)
		}))
		assert.False(t, removed.CancelCalled())
	})
}

func TestCancelAfterRunChangesNothingButCancelCalled(t *testing.T) {
	s := cancel.New()
	var inner context.Context
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		inner = ctx
		return nil
	}))
	s.Cancel("too late")
	assert.True(t, s.CancelCalled(), "like Trio's cancel_called after exit")
	assert.False(t, s.CancelledCaught())
	c := causeOf(inner)
	require.NotNil(t, c)
	assert.NotEqual(t, "too late", c.Reason, "the context closed at exit, not by this Cancel")

	// Re-running still refuses, and does not run the body.
	assert.ErrorIs(t, s.Run(context.Background(), func(context.Context) error {
		t.Error("body ran")
		return nil
	}), cancel.ErrScopeReused)
}

func TestEscapedContextIsClosedWhenRunReturns(t *testing.T) {
	s := cancel.New()
	var escaped, escapedChild context.Context
	var nested *cancel.Scope
	nestedDone := make(chan error)
	nestedEntered := make(chan struct{})
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		escaped = ctx
		var stop context.CancelFunc
		escapedChild, stop = context.WithCancel(ctx)
		_ = stop // cancelled with the scope
		nested = cancel.New()
		//gotrio:go the nested scope must outlive the outer Run to test the escape; joined by nestedDone
		go func() {
			nestedDone <- nested.Run(ctx, func(ctx context.Context) error {
				close(nestedEntered)
				return waitCancelled(ctx)
			})
		}()
		<-nestedEntered
		return nil
	}))
	assert.Error(t, escaped.Err())
	assert.Error(t, escapedChild.Err())
	assert.False(t, s.CancelCalled(), "closing at exit is not a cancellation of the scope")
	assert.True(t, cancel.IsCancellation(<-nestedDone), "a scope that escaped sees the exit")
	assert.False(t, nested.CancelledCaught())
}

func TestPanicInBodyPassesThroughAndClosesScope(t *testing.T) {
	outer := cancel.New()
	require.NoError(t, outer.Run(context.Background(), func(octx context.Context) error {
		s := cancel.New(cancel.WithTimeout(time.Hour))
		var inner context.Context
		assert.PanicsWithValue(t, "body exploded", func() {
			_ = s.Run(octx, func(ctx context.Context) error {
				inner = ctx
				panic("body exploded")
			})
		})
		require.NotNil(t, inner)
		assert.Error(t, inner.Err(), "closed after the panic")
		assert.False(t, s.CancelCalled())
		assert.False(t, s.CancelledCaught())
		assert.ErrorIs(t, s.Run(octx, func(context.Context) error { return nil }), cancel.ErrScopeReused)

		// The enclosing scope still works: the panicked scope left it cleanly.
		assert.NoError(t, octx.Err())
		outer.Cancel("after panic")
		return cancel.Checkpoint(octx)
	}))
	assert.True(t, outer.CancelledCaught())
}

func TestCurrentFindsInnermostScope(t *testing.T) {
	assert.Nil(t, cancel.Current(context.Background()))
	outer := cancel.New()
	require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
		assert.Same(t, outer, cancel.Current(ctx))
		child, stop := context.WithCancel(context.WithValue(ctx, valueKey{}, 1))
		defer stop()
		assert.Same(t, outer, cancel.Current(child))
		inner := cancel.New()
		return inner.Run(child, func(ctx context.Context) error {
			assert.Same(t, inner, cancel.Current(ctx))
			return nil
		})
	}))
}

// Trio raises ValueError for a scope given both a deadline and a relative
// deadline; New panics.
func TestDeadlineAndTimeoutOptionsTogetherPanic(t *testing.T) {
	at := time.Now().Add(time.Minute)
	for name, opts := range map[string][]cancel.Option{
		"deadline then timeout": {cancel.WithDeadline(at), cancel.WithTimeout(time.Second)},
		"timeout then deadline": {cancel.WithTimeout(time.Second), cancel.WithDeadline(at)},
	} {
		t.Run(name, func(t *testing.T) {
			var v any
			func() {
				defer func() { v = recover() }()
				cancel.New(opts...)
			}()
			msg, ok := v.(string)
			require.True(t, ok, "panics with a string, got %#v", v)
			assert.True(t, strings.HasPrefix(msg, "cancel:"), msg)
			assert.Contains(t, msg, "WithDeadline and WithTimeout")
		})
	}
	assert.NotPanics(t, func() { cancel.New(cancel.WithTimeout(time.Second), cancel.WithShield()) })
}

// SetDeadline on a relative scope that has not entered Run replaces the
// timeout: the scope becomes absolute, as with Trio's deadline setter.
func TestSetDeadlineOnUnenteredRelativeScopeMakesItAbsolute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		at := start.Add(5 * time.Second)
		s := cancel.New(cancel.WithTimeout(time.Second))
		s.SetDeadline(at)
		d, ok := s.Deadline()
		require.True(t, ok, "absolute at once")
		assert.Equal(t, at, d)
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		}))
		assert.True(t, s.CancelledCaught())
		assert.Equal(t, 5*time.Second, time.Since(start), "the deadline, not the timeout, cancelled")

		removed := cancel.New(cancel.WithTimeout(time.Second))
		removed.SetDeadline(time.Time{})
		_, ok = removed.Deadline()
		assert.False(t, ok)
		require.NoError(t, removed.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Minute)
		}))
		assert.False(t, removed.CancelCalled(), "the zero Time removed the timeout too")
	})
}
