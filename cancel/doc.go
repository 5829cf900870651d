// Package cancel brings Trio's cancel scopes to Go, on top of context.Context.
//
// A Scope is a region of code that can be cancelled as a unit: explicitly
// (Cancel), by a deadline that may be moved earlier or later while the scope
// runs (SetDeadline, SetTimeout), or by an enclosing scope, unless the scope
// is shielded (SetShield). Go cancellation is cooperative: a checkpoint is any
// place that looks at ctx.Done() or ctx.Err(), such as Checkpoint, Sleep, or
// any context-aware call (net, net/http, database/sql).
//
// A scope swallows only the cancellation it caused: when the body returns a
// cancellation error because this scope was cancelled, Run returns nil and
// CancelledCaught reports true; when an enclosing scope was cancelled too, the
// error passes up to it. Deadlines that pass at the same instant cancel
// every scope they belong to at once, whichever timer runs first, and the
// outermost of them catches, as in Trio. MoveOnAfter and FailAfter are the
// usual shapes.
//
//	s, err := cancel.MoveOnAfter(ctx, time.Second, func(ctx context.Context) error {
//		return fetch(ctx)
//	})
//	if s.CancelledCaught() { /* gave up after a second */ }
//
// The package name shadows the usual variable of ctx, cancel :=
// context.WithCancel(...); gotrio names such variables stop, and so may you
// (or import this package under another name).
//
// Deviations from Trio, forced by Go:
//   - Go cannot reopen a closed Done channel: shielding a scope after an
//     enclosing cancellation has reached it does not un-cancel it, and a later
//     deadline never un-cancels a scope whose deadline already fired.
//   - ctx.Err() is context.Canceled for every source, as for any context
//     cancelled with a cause; context.Cause(ctx) returns a *Cancelled saying
//     which scope cancelled and why, and it matches context.DeadlineExceeded
//     when a deadline fired.
//   - A scope's context is cancelled when Run returns, like a deferred cancel
//     of context.WithCancel, so goroutines that escaped the scope see it end.
//   - Negative timeouts, and WithDeadline together with WithTimeout on one
//     scope, panic, where Trio raises ValueError.
package cancel
