package cancel_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
)

// runShielded runs body in a shielded scope inside an outer scope that is
// cancelled first, and returns the shielded scope and its Run's error.
func runShielded(t *testing.T, opts []cancel.Option, body func(s *cancel.Scope, ctx context.Context) error) (*cancel.Scope, error) {
	t.Helper()
	outer := cancel.New()
	shielded := cancel.New(append(opts, cancel.WithShield())...)
	var shieldedErr error
	require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
		outer.Cancel("outer")
		require.Error(t, ctx.Err())
		shieldedErr = shielded.Run(ctx, func(ctx context.Context) error {
			assert.True(t, shielded.Shielded())
			assert.NoError(t, ctx.Err(), "outer cancellation blocked")
			return body(shielded, ctx)
		})
		return cancel.Checkpoint(ctx)
	}))
	assert.True(t, outer.CancelledCaught())
	return shielded, shieldedErr
}

func TestB18ShieldBlocksOnlyOuterCancellation(t *testing.T) {
	t.Run("outer cancellation blocked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			s, err := runShielded(t, nil, func(_ *cancel.Scope, ctx context.Context) error {
				return cancel.Sleep(ctx, time.Minute)
			})
			assert.NoError(t, err)
			assert.Equal(t, time.Minute, time.Since(start), "the shielded sleep ran to the end")
			assert.False(t, s.CancelCalled())
			assert.False(t, s.CancelledCaught())
		})
	})
	t.Run("own Cancel gets through", func(t *testing.T) {
		s, err := runShielded(t, nil, func(s *cancel.Scope, ctx context.Context) error {
			s.Cancel("own")
			assert.Equal(t, "own", causeOf(ctx).Reason)
			return cancel.Checkpoint(ctx)
		})
		assert.NoError(t, err)
		assert.True(t, s.CancelledCaught())
	})
	t.Run("own deadline gets through", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			s, err := runShielded(t, []cancel.Option{cancel.WithTimeout(time.Second)}, func(_ *cancel.Scope, ctx context.Context) error {
				return cancel.Sleep(ctx, time.Hour)
			})
			assert.NoError(t, err)
			assert.True(t, s.CancelledCaught())
			assert.Equal(t, time.Second, time.Since(start))
		})
	})
	t.Run("inner scopes still cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var inner *cancel.Scope
			s, err := runShielded(t, nil, func(_ *cancel.Scope, ctx context.Context) error {
				var err error
				inner, err = cancel.MoveOnAfter(ctx, time.Second, func(ctx context.Context) error {
					return cancel.Sleep(ctx, time.Hour)
				})
				assert.NoError(t, ctx.Err(), "the inner scope's cancellation stays inside it")
				return err
			})
			assert.NoError(t, err)
			assert.True(t, inner.CancelledCaught())
			assert.False(t, s.CancelCalled())
		})
	})
	t.Run("foreign parent blocked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			parent, stop := context.WithCancel(context.Background())
			defer stop()
			s := cancel.New(cancel.WithShield())
			require.NoError(t, s.Run(parent, func(ctx context.Context) error {
				stop()
				synctest.Wait() // let a context.AfterFunc callback run if there were one
				return ctx.Err()
			}))
		})
	})
}

func TestB18ShieldSetBeforeOuterCancellationBlocksIt(t *testing.T) {
	outer := cancel.New()
	inner := cancel.New()
	inner.SetShield(true) // before Run
	require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
		err := inner.Run(ctx, func(ictx context.Context) error {
			outer.Cancel("outer")
			assert.NoError(t, ictx.Err())
			inner.SetShield(false)
			inner.SetShield(true) // raised again before the next look: still cancelled, see B20
			return cancel.Checkpoint(ictx)
		})
		assert.Error(t, err, "unshielding delivered the outer cancellation")
		return err
	}))
	assert.True(t, outer.CancelledCaught())
	assert.False(t, inner.CancelledCaught())
}

func TestB19UnshieldingUnderCancelledOuterWakesBlockedWaitAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := cancel.New()
		inner := cancel.New(cancel.WithShield())
		start := time.Now()
		wait := after(time.Second, func() { outer.Cancel("outer") })
		wait2 := after(2*time.Second, func() { inner.SetShield(false) })
		var innerErr error
		require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
			innerErr = inner.Run(ctx, func(ctx context.Context) error {
				return cancel.Sleep(ctx, time.Hour)
			})
			return innerErr
		}))
		wait()
		wait2()
		assert.Equal(t, 2*time.Second, time.Since(start), "woken when the shield dropped")
		var c *cancel.Cancelled
		require.ErrorAs(t, innerErr, &c)
		assert.Same(t, outer, c.Scope)
		assert.False(t, inner.Shielded())
		assert.False(t, inner.CancelCalled())
		assert.False(t, inner.CancelledCaught())
		assert.True(t, outer.CancelledCaught())
	})
}

func TestB19UnshieldingReachesScopesNestedInside(t *testing.T) {
	outer := cancel.New()
	shielded := cancel.New(cancel.WithShield())
	require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
		return shielded.Run(ctx, func(ctx context.Context) error {
			return cancel.New().Run(ctx, func(ctx context.Context) error {
				outer.Cancel("outer")
				assert.NoError(t, ctx.Err())
				shielded.SetShield(false)
				assert.Error(t, ctx.Err(), "nested scope cancelled synchronously")
				return cancel.Checkpoint(ctx)
			})
		})
	}))
	assert.True(t, outer.CancelledCaught())
	assert.False(t, shielded.CancelledCaught())
}

func TestB20ShieldingAfterDeliveryDoesNotUncancel(t *testing.T) {
	outer := cancel.New()
	inner := cancel.New()
	var innerErr error
	require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
		innerErr = inner.Run(ctx, func(ctx context.Context) error {
			outer.Cancel("outer")
			require.Error(t, ctx.Err())
			inner.SetShield(true)
			assert.True(t, inner.Shielded())
			assert.Error(t, ctx.Err(), "a closed Done channel cannot reopen (documented deviation)")
			assert.Error(t, cancel.Checkpoint(ctx))
			return cancel.Checkpoint(ctx)
		})
		return innerErr
	}))
	assert.True(t, cancel.IsCancellation(innerErr), "not this scope's cancellation: passed up")
	assert.False(t, inner.CancelCalled())
	assert.False(t, inner.CancelledCaught())
	assert.True(t, outer.CancelledCaught())
}

func TestShieldAfterRunChangesOnlyTheFlag(t *testing.T) {
	s := cancel.New()
	var inner context.Context
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		inner = ctx
		return nil
	}))
	s.SetShield(true)
	assert.True(t, s.Shielded())
	s.SetShield(false)
	assert.False(t, s.Shielded())
	assert.Error(t, inner.Err(), "closed at exit")
	assert.False(t, s.CancelCalled())
}
