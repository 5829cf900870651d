package ignoredctx

import (
	"context"

	"github.com/gotrio/gotrio/nursery"
)

// Test files are not checked by default: tests block tasks on purpose.
// (No import of testing: the file's name is what counts.)
func blocksOnPurpose() {
	release := make(chan struct{})
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error { <-release; return nil })
		close(release)
		return nil
	})
}
