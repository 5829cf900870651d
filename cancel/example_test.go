package cancel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gotrio/gotrio/cancel"
)

// A scope is cancelled explicitly from inside (or from any goroutine); Run
// swallows the cancellation it caused.
func ExampleNew() {
	s := cancel.New()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		s.Cancel("enough")
		<-ctx.Done() // a checkpoint: any context-aware call would do
		fmt.Println("cause:", context.Cause(ctx))
		return ctx.Err()
	})
	fmt.Println("err:", err)
	fmt.Println("caught:", s.CancelledCaught())
	// Output:
	// cause: cancel: scope cancelled (explicit): enough
	// err: <nil>
	// caught: true
}

// MoveOnAfter gives up on the body after a timeout and goes on.
func ExampleMoveOnAfter() {
	s, err := cancel.MoveOnAfter(context.Background(), 10*time.Millisecond, func(ctx context.Context) error {
		return cancel.Sleep(ctx, time.Hour) // stands for a slow fetch
	})
	fmt.Println("err:", err)
	fmt.Println("gave up:", s.CancelledCaught())
	// Output:
	// err: <nil>
	// gave up: true
}

// FailAfter turns its own timeout into ErrTooSlow, which enclosing scopes
// never swallow.
func ExampleFailAfter() {
	err := cancel.FailAfter(context.Background(), 10*time.Millisecond, func(ctx context.Context) error {
		return cancel.Sleep(ctx, time.Hour)
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, cancel.ErrTooSlow), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// cancel: too slow: deadline exceeded
	// true true
}

// A shielded scope finishes its cleanup even though the enclosing scope was
// cancelled; its own timeout still bounds it.
func ExampleScope_SetShield() {
	outer := cancel.New()
	err := outer.Run(context.Background(), func(ctx context.Context) error {
		outer.Cancel("shutting down")

		cleanup := cancel.New(cancel.WithTimeout(time.Second))
		cleanup.SetShield(true)
		err := cleanup.Run(ctx, func(ctx context.Context) error {
			fmt.Println("cleanup sees cancellation:", ctx.Err() != nil)
			return cancel.Sleep(ctx, time.Millisecond) // say goodbye to the peer
		})
		fmt.Println("cleanup:", err)
		return cancel.Checkpoint(ctx)
	})
	fmt.Println("outer:", err, outer.CancelledCaught())
	// Output:
	// cleanup sees cancellation: false
	// cleanup: <nil>
	// outer: <nil> true
}
