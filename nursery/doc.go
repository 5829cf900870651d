// Package nursery brings Trio's nurseries to Go: goroutines that have an
// owner, are joined before their owner returns, and fail together.
//
// Run opens a nursery and runs a body in it; the body starts tasks with Go,
// GoNamed or Start, and Run returns only when the body and every task have
// returned. No goroutine outlives the block that started it, so lifetimes
// show in the shape of the code, as with a function call:
//
//	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
//		for _, url := range urls {
//			n.Go(func(ctx context.Context) error { return fetch(ctx, url) })
//		}
//		return nil
//	})
//
// A nursery is a cancel scope (package cancel; n.Scope()). The first
// failure, of the body or of a task, cancels it: every task sees the
// cancellation at its next checkpoint, and context.Cause reports a
// *cancel.Cancelled with Source cancel.SourceNursery naming the task that
// failed. Run then returns an *ErrorGroup listing every failure in order,
// each task's as a *TaskError carrying the task's name; the cancellation
// errors the nursery itself caused are left out, and when nothing else
// failed Run returns nil. errors.Is and errors.As see through the group, so
// checking for one error keeps working when several occur.
//
// A panic in a task does not crash the program from the task's goroutine:
// the nursery cancels the other tasks, joins them, and Run re-panics in its
// caller's goroutine with a *PanicError that holds the value, the task's
// stack and its name. runtime.Goexit in a task (t.FailNow, for example) is
// reported the same way with the value ErrGoexit.
//
// The end of a nursery is a checkpoint: under a cancelled enclosing scope,
// Run reports that scope's cancellation even when every task returned nil,
// so an overall deadline works as expected:
//
//	err := cancel.FailAfter(ctx, time.Minute, func(ctx context.Context) error {
//		return nursery.Run(ctx, crawl) // ErrTooSlow after a minute, even if crawl's tasks return nil
//	})
//
// SetLimit bounds how many tasks run at once (errgroup's SetLimit, Trio's
// CapacityLimiter): Go then waits for a free place, and stops waiting when
// the nursery is cancelled. A Limiter shares such places among nurseries.
//
// Start is Trio's nursery.start: it runs a task until the task says it is
// ready (TaskStatus.Started) and returns the value it passes, for example
// the address of a server that is now listening; the task then runs on in
// the nursery, whose cancellation is then its own: a cancellation of the
// caller that reached it before Started is not a failure of the nursery.
//
// Tasks have names, the function's by default or one given to GoNamed. A
// name appears in the task's errors and panics, and every task goroutine
// carries its path in the task tree ("server/conn/reader") as the pprof
// label LabelKey, so a goroutine profile shows the tree.
//
// Compared with golang.org/x/sync/errgroup: Run cannot forget the Wait;
// the context of tasks is the nursery's, not one the caller may forget to
// use; every error is returned rather than only the first; cancellation
// caused by the nursery is not reported as an error; panics and Goexit are
// caught and re-raised where the nursery was opened; Start hands a value
// back from a running task.
package nursery
