// Package scopehook lets package nursery reach the few cancel-scope operations
// that are not public API. Package cancel fills these variables in its init.
package scopehook

import "context"

var (
	// CancelFrom cancels a *cancel.Scope with the given cancel.Source and reason.
	CancelFrom func(scope any, src uint8, reason string)

	// Reparent moves a running *cancel.Scope under a new parent context: value
	// and deadline look-ups and cancellation come from parent from then on.
	Reparent func(scope any, parent context.Context)

	// NewNurseryScope returns a new *cancel.Scope for a nursery: when it
	// catches, it strips the cancellation leaves of its body's error with
	// StripNursery. Package cancel alone decides whether a scope catches;
	// nursery only keeps its own error types (*ErrorGroup, *TaskError)
	// through the stripping.
	NewNurseryScope func() any

	// StripNursery returns err without its cancellation leaves, keeping
	// the nursery's error types, and whether it removed any. Package
	// nursery fills it in its init.
	StripNursery func(err error) (error, bool)

	// OuterCancellation returns the cancellation of an enclosing scope that
	// a checkpoint at the end of a running *cancel.Scope's body would see,
	// or nil when there is none or no scope would catch it. Deadlines that
	// have passed count. A nursery's exit is such a checkpoint.
	OuterCancellation func(scope any) error

	// Context returns the context a *cancel.Scope gives its body (valid once
	// Run has entered).
	Context func(scope any) context.Context

	// Watch is context.AfterFunc(ctx, f) (f runs in a goroutine of its own
	// once ctx is cancelled; stop stops that and reports whether it did),
	// but when ctx is a cancel scope's context, or reaches one through value
	// layers only, it links f into the scope instead of making package
	// context keep a children map in it for as long as the scope runs.
	Watch func(ctx context.Context, f func()) (stop func() bool)
)
