package wsock

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/internal/nurseryhook"
	"github.com/gotrio/gotrio/internal/scopehook"
	"github.com/gotrio/gotrio/nursery"
)

// The read turn: exactly one party reads the socket at a time, the reader task or a
// goroutine blocked in Receive, and whoever holds the turn continues from where the last
// holder stopped (readState).
//
// On a connection over a TCP or unix socket, a Receive that finds nothing queued, no Reader waiting and the connection
// open takes the turn and reads in its own goroutine until it has decoded one whole
// message for itself, answering pings and pongs on the way; then it gives the turn back.
// If the reader task holds the turn, the Receive asks for it: the task's wait for data is
// interrupted (deadlines.interruptRead) and the task returns, its goroutine gone, handing
// the turn over. So an idle connection whose handler waits in Receive is one goroutine,
// and an echo loop reads in the handler's goroutine, with no hand-off per message.
//
// A connection starts with the turn free, as after a Receive: a handler that receives at
// once reads in its own goroutine and the reader task never starts; otherwise it starts
// after readerGrace, or at once when something needs reading (below).
//
// When a Receive gives the turn back, the reader task is started again (in the
// connection's nursery, under the same name) at once if something needs reading now: a
// Receive or a Reader waiting, a Ping waiting for its pong, the connection closing, the
// Receive cancelled; otherwise after readerGrace, unless a Receive has taken the turn
// again by then. Every operation that waits for the read side (Ping, Close, CloseNow, the
// owner's cancellation, Reader) makes sure someone reads. A Receive that meets the end of
// the connection (the peer's Close, EOF, a protocol violation) leaves the rest (answering
// the Close, the closing handshake, the run result) to the reader task.
//
// The connection holds a place in its nursery from its start to its end (see
// startReader), so that the nursery waits for it, and its cancellation closes it, exactly
// as when the reader task lived as long as the connection.
//
// Elsewhere (TLS, net.Pipe, HTTP/2 streams, the streams WrapClient wraps) the reader task
// holds the turn for the connection's whole life: a read there cannot be interrupted by
// a deadline without risk to the stream (a TLS record half read), or at all.

// readerGrace is how long the turn may stay free after a Receive gave it back before the
// reader task is started again: longer than a handler takes between two Receives in an
// echo or request-response loop, short enough that a handler busy elsewhere still has
// its peer's pings answered and its Close processed promptly. The timer is not reset per
// message: when it runs and a Receive has given the turn back since it was set, it waits
// once more, so the task starts between readerGrace and twice that after the last Receive.
const readerGrace = 20 * time.Millisecond

// graceExtra lengthens readerGrace, in nanoseconds: 0, except in tests that end graces
// themselves (setReaderGrace).
var graceExtra atomic.Int64

// grace returns how long the turn may stay free: readerGrace, unless a test changed it.
func grace() time.Duration { return readerGrace + time.Duration(graceExtra.Load()) }

// slowProbe is how many messages, once they came slower than readerGrace, the grace
// timer is stopped for when a Receive takes the turn, before it is left to run again to
// see whether they still do: a timer run that finds a Receive reading costs a goroutine,
// a stop and a reset cost two updates of the timer heap.
const slowProbe = 64

// turnHolder says who holds the read turn.
type turnHolder uint8

const (
	turnFree   turnHolder = iota // nobody reads: the grace period runs
	turnTask                     // the reader task (started, running, or finishing)
	turnCaller                   // a Receive
)

// readTurn is who holds the read turn, and who waits for it.
type readTurn struct {
	hold        nurseryhook.Holder              // the connection's place in its nursery; nil: run alone
	task        func(ctx context.Context) error // the reader task
	callerReads bool                            // a Receive may take the turn

	// Guarded by mu.
	holder   turnHolder
	want     bool  // a Receive asked the task for the turn
	granted  bool  // the task gave it the turn; wake holds a token
	ended    bool  // reading is over: the task finishes the connection
	finished bool  // the connection is finished: no more restarts
	first    bool  // timer is the connection's first grace, not reset since
	armed    bool  // timer is pending
	slow     uint8 // > 0: messages come slower than readerGrace; see receiveTurn
	mu       sync.Mutex
	waiters  int32           // Receives waiting while someone else reads
	releases uint32          // turns given back by a Receive, counted
	mark     uint32          // releases when timer was last armed
	wantCtx  context.Context // the ctx of the Receive that asked
	wake     chan struct{}   // 1-slot: the turn was granted
	timer    *time.Timer     // restarts the task after readerGrace
}

// startReader readies c's reader task, fn, in n, where c holds a place until fn releases
// it (c.turn.hold), once it has finished the connection: so n waits for c, as for a task,
// while the task's goroutine comes and goes. Callers read only on a raw socket, whose
// reads a deadline interrupts without losing data; there the task starts when it is
// needed (see the top of this file), elsewhere at once. It panics with
// nursery.ErrClosed if n has finished, as n.Go does.
func (c *Conn) startReader(n *nursery.Nursery, fn func(ctx context.Context) error) {
	h, ok := nurseryhook.Hold(n)
	if !ok {
		panic(nursery.ErrClosed)
	}
	t := &c.turn
	t.hold, t.task = h, fn
	t.callerReads = rawSocket(c.nc)
	if !t.callerReads {
		t.holder = turnTask
		h.Go(c.String()+" reader", fn)
		return
	}
	// The turn starts free, as after a Receive: a handler that receives at once reads in
	// its own goroutine, and the task starts only if nobody does within readerGrace (or
	// when something needs reading first). Under t.mu, which everything that starts the
	// task takes first, so that the task sees c.awayStop.
	owner := scopehook.Context(n.Scope())
	c.dl.setOwner(owner.Done())
	t.mu.Lock()
	t.holder = turnFree
	c.watchOwner(owner)
	t.timer, t.first, t.armed = time.AfterFunc(grace(), c.graceOver), true, true
	t.mu.Unlock()
}

// rawSocket reports whether nc is a TCP or unix socket.
func rawSocket(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// spawnTask starts the reader task again; the caller has made it the holder.
func (c *Conn) spawnTask() {
	c.turn.hold.Go(c.name+" reader", c.turn.task)
}

// ensureReader makes sure someone reads: it starts the reader task if the turn is free.
func (c *Conn) ensureReader() {
	t := &c.turn
	if !t.callerReads {
		return
	}
	t.mu.Lock()
	if t.holder != turnFree {
		t.mu.Unlock()
		return
	}
	t.holder = turnTask
	t.mu.Unlock()
	c.spawnTask()
}

// wakeReader is ensureReader for a connection that is closing: a Receive that reads is
// interrupted too, so that it hands the turn to the task and returns.
func (c *Conn) wakeReader() {
	t := &c.turn
	if !t.callerReads {
		return
	}
	t.mu.Lock()
	switch t.holder {
	case turnCaller:
		c.dl.interruptRead()
	case turnFree:
		t.holder = turnTask
		t.mu.Unlock()
		c.spawnTask()
		return
	}
	t.mu.Unlock()
}

// yieldToCaller is the reader task's check before it reads: it reports whether it has
// handed the turn to a Receive that asked for it.
func (c *Conn) yieldToCaller() bool {
	t := &c.turn
	if !t.callerReads {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.want || c.cur.st != nil || c.streamWaiters.Load() > 0 || c.isClosing() {
		return false
	}
	if d := t.wantCtx.Done(); d != nil {
		// Here, on the task's stack rather than the Receive's (see receiveTurn).
		c.dl.watch(t.wantCtx, d)
	}
	t.want, t.granted, t.holder, t.wantCtx = false, true, turnCaller, nil
	t.wake <- struct{}{}
	return true
}

// releaseTurn gives the turn back after a Receive read: the task starts at once if now or
// if something needs reading now, else after readerGrace unless a Receive takes the turn.
func (c *Conn) releaseTurn(now bool) {
	t := &c.turn
	t.mu.Lock()
	if now || t.waiters > 0 || c.streamWaiters.Load() > 0 || c.isClosing() || c.pingsWaiting() {
		t.holder = turnTask
		t.mu.Unlock()
		c.spawnTask()
		return
	}
	t.holder = turnFree
	t.releases++
	t.first = false
	switch {
	case t.timer == nil:
		t.timer, t.armed, t.mark = time.AfterFunc(grace(), c.graceOver), true, t.releases
	case !t.armed:
		t.timer.Reset(grace())
		t.armed, t.mark = true, t.releases
	}
	// A pending timer is not reset per message: when it runs, it sees t.releases.
	t.mu.Unlock()
}

// graceOver starts the reader task once readerGrace has passed, if the turn is still free.
// The timer of the connection's first grace is dropped once it has run, unless a Receive
// has reset it since: an idle connection whose handler waits in Receive keeps no timer.
func (c *Conn) graceOver() {
	t := &c.turn
	t.mu.Lock()
	t.armed = false
	if t.first {
		t.timer, t.first = nil, false
	}
	if t.holder == turnCaller && t.releases == t.mark {
		// A Receive gave the turn back once since the timer was armed, and took it
		// again: messages come slower than readerGrace. Stop the timer when a
		// Receive takes the turn, for the next slowProbe messages.
		t.slow = slowProbe
	}
	if t.holder == turnFree && t.releases != t.mark && !t.finished {
		// A Receive gave the turn back less than readerGrace ago: wait for the rest
		// of its grace, at most readerGrace more.
		t.timer.Reset(grace())
		t.armed, t.mark = true, t.releases
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.ensureReader()
}

// endTurn records, for the holder that met the end of reading, that the task finishes the
// connection; a Receive that met it starts the task.
func (c *Conn) endTurn(caller bool) {
	t := &c.turn
	t.mu.Lock()
	t.ended = true
	t.holder = turnTask
	t.mu.Unlock()
	if caller {
		c.spawnTask()
	}
}

// finishTurn records that the connection is finished.
func (c *Conn) finishTurn() {
	t := &c.turn
	t.mu.Lock()
	t.finished = true
	if t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
}

// pingsWaiting reports whether a Ping waits for its pong.
func (c *Conn) pingsWaiting() bool { return c.flags.Load()&flagPings != 0 }

// receiveTurn is Receive on a connection whose callers read, once nothing was queued.
//
// An idle connection waits here, in its handler's goroutine: the frames between Receive
// and the wait for data are kept small (the wait for a grant is receiveWait's; the wait
// for data is a read that receiveHolding makes before readFrames, which reads into a
// pooled buffer only once data has come: see rawReader), so that a handler whose stack
// fits 4 KiB waiting in Receive still fits it reading in Receive.
func (c *Conn) receiveTurn(ctx context.Context) (Message, error) {
	t := &c.turn
	for {
		t.mu.Lock()
		open := c.streamWaiters.Load() == 0 && !c.isClosing() && !t.ended
		wanted := false
		switch {
		case open && t.holder == turnFree:
			t.holder = turnCaller
			if t.slow > 0 && t.armed && t.timer.Stop() {
				// Messages come slower than readerGrace: the timer would run after
				// each one, while a Receive holds the turn, for nothing (a goroutine
				// and often a thread's wake-up each time). Stopped here, it is armed
				// again when the turn is given back. After a number of messages the
				// timer is left to run once more, to see whether they still come
				// slowly (see graceOver).
				t.armed = false
				t.slow--
			}
			t.mu.Unlock()
			if m, err, done := c.receiveHolding(ctx); done {
				return m, err
			}
			continue
		case open && t.holder == turnTask && !t.want && t.waiters == 0:
			t.want, t.wantCtx = true, ctx
			if t.wake == nil {
				t.wake = make(chan struct{}, 1)
			}
			wanted = true
			c.dl.interruptRead()
		default:
			t.waiters++
		}
		t.mu.Unlock()
		m, err, granted := c.receiveWait(ctx, wanted)
		if !granted {
			return m, err
		}
		if m, err, done := c.receiveHolding(ctx); done {
			return m, err
		}
	}
}

// receiveWait waits for a message, the end of reception, or, if wanted, the turn
// (granted true).
//
//go:noinline
func (c *Conn) receiveWait(ctx context.Context, wanted bool) (m Message, err error, granted bool) {
	var wake chan struct{}
	if wanted {
		wake = c.turn.wake
	}
	select {
	case m := <-c.queue():
		c.leaveWait(wanted)
		return m, nil, false
	case <-wake:
		c.turn.mu.Lock()
		c.turn.granted = false
		c.turn.mu.Unlock()
		return Message{}, nil, true
	case <-c.recvDone.wait():
		c.leaveWait(wanted)
		m, err := c.lastMessage()
		return m, c.closedOrCancelled(ctx, err), false
	case <-c.dropped.wait():
		c.leaveWait(wanted)
		return Message{}, c.closedOrCancelled(ctx, c.closedErr()), false
	case <-ctx.Done():
		c.leaveWait(wanted)
		return Message{}, ctx.Err(), false
	}
}

// leaveWait ends a Receive's wait: wanted says whether it had asked for the turn, which
// it gives back if it was granted meanwhile.
func (c *Conn) leaveWait(wanted bool) {
	t := &c.turn
	t.mu.Lock()
	if !wanted {
		t.waiters--
		t.mu.Unlock()
		return
	}
	t.want, t.wantCtx = false, nil
	if !t.granted {
		t.mu.Unlock()
		return
	}
	t.granted = false
	<-t.wake
	t.mu.Unlock()
	c.releaseTurn(true)
}

// receiveHolding reads, holding the turn, until a message is decoded for this Receive.
// done false means the Receive is to wait as any other: the connection is closing or
// ended, and the task has the turn.
func (c *Conn) receiveHolding(ctx context.Context) (m Message, err error, done bool) {
	// What the task queued before it gave the turn up comes first. Holding the turn, this
	// Receive knows that nothing is queued meanwhile: if the queue is empty, it stays so
	// until the task runs again, and Receive need not look (flagQueued).
	if c.flags.Load()&flagQueued != 0 {
		select {
		case m := <-c.queued():
			c.releaseTurn(false)
			return m, nil, true
		default:
			c.flags.And(^uint32(flagQueued))
		}
	}
	d := ctx.Done()
	if d != nil {
		c.dl.beginRead(ctx, d)
		if err := ctx.Err(); err != nil {
			// Cancelled before beginRead: its watch may have looked for this read
			// before it was registered, and no interruption would end the wait.
			c.dl.endRead()
			c.releaseTurn(true)
			return Message{}, err, true
		}
	}
	if c.idle() {
		// The wait for data, with few frames on the stack (see readFrames).
		c.readOnce()
		if c.rs.rerr != nil && c.dl.takeInterrupt(c.rs.rerr) {
			c.rs.rerr = nil // interrupted: readFrames looks at why
		}
	}
	c.rs.caller = true
	stop := c.readFrames(ctx, true)
	c.rs.caller = false
	if d != nil {
		c.dl.endRead()
	}
	switch stop {
	case stopMessage:
		m := c.got
		c.got, c.gotOK = Message{}, false
		c.releaseTurn(false)
		return m, nil, true
	case stopEnded:
		c.endTurn(true)
		return Message{}, nil, false
	}
	c.releaseTurn(true)
	if err := ctx.Err(); err != nil {
		return Message{}, err, true
	}
	return Message{}, nil, false
}
