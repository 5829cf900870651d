package nursery

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/internal/nurseryhook"
)

func TestForgetDropsTheTaskIdentityKeptForReuse(t *testing.T) {
	err := Run(context.Background(), func(ctx context.Context, n *Nursery) error {
		n.Go(func(context.Context) error { return nil })
		require.NotNil(t, n.last.Load(), "Go keeps its task's identity for the next Go")
		nurseryhook.Forget(n)
		assert.Nil(t, n.last.Load())
		n.Go(func(context.Context) error { return nil }) // and Go still works
		assert.NotNil(t, n.last.Load())
		return nil
	})
	require.NoError(t, err)
}
