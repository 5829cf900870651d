package nursery

import (
	"context"
	"runtime/pprof"
	"sync"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/internal/scopehook"
)

// A TaskStatus is how a task started by Start reports that it is ready: it
// calls Started once, with the value Start returns (a listener, a port, a
// connection…). Started panics with ErrAlreadyStarted if called a second
// time.
type TaskStatus[T any] interface {
	Started(v T)
}

// Ignored returns a TaskStatus whose Started does nothing, to call a
// function written for Start directly or with Go (Trio's
// TASK_STATUS_IGNORED).
func Ignored[T any]() TaskStatus[T] { return ignored[T]{} }

type ignored[T any] struct{}

func (ignored[T]) Started(T) {}

// Start starts fn as a task of n and waits until it is ready (Trio's
// nursery.start): it returns the value fn passes to ts.Started, and fn runs
// on as a task of n.
//
// Until it calls Started, fn runs under ctx, the caller's context, in a
// cancel scope of its own: cancelling ctx cancels it, and its failures are
// the caller's. If fn returns an error before Started, Start returns that
// error as it is (not grouped, and n is not affected); if it returns nil,
// Start returns ErrNotStarted; if it panics, Start panics with a *PanicError
// in the caller's goroutine. Started moves fn's scope under n's context,
// without a goroutine: from then on fn sees n's values, deadline and
// cancellation (if n is already cancelled, at once), and its failures are
// n's, as for Go.
//
// Started always hands the value over, even when ctx has been cancelled in
// the meantime: the task is running and owns resources, and dropping the
// value (as Trio does) could leave it waiting forever. The caller sees the
// cancellation at its next checkpoint, and n still owns the task. A task
// that Started after a cancellation of ctx had reached it keeps its done
// context in n (Go cannot un-cancel a context); as no scope around n will
// catch that cancellation, the task's own scope does: the task returning it
// is not a failure of n (its other errors are).
//
// A pending Start keeps n open, like a running task. With a limit
// (SetLimit), Start first waits for a place, and returns the cancellation
// error without running fn if ctx is cancelled meanwhile. Start returns
// ErrClosed once n's Run has finished. The task's name is that of fn's
// function, as for Go.
func Start[T any](ctx context.Context, n *Nursery, fn func(ctx context.Context, ts TaskStatus[T]) error) (T, error) {
	var zero T
	if fn == nil {
		panic("nursery: Start with a nil function")
	}
	if !n.tryAdd() {
		return zero, ErrClosed
	}
	if err := n.acquireFor(ctx); err != nil {
		n.done()
		return zero, err
	}
	t := n.taskFor(funcPC(fn))
	st := &startStatus[T]{n: n, scope: cancel.New(), result: make(chan startResult[T], 1)}
	go st.run(ctx, t, fn)
	r := <-st.result
	if r.panic != nil {
		panic(r.panic)
	}
	return r.v, r.err
}

type startState uint8

const (
	pending startState = iota
	started
	returned
)

type startResult[T any] struct {
	v     T
	err   error
	panic *PanicError
}

// startStatus is the TaskStatus of a task in Start.
type startStatus[T any] struct {
	n      *Nursery
	scope  *cancel.Scope
	result chan startResult[T] // buffered: Started never blocks

	mu    sync.Mutex
	state startState
}

func (st *startStatus[T]) Started(v T) {
	st.mu.Lock()
	switch st.state {
	case started:
		st.mu.Unlock()
		panic(ErrAlreadyStarted)
	case returned:
		st.mu.Unlock()
		panic("nursery: Started called after the task returned")
	}
	st.state = started
	st.mu.Unlock()
	scopehook.Reparent(st.scope, st.n.ctx())
	st.result <- startResult[T]{v: v}
}

// run is the body of a Start task goroutine.
func (st *startStatus[T]) run(ctx context.Context, t *task, fn func(ctx context.Context, ts TaskStatus[T]) error) {
	pprof.SetGoroutineLabels(t.ctx)
	normal := false
	defer func() {
		if !normal {
			st.finish(t, nil, newPanicError(t.path, recover()))
		}
	}()
	err := st.scope.Run(ctx, func(ctx context.Context) error {
		return fn(pprof.WithLabels(ctx, pprof.Labels(LabelKey, t.path)), st)
	})
	normal = true
	st.finish(t, err, nil)
}

// finish reports the end of the task: to the caller of Start if it had not
// started, to the nursery otherwise.
func (st *startStatus[T]) finish(t *task, err error, pe *PanicError) {
	st.mu.Lock()
	wasStarted := st.state == started
	st.state = returned
	st.mu.Unlock()
	switch {
	case wasStarted && pe != nil:
		st.n.failPanic(t, pe)
	case wasStarted && err != nil:
		st.n.fail(t, err)
	case wasStarted:
	case pe != nil:
		st.result <- startResult[T]{panic: pe}
	case err != nil:
		st.result <- startResult[T]{err: err}
	default:
		st.result <- startResult[T]{err: ErrNotStarted}
	}
	st.n.finish()
}
