// Package bench compares gotrio with its peers on one load. It has its own
// go.mod so that the peers never enter the main module's dependencies.
package bench

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"
)

func noop(context.Context) error { return nil }

// BenchmarkSpawnJoin starts n no-op tasks and waits for all of them.
func BenchmarkSpawnJoin(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			b.Run("impl=waitgroup", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var wg sync.WaitGroup
					for range n {
						wg.Go(func() { _ = noop(context.Background()) })
					}
					wg.Wait()
				}
			})
			b.Run("impl=errgroup", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var g errgroup.Group
					for range n {
						g.Go(func() error { return noop(context.Background()) })
					}
					_ = g.Wait()
				}
			})
			b.Run("impl=errgroup-ctx", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					g, ctx := errgroup.WithContext(context.Background())
					for range n {
						g.Go(func() error { return noop(ctx) })
					}
					_ = g.Wait()
				}
			})
			b.Run("impl=conc", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var wg conc.WaitGroup
					for range n {
						wg.Go(func() { _ = noop(context.Background()) })
					}
					wg.Wait()
				}
			})
			b.Run("impl=nursery", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = nursery.Run(context.Background(), func(ctx context.Context, nu *nursery.Nursery) error {
						for range n {
							nu.Go(noop)
						}
						return nil
					})
				}
			})
		})
	}
}

// BenchmarkSpawnJoinLimit starts n no-op tasks, at most 8 at once, and
// waits for all of them: errgroup's SetLimit, conc's WithMaxGoroutines and
// the nursery's SetLimit.
func BenchmarkSpawnJoinLimit(b *testing.B) {
	const limit = 8
	for _, n := range []int{100, 10000} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			b.Run("impl=errgroup-ctx", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					g, ctx := errgroup.WithContext(context.Background())
					g.SetLimit(limit)
					for range n {
						g.Go(func() error { return noop(ctx) })
					}
					_ = g.Wait()
				}
			})
			b.Run("impl=conc", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p := pool.New().WithContext(context.Background()).WithMaxGoroutines(limit)
					for range n {
						p.Go(noop)
					}
					_ = p.Wait()
				}
			})
			b.Run("impl=nursery", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = nursery.Run(context.Background(), func(ctx context.Context, nu *nursery.Nursery) error {
						nu.SetLimit(limit)
						for range n {
							nu.Go(noop)
						}
						return nil
					})
				}
			})
		})
	}
}

// BenchmarkScope measures opening and closing one scope: empty, with a
// deadline, and ten nested, beside the standard context equivalents
// (impl=context: context.WithCancel and its cancel func, context.WithTimeout
// for the deadline case; impl=cancel: cancel.New().Run).
func BenchmarkScope(b *testing.B) {
	ctx := context.Background()
	b.Run("case=empty/impl=context", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, stop := context.WithCancel(ctx)
			_ = noop(c)
			stop()
		}
	})
	b.Run("case=empty/impl=cancel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cancel.New().Run(ctx, noop)
		}
	})
	b.Run("case=deadline/impl=context", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, stop := context.WithTimeout(ctx, time.Hour)
			_ = noop(c)
			stop()
		}
	})
	b.Run("case=deadline/impl=cancel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cancel.New(cancel.WithTimeout(time.Hour)).Run(ctx, noop)
		}
	})
	b.Run("case=nested10/impl=context", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			nestContext(ctx, 10)
		}
	})
	b.Run("case=nested10/impl=cancel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = nestScope(ctx, 10)
		}
	})
}

func nestContext(ctx context.Context, depth int) {
	if depth == 0 {
		return
	}
	c, stop := context.WithCancel(ctx)
	nestContext(c, depth-1)
	stop()
}

func nestScope(ctx context.Context, depth int) error {
	if depth == 0 {
		return nil
	}
	return cancel.New().Run(ctx, func(ctx context.Context) error { return nestScope(ctx, depth-1) })
}

// BenchmarkCancelTree blocks 10 000 tasks on their context, then measures the
// time from cancelling the group until every task has returned.
func BenchmarkCancelTree(b *testing.B) {
	const n = 10000
	b.Run("impl=errgroup-ctx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			parent, stop := context.WithCancel(context.Background())
			g, ctx := errgroup.WithContext(parent)
			var ready sync.WaitGroup
			ready.Add(n)
			for range n {
				g.Go(func() error { ready.Done(); <-ctx.Done(); return nil })
			}
			ready.Wait()
			b.StartTimer()
			stop()
			_ = g.Wait()
		}
	})
	b.Run("impl=nursery", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			var started atomic.Int64
			allReady := make(chan struct{})
			_ = nursery.Run(context.Background(), func(ctx context.Context, nu *nursery.Nursery) error {
				for range n {
					nu.Go(func(ctx context.Context) error {
						if started.Add(1) == n {
							close(allReady)
						}
						<-ctx.Done()
						return nil
					})
				}
				<-allReady
				b.StartTimer()
				nu.Scope().Cancel("benchmark")
				return nil
			})
		}
	})
}
