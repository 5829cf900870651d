package ctxbackground

import "context"

// Test files are not checked by default: a test builds independent roots.
func independentRoots(ctx context.Context) {
	_ = work(ctx)
	_ = work(context.Background())
}

// An opt-out in a test file that is not checked is not reported either.
func optedOut(ctx context.Context) {
	_ = work(context.Background()) //gotrio:ctxbackground checked only with -ctxbackground.tests
}
