package cancel

import (
	"context"
	"errors"
	"time"
)

// MoveOnAfter runs body in a new scope whose deadline is d from now, and
// swallows that scope's own cancellation (Trio's move_on_after). The returned
// scope tells whether the deadline fired (CancelledCaught). It panics if d is
// negative.
func MoveOnAfter(ctx context.Context, d time.Duration, body func(ctx context.Context) error) (*Scope, error) {
	s := New(WithTimeout(d))
	return s, s.Run(ctx, body)
}

// MoveOnAt is MoveOnAfter with an absolute deadline.
func MoveOnAt(ctx context.Context, t time.Time, body func(ctx context.Context) error) (*Scope, error) {
	s := New(WithDeadline(t))
	return s, s.Run(ctx, body)
}

// FailAfter runs body in a new scope whose deadline is d from now and returns
// ErrTooSlow exactly when that deadline cancelled the body and the scope
// caught it (Trio's fail_after). Other errors of the body come back joined to
// it. It panics if d is negative.
func FailAfter(ctx context.Context, d time.Duration, body func(ctx context.Context) error) error {
	return failIn(ctx, New(WithTimeout(d)), body)
}

// FailAt is FailAfter with an absolute deadline.
func FailAt(ctx context.Context, t time.Time, body func(ctx context.Context) error) error {
	return failIn(ctx, New(WithDeadline(t)), body)
}

func failIn(ctx context.Context, s *Scope, body func(ctx context.Context) error) error {
	err := s.Run(ctx, body)
	if !s.CancelledCaught() {
		return err
	}
	if err == nil {
		return ErrTooSlow
	}
	return errors.Join(ErrTooSlow, err)
}

// Sleep waits for d or until ctx is cancelled, whichever comes first, and
// returns the cancellation error in the second case (see Checkpoint). It
// panics if d is negative.
func Sleep(ctx context.Context, d time.Duration) error {
	checkDuration(d)
	if err := Checkpoint(ctx); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctxErr(ctx)
	case <-t.C:
		return nil
	}
}

// Checkpoint returns nil if ctx is not cancelled; otherwise the cancellation
// error: context.Cause(ctx) when that is a cancellation error (a *Cancelled
// inside a scope), ctx.Err() otherwise.
func Checkpoint(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctxErr(ctx)
	default:
		return nil
	}
}

func ctxErr(ctx context.Context) error {
	if cause := context.Cause(ctx); IsCancellation(cause) {
		return cause
	}
	return ctx.Err()
}

// EffectiveDeadline returns the deadline that applies to ctx: the earliest
// deadline of the enclosing scopes up to the first shield, and of any
// standard context deadline among them.
func EffectiveDeadline(ctx context.Context) (time.Time, bool) {
	return ctx.Deadline()
}
