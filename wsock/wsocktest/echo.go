package wsocktest

import (
	"context"

	"github.com/gotrio/gotrio/wsock"
)

// Echo is a Handler that accepts the connection and echoes every message,
// with its type, until the connection closes or ctx is cancelled.
func Echo(ctx context.Context, r *wsock.Request) error {
	c, err := r.Accept(ctx, nil)
	if err != nil {
		return err
	}
	return EchoConn(ctx, c)
}

// EchoConn sends every message received on c back on c, with its type,
// until c closes or ctx is cancelled; the end of the connection is not an
// error. It serves either end: as the body of wsock.Open, it is an echo
// client.
func EchoConn(ctx context.Context, c *wsock.Conn) error {
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		if err := c.Send(ctx, m.Type, m.Data); err != nil {
			return nil
		}
	}
}
