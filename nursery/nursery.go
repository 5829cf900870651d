package nursery

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/internal/nurseryhook"
	"github.com/gotrio/gotrio/internal/scopehook"
)

// A Nursery owns the tasks started in it: Run does not return before every
// one of them has returned. A Nursery is valid only while its Run is in
// progress; its methods may be called from any goroutine.
type Nursery struct {
	scope *cancel.Scope // its context (ctx) is shared by every task
	path  string        // task path of the goroutine that called Run

	// state counts the running tasks (pending Starts included) in its low
	// bits; joining is set once the body has returned. joining with no task
	// left means closed.
	state atomic.Int64
	wake  chan struct{} // closed by the last task out when the body waits

	last atomic.Pointer[task] // the most recent task identity, for reuse

	limit atomic.Pointer[Limiter] // set by SetLimit; nil means no limit

	mu     sync.Mutex
	failed bool      // the scope was cancelled for a failure
	errs   *outcomes // what the tasks and the body reported; nil until the first report
}

// outcomes are the errors and panics reported to a nursery. They live apart
// from the Nursery, made on the first report, so that a nursery whose tasks
// report nothing (a server connection's, for as long as it lives) is smaller.
type outcomes struct {
	fails    []error     // non-cancellation failures in order, later panics included
	cancels  []error     // cancellation errors, in order
	panicked *PanicError // the first panic
}

// outcomesLocked returns n's outcomes, making them if needed. n.mu is held.
func (n *Nursery) outcomesLocked() *outcomes {
	if n.errs == nil {
		n.errs = &outcomes{}
	}
	return n.errs
}

const joining = 1 << 40

// Run opens a nursery, runs body in the caller's goroutine with a context
// that belongs to the nursery's cancel scope, and returns once body and
// every task started in the nursery (by body, by tasks, or by anyone holding
// n) have returned.
//
// The first non-cancellation failure, of body or of a task, cancels the
// nursery's scope: body and tasks see it at their next checkpoint, and
// context.Cause gives a *cancel.Cancelled with Source cancel.SourceNursery
// naming the failed task. Run then returns an *ErrorGroup holding every
// non-cancellation failure in order. Cancellation errors that the nursery's
// own cancellation caused (a failure, n.Scope().Cancel, a deadline set on
// n.Scope()) are stripped; cancellation coming from outside stays in the
// group, for the enclosing scope to strip. When nothing is left Run returns
// nil.
//
// The end of Run is a checkpoint, as the end of a Trio nursery is: when an
// enclosing cancel scope is cancelled (or its deadline has passed) and no
// task returned that cancellation, Run returns an *ErrorGroup holding it,
// for that scope to catch. So cancel.FailAfter around Run returns
// cancel.ErrTooSlow when its deadline cancelled the tasks, even if every
// task returned nil on cancellation; cancel.MoveOnAfter returns nil. The
// cancellation of a standard context (context.WithCancel and the like) is
// not reported this way, as no scope would strip it: when every task
// returned nil, Run returns nil.
//
// A cancellation error is one that matches context.Canceled or
// context.DeadlineExceeded (cancel.IsCancellation): it does not cancel the
// other tasks, even when it comes from a timeout of the task's own; return
// the error of cancel.FailAfter (cancel.ErrTooSlow) for a timeout that is a
// failure.
//
// A panic or runtime.Goexit in a task is a failure too: once every task has
// been joined, Run panics in its caller's goroutine with a *PanicError. A
// panic (or Goexit) of body cancels the nursery and joins its tasks, then
// continues unchanged; panics of tasks during that unwinding are dropped.
func Run(ctx context.Context, body func(ctx context.Context, n *Nursery) error) error {
	n := &Nursery{scope: newScope(), path: taskPath(ctx)}
	err := n.scope.Run(ctx, func(ctx context.Context) error {
		return n.runBody(ctx, body)
	})
	if p := n.firstPanic(); p != nil {
		p.Suppressed = append(p.Suppressed, n.others()...)
		panic(p)
	}
	return err
}

// runBody runs body, records its failure and joins the tasks; it is the
// body of the nursery's scope.
func (n *Nursery) runBody(ctx context.Context, body func(ctx context.Context, n *Nursery) error) error {
	normal := false
	defer func() {
		if !normal { // body panicked or called Goexit: let it go on after the join
			n.cancel(nil, " panicked", "")
			n.join()
		}
	}()
	err := body(ctx, n)
	normal = true
	if err != nil {
		n.fail(nil, err)
	}
	n.join()
	n.checkpoint()
	return n.result()
}

// newScope returns the scope of a nursery: package cancel decides whether
// it catches, and strips with the nursery's rule (stripped), which keeps
// groups and task errors as they are.
func newScope() *cancel.Scope {
	return scopehook.NewNurseryScope().(*cancel.Scope)
}

func init() {
	scopehook.StripNursery = stripped
	nurseryhook.Hold = func(n any) (nurseryhook.Holder, bool) {
		nn := n.(*Nursery)
		if !nn.tryAdd() {
			return nil, false
		}
		nn.acquire() // the place counts against the limit, as a task's
		return &hold{n: nn}, true
	}
	nurseryhook.Forget = func(n any) { n.(*Nursery).last.Store(nil) }
}

// hold is a place in a nursery whose tasks come and go (see
// internal/nurseryhook): it counts as one running task until released. A
// release asked for by a task of the place takes effect once that task has
// returned and its result is recorded.
type hold struct {
	n        *Nursery
	mu       sync.Mutex
	active   int  // tasks of the place still running
	pending  bool // Release was called while tasks ran
	released bool
}

func (h *hold) Go(name string, fn func(ctx context.Context) error) {
	if fn == nil {
		panic("nursery: Go with a nil function")
	}
	h.mu.Lock()
	h.active++
	h.mu.Unlock()
	go h.n.runHeld(h, h.n.namedTask(name), fn)
}

func (h *hold) Release() {
	h.mu.Lock()
	if h.released || h.active > 0 {
		h.pending = !h.released
		h.mu.Unlock()
		return
	}
	h.released = true
	h.mu.Unlock()
	h.n.finish()
}

// taskDone records that a task of the place returned; panicked releases the
// place.
func (h *hold) taskDone(panicked bool) {
	h.mu.Lock()
	h.active--
	release := !h.released && h.active == 0 && (h.pending || panicked)
	if release {
		h.released = true
	}
	h.mu.Unlock()
	if release {
		h.n.finish()
	}
}

// checkpoint makes the end of the nursery a checkpoint, as in Trio: when an
// enclosing scope is cancelled (or its deadline has passed) and no task
// reported that cancellation, the nursery reports it, so that the scope
// catches it. Without it a nursery whose tasks return nil on cancellation
// would hide the cancellation from cancel.FailAfter. A cancelled standard
// context has no scope to catch its cancellation, which is therefore not
// reported: the nursery returns nil then.
func (n *Nursery) checkpoint() {
	n.mu.Lock()
	reported := n.errs != nil && len(n.errs.cancels) > 0
	n.mu.Unlock()
	if reported {
		return
	}
	if err := scopehook.OuterCancellation(n.scope); err != nil {
		n.mu.Lock()
		o := n.outcomesLocked()
		o.cancels = append(o.cancels, err)
		n.mu.Unlock()
	}
}

// ctx is the context of the nursery's scope, which every task receives.
// It is not a field: the scope holds it already, and 16 B less keeps a
// Nursery in the 128 B size class (one per wsock connection).
func (n *Nursery) ctx() context.Context { return scopehook.Context(n.scope) }

// Scope returns the nursery's cancel scope: n.Scope().Cancel(reason) cancels
// body and every task; SetDeadline and SetTimeout bound the whole nursery.
// Cancellation errors caused by it are stripped from Run's result.
func (n *Nursery) Scope() *cancel.Scope { return n.scope }

// Go starts fn in a new goroutine as a task of n (Trio's start_soon). fn
// receives the nursery's context: it is cancelled when the nursery is, not
// by scopes the caller opened after Run began. Go on a cancelled nursery
// still starts fn, with a done context. The task's name is the name of fn's
// function without its import path ("pkg.(*T).method", "pkg.F.func1"); use
// GoNamed to choose one. With a limit (SetLimit), Go first waits until fewer
// tasks than the limit run. Go panics with ErrClosed once Run has finished.
func (n *Nursery) Go(fn func(ctx context.Context) error) {
	if fn == nil {
		panic("nursery: Go with a nil function")
	}
	n.add()
	n.acquire()
	go n.run(n.taskFor(funcPC(fn)), fn)
}

// GoNamed is Go with a task name, which appears in errors, panics and the
// goroutine's pprof label ("parent/name"; see LabelKey).
func (n *Nursery) GoNamed(name string, fn func(ctx context.Context) error) {
	if fn == nil {
		panic("nursery: GoNamed with a nil function")
	}
	n.add()
	n.acquire()
	go n.run(n.namedTask(name), fn)
}

// add registers one more task, panicking with ErrClosed on a closed nursery.
func (n *Nursery) add() {
	if !n.tryAdd() {
		panic(ErrClosed)
	}
}

// tryAdd registers one more task unless the nursery is closed.
func (n *Nursery) tryAdd() bool {
	for {
		s := n.state.Load()
		if s == joining {
			return false
		}
		if n.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// done unregisters a task; the last one out wakes the joining body.
func (n *Nursery) done() {
	if n.state.Add(-1) == joining {
		close(n.wake)
	}
}

// finish ends a task: it gives its place back to the limit, if any, then
// unregisters it.
func (n *Nursery) finish() {
	if l := n.limit.Load(); l != nil {
		l.release()
	}
	n.done()
}

// join waits until every task has returned and closes the nursery.
func (n *Nursery) join() {
	if n.state.CompareAndSwap(0, joining) {
		return
	}
	n.wake = make(chan struct{}) // published to done by the Add below
	if n.state.Add(joining) != joining {
		<-n.wake
	}
}

// run is the body of a task goroutine.
func (n *Nursery) run(t *task, fn func(ctx context.Context) error) {
	pprof.SetGoroutineLabels(t.ctx)
	defer n.finish()
	normal := false
	defer func() {
		if !normal {
			n.failPanic(t, newPanicError(t.path, recover()))
		}
	}()
	err := fn(t.ctx)
	normal = true
	if err != nil {
		n.fail(t, err)
	}
}

// runHeld is the body of a task goroutine started in a hold: the hold, not
// the task, counts in the nursery, except that a panic releases it.
func (n *Nursery) runHeld(h *hold, t *task, fn func(ctx context.Context) error) {
	pprof.SetGoroutineLabels(t.ctx)
	normal := false
	defer func() {
		if !normal {
			n.failPanic(t, newPanicError(t.path, recover()))
		}
		h.taskDone(!normal)
	}()
	err := fn(t.ctx)
	normal = true
	if err != nil {
		n.fail(t, err)
	}
}

// newPanicError builds the failure of a task that panicked with v, or
// called Goexit when v is nil. It must be called from the deferred function
// so that the stack still shows the panic.
func newPanicError(task string, v any) *PanicError {
	if pe, ok := v.(*PanicError); ok {
		return pe // from a nested nursery: keep the origin
	}
	if v == nil { // recover returns nil only for runtime.Goexit since Go 1.21
		v = ErrGoexit
	}
	return &PanicError{Value: v, Stack: debug.Stack(), Task: task}
}

// fail records err, the failure of task t (nil for the body), and cancels
// the nursery for its first non-cancellation failure.
func (n *Nursery) fail(t *task, err error) {
	recorded := err
	if t != nil {
		recorded = &TaskError{Task: t.path, Err: err}
	}
	pure := strip(err) == nil
	n.mu.Lock()
	o := n.outcomesLocked()
	if pure {
		o.cancels = append(o.cancels, recorded)
		n.mu.Unlock()
		return
	}
	o.fails = append(o.fails, recorded)
	if n.firstLocked() {
		n.cancel(t, " failed: ", err.Error())
	}
}

// failPanic records the panic (or Goexit) of task t and cancels the nursery.
func (n *Nursery) failPanic(t *task, pe *PanicError) {
	n.mu.Lock()
	if o := n.outcomesLocked(); o.panicked == nil {
		o.panicked = pe
	} else {
		o.fails = append(o.fails, pe)
	}
	if n.firstLocked() {
		n.cancel(t, " panicked: ", fmt.Sprint(pe.Value))
	}
}

// firstLocked unlocks n.mu and reports whether this is the nursery's first
// failure.
func (n *Nursery) firstLocked() bool {
	first := !n.failed
	n.failed = true
	n.mu.Unlock()
	return first
}

// cancel cancels the nursery's scope for a failure of task t (nil for the
// body), so that context.Cause names it.
func (n *Nursery) cancel(t *task, verb, what string) {
	who := "body"
	if t != nil {
		who = "task " + t.path
	}
	scopehook.CancelFrom(n.scope, uint8(cancel.SourceNursery), who+verb+what)
}

// result is the body's return value once every task has been joined: every
// failure in order, then the cancellation errors. The nursery's scope then
// strips what it caught (package cancel's rule, see newScope).
func (n *Nursery) result() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	o := n.errs
	if o == nil || len(o.fails) == 0 && len(o.cancels) == 0 {
		return nil
	}
	errs := make([]error, 0, len(o.fails)+len(o.cancels))
	return &ErrorGroup{Errs: append(append(errs, o.fails...), o.cancels...)}
}

// others returns the failures besides the first panic, for its Suppressed.
func (n *Nursery) others() []error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.errs == nil {
		return nil
	}
	return n.errs.fails
}

// firstPanic returns the first panic reported to n, or nil.
func (n *Nursery) firstPanic() *PanicError {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.errs == nil {
		return nil
	}
	return n.errs.panicked
}
