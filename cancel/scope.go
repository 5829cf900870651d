package cancel

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/internal/scopehook"
)

// A Scope is a Trio cancel scope: a region of code, run by Run, that can be
// cancelled explicitly, by a deadline, or by an enclosing scope unless it is
// shielded. A Scope's methods may be called from any goroutine, before, during
// and after Run. A Scope runs once.
type Scope struct {
	mu    sync.Mutex
	state scopeState

	cancelCalled bool
	caught       bool
	shield       bool
	delivered    bool  // ctx has been cancelled
	orphaned     bool  // delivered by a former parent (see reparent)
	nursery      bool  // strips with scopehook.StripNursery (see exit)
	options      uint8 // which deadline options New was given
	hasDeadline  bool
	hasRelative  bool       // a relative timeout waiting for Run
	ownCause     *Cancelled // why this scope cancelled itself

	deadline time.Time
	relative time.Duration // the relative timeout
	timer    *time.Timer

	// parent links: a parent scope notifies its registered children
	// synchronously; any other cancellable parent is watched with
	// context.AfterFunc.
	parentScope *Scope
	prev, next  *Scope
	children    *Scope
	stopAfter   func() bool
	watchers    *watcher // see watch

	gate        gate
	ctx         scopeCtx
	cancelInner context.CancelCauseFunc
}

type scopeState uint8

const (
	stateNew scopeState = iota
	stateRunning
	stateDone
)

// An Option configures a Scope built by New.
type Option func(*Scope)

const (
	optDeadline uint8 = 1 << iota
	optTimeout
)

// WithDeadline sets the scope's absolute deadline. The zero Time means none.
// It cannot be combined with WithTimeout (New panics).
func WithDeadline(t time.Time) Option {
	return func(s *Scope) {
		s.options |= optDeadline
		s.setDeadlineLocked(t)
	}
}

// WithTimeout sets a deadline d after the moment Run enters (not after New).
// It panics if d is negative. It cannot be combined with WithDeadline (New
// panics).
func WithTimeout(d time.Duration) Option {
	checkDuration(d)
	return func(s *Scope) {
		s.options |= optTimeout
		s.hasDeadline = false
		s.hasRelative = true
		s.relative = d
	}
}

// WithShield starts the scope shielded from enclosing scopes' cancellation.
func WithShield() Option {
	return func(s *Scope) { s.shield = true }
}

// New returns an unbound scope. Cancel, SetDeadline, SetTimeout and SetShield
// may be called on it before Run. New panics when given both WithDeadline
// and WithTimeout: a scope has one deadline, and which one was meant is
// unclear (Trio raises ValueError for the same). Call SetDeadline or
// SetTimeout later to replace one kind by the other.
func New(opts ...Option) *Scope {
	s := &Scope{}
	for _, o := range opts {
		o(s)
	}
	if s.options == optDeadline|optTimeout {
		panic("cancel: New with both WithDeadline and WithTimeout: a scope has one deadline")
	}
	return s
}

// Run runs body with a context that is cancelled when this scope is cancelled
// (by Cancel, by its deadline, or by ctx unless shielded), and returns when
// body returns. The context is a standard cancel context to package context:
// children made with context.WithCancel under it cost no goroutine. Its Err is
// context.Canceled whatever the source; context.Cause gives a *Cancelled. When
// Run returns, the context is cancelled (CancelCalled stays false for that).
//
// If body returns a cancellation error because this scope was cancelled, and
// the cancellation of an enclosing scope is not also visible here, Run
// swallows it: it returns body's error without its cancellation parts (nil
// when nothing else remains) and CancelledCaught becomes true. Other errors
// pass through unchanged. A second Run returns ErrScopeReused without calling
// body. A panic in body passes through after the scope is closed.
func (s *Scope) Run(ctx context.Context, body func(ctx context.Context) error) (err error) {
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return ErrScopeReused
	}
	s.state = stateRunning
	var now time.Time
	if s.hasRelative || s.hasDeadline {
		now = time.Now()
	}
	if s.hasRelative {
		s.hasRelative = false
		s.hasDeadline = true
		s.deadline = now.Add(s.relative)
	}
	s.gate.first = ctx
	inner, cancelInner := context.WithCancelCause(&s.gate)
	s.ctx = scopeCtx{Context: inner, s: s}
	s.cancelInner = cancelInner
	if s.cancelCalled {
		s.deliverLocked(s.ownCause)
	} else {
		s.armLocked(now)
	}
	s.mu.Unlock()
	s.attach(ctx)

	normal := false
	defer func() { s.exit(&err, normal) }()
	err = body(&s.ctx)
	normal = true
	return err
}

// exit closes the scope and applies the catch rule of Trio: caught ⇔ the body
// returned a cancellation error ∧ this scope was cancelled ∧ the parent's
// cancellation is not visible here. This is the only place the rule lives:
// nurseries are scopes and reach it through their scope's Run.
//
// "This scope was cancelled" means its own Cancel or deadline, or a
// cancellation that a former parent delivered before reparent moved the
// scope: no scope around it any more will catch that one, so it does.
func (s *Scope) exit(errp *error, normal bool) {
	s.mu.Lock()
	// A deadline that has passed counts even if its timer has not run yet: a
	// child context with the same deadline may have woken the body first.
	s.expireLocked()
	// Close the context like a deferred cancel would, reaching scopes that
	// escaped into goroutines still running under it.
	s.deliverLocked(exitCause)
	s.state = stateDone
	ps, stop := s.parentScope, s.stopAfter
	s.parentScope, s.stopAfter = nil, nil
	cancelled, shield, nursery := s.cancelCalled || s.orphaned, s.shield, s.nursery
	parent := s.parent()
	s.mu.Unlock()
	if ps != nil {
		ps.removeChild(s)
	}
	if stop != nil {
		stop()
	}

	err := *errp
	if !normal || err == nil || !cancelled || (!shield && cancelledOrExpired(parent)) {
		return
	}
	stripFn := strip
	if nursery {
		stripFn = scopehook.StripNursery // keeps the nursery's error types
	}
	if stripped, changed := stripFn(err); changed {
		s.mu.Lock()
		s.caught = true
		s.mu.Unlock()
		*errp = stripped
	}
}

var exitCause = &Cancelled{Source: sourceExit, Reason: "scope exited"}

// cancelledOrExpired reports whether ctx is cancelled or about to be: its
// effective deadline has passed but the timer enforcing it has not run yet.
// Deadlines that pass at the same instant thus cancel every scope they
// belong to, whichever timer runs first, and the outermost one catches.
func cancelledOrExpired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// Cancel cancels the scope: every checkpoint inside it sees the cancellation
// from now on. It returns at once, is safe from any goroutine and idempotent;
// the first reason given (or the deadline) wins. Cancel is not a checkpoint.
func (s *Scope) Cancel(reason string) {
	s.cancelFrom(SourceExplicit, reason)
}

func (s *Scope) cancelFrom(src Source, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cancelCalled {
		s.cancelCalled = true
		s.ownCause = &Cancelled{Source: src, Reason: reason, Scope: s}
	}
	if s.state == stateRunning {
		s.deliverLocked(s.ownCause)
	}
}

// deliverLocked cancels the scope's context and, synchronously, every
// unshielded scope registered under it.
func (s *Scope) deliverLocked(cause error) {
	if s.delivered || s.state != stateRunning {
		return
	}
	s.delivered = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancelInner(cause)
	for c := s.children; c != nil; c = c.next {
		c.parentCancelled()
	}
	for w := s.watchers; w != nil; w = w.next {
		w.linked = false
		// In a goroutine of its own, as context.AfterFunc does: f may take
		// locks held by callers of stop, which takes s.mu.
		time.AfterFunc(0, w.f)
	}
	s.watchers = nil
}

// parentCancelled delivers the parent context's cancellation unless the
// scope is shielded. It looks at the parent first: a scope linked to an
// enclosing scope through standard contexts hears of every cancellation of
// that scope, and a context.WithoutCancel in between may have stopped it.
func (s *Scope) parentCancelled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shield || s.delivered || s.state != stateRunning {
		return
	}
	if parent := s.parent(); parent.Err() != nil {
		s.deliverLocked(context.Cause(parent))
	}
}

// CancelCalled reports whether the scope was cancelled, explicitly or by its
// deadline (even if no checkpoint has looked yet, and, as in Trio, even
// before Run when an absolute deadline has already passed). Cancellation that
// came from an enclosing scope does not count.
func (s *Scope) CancelCalled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateNew && !s.cancelCalled && s.hasDeadline && !time.Now().Before(s.deadline) {
		s.fireLocked() // delivered when Run enters
	}
	s.expireLocked()
	return s.cancelCalled
}

// expireLocked cancels a running scope whose deadline has passed, whether or
// not its timer has run yet.
func (s *Scope) expireLocked() {
	if !s.cancelCalled && s.state == stateRunning && s.hasDeadline && !time.Now().Before(s.deadline) {
		s.fireLocked()
	}
}

// CancelledCaught reports whether Run swallowed a cancellation of this scope.
// It is meaningful after Run returns.
func (s *Scope) CancelledCaught() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caught
}

// Deadline returns the scope's own deadline. A relative timeout set before
// Run has no deadline yet: it becomes one when Run enters. The context's
// Deadline reports the effective deadline instead (see EffectiveDeadline).
func (s *Scope) Deadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline, s.hasDeadline
}

// SetDeadline changes the scope's deadline, earlier or later, with effect at
// once; the zero Time removes it. A deadline in the past cancels a running
// scope immediately. Once cancelled, a later deadline does not un-cancel.
// Before Run, SetDeadline on a scope with a relative timeout (WithTimeout,
// SetTimeout) replaces the timeout: the scope becomes absolute, as with
// Trio's deadline setter, and the zero Time leaves it with no deadline.
func (s *Scope) SetDeadline(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setDeadlineLocked(t)
	if s.state == stateRunning {
		s.armLocked(time.Now())
	}
}

// SetTimeout sets the deadline d from now (Trio's relative_deadline); before
// Run, from the moment Run enters. It panics if d is negative.
func (s *Scope) SetTimeout(d time.Duration) {
	checkDuration(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateNew {
		s.hasDeadline, s.hasRelative, s.relative = false, true, d
		return
	}
	s.setDeadlineLocked(time.Now().Add(d))
	if s.state == stateRunning {
		s.armLocked(time.Now())
	}
}

func (s *Scope) setDeadlineLocked(t time.Time) {
	s.hasRelative = false
	s.deadline, s.hasDeadline = t, !t.IsZero()
}

// armLocked makes the timer match the deadline, or fires it when it passed.
func (s *Scope) armLocked(now time.Time) {
	if !s.hasDeadline || s.delivered {
		if s.timer != nil {
			s.timer.Stop()
		}
		return
	}
	d := s.deadline.Sub(now)
	if d <= 0 {
		s.fireLocked()
		return
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
	} else {
		s.timer.Reset(d)
	}
}

func (s *Scope) onTimer() {
	// Trio cancels every due scope in one batch before any task runs: fire
	// the enclosing scopes that are due too, outermost first, so that what
	// the body sees (context.Cause) is the outermost due scope, whichever
	// timer ran first.
	expireEnclosing(s.parent())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateRunning && s.hasDeadline && !time.Now().Before(s.deadline) {
		s.fireLocked()
	}
}

// expireEnclosing fires every scope around ctx, up to the first shield,
// whose deadline has passed but whose timer has not run yet, outermost
// first.
func expireEnclosing(ctx context.Context) {
	ps := Current(ctx)
	if ps == nil {
		return
	}
	ps.mu.Lock()
	shield, parent := ps.shield, ps.parent()
	ps.mu.Unlock()
	if !shield {
		expireEnclosing(parent)
	}
	ps.mu.Lock()
	ps.expireLocked()
	ps.mu.Unlock()
}

// outerCancellation returns the cancellation of an enclosing scope that a
// checkpoint at the end of s's body would see, nil when there is none or when
// no scope will catch it (a standard context cancelled by its own cancel
// func). Deadlines that have passed count, as at exit. A nursery's exit is
// such a checkpoint, as in Trio.
func (s *Scope) outerCancellation() error {
	s.mu.Lock()
	shield, parent := s.shield, s.parent()
	s.mu.Unlock()
	if shield {
		return nil
	}
	if parent.Err() == nil {
		d, ok := parent.Deadline()
		if !ok || time.Now().Before(d) {
			return nil
		}
		expireEnclosing(parent)
		if parent.Err() == nil {
			return nil
		}
	}
	cause := context.Cause(parent)
	var c *Cancelled
	if errors.As(cause, &c) && c.Source != sourceExit {
		return cause
	}
	return nil
}

func (s *Scope) fireLocked() {
	if !s.cancelCalled {
		s.cancelCalled = true
		s.ownCause = &Cancelled{Source: SourceDeadline, Reason: "deadline exceeded", Scope: s}
	}
	s.deliverLocked(s.ownCause)
}

// Shielded reports whether the scope is shielded.
func (s *Scope) Shielded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shield
}

// SetShield switches shielding on or off while the scope runs. A shield blocks
// cancellation from enclosing scopes only: the scope's own Cancel and deadline
// and scopes inside it still cancel. Turning the shield off while an enclosing
// scope is cancelled cancels the body at once. Go cannot reopen a closed Done
// channel, so turning the shield on after an enclosing cancellation has
// already reached this scope does not un-cancel it.
func (s *Scope) SetShield(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shield = on
	if on || s.state != stateRunning {
		return
	}
	if parent := s.parent(); parent.Err() != nil {
		s.deliverLocked(context.Cause(parent))
	}
}

// attach registers the scope with its parent context. It links the scope to
// the enclosing scope, which tells it synchronously of its cancellation (B1:
// the next checkpoint sees it, even through standard contexts in between, as
// package context cancels those synchronously too). When something else
// cancellable stands between them, context.AfterFunc watches the parent as
// well. A parent already cancelled cancels the scope at once.
func (s *Scope) attach(parent context.Context) {
	done := parent.Done()
	if done == nil {
		return
	}
	if ps := Current(parent); ps != nil {
		direct := ps.ctx.Done() == done
		ps.mu.Lock()
		if !ps.delivered && ps.state == stateRunning {
			s.mu.Lock()
			s.parentScope = ps
			s.next = ps.children
			if ps.children != nil {
				ps.children.prev = s
			}
			ps.children = s
			s.mu.Unlock()
			ps.mu.Unlock()
			if direct {
				return
			}
		} else {
			ps.mu.Unlock()
		}
	}
	if parent.Err() != nil {
		s.parentCancelled()
		return
	}
	stop := context.AfterFunc(parent, s.parentCancelled)
	s.mu.Lock()
	if s.state == stateRunning {
		s.stopAfter = stop
		stop = nil
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (ps *Scope) removeChild(s *Scope) {
	ps.mu.Lock()
	if s.prev != nil {
		s.prev.next = s.next
	} else if ps.children == s {
		ps.children = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.prev, s.next = nil, nil
	ps.mu.Unlock()
}

// reparent moves a running scope under a new parent context.
func (s *Scope) reparent(parent context.Context) {
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		return
	}
	ps, stop := s.parentScope, s.stopAfter
	s.parentScope, s.stopAfter = nil, nil
	// A cancellation the old parent delivered stays (Go cannot reopen a
	// Done channel), but no scope around the new parent will catch it:
	// from now on it counts as this scope's own.
	if s.delivered && !s.cancelCalled {
		s.orphaned = true
	}
	s.gate.moved.Store(&parentRef{ctx: parent})
	s.mu.Unlock()
	if ps != nil {
		ps.removeChild(s)
	}
	if stop != nil {
		stop()
	}
	s.attach(parent)
}

// Current returns the innermost scope whose Run context ctx is or derives
// from, or nil.
func Current(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

func checkDuration(d time.Duration) {
	if d < 0 {
		panic("cancel: negative timeout " + d.String())
	}
}

func init() {
	scopehook.CancelFrom = func(scope any, src uint8, reason string) {
		scope.(*Scope).cancelFrom(Source(src), reason)
	}
	scopehook.Reparent = func(scope any, parent context.Context) {
		scope.(*Scope).reparent(parent)
	}
	scopehook.NewNurseryScope = func() any { return &Scope{nursery: true} }
	scopehook.OuterCancellation = func(scope any) error {
		return scope.(*Scope).outerCancellation()
	}
	scopehook.Watch = watch
	scopehook.Context = func(scope any) context.Context { return &scope.(*Scope).ctx }
}

// A watcher is a function registered by watch in a scope's list.
type watcher struct {
	f          func()
	prev, next *watcher
	linked     bool
}

// watch is context.AfterFunc(ctx, f) for a scope's context: f is called in
// a goroutine of its own once ctx is cancelled, and stop stops that,
// reporting whether it did. When ctx is a running scope's context, or
// reaches one through value layers only, f is linked into that scope's list
// instead of registered with package context, which would make a children
// map in the scope's cancel context and keep it, empty, for as long as the
// scope runs (~250 B, and an afterFuncCtx of ~120 B per watch). Any other
// context is watched with context.AfterFunc.
func watch(ctx context.Context, f func()) (stop func() bool) {
	s := Current(ctx)
	if s == nil {
		return context.AfterFunc(ctx, f)
	}
	if pc, ok := ctx.(*scopeCtx); !ok || pc.s != s {
		if s.ctx.Done() != ctx.Done() {
			return context.AfterFunc(ctx, f)
		}
	}
	w := &watcher{f: f}
	s.mu.Lock()
	if s.delivered {
		s.mu.Unlock()
		time.AfterFunc(0, f)
		return func() bool { return false }
	}
	w.linked = true
	w.next = s.watchers
	if s.watchers != nil {
		s.watchers.prev = w
	}
	s.watchers = w
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !w.linked {
			return false
		}
		w.linked = false
		if w.prev != nil {
			w.prev.next = w.next
		} else {
			s.watchers = w.next
		}
		if w.next != nil {
			w.next.prev = w.prev
		}
		w.prev, w.next = nil, nil
		return true
	}
}

// gate is the parent of a scope's inner cancel context. It passes values and
// deadlines through from the real parent but never cancels by itself: the
// scope decides when parent cancellation gets through (shields). Its nil Done
// tells package context that nothing is to be watched, so building the inner
// context registers nothing and starts no goroutine.
type gate struct {
	first context.Context           // the parent given to Run; written before the gate is shared
	moved atomic.Pointer[parentRef] // set by reparent
}

type parentRef struct{ ctx context.Context }

// parent is the context the scope runs under (valid once Run has entered).
func (s *Scope) parent() context.Context { return s.gate.current() }

func (g *gate) current() context.Context {
	if m := g.moved.Load(); m != nil {
		return m.ctx
	}
	return g.first
}

func (g *gate) Deadline() (time.Time, bool) { return g.current().Deadline() }
func (g *gate) Done() <-chan struct{}       { return nil }
func (g *gate) Err() error                  { return nil }
func (g *gate) Value(key any) any           { return g.current().Value(key) }
func (g *gate) String() string              { return "cancel.gate" }

type scopeKey struct{}

// scopeCtx is a scope's context: the inner standard cancel context, with the
// effective deadline and the scope itself visible through it.
type scopeCtx struct {
	context.Context
	s *Scope
}

func (c *scopeCtx) Deadline() (time.Time, bool) { return c.s.effectiveDeadline() }

func (c *scopeCtx) Value(key any) any {
	if key == (scopeKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

func (c *scopeCtx) String() string { return "cancel.Scope" }

// effectiveDeadline is the earliest deadline along the chain of enclosing
// scopes up to the first shield.
func (s *Scope) effectiveDeadline() (time.Time, bool) {
	s.mu.Lock()
	d, ok, shield := s.deadline, s.hasDeadline, s.shield
	parent := s.parent()
	s.mu.Unlock()
	if shield {
		return d, ok
	}
	pd, pok := parent.Deadline()
	if pok && (!ok || pd.Before(d)) {
		return pd, true
	}
	return d, ok
}
