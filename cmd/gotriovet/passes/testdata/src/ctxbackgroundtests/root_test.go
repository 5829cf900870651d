package ctxbackgroundtests

import (
	"context"
	"testing"
)

func work(ctx context.Context) error { return ctx.Err() }

// With -ctxbackground.tests, test files are checked too.
func TestIndependentRoots(t *testing.T) {
	ctx := t.Context()
	_ = work(ctx)
	_ = work(context.Background()) // want `while ctx is in scope`
}
