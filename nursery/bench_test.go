package nursery_test

import (
	"context"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/gotrio/gotrio/nursery"
)

func noop(ctx context.Context) error { return nil }

// BenchmarkRun100 spawns and joins 100 no-op tasks; compare with
// BenchmarkErrgroup100 (DESIGN.md §5: at most 1.2× its time).
func BenchmarkRun100(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			for range 100 {
				n.Go(noop)
			}
			return nil
		})
	}
}

// BenchmarkRun100Closures is BenchmarkRun100 with a fresh closure per task,
// the usual shape of real code.
func BenchmarkRun100Closures(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			for i := range 100 {
				n.Go(func(ctx context.Context) error { return noopN(ctx, i) })
			}
			return nil
		})
	}
}

func BenchmarkErrgroup100(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		g, ctx := errgroup.WithContext(ctx)
		for range 100 {
			g.Go(func() error { return noop(ctx) })
		}
		_ = g.Wait()
	}
}

func BenchmarkErrgroup100Closures(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		g, ctx := errgroup.WithContext(ctx)
		for i := range 100 {
			g.Go(func() error { return noopN(ctx, i) })
		}
		_ = g.Wait()
	}
}

// BenchmarkRunEmpty measures a nursery without tasks.
func BenchmarkRunEmpty(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error { return nil })
	}
}

// BenchmarkStart measures Start of a task that is ready at once.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		for b.Loop() {
			_, _ = nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
				ts.Started(1)
				return nil
			})
		}
		return nil
	})
}

//go:noinline
func noopN(ctx context.Context, i int) error { return nil }

func noop2(ctx context.Context) error { return nil }

// BenchmarkRunTwoTasks is a nursery with two different tasks, like the reader
// and writer of a connection: the label of each task is built once per Run.
func BenchmarkRunTwoTasks(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(noop)
			n.Go(noop2)
			return nil
		})
	}
}

func BenchmarkErrgroupTwoTasks(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return noop(ctx) })
		g.Go(func() error { return noop2(ctx) })
		_ = g.Wait()
	}
}

// BenchmarkRun100Limit8 is BenchmarkRun100 with at most 8 tasks at once;
// compare with BenchmarkErrgroup100Limit8.
func BenchmarkRun100Limit8(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.SetLimit(8)
			for range 100 {
				n.Go(noop)
			}
			return nil
		})
	}
}

func BenchmarkErrgroup100Limit8(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		g, ctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for range 100 {
			g.Go(func() error { return noop(ctx) })
		}
		_ = g.Wait()
	}
}
