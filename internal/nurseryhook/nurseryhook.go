// Package nurseryhook lets package wsock keep a nursery open for a connection
// whose reader task comes and goes: the connection counts as one task of its
// nursery for as long as it lives, whether or not its reader has a goroutine.
// Package nursery fills Hold in its init.
package nurseryhook

import "context"

// A Holder is a place in a nursery, taken by Hold: the nursery does not
// finish until it is released.
type Holder interface {
	// Go starts fn, named name, as a task in the held place: it neither waits
	// for the nursery's limit nor counts as another task. Its failure and its
	// panic are the nursery's as any task's; a panic also releases the place.
	Go(name string, fn func(ctx context.Context) error)
	// Release gives the place back, once no task of the place runs (a task
	// that releases it thus has its result recorded first); calls after the
	// first do nothing.
	Release()
}

// Hold takes a place in a *nursery.Nursery, or reports false if the nursery
// has finished.
var Hold func(n any) (Holder, bool)

// Forget makes a *nursery.Nursery drop the task identity it keeps for reuse by
// the next Go (its label context, path and name): a connection's nursery stays
// open for the connection's life with nothing but its place, and should not
// keep those of a handshake task long gone.
var Forget func(n any)
