package ctxbackground

import (
	"context"
	stdctx "context"

	"github.com/gotrio/gotrio/nursery"
)

var root = context.Background() // package level: no ctx in scope

func init() {
	_ = context.TODO()
}

func work(ctx context.Context) error { return ctx.Err() }

func main() {
	ctx, stop := context.WithCancel(context.Background()) // ctx is declared by this statement
	defer stop()
	_ = work(context.Background()) // want `context.Background\(\) cuts the cancellation tree while ctx is in scope: use ctx`
	_ = ctx
}

// Flagged.

func parameter(ctx context.Context) error {
	return work(context.TODO()) // want `context.TODO\(\) cuts the cancellation tree while ctx is in scope`
}

func renamedImport(parent context.Context) error {
	return work(stdctx.Background()) // want `while parent is in scope: use parent, or context.WithoutCancel\(parent\)`
}

func closureOfAFunctionWithCtx(ctx context.Context) func() error {
	return func() error {
		return work(context.Background()) // want `while ctx is in scope`
	}
}

func taskBody(ctx context.Context) error {
	return nursery.Run(ctx, func(_ context.Context, n *nursery.Nursery) error {
		n.Go(func(context.Context) error {
			return work(context.Background()) // want `while ctx is in scope`
		})
		return nil
	})
}

func localContext() error {
	ctx, stop := context.WithCancel(root)
	defer stop()
	_ = work(ctx)
	return work(context.Background()) // want `while ctx is in scope`
}

// Accepted.

func noContext() error {
	return work(context.Background())
}

func detachedOnPurpose(ctx context.Context) error {
	return work(context.WithoutCancel(ctx))
}

func blankParameter(_ context.Context) error {
	return work(context.Background())
}

type conn struct{}

// Close takes no ctx, so its bounded cleanup makes its own.
func (conn) Close() error { return work(context.Background()) }

func ctxOfAnotherFunction() {
	f := func(ctx context.Context) error { return work(ctx) }
	_ = f(context.Background())
}

// A ctx declared in a block that has ended is out of scope.
func endedBlock() error {
	{
		ctx := root
		_ = work(ctx)
	}
	return work(context.Background())
}

// Giving a nil ctx a root cuts nothing.
func defaultsNil(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if nil == ctx {
		ctx = context.TODO()
	}
	return work(ctx)
}

// Only that idiom: other assignments in such an if still cut the tree.
func notTheIdiom(ctx, other context.Context) error {
	if ctx == nil {
		other = context.Background() // want `while ctx is in scope`
	}
	if ctx != nil {
		ctx = context.Background() // want `while ctx is in scope`
	}
	ctx = context.Background() // want `while ctx is in scope`
	return work(other)
}
