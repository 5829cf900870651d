package cancel

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := New()
		var innerCaught bool
		err := outer.Run(context.Background(), func(ctx context.Context) error {
			inner := New(WithTimeout(time.Second))
			err := inner.Run(ctx, func(ctx context.Context) error {
				c, stop := context.WithCancel(ctx)
				defer stop()
				outer.Cancel("x")
				if Checkpoint(ctx) == nil {
					t.Fatal("not level triggered")
				}
				<-c.Done()
				return Sleep(ctx, time.Hour)
			})
			innerCaught = inner.CancelledCaught()
			return err
		})
		if err != nil || innerCaught || !outer.CancelledCaught() {
			t.Fatal(err, innerCaught, outer.CancelledCaught())
		}
		s, err := MoveOnAfter(context.Background(), time.Second, func(ctx context.Context) error { return Sleep(ctx, time.Hour) })
		if err != nil || !s.CancelledCaught() {
			t.Fatal(err)
		}
		err = FailAfter(context.Background(), time.Second, func(ctx context.Context) error { return Sleep(ctx, time.Hour) })
		if err != ErrTooSlow {
			t.Fatal(err)
		}
	})
}
