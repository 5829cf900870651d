package cancel_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
)

func TestB1CancellationIsLevelTriggered(t *testing.T) {
	s := cancel.New()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		s.Cancel("stop")
		for range 3 {
			assert.Error(t, cancel.Checkpoint(ctx), "every later checkpoint sees the cancellation")
		}
		assert.ErrorIs(t, ctx.Err(), context.Canceled)

		child, stop := context.WithCancel(ctx)
		defer stop()
		assert.Error(t, child.Err(), "a context made after the cancellation is born cancelled")

		inner := cancel.New()
		innerErr := inner.Run(ctx, func(ctx context.Context) error {
			assert.Error(t, cancel.Checkpoint(ctx), "a scope entered after the cancellation sees it")
			return cancel.Checkpoint(ctx)
		})
		assert.False(t, inner.CancelledCaught())
		assert.Error(t, cancel.Checkpoint(ctx), "still cancelled after a nested scope returned")
		return innerErr
	})
	require.NoError(t, err)
	assert.True(t, s.CancelledCaught())
}

func TestB1CancellationReachesScopesBehindStandardContextsAtOnce(t *testing.T) {
	// A standard context between two scopes must not make the outer
	// scope's cancellation asynchronous: the very next checkpoint in the
	// inner scope sees it.
	outer := cancel.New()
	err := outer.Run(context.Background(), func(ctx context.Context) error {
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		ctx, stop2 := context.WithTimeout(ctx, time.Hour)
		defer stop2()
		inner := cancel.New()
		return inner.Run(ctx, func(ctx context.Context) error {
			outer.Cancel("stop")
			err := cancel.Checkpoint(ctx)
			assert.Error(t, err, "first checkpoint after Cancel returned")
			if c := causeOf(ctx); assert.NotNil(t, c) {
				assert.Same(t, outer, c.Scope)
			}
			return waitCancelled(ctx)
		})
	})
	require.NoError(t, err)
	assert.True(t, outer.CancelledCaught())
}

func TestB2CancelIsIdempotentGoroutineSafeAndFirstReasonWins(t *testing.T) {
	s := cancel.New()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		s.Cancel("first")
		reachedAfterCancel := true // Cancel is not a checkpoint: the body goes on

		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() { s.Cancel(fmt.Sprintf("late %d", i)) })
		}
		wg.Wait()
		s.Cancel("last")

		assert.True(t, reachedAfterCancel)
		c := causeOf(ctx)
		require.NotNil(t, c)
		assert.Equal(t, "first", c.Reason)
		assert.Equal(t, cancel.SourceExplicit, c.Source)
		assert.Same(t, s, c.Scope)
		return waitCancelled(ctx)
	})
	require.NoError(t, err)
	assert.True(t, s.CancelCalled())
	assert.True(t, s.CancelledCaught())
}

func TestB2CancelReturnsAtOnceWhileBodyIsNotAtCheckpoint(t *testing.T) {
	s := cancel.New()
	busy := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	//gotrio:go the test needs Run blocked in another goroutine while it calls Cancel; joined by <-done
	go func() {
		done <- s.Run(context.Background(), func(ctx context.Context) error {
			close(busy)
			<-release // not looking at ctx
			return cancel.Checkpoint(ctx)
		})
	}()
	<-busy
	s.Cancel("from another goroutine") // must not wait for the body
	assert.True(t, s.CancelCalled())
	close(release)
	require.NoError(t, <-done)
	assert.True(t, s.CancelledCaught())
}

func TestB2DeadlineAfterExplicitCancelKeepsFirstCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cancel.New(cancel.WithTimeout(time.Second))
		err := s.Run(context.Background(), func(ctx context.Context) error {
			s.Cancel("explicit")
			time.Sleep(2 * time.Second) // the deadline passes too
			c := causeOf(ctx)
			require.NotNil(t, c)
			assert.Equal(t, cancel.SourceExplicit, c.Source)
			assert.Equal(t, "explicit", c.Reason)
			return cancel.Checkpoint(ctx)
		})
		require.NoError(t, err)
		assert.True(t, s.CancelledCaught())
	})
}

func TestB3ScopeCatchesItsOwnCancellation(t *testing.T) {
	cases := []struct {
		name   string
		opts   []cancel.Option
		cancel bool
		ret    func(ctx context.Context) error
	}{
		{"explicit/ctx.Err", nil, true, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{"explicit/Checkpoint", nil, true, waitCancelled},
		{"explicit/Cause", nil, true, func(ctx context.Context) error { <-ctx.Done(); return context.Cause(ctx) }},
		{"explicit/wrapped", nil, true, func(ctx context.Context) error {
			<-ctx.Done()
			return fmt.Errorf("read frame: %w", ctx.Err())
		}},
		{"deadline/Sleep", []cancel.Option{cancel.WithTimeout(time.Second)}, false, func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		}},
		{"deadline/ctx.Err", []cancel.Option{cancel.WithTimeout(time.Second)}, false, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}},
		{"deadline/child WithTimeout", []cancel.Option{cancel.WithTimeout(time.Second)}, false, func(ctx context.Context) error {
			// A child with a later deadline is cancelled by the scope.
			c, stop := context.WithTimeout(ctx, time.Hour)
			defer stop()
			<-c.Done()
			return c.Err()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := cancel.New(tc.opts...)
				start := time.Now()
				err := s.Run(context.Background(), func(ctx context.Context) error {
					if tc.cancel {
						s.Cancel("stop")
					}
					return tc.ret(ctx)
				})
				assert.NoError(t, err)
				assert.True(t, s.CancelCalled())
				assert.True(t, s.CancelledCaught())
				if !tc.cancel {
					assert.Equal(t, time.Second, time.Since(start), "cancelled exactly at the deadline")
				}
			})
		})
	}
}

func TestB4NestedCancelledScopesOutermostCatches(t *testing.T) {
	cases := []struct {
		name      string
		cancelled [3]bool // outer, middle, inner
		catcher   int
	}{
		{"outer and inner", [3]bool{true, false, true}, 0},
		{"middle and inner", [3]bool{false, true, true}, 1},
		{"all three", [3]bool{true, true, true}, 0},
		{"inner only", [3]bool{false, false, true}, 2},
		{"outer only", [3]bool{true, false, false}, 0},
	}
	for _, tc := range cases {
		for _, innerFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/innerFirst=%v", tc.name, innerFirst), func(t *testing.T) {
				scopes := [3]*cancel.Scope{cancel.New(), cancel.New(), cancel.New()}
				var errs [3]error
				var run func(i int, ctx context.Context) error
				run = func(i int, ctx context.Context) error {
					errs[i] = scopes[i].Run(ctx, func(ctx context.Context) error {
						if i < 2 {
							return run(i+1, ctx)
						}
						order := []int{0, 1, 2}
						if innerFirst {
							order = []int{2, 1, 0}
						}
						for _, j := range order {
							if tc.cancelled[j] {
								scopes[j].Cancel(fmt.Sprint("scope ", j))
							}
						}
						return waitCancelled(ctx)
					})
					return errs[i]
				}
				require.NoError(t, run(0, context.Background()))
				for i := range 3 {
					assert.Equal(t, i == tc.catcher, scopes[i].CancelledCaught(), "scope %d caught", i)
					if i > tc.catcher {
						assert.True(t, cancel.IsCancellation(errs[i]), "scope %d passes the cancellation up: %v", i, errs[i])
					} else {
						assert.NoError(t, errs[i], "scope %d", i)
					}
				}
			})
		}
	}
}

func TestB4ShieldedInnerCatchesItsOwnCancellationUnderCancelledOuter(t *testing.T) {
	outer := cancel.New()
	inner := cancel.New(cancel.WithShield())
	var innerErr error
	err := outer.Run(context.Background(), func(ctx context.Context) error {
		innerErr = inner.Run(ctx, func(ictx context.Context) error {
			outer.Cancel("outer")
			inner.Cancel("inner")
			return waitCancelled(ictx)
		})
		return cancel.Checkpoint(ctx)
	})
	assert.NoError(t, innerErr)
	assert.True(t, inner.CancelledCaught(), "the outer cancellation is not visible through the shield")
	require.NoError(t, err)
	assert.True(t, outer.CancelledCaught(), "the outer catches its own at its next checkpoint")
}

func TestB5CancelledScopeWhoseBodyReturnsNilCatchesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		explicit := cancel.New()
		err := explicit.Run(context.Background(), func(ctx context.Context) error {
			explicit.Cancel("ignored")
			return nil
		})
		assert.NoError(t, err)
		assert.True(t, explicit.CancelCalled())
		assert.False(t, explicit.CancelledCaught())

		deadline := cancel.New(cancel.WithTimeout(time.Second))
		err = deadline.Run(context.Background(), func(ctx context.Context) error {
			time.Sleep(2 * time.Second) // never looks at ctx
			return nil
		})
		assert.NoError(t, err)
		assert.True(t, deadline.CancelCalled())
		assert.False(t, deadline.CancelledCaught())
	})
}

// errMap is a non-comparable error type, like validation error maps: ==
// between two of them panics at run time.
type errMap map[string]error

func (e errMap) Error() string { return fmt.Sprintf("%d invalid fields", len(e)) }

// errList is a non-comparable error tree.
type errList []error

func (e errList) Error() string   { return fmt.Sprintf("%d errors", len(e)) }
func (e errList) Unwrap() []error { return e }

func TestB6NonCancellationErrorsPassThroughUnchanged(t *testing.T) {
	wrapped := fmt.Errorf("write frame: %w", errBoom)
	cases := []struct {
		name   string
		err    error
		cancel bool
	}{
		{"sentinel in cancelled scope", errBoom, true},
		{"wrapped in cancelled scope", wrapped, true},
		{"sentinel in live scope", errBoom, false},
		{"ErrTooSlow in cancelled scope", cancel.ErrTooSlow, true},
		{"join without cancellation", errors.Join(errBoom, wrapped), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := cancel.New()
			err := s.Run(context.Background(), func(ctx context.Context) error {
				if tc.cancel {
					s.Cancel("stop")
				}
				return tc.err
			})
			assert.Equal(t, tc.err, err)
			assert.False(t, s.CancelledCaught())
		})
	}
}

func TestB6NonComparableErrorsPassThroughACancelledScope(t *testing.T) {
	for _, e := range []error{errMap{"name": errBoom}, errList{errBoom}} {
		t.Run(fmt.Sprintf("%T", e), func(t *testing.T) {
			s := cancel.New()
			var err error
			require.NotPanics(t, func() {
				err = s.Run(context.Background(), func(ctx context.Context) error {
					s.Cancel("stop")
					return e
				})
			})
			assert.Equal(t, e, err)
			assert.False(t, s.CancelledCaught())
		})
	}
}

func TestB7CatchingScopeStripsOnlyCancellationLeaves(t *testing.T) {
	errOther := errors.New("other")
	cases := []struct {
		name string
		make func(ctx context.Context) error
		keep []error // errors the result must match; nil result when empty
	}{
		{"join", func(ctx context.Context) error { return errors.Join(errBoom, ctx.Err()) }, []error{errBoom}},
		{"join of wrapped leaves", func(ctx context.Context) error {
			return errors.Join(fmt.Errorf("read: %w", ctx.Err()), fmt.Errorf("close: %w", errBoom))
		}, []error{errBoom}},
		{"nested join", func(ctx context.Context) error {
			return errors.Join(errors.Join(ctx.Err(), errBoom), errors.Join(context.Cause(ctx), errOther))
		}, []error{errBoom, errOther}},
		{"multi-%w Errorf", func(ctx context.Context) error {
			return fmt.Errorf("a: %w, b: %w", errBoom, ctx.Err())
		}, []error{errBoom}},
		{"only cancellation leaves", func(ctx context.Context) error {
			return errors.Join(ctx.Err(), fmt.Errorf("dial: %w", context.Cause(ctx)))
		}, nil},
		{"ErrTooSlow leaf kept", func(ctx context.Context) error {
			return errors.Join(ctx.Err(), cancel.ErrTooSlow)
		}, []error{cancel.ErrTooSlow}},
		{"non-comparable leaves kept", func(ctx context.Context) error {
			return errors.Join(ctx.Err(), errList{errBoom}, errMap{"x": errOther})
		}, []error{errBoom}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := cancel.New()
			err := s.Run(context.Background(), func(ctx context.Context) error {
				s.Cancel("stop")
				return tc.make(ctx)
			})
			assert.True(t, s.CancelledCaught())
			if len(tc.keep) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, k := range tc.keep {
				assert.ErrorIs(t, err, k)
			}
			assert.False(t, cancel.IsCancellation(err), "no cancellation left in %v", err)
			assert.NotErrorIs(t, err, context.Canceled)
		})
	}
}

func TestB7WrappedJoinIsNotStrippedAndNotCaught(t *testing.T) {
	// StripCancellation walks Unwrap() []error trees only: a single-error
	// wrapper around a join cannot be rebuilt without its cancellation
	// leaf, so the scope leaves it whole and does not claim to catch.
	s := cancel.New()
	var body error
	err := s.Run(context.Background(), func(ctx context.Context) error {
		s.Cancel("stop")
		body = fmt.Errorf("serve: %w", errors.Join(errBoom, ctx.Err()))
		return body
	})
	assert.Equal(t, body, err)
	assert.False(t, s.CancelledCaught())
}

func TestB8ScopeCancelledBeforeRunStartsWithDoneContext(t *testing.T) {
	s := cancel.New()
	s.Cancel("early")
	assert.True(t, s.CancelCalled())
	ran := false
	err := s.Run(context.Background(), func(ctx context.Context) error {
		ran = true
		require.Error(t, ctx.Err(), "done on entry")
		c := causeOf(ctx)
		require.NotNil(t, c)
		assert.Equal(t, "early", c.Reason)
		return cancel.Checkpoint(ctx)
	})
	assert.True(t, ran)
	require.NoError(t, err)
	assert.True(t, s.CancelledCaught())
}

func TestB8ScopeUnderCancelledParentStartsWithDoneContext(t *testing.T) {
	parent, stop := context.WithCancel(context.Background())
	stop()
	s := cancel.New()
	err := s.Run(parent, func(ctx context.Context) error {
		require.Error(t, ctx.Err(), "done on entry")
		return cancel.Checkpoint(ctx)
	})
	assert.ErrorIs(t, err, context.Canceled, "not this scope's cancellation: passed up")
	assert.False(t, s.CancelCalled())
	assert.False(t, s.CancelledCaught())
}

func TestB9ScopeRunsOnce(t *testing.T) {
	s := cancel.New()
	calls := 0
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		calls++
		// Re-entering from inside the body is reuse as well.
		assert.ErrorIs(t, s.Run(ctx, func(context.Context) error { calls++; return nil }), cancel.ErrScopeReused)
		return nil
	}))
	err := s.Run(context.Background(), func(context.Context) error { calls++; return nil })
	assert.ErrorIs(t, err, cancel.ErrScopeReused)
	assert.Equal(t, 1, calls, "the body ran once")
	assert.False(t, s.CancelledCaught())
}

func TestB13CancelCalledTurnsTrueAtDeadlineWithoutCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := cancel.New(cancel.WithTimeout(time.Second))
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			assert.False(t, s.CancelCalled())
			time.Sleep(999 * time.Millisecond)
			assert.False(t, s.CancelCalled(), "not before the deadline")
			time.Sleep(time.Millisecond) // the body never looks at ctx
			assert.True(t, s.CancelCalled(), "at the deadline")
			return nil
		}))
		assert.True(t, s.CancelCalled())
		assert.False(t, s.CancelledCaught())
	})
}

func TestB13DeadlineReachedAfterRunReturnedChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inner context.Context
		s, err := cancel.MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error {
			inner = ctx
			return nil
		})
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		assert.False(t, s.CancelCalled())
		assert.False(t, s.CancelledCaught())

		s.SetDeadline(time.Now().Add(-time.Hour))
		assert.False(t, s.CancelCalled(), "a past deadline set after Run does nothing")
		assert.Error(t, inner.Err(), "the context closed when Run returned")
		c := causeOf(inner)
		require.NotNil(t, c)
		assert.Nil(t, c.Scope, "closed by exit, not by a scope's cancellation")
	})
}

func TestB14B15RelativeTimeoutIsFixedWhenRunEnters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		viaOption := cancel.New(cancel.WithTimeout(time.Second))
		viaSetter := cancel.New()
		viaSetter.SetTimeout(2 * time.Second)
		for _, s := range []*cancel.Scope{viaOption, viaSetter} {
			_, ok := s.Deadline()
			assert.False(t, ok, "no deadline before Run")
		}

		time.Sleep(time.Hour) // built long before it runs
		for i, s := range []*cancel.Scope{viaOption, viaSetter} {
			want := time.Duration(i+1) * time.Second
			entered := time.Now()
			err := s.Run(context.Background(), func(ctx context.Context) error {
				d, ok := s.Deadline()
				require.True(t, ok)
				assert.Equal(t, entered.Add(want), d)
				return cancel.Sleep(ctx, time.Hour)
			})
			require.NoError(t, err)
			assert.True(t, s.CancelledCaught())
			assert.Equal(t, want, time.Since(entered))
		}
	})
}

func TestB14AbsoluteDeadlineSetBeforeRunOverridesRelative(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Now().Add(5 * time.Second)
		// Both options on one scope are rejected (see misuse_test.go); the
		// setter converts a relative scope to an absolute one.
		s := cancel.New(cancel.WithTimeout(time.Second))
		s.SetDeadline(at)
		time.Sleep(time.Second)
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			return cancel.Sleep(ctx, time.Hour)
		}))
		assert.Equal(t, at, time.Now())

		s2 := cancel.New(cancel.WithDeadline(at))
		s2.SetTimeout(time.Second) // the last setting wins
		d, ok := s2.Deadline()
		assert.False(t, ok, "relative again: %v", d)
	})
}

func TestB24CauseNamesScopeSourceAndReason(t *testing.T) {
	t.Run("explicit", func(t *testing.T) {
		s := cancel.New()
		require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
			s.Cancel("user quit")
			c := causeOf(ctx)
			require.NotNil(t, c)
			assert.Equal(t, &cancel.Cancelled{Source: cancel.SourceExplicit, Reason: "user quit", Scope: s}, c)
			assert.ErrorIs(t, c, context.Canceled)
			assert.NotErrorIs(t, c, context.DeadlineExceeded)
			assert.Equal(t, context.Canceled, ctx.Err())
			assert.Equal(t, "cancel: scope cancelled (explicit): user quit", c.Error())
			assert.Same(t, c, cancel.Checkpoint(ctx), "Checkpoint returns the cause")
			return cancel.Checkpoint(ctx)
		}))
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := cancel.New(cancel.WithTimeout(time.Second))
			require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
				err := cancel.Sleep(ctx, time.Hour)
				c := causeOf(ctx)
				require.NotNil(t, c)
				assert.Equal(t, cancel.SourceDeadline, c.Source)
				assert.Same(t, s, c.Scope)
				assert.ErrorIs(t, c, context.DeadlineExceeded)
				assert.NotErrorIs(t, c, context.Canceled)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Equal(t, context.Canceled, ctx.Err(), "Err is Canceled for every source (documented)")
				assert.Equal(t, "cancel: scope cancelled (deadline): deadline exceeded", c.Error())
				return err
			}))
		})
	})
	t.Run("nested scopes see the enclosing scope", func(t *testing.T) {
		outer := cancel.New()
		require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
			inner := cancel.New()
			return inner.Run(ctx, func(ctx context.Context) error {
				child, stop := context.WithCancel(ctx)
				defer stop()
				outer.Cancel("outer gave up")
				for _, c := range []context.Context{ctx, child} {
					cause := causeOf(c)
					require.NotNil(t, cause)
					assert.Same(t, outer, cause.Scope)
					assert.Equal(t, "outer gave up", cause.Reason)
				}
				return cancel.Checkpoint(child)
			})
		}))
	})
}

func TestSourceString(t *testing.T) {
	assert.Equal(t, "explicit", cancel.SourceExplicit.String())
	assert.Equal(t, "deadline", cancel.SourceDeadline.String())
	assert.Equal(t, "nursery", cancel.SourceNursery.String())
	assert.Equal(t, "unknown", cancel.Source(0).String())
	assert.Equal(t, "cancel: scope cancelled (nursery)", (&cancel.Cancelled{Source: cancel.SourceNursery}).Error())
}

func TestZeroScopeIsUsable(t *testing.T) {
	var s cancel.Scope
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		s.Cancel("zero value")
		return waitCancelled(ctx)
	}))
	assert.True(t, s.CancelledCaught())
}
