package wsock

import (
	"context"
	"errors"
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
		err := cancel.FailAfter(ctx, ka.Timeout, func(ctx context.Context) error {
			return c.Ping(ctx, nil)
		})
		if errors.Is(err, cancel.ErrTooSlow) {
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
