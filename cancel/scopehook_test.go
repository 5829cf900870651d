package cancel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/internal/scopehook"
)

// hold runs s under parent in a goroutine until release is called, and
// returns s's context. release returns what Run returned; the body returns
// its checkpoint, so a scope cancelled by itself catches.
func hold(s *cancel.Scope, parent context.Context) (ctx context.Context, release func() error) {
	ready := make(chan context.Context)
	stop := make(chan struct{})
	done := make(chan error)
	//gotrio:go hold keeps a scope running under the test's control; release joins it
	go func() {
		done <- s.Run(parent, func(ctx context.Context) error {
			ready <- ctx
			<-stop
			return cancel.Checkpoint(ctx)
		})
	}()
	return <-ready, func() error {
		close(stop)
		return <-done
	}
}

func TestScopehookCancelFromNamesNurserySource(t *testing.T) {
	s := cancel.New()
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		scopehook.CancelFrom(s, uint8(cancel.SourceNursery), "task 3 failed")
		c := causeOf(ctx)
		require.NotNil(t, c)
		assert.Equal(t, &cancel.Cancelled{Source: cancel.SourceNursery, Reason: "task 3 failed", Scope: s}, c)
		assert.ErrorIs(t, c, context.Canceled)
		assert.Equal(t, "cancel: scope cancelled (nursery): task 3 failed", c.Error())

		s.Cancel("later")
		assert.Equal(t, "task 3 failed", causeOf(ctx).Reason, "first reason wins")
		return cancel.Checkpoint(ctx)
	}))
	assert.True(t, s.CancelCalled())
	assert.True(t, s.CancelledCaught())

	early := cancel.New()
	scopehook.CancelFrom(early, uint8(cancel.SourceNursery), "before run")
	require.NoError(t, early.Run(context.Background(), func(ctx context.Context) error {
		assert.Equal(t, cancel.SourceNursery, causeOf(ctx).Source)
		return cancel.Checkpoint(ctx)
	}))
	assert.True(t, early.CancelledCaught())
}

func TestScopehookReparentMovesValuesDeadlineAndCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		a := cancel.New(cancel.WithDeadline(start.Add(time.Hour)))
		actx, releaseA := hold(a, context.WithValue(context.Background(), valueKey{}, "a"))
		b := cancel.New(cancel.WithDeadline(start.Add(10 * time.Second)))
		bctx, releaseB := hold(b, context.WithValue(context.Background(), valueKey{}, "b"))

		s := cancel.New()
		err := s.Run(actx, func(ctx context.Context) error {
			assert.Equal(t, "a", ctx.Value(valueKey{}))
			d, _ := ctx.Deadline()
			assert.Equal(t, start.Add(time.Hour), d)

			scopehook.Reparent(s, bctx)
			assert.Equal(t, "b", ctx.Value(valueKey{}), "values from the new parent")
			d, _ = ctx.Deadline()
			assert.Equal(t, start.Add(10*time.Second), d, "deadline from the new parent")

			a.Cancel("old parent")
			assert.NoError(t, ctx.Err(), "the old parent no longer cancels")

			err := cancel.Sleep(ctx, time.Hour)
			assert.Equal(t, 10*time.Second, time.Since(start), "the new parent's deadline cancels")
			if c := causeOf(ctx); assert.NotNil(t, c) {
				assert.Same(t, b, c.Scope)
			}
			return err
		})
		assert.True(t, cancel.IsCancellation(err), "the new parent's cancellation passes up: %v", err)
		assert.False(t, s.CancelledCaught())
		assert.NoError(t, releaseA())
		assert.True(t, a.CancelledCaught())
		assert.NoError(t, releaseB())
		assert.True(t, b.CancelledCaught())
	})
}

func TestScopehookReparentIntoCancelledParentCancelsAtOnce(t *testing.T) {
	b := cancel.New()
	bctx, releaseB := hold(b, context.Background())
	b.Cancel("already gone")

	s := cancel.New()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		require.NoError(t, ctx.Err())
		scopehook.Reparent(s, bctx)
		require.Error(t, ctx.Err(), "cancelled by the reparent itself")
		if c := causeOf(ctx); assert.NotNil(t, c) {
			assert.Same(t, b, c.Scope)
		}
		return cancel.Checkpoint(ctx)
	})
	assert.True(t, cancel.IsCancellation(err))
	assert.False(t, s.CancelledCaught())
	assert.NoError(t, releaseB())
}

func TestScopehookReparentUnderShieldedScope(t *testing.T) {
	outer := cancel.New()
	octx, releaseOuter := hold(outer, context.Background())
	shielded := cancel.New(cancel.WithShield())
	sctx, releaseShielded := hold(shielded, octx)
	outer.Cancel("outer")
	require.NoError(t, sctx.Err())

	s := cancel.New()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		scopehook.Reparent(s, sctx)
		assert.NoError(t, ctx.Err(), "the shield covers the reparented scope")
		shielded.SetShield(false)
		assert.Error(t, ctx.Err(), "dropping the shield reaches it synchronously")
		return cancel.Checkpoint(ctx)
	})
	assert.True(t, cancel.IsCancellation(err))
	assert.Error(t, releaseShielded(), "the shielded scope passes the outer cancellation up")
	assert.NoError(t, releaseOuter())
	assert.True(t, outer.CancelledCaught())
}

func TestScopehookReparentUnderStandardContexts(t *testing.T) {
	b := cancel.New()
	bctx, releaseB := hold(b, context.Background())
	behind, stop := context.WithCancel(bctx)
	defer stop()

	s := cancel.New()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		scopehook.Reparent(s, behind)
		b.Cancel("through a standard context")
		assert.Error(t, ctx.Err(), "synchronously, as for a direct child")
		return cancel.Checkpoint(ctx)
	})
	assert.True(t, cancel.IsCancellation(err))
	assert.NoError(t, releaseB())

	foreign, stopForeign := context.WithCancel(context.Background())
	s2 := cancel.New()
	err = s2.Run(context.Background(), func(ctx context.Context) error {
		scopehook.Reparent(s2, foreign)
		stopForeign()
		return waitCancelled(ctx)
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, s2.CancelledCaught())
}

func TestScopehookReparentOwnCancellationIsStillCaught(t *testing.T) {
	b := cancel.New()
	bctx, releaseB := hold(b, context.Background())
	s := cancel.New()
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		scopehook.Reparent(s, bctx)
		s.Cancel("own")
		return cancel.Checkpoint(ctx)
	}))
	assert.True(t, s.CancelledCaught())
	assert.NoError(t, releaseB())
	assert.False(t, b.CancelCalled())
}

func TestScopehookReparentAfterRunDoesNothing(t *testing.T) {
	s := cancel.New()
	var inner context.Context
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		inner = ctx
		return nil
	}))
	b := cancel.New()
	bctx, releaseB := hold(b, context.WithValue(context.Background(), valueKey{}, "b"))
	scopehook.Reparent(s, bctx)
	assert.Nil(t, inner.Value(valueKey{}))
	b.Cancel("x")
	assert.False(t, s.CancelCalled())
	assert.NoError(t, releaseB())
}

func TestScopehookNurseryScopeStripsWithStripNurseryWhenItCatches(t *testing.T) {
	errKept := errors.New("kept")
	var seen []error
	saved := scopehook.StripNursery
	defer func() { scopehook.StripNursery = saved }()
	scopehook.StripNursery = func(err error) (error, bool) {
		seen = append(seen, err)
		return errKept, true
	}
	s := scopehook.NewNurseryScope().(*cancel.Scope)
	err := s.Run(context.Background(), func(ctx context.Context) error {
		s.Cancel("done")
		return cancel.Checkpoint(ctx)
	})
	assert.Same(t, errKept, err)
	assert.True(t, s.CancelledCaught())
	require.Len(t, seen, 1)
	assert.True(t, cancel.IsCancellation(seen[0]))

	// The decision is cancel's: a scope that is not cancelled strips nothing.
	seen = nil
	idle := scopehook.NewNurseryScope().(*cancel.Scope)
	assert.Same(t, errBoom, idle.Run(context.Background(), func(context.Context) error { return errBoom }))
	assert.Empty(t, seen)
	assert.False(t, idle.CancelledCaught())
}

func TestScopehookOuterCancellationSeesEnclosingScopesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := cancel.New(cancel.WithDeadline(time.Now().Add(time.Second)))
		require.NoError(t, outer.Run(context.Background(), func(octx context.Context) error {
			s := cancel.New()
			return s.Run(octx, func(ctx context.Context) error {
				assert.NoError(t, scopehook.OuterCancellation(s), "nothing cancelled yet")
				s.Cancel("own")
				assert.NoError(t, scopehook.OuterCancellation(s), "its own cancellation is not outer")
				time.Sleep(time.Second) // outer's deadline passes; its timer may not have run
				c, ok := scopehook.OuterCancellation(s).(*cancel.Cancelled)
				require.True(t, ok)
				assert.Same(t, outer, c.Scope)
				return cancel.Checkpoint(ctx)
			})
		}))
		assert.True(t, outer.CancelledCaught())

		plain, stop := context.WithCancel(context.Background())
		stop()
		s := cancel.New()
		require.NoError(t, s.Run(plain, func(context.Context) error {
			assert.NoError(t, scopehook.OuterCancellation(s), "no scope catches a standard context's cancellation")
			return nil
		}))
	})
}

type watchKey struct{}

// waitCalled waits for a watch's f to have been called, failing the test
// after a minute.
func waitCalled(t *testing.T, called <-chan struct{}) {
	t.Helper()
	select {
	case <-called:
	case <-time.After(time.Minute):
		t.Fatal("f not called")
	}
}

func TestScopehookWatchCallsFWhenTheScopeIsCancelled(t *testing.T) {
	for name, wrap := range map[string]func(context.Context) context.Context{
		"scope context": func(ctx context.Context) context.Context { return ctx },
		"value layer":   func(ctx context.Context) context.Context { return context.WithValue(ctx, watchKey{}, 1) },
	} {
		t.Run(name, func(t *testing.T) {
			s := cancel.New()
			ctx, release := hold(s, context.Background())
			called := make(chan struct{})
			stop := scopehook.Watch(wrap(ctx), func() { close(called) })
			select {
			case <-called:
				t.Fatal("f called before the scope was cancelled")
			default:
			}
			s.Cancel("test")
			waitCalled(t, called)
			assert.False(t, stop(), "stop after f was called")
			assert.NoError(t, release())
		})
	}
}

func TestScopehookWatchStoppedNeverCallsF(t *testing.T) {
	s := cancel.New()
	ctx, release := hold(s, context.Background())
	first := scopehook.Watch(ctx, func() { t.Error("stopped watch called") })
	called := make(chan struct{})
	second := scopehook.Watch(ctx, func() { close(called) })
	assert.True(t, first(), "stop before cancellation")
	assert.False(t, first(), "second stop")
	s.Cancel("test")
	waitCalled(t, called)
	assert.False(t, second())
	assert.NoError(t, release())
}

func TestScopehookWatchOfACancelledScopeCallsF(t *testing.T) {
	s := cancel.New()
	ctx, release := hold(s, context.Background())
	s.Cancel("test")
	called := make(chan struct{})
	stop := scopehook.Watch(ctx, func() { close(called) })
	waitCalled(t, called)
	assert.False(t, stop())
	assert.NoError(t, release())
}

func TestScopehookWatchOfAStandardContextUsesAfterFunc(t *testing.T) {
	s := cancel.New()
	sctx, release := hold(s, context.Background())
	ctx, cancelCtx := context.WithCancel(sctx)
	called := make(chan struct{})
	stop := scopehook.Watch(ctx, func() { close(called) })
	cancelCtx()
	waitCalled(t, called)
	assert.False(t, stop())
	assert.NoError(t, release())
}
