package ignoredctx

import "context"

import "time"

import "github.com/gotrio/gotrio/nursery"

// A file that does not import package cancel yet.
func sleepsInAFileWithoutCancel(n *nursery.Nursery) {
	n.Go(func(ctx context.Context) error {
		time.Sleep(time.Second) // want `blocks in time.Sleep`
		return nil
	})
}
