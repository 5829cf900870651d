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

	// MarkCaught records that a *cancel.Scope caught its own cancellation:
	// nursery strips the cancellation leaves of its error group itself (to
	// keep the group's type) and tells the scope so.
	MarkCaught func(scope any)
)
