package ignoredctx

import (
	"context"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

const d = time.Second

// Flagged: the body never looks at its ctx and blocks.

func sleeps(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			time.Sleep(d) // want `task body never uses its ctx and blocks in time.Sleep: cancellation cannot stop it; use cancel.Sleep\(ctx, d\)`
			return nil
		})
		n.Go(func(context.Context) error {
			for i := 0; i < 3; i++ {
				time.Sleep(time.Duration(i) * time.Millisecond) // want `blocks in time.Sleep`
			}
			return nil
		})
		n.GoNamed("blank", func(_ context.Context) error {
			time.Sleep(d) // want `blocks in time.Sleep`
			return nil
		})
		_, err := nursery.Start(ctx, n, func(context.Context, nursery.TaskStatus[int]) error {
			time.Sleep(d) // want `blocks in time.Sleep`
			return nil
		})
		return err
	})
}

func sleepsWhereTheFixWouldNotCompile(ctx context.Context) error {
	_, err := cancel.MoveOnAfter(ctx, d, func(context.Context) error {
		stop, cancel := context.WithCancel(context.Background())
		defer cancel()
		_ = stop
		// The local cancel shadows the package: no fix.
		time.Sleep(d) // want `blocks in time.Sleep`
		return nil
	})
	return err
}

func receives(ctx context.Context, ch chan int) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			<-ch      // want `blocks on a channel receive: cancellation cannot stop it; select on it together with <-ctx.Done\(\)`
			v := <-ch // want `blocks on a channel receive`
			ch <- v   // want `blocks on a channel send`
			return nil
		})
		n.Go(func(ctx context.Context) error {
			select {} // want `blocks in a select: cancellation cannot stop it; add a case <-ctx.Done\(\)`
		})
		n.Go(func(ctx context.Context) error {
			select { // want `blocks in a select`
			case v := <-ch:
				ch <- v // want `blocks on a channel send`
			case ch <- 1:
			}
			return nil
		})
		return nil
	})
}

func handlers(ctx context.Context, done chan struct{}) error {
	h := wsock.Handler(func(ctx context.Context, r *wsock.Request) error {
		<-done // want `blocks on a channel receive`
		return nil
	})
	_ = h
	return wsock.Serve(ctx, "localhost:0", func(ctx context.Context, r *wsock.Request) error {
		<-done // want `blocks on a channel receive`
		return nil
	}, nil)
}

func scopes(ctx context.Context) error {
	return cancel.New().Run(ctx, func(ctx context.Context) error {
		time.Sleep(d) // want `blocks in time.Sleep`
		return nil
	})
}

// Accepted.

func usesCtx(ctx context.Context, ch chan int) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error { return cancel.Sleep(ctx, d) })
		n.Go(func(ctx context.Context) error {
			select {
			case <-ch:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		n.Go(func(ctx context.Context) error {
			time.Sleep(d) // ctx is used below, so the author has thought about cancellation
			return cancel.Sleep(ctx, d)
		})
		n.Go(func(ctx context.Context) error {
			check := func() error { return ctx.Err() } // a use in a nested literal counts
			<-ch
			return check()
		})
		return nil
	})
}

func doesNotBlock(ctx context.Context, ch chan int) error {
	return nursery.Run(ctx, func(_ context.Context, n *nursery.Nursery) error {
		n.Go(func(context.Context) error {
			select {
			case v := <-ch:
				_ = v
			default:
			}
			for v := range ch { // closing ch ends the loop
				_ = v
			}
			return nil
		})
		return nil
	})
}

func notATaskBody(ch chan int) {
	run := func(f func(ctx context.Context) error) { _ = f(context.Background()) }
	run(func(ctx context.Context) error {
		time.Sleep(d)
		<-ch
		return nil
	})
}
