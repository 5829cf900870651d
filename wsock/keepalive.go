package wsock

import (
	"context"
	"sync"
	"time"

	"github.com/gotrio/gotrio/cancel"
)

// keepAlive pings c every ka.Interval (counted from the end of the previous
// ping) until c closes or ctx is cancelled. A ping whose pong does not come
// within ka.Timeout means the peer or the path to it is dead, so waiting for
// a closing handshake would be pointless: the connection is aborted at once,
// its socket closed without a Close frame, which is what RFC 6455 calls
// failing the connection. CloseReason is then AbnormalClosure (1006), and
// blocked and later operations fail with a *ClosedError that unwraps to
// ErrKeepAliveTimeout.
//
// The timeout only runs while the reader reads: while it is parked on
// back-pressure (the message queue is full, or a Reader has not consumed its
// chunk), a pong may be waiting unread in the socket, so the wait is paused,
// and it starts again, with a whole ka.Timeout, when the reader resumes (see
// pongWatch). A healthy peer behind a slow handler is thus never failed.
func keepAlive(ctx context.Context, c *Conn, ka KeepAliveOptions) {
	t := time.NewTimer(ka.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done():
			return
		case <-t.C:
		}
		s := cancel.New(cancel.WithTimeout(ka.Timeout))
		err := s.Run(ctx, func(ctx context.Context) error {
			c.pongs.watch(s, ka.Timeout)
			defer c.pongs.watch(nil, 0)
			return c.Ping(ctx, nil)
		})
		if s.CancelledCaught() {
			c.logger.Debug("wsock: keepalive timeout", "conn", c.String(), "timeout", ka.Timeout)
			c.abort(ErrKeepAliveTimeout, true)
			return
		}
		if err != nil { // closed, or ctx cancelled
			return
		}
		t.Reset(ka.Interval)
	}
}

// pongWatch pauses keep-alive's wait for a pong while the reader is parked.
type pongWatch struct {
	mu      sync.Mutex
	scope   *cancel.Scope // the wait for a pong in progress, nil if none
	timeout time.Duration // its timeout
	parked  bool          // the reader waits for room, reading nothing
}

// watch registers s, the running scope of a wait for a pong that times out
// after timeout (nil: the wait is over); it starts paused if the reader is
// parked.
func (w *pongWatch) watch(s *cancel.Scope, timeout time.Duration) {
	w.mu.Lock()
	w.scope, w.timeout = s, timeout
	if s != nil && w.parked {
		s.SetDeadline(time.Time{})
	}
	w.mu.Unlock()
}

// park records that the reader stops reading (on) or resumes (off): the
// wait for a pong is paused, or given a whole timeout again from now.
func (w *pongWatch) park(on bool) {
	w.mu.Lock()
	w.parked = on
	if w.scope != nil {
		if on {
			w.scope.SetDeadline(time.Time{})
		} else {
			w.scope.SetTimeout(w.timeout)
		}
	}
	w.mu.Unlock()
}
