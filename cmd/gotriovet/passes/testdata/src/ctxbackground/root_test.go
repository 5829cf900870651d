package ctxbackground

import "context"

// Test files are not checked by default: a test builds independent roots.
func independentRoots(ctx context.Context) {
	_ = work(ctx)
	_ = work(context.Background())
}
