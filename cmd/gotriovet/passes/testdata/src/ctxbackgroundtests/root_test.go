package ctxbackgroundtests

import "context"

func work(ctx context.Context) error { return ctx.Err() }

// With -ctxbackground.tests, test files are checked too.
func independentRoots(ctx context.Context) {
	_ = work(ctx)
	_ = work(context.Background()) // want `while ctx is in scope`
}
