package wsock

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// BroadcastOptions tune Broadcast; nil means defaults.
type BroadcastOptions struct {
	// SendTimeout bounds each connection's send: a connection whose send has not
	// completed after SendTimeout (waiting for its turn to write, or blocked in the
	// kernel behind a peer that does not read) fails with an error matching
	// cancel.ErrTooSlow, and Broadcast moves on. A send cut off after part of its frame
	// went out fails the connection, as a cancelled Send does. Each bounded send costs a
	// cancel scope and its timer (a few allocations per recipient). Default 0: sends are
	// bounded by ctx alone, and cost no allocation.
	SendTimeout time.Duration
}

// broadcastInline is the largest number of connections Broadcast sends to in the
// caller's goroutine, without workers: below it, starting tasks costs more than the
// sends (~10 µs each on loopback) they would spread.
const broadcastInline = 64

// Broadcast sends pm to every connection of conns, as SendPrepared(ctx, pm) on each, and
// returns when every send has completed or failed, or ctx is done.
//
// Up to 64 connections are sent to in the caller's goroutine, one after the other. More
// are spread over workers, tasks of a nursery that Broadcast joins before it returns: up
// to GOMAXPROCS of them (at least 2), each taking the next connection not yet taken, so
// a slow connection holds one worker while the others carry on through the rest. A send
// waits as SendPrepared does (for the connection's turn to write, then for the kernel to
// take the frame); ctx bounds every send, and opts.SendTimeout each one, so that a peer
// that stops reading cannot stall the broadcast forever. Inline, a slow connection
// delays the ones after it by up to that bound.
//
// A connection that is closed, or whose send fails, is skipped: the others are still sent
// to, and Broadcast returns a *BroadcastError listing every failed connection with its
// error. When ctx is done, the connections not yet sent to are not, sends in progress are
// interrupted, and Broadcast returns ctx.Err() (joined with the *BroadcastError when
// connections failed before); the sends that ctx interrupted are not listed.
//
// Each connection's messages keep their order: Broadcast's send comes after the sends
// that returned before Broadcast was called, and before those made after it returns.
//
// Broadcast allocates nothing per connection (beyond a constant per call) unless a send
// fails or opts.SendTimeout is set, provided successive calls pass the same ctx: a
// connection watches the ctx of its writes, and watching a new one costs an allocation.
// It panics if pm or a connection is nil.
func Broadcast(ctx context.Context, pm *PreparedMessage, conns []*Conn, opts *BroadcastOptions) error {
	if pm == nil {
		panic("wsock: Broadcast with a nil *PreparedMessage")
	}
	return broadcastTo(ctx, &broadcast{pm: pm, conns: conns}, opts)
}

// BroadcastBatch sends the messages of pb to every connection of conns, as
// SendBatch(ctx, pb) on each, as Broadcast sends one message: the same workers, ordering,
// bounds and errors. A room whose messages come faster than it can send them to all
// its connections can broadcast, after each round, everything that came meanwhile as
// one batch: each server connection then takes one write per round instead of one per
// message. It panics if pb or a connection is nil.
func BroadcastBatch(ctx context.Context, pb *PreparedBatch, conns []*Conn, opts *BroadcastOptions) error {
	if pb == nil {
		panic("wsock: BroadcastBatch with a nil *PreparedBatch")
	}
	return broadcastTo(ctx, &broadcast{pb: pb, conns: conns}, opts)
}

// broadcastTo runs b.
func broadcastTo(ctx context.Context, b *broadcast, opts *BroadcastOptions) error {
	if opts != nil {
		b.timeout = opts.SendTimeout
	}
	workers := broadcastWorkers(len(b.conns))
	if workers == 0 {
		b.work(ctx, ctx)
	} else {
		err := nursery.Run(ctx, func(nctx context.Context, n *nursery.Nursery) error {
			for range workers - 1 {
				n.GoNamed("wsock.Broadcast worker", func(wctx context.Context) error {
					b.work(ctx, wctx)
					return nil
				})
			}
			b.work(ctx, nctx)
			return nil
		})
		if err != nil {
			return err // the workers return nil: this is the nursery's own failure
		}
	}
	return b.result(ctx)
}

// broadcastWorkers returns how many workers Broadcast spreads n connections over, 0 to
// send inline. A send blocked in the kernel parks its worker without using a CPU, which
// is why there are at least 2 even with GOMAXPROCS=1.
func broadcastWorkers(n int) int {
	if n <= broadcastInline {
		return 0
	}
	return min(max(runtime.GOMAXPROCS(0), 2), (n+broadcastInline-1)/broadcastInline)
}

// broadcast is one call of Broadcast.
type broadcast struct {
	pm      *PreparedMessage // the message; nil: pb
	pb      *PreparedBatch
	conns   []*Conn
	timeout time.Duration
	next    atomic.Int64 // index of the next connection to take
	cut     atomic.Bool  // ctx interrupted a send

	mu     sync.Mutex
	failed []SendFailure
	index  []int // index in conns of each failure
}

// work sends to the connections not yet taken until none is left or wctx, the worker's
// task context, is done. Sends use ctx, the caller's: its Done channel is the same in
// every call, so connections keep their watch of it and sending costs no allocation.
func (b *broadcast) work(ctx, wctx context.Context) {
	for wctx.Err() == nil {
		i := int(b.next.Add(1) - 1)
		if i >= len(b.conns) {
			return
		}
		b.send(ctx, i)
	}
}

// send sends to conns[i] and records its failure, if any.
func (b *broadcast) send(ctx context.Context, i int) {
	c := b.conns[i]
	if c == nil {
		panic("wsock: Broadcast to a nil *Conn")
	}
	var err error
	if b.timeout > 0 {
		err = cancel.FailAfter(ctx, b.timeout, func(ctx context.Context) error {
			return b.sendTo(ctx, c)
		})
	} else {
		err = b.sendTo(ctx, c)
	}
	if err == nil {
		return
	}
	if ctx.Err() != nil && cancel.IsCancellation(err) && !errors.Is(err, cancel.ErrTooSlow) {
		b.cut.Store(true)
		return
	}
	b.mu.Lock()
	b.failed = append(b.failed, SendFailure{Conn: c, Err: err})
	b.index = append(b.index, i)
	b.mu.Unlock()
}

// sendTo sends the broadcast's message or batch to c.
func (b *broadcast) sendTo(ctx context.Context, c *Conn) error {
	if b.pm != nil {
		return c.SendPrepared(ctx, b.pm)
	}
	return c.SendBatch(ctx, b.pb)
}

// result is what Broadcast returns once every worker has returned.
func (b *broadcast) result(ctx context.Context) error {
	var berr error
	if len(b.failed) > 0 {
		// Workers record failures as they happen; report them in the order of conns.
		order := make([]int, len(b.failed))
		for k := range order {
			order[k] = k
		}
		slices.SortFunc(order, func(x, y int) int { return cmp.Compare(b.index[x], b.index[y]) })
		failed := make([]SendFailure, len(order))
		for k, o := range order {
			failed[k] = b.failed[o]
		}
		berr = &BroadcastError{Failed: failed}
	}
	var ctxErr error
	if b.cut.Load() || b.next.Load() < int64(len(b.conns)) {
		ctxErr = ctx.Err() // ctx ended the broadcast early
	}
	switch {
	case ctxErr == nil:
		return berr
	case berr == nil:
		return ctxErr
	default:
		return errors.Join(ctxErr, berr)
	}
}

// A BroadcastError reports the connections a Broadcast could not send to, in the order
// they were given. It unwraps to their errors: errors.Is(err, ErrClosed) holds when one
// of them was closed, errors.As finds a *ClosedError.
type BroadcastError struct {
	Failed []SendFailure
}

// SendFailure is one connection a Broadcast could not send to, and why.
type SendFailure struct {
	Conn *Conn
	Err  error
}

func (e *BroadcastError) Error() string {
	var sb strings.Builder
	sb.WriteString("wsock: broadcast: ")
	for k, f := range e.Failed {
		if k > 0 {
			sb.WriteString("; ")
		}
		sb.WriteString("send to ")
		sb.WriteString(f.Conn.String())
		sb.WriteString(": ")
		sb.WriteString(f.Err.Error())
	}
	return sb.String()
}

// Unwrap returns the failed connections' errors.
func (e *BroadcastError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for k, f := range e.Failed {
		errs[k] = f.Err
	}
	return errs
}
