package nurseryescape

import (
	"context"

	. "github.com/gotrio/gotrio/nursery"
)

var dotted *Nursery

func aDotImportIsSeenThrough(ctx context.Context) error {
	return Run(ctx, func(ctx context.Context, n *Nursery) error {
		dotted = n // want `stored in package-level variable dotted`
		return nil
	})
}
