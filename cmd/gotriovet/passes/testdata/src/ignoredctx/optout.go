package ignoredctx

import (
	"context"
	"time"

	"github.com/gotrio/gotrio/nursery"
)

func optedOut(n *nursery.Nursery, ch chan int) {
	n.Go(func(ctx context.Context) error {
		//gotrio:ignoredctx the hardware needs this pause and it is short
		time.Sleep(time.Millisecond)
		<-ch //gotrio:ignoredctx the producer always sends exactly once
		//gotrio:ignoredctx
		ch <- 1 // want `//gotrio:ignoredctx needs a reason`
		return nil
	})
	//gotrio:ignoredctx nothing blocks here // want `//gotrio:ignoredctx allows nothing here`
	n.Go(func(ctx context.Context) error { return nil })
}

// A task body declared as a function is checked too.
func worker(ctx context.Context) error {
	time.Sleep(time.Millisecond) //gotrio:ignoredctx a named body is checked like a literal
	return nil
}

func (s sleeper) run(_ context.Context) error {
	//gotrio:ignoredctx a method value is checked like a literal
	time.Sleep(time.Millisecond)
	return nil
}

type sleeper struct{}

func namedBodies(n *nursery.Nursery) {
	n.Go(worker)
	n.Go(sleeper{}.run)
	n.Go(worker) // checked once
}
