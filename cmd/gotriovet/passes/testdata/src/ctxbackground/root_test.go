package ctxbackground

import (
	"context"
	"testing"
)

// Test files are not checked by default: a test builds independent roots.
func TestIndependentRoots(t *testing.T) {
	ctx := t.Context()
	_ = work(ctx)
	_ = work(context.Background())
}
