package nursery

import (
	"context"
	"strconv"
	"sync/atomic"

	"github.com/gotrio/gotrio/cancel"
)

// A Limiter bounds how many tasks run at once across every nursery that
// uses it (SetLimiter), like a Trio CapacityLimiter shared by several
// nurseries: for example the fetches of a crawler whose pages each open a
// nursery. A Limiter is safe for concurrent use.
type Limiter struct {
	// A task that got a place holds a token in slots; a task let in
	// beyond the limit because its nursery was cancelled counts in
	// overflow instead. Tasks are not told apart when they end: each gives
	// back an overflow count if there is one, a token otherwise, so that
	// running tasks = tokens + overflow always holds and no task needs to
	// remember how it got in (which keeps the goroutine of a task, limited
	// or not, as small as without limits).
	slots    chan struct{}
	overflow atomic.Int64
}

// NewLimiter returns a Limiter with k places. It panics if k < 1.
func NewLimiter(k int) *Limiter {
	if k < 1 {
		panic("nursery: NewLimiter(" + strconv.Itoa(k) + "): a limit needs at least one place")
	}
	return &Limiter{slots: make(chan struct{}, k)}
}

func (l *Limiter) release() {
	for {
		o := l.overflow.Load()
		if o == 0 {
			<-l.slots
			return
		}
		if l.overflow.CompareAndSwap(o, o-1) {
			return
		}
	}
}

// SetLimit bounds the number of tasks of n that run at once to k (like
// errgroup's SetLimit and Trio's CapacityLimiter); a negative k removes the
// bound, which is the default. Once k tasks run, Go and GoNamed wait until
// one of them returns, which keeps a loop of Go calls from starting more
// goroutines than the limit; Start waits too, and a task started by Start
// holds its place until it returns, before and after Started.
//
// Cancellation ends the wait: once n is cancelled, a waiting Go starts its
// task at once, beyond the limit, with a done context (as Go on a cancelled
// nursery does), so that a cancelled nursery drains instead of deadlocking
// when its tasks themselves wait in Go. A Start whose caller's ctx is
// cancelled while it waits returns that cancellation without running its
// function. Tasks that call Go on their own nursery while every place is
// taken by such tasks wait until the nursery is cancelled.
//
// SetLimit must be called before n has tasks (typically first thing in
// Run's body); it panics if tasks are running or if k is 0, which would
// make every Go wait forever.
func (n *Nursery) SetLimit(k int) {
	if k == 0 {
		panic("nursery: SetLimit(0) would block every task")
	}
	var l *Limiter
	if k > 0 {
		l = NewLimiter(k)
	}
	n.setLimiter("SetLimit", l)
}

// SetLimiter makes n's tasks take their places from l, which other
// nurseries may share; nil removes the limit. It works as SetLimit, with
// the places counted across every nursery using l, and like SetLimit it
// panics if n has tasks running.
func (n *Nursery) SetLimiter(l *Limiter) { n.setLimiter("SetLimiter", l) }

func (n *Nursery) setLimiter(verb string, l *Limiter) {
	if n.state.Load()&(joining-1) != 0 {
		panic("nursery: " + verb + " while tasks are running")
	}
	n.limit.Store(l)
}

// acquire takes a place for a task started with Go, waiting while all are
// taken. Once n is cancelled it stops waiting and lets the task in beyond
// the limit.
func (n *Nursery) acquire() {
	l := n.limit.Load()
	if l == nil {
		return
	}
	select {
	case l.slots <- struct{}{}:
		return
	default:
	}
	select {
	case l.slots <- struct{}{}:
	case <-n.ctx().Done():
		l.overflow.Add(1)
	}
}

// acquireFor is acquire for Start, which also stops waiting, with the
// cancellation error and without a place, when the caller's ctx is
// cancelled.
func (n *Nursery) acquireFor(ctx context.Context) error {
	l := n.limit.Load()
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.slots <- struct{}{}:
	case <-n.ctx().Done():
		l.overflow.Add(1)
	case <-ctx.Done():
		return cancel.Checkpoint(ctx)
	}
	return nil
}
