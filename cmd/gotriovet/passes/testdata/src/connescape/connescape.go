package connescape

import (
	"context"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

var last *wsock.Conn

type client struct{ conn *wsock.Conn }

func echo(ctx context.Context, c *wsock.Conn) error {
	m, err := c.Receive(ctx)
	if err != nil {
		return err
	}
	return c.SendText(ctx, string(m.Data))
}

// Flagged.

func keptInGlobal(ctx context.Context) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		last = c // want `\*wsock.Conn escapes its block: stored in package-level variable last`
		return nil
	})
}

func keptInField(ctx context.Context, cl *client) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		cl.conn = c // want `stored in a field of a value from outside the callback`
		return nil
	})
}

func sentOnChannel(ctx context.Context, conns chan<- *wsock.Conn) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		conns <- c // want `sent on a channel`
		return nil
	})
}

func readByAGoroutine(ctx context.Context) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		go func() { _, _ = c.Receive(ctx) }() // want `captured by a go statement`
		return nil
	})
}

func readByATaskOfAnOuterNursery(ctx context.Context, n *nursery.Nursery) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		n.Go(func(ctx context.Context) error { return echo(ctx, c) }) // want `captured by a task of a nursery that outlives the callback`
		return nil
	})
}

func acceptedConnKept(ctx context.Context) error {
	return wsock.Serve(ctx, "localhost:0", func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		last = c // want `stored in package-level variable last`
		return nil
	}, nil)
}

type hub struct{ conns []*wsock.Conn }

func (h *hub) handle(ctx context.Context, r *wsock.Request) error {
	c, err := r.Accept(ctx, nil)
	if err != nil {
		return err
	}
	h.conns = append(h.conns, c) // want `stored in a field of a value from outside the callback`
	return echo(ctx, c)
}

// Accepted.

func usedInsideTheBody(ctx context.Context) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		return echo(ctx, c)
	})
}

func readerAndWriterInANurseryInsideTheBody(ctx context.Context) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(func(ctx context.Context) error { return echo(ctx, c) })
			n.Go(func(ctx context.Context) error { return c.SendText(ctx, "hi") })
			return nil
		})
	})
}

func acceptedConnUsedByTheHandler(ctx context.Context) error {
	return wsock.Serve(ctx, "localhost:0", func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		defer c.Close(wsock.NormalClosure, "bye")
		local := &client{conn: c}
		return echo(ctx, local.conn)
	}, nil)
}

// A conn from Connect lives in the caller's nursery, not in a callback.
func connectedConnIsNotFollowed(ctx context.Context, n *nursery.Nursery) error {
	c, err := wsock.Connect(ctx, n, "ws://localhost/", nil)
	last = c
	return err
}

func optedOut(ctx context.Context) error {
	return wsock.Open(ctx, "ws://localhost/", nil, func(ctx context.Context, c *wsock.Conn) error {
		last = c //gotrio:connescape the test sends on c after Open returned to see the error
		return nil
	})
}

func (cl *client) session(ctx context.Context, c *wsock.Conn) error {
	cl.conn = c // want `stored in a field of a value from outside the callback`
	return echo(ctx, c)
}

func namedBody(ctx context.Context, cl *client) error {
	return wsock.Open(ctx, "ws://localhost/", nil, cl.session)
}
