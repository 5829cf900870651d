package ignoredctx

import (
	"context"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// A task body held by a variable that is set once is checked where it is written.
func taskInAVariable(n *nursery.Nursery) {
	task := func(ctx context.Context) error {
		time.Sleep(d) // want `blocks in time.Sleep`
		return nil
	}
	n.Go(task)
	n.Go(task) // checked once
}

// A variable set twice may hold anything when it is passed: not followed.
func taskInAVariableSetTwice(n *nursery.Nursery, other func(ctx context.Context) error) {
	task := func(ctx context.Context) error {
		time.Sleep(d)
		return nil
	}
	task = other
	n.Go(task)
	_ = cancel.Sleep
}
