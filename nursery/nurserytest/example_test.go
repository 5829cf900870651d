package nurserytest_test

import (
	"context"
	"errors"
	"fmt"
	"path"

	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/nursery/nurserytest"
)

// A task that starts a goroutine with a bare go statement leaks it: the
// nursery joins its tasks, not what they start behind its back. The leaked
// goroutine carries the task path of the task that started it. goleak's
// options pass through: IgnoreCurrent leaves out the goroutines that were
// there before (here, the one that captures the example's output).
func ExampleFind() {
	before := goleak.IgnoreCurrent()
	release := make(chan struct{})
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("server", func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.GoNamed("conn 3", func(ctx context.Context) error {
					go func() { <-release }() //gotrio:go the example leaks it to show the report; close(release) ends it
					return nil
				})
				return nil
			})
		})
		return nil
	})

	var leak *nurserytest.LeakError
	if errors.As(nurserytest.Find(before), &leak) {
		for _, g := range leak.Goroutines {
			fmt.Printf("task %q [%s], created by %s\n", g.Task, g.State, path.Base(g.CreatedBy.Function))
		}
	}
	close(release)
	// Output:
	// task "server/conn 3" [chan receive], created by nurserytest_test.ExampleFind.func1.1.1.1
}

// FindUnder looks only at one task subtree: what other code runs meanwhile
// (other tests in parallel) does not count.
func ExampleFindUnder() {
	release := make(chan struct{})
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer close(release)
		n.GoNamed("someone else", func(ctx context.Context) error {
			<-release
			return nil
		})
		err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("mine", func(ctx context.Context) error { return nil })
			return nil
		})
		fmt.Println(err, nurserytest.FindUnder("mine"))
		return nil
	})
	// Output:
	// <nil> <nil>
}
