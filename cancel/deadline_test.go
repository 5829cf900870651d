package cancel_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
)

// after runs f in a goroutine of the test's bubble once d has passed, and
// returns a function that waits for it.
func after(d time.Duration, f func()) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(d)
		f()
	})
	return wg.Wait
}

func TestB10PastDeadlineCancelsAtEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, at := range []time.Time{time.Now(), time.Now().Add(-time.Hour)} {
			s := cancel.New(cancel.WithDeadline(at))
			err := s.Run(context.Background(), func(ctx context.Context) error {
				require.Error(t, ctx.Err(), "done on entry")
				assert.True(t, s.CancelCalled())
				assert.Equal(t, cancel.SourceDeadline, causeOf(ctx).Source)
				return cancel.Checkpoint(ctx)
			})
			require.NoError(t, err)
			assert.True(t, s.CancelledCaught())
		}

		zero := cancel.New(cancel.WithTimeout(0))
		require.NoError(t, zero.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Checkpoint(ctx)
		}))
		assert.True(t, zero.CancelledCaught(), "a zero timeout cancels at entry")
	})
}

func TestB10PastDeadlineSetDuringRunCancelsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cancel.New(cancel.WithTimeout(time.Hour))
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			s.SetDeadline(time.Now().Add(-time.Second))
			assert.Error(t, cancel.Checkpoint(ctx), "no need to wait for a timer")
			return cancel.Checkpoint(ctx)
		}))
		assert.True(t, s.CancelledCaught())
	})
}

func TestB11EarlierDeadlineWakesBlockedSleepAtTheNewTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := cancel.New(cancel.WithTimeout(10 * time.Second))
		wait := after(time.Second, func() { s.SetDeadline(start.Add(3 * time.Second)) })
		err := s.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		})
		wait()
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())
		assert.Equal(t, 3*time.Second, time.Since(start))
	})
}

func TestB11LaterDeadlinePostponesCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := cancel.New(cancel.WithTimeout(2 * time.Second))
		wait := after(time.Second, func() { s.SetDeadline(start.Add(5 * time.Second)) })
		err := s.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		})
		wait()
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

func TestB11ZeroDeadlineRemovesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := cancel.New(cancel.WithTimeout(2 * time.Second))
		wait := after(time.Second, func() { s.SetDeadline(time.Time{}) })
		err := s.Run(context.Background(), func(ctx context.Context) error {
			err := cancel.Sleep(ctx, 10*time.Second)
			_, ok := ctx.Deadline()
			assert.False(t, ok)
			return err
		})
		wait()
		require.NoError(t, err)
		assert.False(t, s.CancelCalled())
		assert.False(t, s.CancelledCaught())
		assert.Equal(t, 10*time.Second, time.Since(start))
		_, ok := s.Deadline()
		assert.False(t, ok)
	})
}

func TestB11SetTimeoutDuringRunCountsFromNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := cancel.New()
		wait := after(time.Second, func() { s.SetTimeout(3 * time.Second) })
		err := s.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		})
		wait()
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())
		assert.Equal(t, 4*time.Second, time.Since(start))
		d, ok := s.Deadline()
		assert.True(t, ok)
		assert.Equal(t, start.Add(4*time.Second), d)
	})
}

func TestB11DeadlineChangesAreVisibleThroughContextDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cancel.New()
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			_, ok := ctx.Deadline()
			assert.False(t, ok)
			at := time.Now().Add(time.Minute)
			s.SetDeadline(at)
			d, ok := ctx.Deadline()
			assert.True(t, ok)
			assert.Equal(t, at, d)
			return nil
		}))
	})
}

func TestB12LaterDeadlineNeverUncancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cancel.New(cancel.WithTimeout(time.Second))
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			<-ctx.Done()
			s.SetDeadline(time.Now().Add(time.Hour))
			assert.Error(t, cancel.Checkpoint(ctx))
			s.SetDeadline(time.Time{})
			assert.Error(t, cancel.Checkpoint(ctx))
			assert.True(t, s.CancelCalled())
			return cancel.Checkpoint(ctx)
		}))
		assert.True(t, s.CancelledCaught())

		explicit := cancel.New()
		require.NoError(t, explicit.Run(context.Background(), func(ctx context.Context) error {
			explicit.Cancel("stop")
			explicit.SetTimeout(time.Hour)
			return cancel.Checkpoint(ctx)
		}))
		assert.True(t, explicit.CancelledCaught())
	})
}

func TestB3DeadlinePassedAtExitIsCaughtBeforeItsTimerRuns(t *testing.T) {
	// A child context with the same deadline as the scope may fire first;
	// the scope's deadline has passed all the same, so the scope catches.
	synctest.Test(t, func(t *testing.T) {
		for range 50 {
			s, err := cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
				c, stop := context.WithTimeout(ctx, time.Second)
				defer stop()
				<-c.Done()
				return c.Err()
			})
			require.NoError(t, err)
			assert.True(t, s.CancelledCaught())
		}
	})
}

func TestB4NestedScopesWithTheSameDeadlineOutermostCatches(t *testing.T) {
	// Both deadlines pass at the same instant, whichever timer runs first:
	// both scopes are cancelled, so the outermost catches.
	synctest.Test(t, func(t *testing.T) {
		for range 50 {
			var inner *cancel.Scope
			var innerErr error
			outer, err := cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
				inner, innerErr = cancel.MoveOnAfter(ctx, time.Second, func(ctx context.Context) error {
					return cancel.Sleep(ctx, time.Hour)
				})
				return innerErr
			})
			require.NoError(t, err)
			assert.True(t, outer.CancelledCaught(), "outer caught")
			assert.False(t, inner.CancelledCaught(), "inner passed it up")
			assert.True(t, cancel.IsCancellation(innerErr))
		}
	})
}

func TestB22ContextDeadlineIsMinimumAlongChainUpToShield(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		at := func(d time.Duration) time.Time { return now.Add(d) }
		parent, stop := context.WithDeadline(context.Background(), at(time.Hour))
		defer stop()

		outer := cancel.New(cancel.WithDeadline(at(10 * time.Second)))
		require.NoError(t, outer.Run(parent, func(ctx context.Context) error {
			check := func(name string, ctx context.Context, want time.Time, wantOK bool) {
				t.Helper()
				d, ok := ctx.Deadline()
				assert.Equal(t, wantOK, ok, name)
				assert.Equal(t, want, d, name)
				ed, eok := cancel.EffectiveDeadline(ctx)
				assert.Equal(t, d, ed, name)
				assert.Equal(t, ok, eok, name)
			}
			check("outer", ctx, at(10*time.Second), true)

			runIn := func(parent context.Context, s *cancel.Scope, f func(ctx context.Context)) {
				require.NoError(t, s.Run(parent, func(ctx context.Context) error { f(ctx); return nil }))
			}
			runIn(ctx, cancel.New(cancel.WithDeadline(at(20*time.Second))), func(c context.Context) {
				check("later inner", c, at(10*time.Second), true)
			})
			runIn(ctx, cancel.New(cancel.WithDeadline(at(5*time.Second))), func(c context.Context) {
				check("earlier inner", c, at(5*time.Second), true)
				child, stop := context.WithTimeout(c, time.Second)
				defer stop()
				check("WithTimeout child earlier", child, at(time.Second), true)
				child2, stop2 := context.WithTimeout(c, time.Minute)
				defer stop2()
				check("WithTimeout child later", child2, at(5*time.Second), true)
			})
			runIn(ctx, cancel.New(), func(c context.Context) {
				check("no own deadline", c, at(10*time.Second), true)
			})
			runIn(ctx, cancel.New(cancel.WithShield()), func(c context.Context) {
				check("shield without deadline", c, time.Time{}, false)
				runIn(c, cancel.New(cancel.WithDeadline(at(time.Minute))), func(c context.Context) {
					check("under shield", c, at(time.Minute), true)
				})
			})
			runIn(ctx, cancel.New(cancel.WithShield(), cancel.WithDeadline(at(20*time.Second))), func(c context.Context) {
				check("shield with later deadline", c, at(20*time.Second), true)
			})
			inner := cancel.New()
			runIn(ctx, inner, func(c context.Context) {
				outer.SetDeadline(at(2 * time.Second))
				check("outer moved earlier", c, at(2*time.Second), true)
				inner.SetShield(true)
				check("shield raised", c, time.Time{}, false)
			})
			return nil
		}))
	})
}

func TestB23MoveOnSwallowsItsOwnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		})
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())

		s, err = cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Millisecond)
		})
		require.NoError(t, err)
		assert.False(t, s.CancelCalled())
		assert.False(t, s.CancelledCaught())

		at := time.Now().Add(time.Minute)
		s, err = cancel.MoveOnAt(context.Background(), at, func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		})
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())
		assert.Equal(t, at, time.Now())

		s, err = cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return errBoom
		})
		assert.Equal(t, errBoom, err)
		assert.False(t, s.CancelledCaught())
	})
}

func TestB23FailAfterReturnsErrTooSlowExactlyWhenCaught(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepHour := func(ctx context.Context) error { return cancel.Sleep(ctx, time.Hour) }

		err := cancel.FailAfter(context.Background(), time.Second, sleepHour)
		assert.ErrorIs(t, err, cancel.ErrTooSlow)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, cancel.IsCancellation(err))

		at := time.Now().Add(time.Minute)
		err = cancel.FailAt(context.Background(), at, sleepHour)
		assert.ErrorIs(t, err, cancel.ErrTooSlow)
		assert.Equal(t, at, time.Now())

		assert.NoError(t, cancel.FailAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Millisecond)
		}), "in time")

		assert.NoError(t, cancel.FailAfter(context.Background(), time.Second, func(ctx context.Context) error {
			time.Sleep(2 * time.Second)
			return nil
		}), "deadline passed but the body returned nil: nothing caught (B5)")

		assert.Equal(t, errBoom, cancel.FailAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return errBoom
		}), "other errors pass through")

		err = cancel.FailAfter(context.Background(), time.Second, func(ctx context.Context) error {
			return errors.Join(errBoom, cancel.Sleep(ctx, time.Hour))
		})
		assert.ErrorIs(t, err, cancel.ErrTooSlow, "caught: too slow")
		assert.ErrorIs(t, err, errBoom, "with the other error joined (documented)")

		// Enclosing scope cancelled too: the cancellation goes up to it, no
		// ErrTooSlow.
		outer := cancel.New()
		var failErr error
		require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
			failErr = cancel.FailAfter(ctx, time.Second, func(ctx context.Context) error {
				time.Sleep(2 * time.Second) // own deadline passes
				outer.Cancel("outer too")
				return cancel.Checkpoint(ctx)
			})
			return failErr
		}))
		assert.NotErrorIs(t, failErr, cancel.ErrTooSlow)
		assert.True(t, cancel.IsCancellation(failErr))
		assert.True(t, outer.CancelledCaught())
	})
}

func TestErrTooSlowIsNotStrippedByEnclosingCancelledScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := cancel.New()
		err := outer.Run(context.Background(), func(ctx context.Context) error {
			err := cancel.FailAfter(ctx, time.Second, func(ctx context.Context) error {
				return cancel.Sleep(ctx, time.Hour)
			})
			outer.Cancel("later")
			return errors.Join(err, cancel.Checkpoint(ctx))
		})
		assert.ErrorIs(t, err, cancel.ErrTooSlow)
		assert.NotErrorIs(t, err, context.Canceled)
		assert.True(t, outer.CancelledCaught(), "the outer's own cancellation leaf was stripped")

		outer2 := cancel.New()
		err = outer2.Run(context.Background(), func(ctx context.Context) error {
			outer2.Cancel("cancelled")
			return cancel.ErrTooSlow
		})
		assert.Equal(t, cancel.ErrTooSlow, err)
		assert.False(t, outer2.CancelledCaught())
	})
}

func TestSleepWaitsOrReturnsCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		require.NoError(t, cancel.Sleep(context.Background(), time.Minute))
		assert.Equal(t, time.Minute, time.Since(start))
		require.NoError(t, cancel.Sleep(context.Background(), 0))

		s := cancel.New()
		start = time.Now()
		wait := after(time.Second, func() { s.Cancel("wake up") })
		var sleepErr error
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			sleepErr = cancel.Sleep(ctx, time.Hour)
			return sleepErr
		}))
		wait()
		assert.Equal(t, time.Second, time.Since(start), "woken at the cancellation")
		var c *cancel.Cancelled
		require.ErrorAs(t, sleepErr, &c)
		assert.Equal(t, "wake up", c.Reason)

		done, stop := context.WithCancel(context.Background())
		stop()
		start = time.Now()
		assert.ErrorIs(t, cancel.Sleep(done, 0), context.Canceled, "a zero sleep is a checkpoint")
		assert.ErrorIs(t, cancel.Sleep(done, time.Hour), context.Canceled)
		assert.Zero(t, time.Since(start))
	})
}

func TestCheckpointReportsCancellation(t *testing.T) {
	assert.NoError(t, cancel.Checkpoint(context.Background()))

	live, stopLive := context.WithCancel(context.Background())
	defer stopLive()
	assert.NoError(t, cancel.Checkpoint(live))

	errNotCancellation := errors.New("peer went away")
	foreign, stop := context.WithCancelCause(context.Background())
	stop(errNotCancellation)
	assert.Equal(t, context.Canceled, cancel.Checkpoint(foreign), "a non-cancellation cause is not a cancellation error")

	wrapped := &wrapCancel{}
	foreign2, stop2 := context.WithCancelCause(context.Background())
	stop2(wrapped)
	assert.Same(t, wrapped, cancel.Checkpoint(foreign2), "a cancellation cause is returned")

	timedOut, stop3 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer stop3()
	assert.Equal(t, context.DeadlineExceeded, cancel.Checkpoint(timedOut))
}

type wrapCancel struct{}

func (*wrapCancel) Error() string { return "shutting down" }
func (*wrapCancel) Unwrap() error { return context.Canceled }

func TestEffectiveDeadlineOfPlainContexts(t *testing.T) {
	_, ok := cancel.EffectiveDeadline(context.Background())
	assert.False(t, ok)
	at := time.Now().Add(time.Hour)
	ctx, stop := context.WithDeadline(context.Background(), at)
	defer stop()
	d, ok := cancel.EffectiveDeadline(ctx)
	assert.True(t, ok)
	assert.Equal(t, at, d)
}

func TestB13CancelCalledBeforeRunSeesAPassedDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cancel.New(cancel.WithDeadline(time.Now().Add(time.Second)))
		assert.False(t, s.CancelCalled(), "deadline still ahead")
		time.Sleep(2 * time.Second)
		assert.True(t, s.CancelCalled(), "Trio's cancel_called is true once the deadline passed, entered or not")
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			var c *cancel.Cancelled
			require.ErrorAs(t, context.Cause(ctx), &c)
			assert.Equal(t, cancel.SourceDeadline, c.Source)
			return cancel.Checkpoint(ctx)
		}))
		assert.True(t, s.CancelledCaught())
	})
}

// Nested scopes due at the same instant: the outermost catches, whichever
// timer runs first (Trio cancels every due scope in one batch), and the
// body's context names it.
func TestSimultaneousDeadlinesOutermostOfNestedScopesCatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range 200 {
			at := time.Now().Add(time.Second)
			var inner *cancel.Scope
			var cause *cancel.Cancelled
			outer := cancel.New(cancel.WithDeadline(at))
			err := cancel.FailAt(context.Background(), at, func(ctx context.Context) error {
				return outer.Run(ctx, func(ctx context.Context) error {
					var err error
					inner, err = cancel.MoveOnAt(ctx, at, func(ctx context.Context) error {
						err := cancel.Sleep(ctx, time.Hour)
						cause = causeOf(ctx)
						return err
					})
					return err
				})
			})
			require.ErrorIs(t, err, cancel.ErrTooSlow, "round %d", round)
			assert.False(t, inner.CancelledCaught(), "round %d", round)
			assert.False(t, outer.CancelledCaught(), "round %d", round)
			assert.True(t, inner.CancelCalled() && outer.CancelCalled(), "every due scope is cancelled")
			require.NotNil(t, cause)
			assert.Equal(t, cancel.SourceDeadline, cause.Source)
			assert.NotSame(t, inner, cause.Scope, "round %d: the cause is the outermost due scope", round)
			assert.NotSame(t, outer, cause.Scope, "round %d: the cause is the outermost due scope", round)
		}
	})
}
