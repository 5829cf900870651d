package cancel_test

import (
	"context"
	"testing"
	"time"

	"github.com/gotrio/gotrio/cancel"
)

func noop(context.Context) error { return nil }

// BenchmarkContextWithCancel is the baseline an empty Scope.Run is held to
// (≤ 2×): context.WithCancel and its cancel.
func BenchmarkContextWithCancel(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		c, stop := context.WithCancel(ctx)
		_ = noop(c)
		stop()
	}
}

func BenchmarkScopeRunEmpty(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = cancel.New().Run(ctx, noop)
	}
}

func BenchmarkScopeRunDeadline(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		_ = cancel.New(cancel.WithTimeout(time.Hour)).Run(ctx, noop)
	}
}

func BenchmarkScopeRunNested10(b *testing.B) {
	b.ReportAllocs()
	ctx := context.Background()
	var nest func(depth int) func(context.Context) error
	bodies := make([]func(context.Context) error, 11)
	bodies[10] = noop
	nest = func(depth int) func(context.Context) error {
		return func(ctx context.Context) error { return cancel.New().Run(ctx, bodies[depth+1]) }
	}
	for i := 9; i >= 0; i-- {
		bodies[i] = nest(i)
	}
	for b.Loop() {
		_ = bodies[0](ctx)
	}
}
