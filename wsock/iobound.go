package wsock

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/internal/scopehook"
)

// ioBound bounds a server's opening-handshake I/O on a socket with the socket's own
// deadlines: ConnectTimeout from now, and the cancellation of up to two contexts (the
// handler's and the connection's nursery's), which sets them in the past. It costs a few
// small objects, where a cancel scope with a timer and a context.AfterFunc per bound cost
// about 1.5 KB of garbage per connection.
type ioBound struct {
	nc      net.Conn
	timeout bool           // a deadline was set
	fired   atomic.Bool    // a context's cancellation interrupted the I/O
	wg      sync.WaitGroup // the callbacks that may still run
	stops   [2]func() bool
}

// bindIO bounds nc's I/O by d (0: no deadline) and the cancellation of ctxs (nil ones
// and repeats of the same cancellation are skipped).
func bindIO(nc net.Conn, d time.Duration, ctxs ...context.Context) *ioBound {
	b := &ioBound{nc: nc}
	if d > 0 {
		b.timeout = true
		_ = nc.SetDeadline(time.Now().Add(d))
	}
	var seen <-chan struct{}
	for i, ctx := range ctxs[:min(len(ctxs), len(b.stops))] {
		if ctx == nil {
			continue
		}
		done := ctx.Done()
		if done == nil || done == seen {
			continue
		}
		seen = done
		b.wg.Add(1)
		b.stops[i] = scopehook.Watch(ctx, b.interrupt)
	}
	return b
}

// interrupt makes the bounded I/O fail at once.
func (b *ioBound) interrupt() {
	defer b.wg.Done()
	b.fired.Store(true)
	_ = b.nc.SetDeadline(pastTime)
}

// release ends the bound, once no callback runs any more, and clears nc's deadlines. It
// reports whether a context's cancellation interrupted the I/O.
func (b *ioBound) release() (interrupted bool) {
	for _, stop := range b.stops {
		if stop != nil && stop() {
			b.wg.Done()
		}
	}
	b.wg.Wait()
	_ = b.nc.SetDeadline(time.Time{})
	return b.fired.Load()
}

// expired reports whether err is the deadline of the bound passing (when release
// reported no interruption).
func (b *ioBound) expired(err error) bool {
	return b.timeout && errors.Is(err, os.ErrDeadlineExceeded)
}
