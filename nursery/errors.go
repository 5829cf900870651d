package nursery

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gotrio/gotrio/cancel"
)

var (
	// ErrClosed reports a Go or Start on a nursery whose Run has finished (its
	// body returned and every task with it). Start returns it; Go panics with
	// it, as sending on a closed channel panics: the caller kept a nursery
	// beyond its lifetime.
	ErrClosed = errors.New("nursery: nursery is closed")

	// ErrNotStarted is returned by Start when the task returned nil without
	// calling Started.
	ErrNotStarted = errors.New("nursery: task returned without calling Started")

	// ErrAlreadyStarted is the panic value of a second call to
	// TaskStatus.Started: a task reports that it is ready once. The
	// nursery re-panics with a *PanicError whose Value it is, so
	// errors.Is(recovered, ErrAlreadyStarted) holds for the value recovered
	// from Run.
	ErrAlreadyStarted = errors.New("nursery: Started called twice")

	// ErrGoexit is the Value of the *PanicError that reports a task which
	// called runtime.Goexit (for example t.FailNow from a task goroutine):
	// the task ended without returning, which counts as a failure.
	ErrGoexit = errors.New("nursery: task called runtime.Goexit")
)

// An ErrorGroup is the error Run returns when its body or tasks failed: every
// non-cancellation failure in the order it happened (Errs[0] is the first),
// followed by the cancellation errors that were not stripped (those that came
// from outside the nursery, left for the enclosing scope to strip). It is
// returned even for a single failure, so callers can count on its type.
// errors.Is and errors.As look inside it. A task's failure is a *TaskError
// naming the task; the body's own error appears as it was returned. A
// nursery inside a task stays nested as that task's error: groups are not
// flattened.
type ErrorGroup struct {
	Errs []error
}

// Error lists the failures: a single one as its own text, several as
// "N errors: first; second; …".
func (g *ErrorGroup) Error() string {
	switch len(g.Errs) {
	case 0:
		return "nursery: no errors"
	case 1:
		return g.Errs[0].Error()
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(g.Errs)))
	b.WriteString(" errors: ")
	for i, err := range g.Errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns Errs, for errors.Is and errors.As.
func (g *ErrorGroup) Unwrap() []error { return g.Errs }

// A TaskError is the failure of one task in an ErrorGroup: the task's name
// (its path in the task tree, as in its pprof label) and the error it
// returned, which errors.Is, errors.As and errors.Unwrap reach.
type TaskError struct {
	Task string
	Err  error
}

// Error returns "task NAME: ERR".
func (e *TaskError) Error() string { return "task " + e.Task + ": " + e.Err.Error() }

// Unwrap returns the task's own error.
func (e *TaskError) Unwrap() error { return e.Err }

// A PanicError is what Run panics with when a task panicked or called
// runtime.Goexit: the value passed to panic (ErrGoexit for Goexit), the
// stack of the task at the panic, and the task's name. Run panics with it in
// its caller's goroutine after cancelling and joining every other task. When
// several tasks fail, the first panic wins and Suppressed holds the other
// failures of the nursery (later panics and task errors) in order. A
// *PanicError coming out of a nested nursery passes through enclosing
// nurseries as it is, so Task and Stack keep pointing at the origin.
type PanicError struct {
	Value      any
	Stack      []byte
	Task       string
	Suppressed []error
}

// Error describes the panic and includes the task's stack, which would
// otherwise be lost when Run re-panics in another goroutine.
func (e *PanicError) Error() string {
	return fmt.Sprintf("nursery: task %s panicked: %v\n\n%s", e.Task, e.Value, e.Stack)
}

// Unwrap returns Value when it is an error (so errors.Is(err, ErrGoexit)
// works), nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// strip removes the cancellation leaves from err like
// cancel.StripCancellation, but keeps the nursery's own error types: groups
// stay *ErrorGroup and task failures stay *TaskError, with their
// cancellation parts removed. It never compares errors with ==, which would
// panic on error values of uncomparable types.
func strip(err error) error {
	out, _ := stripped(err)
	return out
}

// stripped returns err without its cancellation leaves and whether anything
// was removed.
func stripped(err error) (error, bool) {
	switch e := err.(type) {
	case nil:
		return nil, false
	case *ErrorGroup:
		kept, changed := strippedAll(e.Errs)
		switch {
		case !changed:
			return e, false
		case len(kept) == 0:
			return nil, true
		}
		return &ErrorGroup{Errs: kept}, true
	case *TaskError:
		inner, changed := stripped(e.Err)
		switch {
		case !changed:
			return e, false
		case inner == nil:
			return nil, true
		}
		return &TaskError{Task: e.Task, Err: inner}, true
	case interface{ Unwrap() []error }:
		kept, changed := strippedAll(e.Unwrap())
		switch {
		case !changed:
			return err, false
		case len(kept) == 0:
			return nil, true
		}
		return errors.Join(kept...), true
	}
	// A leaf, or a single-error wrapper: cancel's rule decides whether it
	// is only cancellation.
	if cancel.StripCancellation(err) == nil {
		return nil, true
	}
	return err, false
}

func strippedAll(errs []error) (kept []error, changed bool) {
	kept = make([]error, 0, len(errs))
	for _, x := range errs {
		y, c := stripped(x)
		changed = changed || c
		if y != nil {
			kept = append(kept, y)
		}
	}
	return kept, changed
}
