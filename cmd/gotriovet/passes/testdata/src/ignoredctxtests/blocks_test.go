package ignoredctxtests

import (
	"context"

	"github.com/gotrio/gotrio/nursery"
)

// With -ignoredctx.tests, test files are checked too.
func blocksOnPurpose() {
	release := make(chan struct{})
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error { <-release; return nil }) // want `blocks on a channel receive`
		close(release)
		return nil
	})
}
