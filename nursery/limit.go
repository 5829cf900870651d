package nursery

import (
	"context"

	"github.com/gotrio/gotrio/cancel"
)

// limiter bounds how many tasks hold one of its slots at once: a task holds
// a slot while it runs, as a token in the channel.
type limiter struct {
	slots chan struct{}
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
	if n.state.Load()&(joining-1) != 0 {
		panic("nursery: SetLimit while tasks are running")
	}
	if k < 0 {
		n.limit.Store(nil)
		return
	}
	n.limit.Store(&limiter{slots: make(chan struct{}, k)})
}

// acquire takes a limit slot for a task started with Go, waiting while all
// are taken, and returns it (nil without a limit). Once n is cancelled it
// stops waiting and returns nil: the task runs beyond the limit.
func (n *Nursery) acquire() chan struct{} {
	l := n.limit.Load()
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return l.slots
	default:
	}
	select {
	case l.slots <- struct{}{}:
		return l.slots
	case <-n.ctx.Done():
		return nil
	}
}

// acquireFor is acquire for Start, which also stops waiting, with the
// cancellation error, when the caller's ctx is cancelled.
func (n *Nursery) acquireFor(ctx context.Context) (chan struct{}, error) {
	l := n.limit.Load()
	if l == nil {
		return nil, nil
	}
	select {
	case l.slots <- struct{}{}:
		return l.slots, nil
	default:
	}
	select {
	case l.slots <- struct{}{}:
		return l.slots, nil
	case <-n.ctx.Done():
		return nil, nil
	case <-ctx.Done():
		return nil, cancel.Checkpoint(ctx)
	}
}
