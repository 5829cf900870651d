package nurseryescape

import (
	"context"

	lookalike "nurseryescape/nursery"
)

var kept *lookalike.Nursery

func aLookalikeIsNotFollowed(ctx context.Context) error {
	return lookalike.Run(ctx, func(ctx context.Context, n *lookalike.Nursery) error {
		kept = n
		return nil
	})
}
