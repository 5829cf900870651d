package nurserytest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/nursery/nurserytest"
)

// withTasks runs b's loop while 100 tasks wait in a nursery.
func withTasks(b *testing.B, loop func()) {
	release := make(chan struct{})
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer close(release)
		for i := range 100 {
			n.GoNamed(fmt.Sprintf("conn %d", i), func(context.Context) error { <-release; return nil })
		}
		b.ResetTimer()
		loop()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// The labelled traceback and its parsing: the cost of every look.
func BenchmarkGoroutinesWith100Tasks(b *testing.B) {
	b.ReportAllocs()
	withTasks(b, func() {
		for b.Loop() {
			_ = nurserytest.Goroutines()
		}
	})
}

// A clean subtree is one look: what wsocktest's cleanup costs a passing test.
func BenchmarkFindUnderACleanSubtree(b *testing.B) {
	b.ReportAllocs()
	withTasks(b, func() {
		for b.Loop() {
			if err := nurserytest.FindUnder("nobody"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
