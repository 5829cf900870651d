package cancel

import (
	"context"
	"errors"
)

// Source says what cancelled a scope.
type Source uint8

const (
	// SourceExplicit is a call to Scope.Cancel.
	SourceExplicit Source = iota + 1
	// SourceDeadline is the scope's deadline passing.
	SourceDeadline
	// SourceNursery is the failure of a task in the nursery that owns the scope.
	SourceNursery
	// sourceExit marks the context of a scope whose Run has returned.
	sourceExit
)

// String returns a short name for the source: "explicit", "deadline" or "nursery".
func (s Source) String() string {
	switch s {
	case SourceExplicit:
		return "explicit"
	case SourceDeadline:
		return "deadline"
	case SourceNursery:
		return "nursery"
	case sourceExit:
		return "exit"
	}
	return "unknown"
}

// Cancelled is the context.Cause of a scope's cancellation: which scope
// cancelled, why, and the reason given. It matches context.DeadlineExceeded
// when the scope's deadline passed and context.Canceled otherwise, so
// errors.Is works on it like on the error of a standard context.
type Cancelled struct {
	Source Source
	Reason string
	// Scope is the scope whose cancellation this is; scopes nested inside it
	// report the same value, so a task can tell which enclosing scope fired.
	Scope *Scope
}

// Error describes the cancellation, for example
// "cancel: scope cancelled (deadline): deadline exceeded".
func (c *Cancelled) Error() string {
	if c.Reason == "" {
		return "cancel: scope cancelled (" + c.Source.String() + ")"
	}
	return "cancel: scope cancelled (" + c.Source.String() + "): " + c.Reason
}

// Is reports whether target is the standard context error this cancellation
// stands for.
func (c *Cancelled) Is(target error) bool {
	if c.Source == SourceDeadline {
		return target == context.DeadlineExceeded
	}
	return target == context.Canceled
}

// ErrScopeReused is returned by Run on a scope that has already run: a scope
// runs once.
var ErrScopeReused = errors.New("cancel: scope reused: a Scope runs only once")

// ErrTooSlow is returned by FailAfter and FailAt when their deadline cancelled
// the body. It matches context.DeadlineExceeded too, yet IsCancellation is
// false for it: enclosing scopes never swallow it, as Trio's TooSlowError.
var ErrTooSlow error = tooSlowError{}

type tooSlowError struct{}

func (tooSlowError) Error() string        { return "cancel: too slow: deadline exceeded" }
func (tooSlowError) Is(target error) bool { return target == context.DeadlineExceeded }
func (tooSlowError) Timeout() bool        { return true }

// IsCancellation reports whether err is a cancellation error: it matches
// context.Canceled or context.DeadlineExceeded and is not ErrTooSlow.
func IsCancellation(err error) bool {
	if err == nil || errors.Is(err, ErrTooSlow) {
		return false
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// StripCancellation removes the cancellation leaves from err, walking trees of
// errors that implement Unwrap() []error (errors.Join, nursery groups). It
// returns nil when nothing else remains, err itself when nothing was removed,
// and otherwise errors.Join of the remaining parts in order.
func StripCancellation(err error) error {
	out, _ := strip(err)
	return out
}

// strip is StripCancellation that also reports whether it removed anything.
// Callers must use the flag, not out != err: == panics on error types that
// are not comparable (maps, slices), which are legal errors.
func strip(err error) (out error, changed bool) {
	if err == nil {
		return nil, false
	}
	multi, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if onlyCancellation(err) {
			return nil, true
		}
		return err, false
	}
	parts := multi.Unwrap()
	var kept []error
	for _, p := range parts {
		q, c := strip(p)
		changed = changed || c
		if q != nil {
			kept = append(kept, q)
		}
	}
	switch {
	case !changed:
		return err, false
	case len(kept) == 0:
		return nil, true
	}
	return errors.Join(kept...), true
}

// onlyCancellation reports whether every leaf under err is a cancellation: a
// wrapper is a cancellation when it matches Canceled/DeadlineExceeded itself,
// or when what it wraps is only cancellation.
func onlyCancellation(err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, ErrTooSlow) {
		return false
	}
	if err == context.Canceled || err == context.DeadlineExceeded {
		return true
	}
	if x, ok := err.(interface{ Is(error) bool }); ok && (x.Is(context.Canceled) || x.Is(context.DeadlineExceeded)) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		parts := u.Unwrap()
		if len(parts) == 0 {
			return false
		}
		for _, p := range parts {
			if !onlyCancellation(p) {
				return false
			}
		}
		return true
	case interface{ Unwrap() error }:
		inner := u.Unwrap()
		return inner != nil && onlyCancellation(inner)
	}
	return false
}
