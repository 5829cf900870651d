package cancel_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/cancel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// errBoom is a real, non-cancellation failure of a body.
var errBoom = errors.New("boom")

// waitCancelled blocks until ctx is cancelled and returns the cancellation
// error a checkpoint reports, as a cooperative body would.
func waitCancelled(ctx context.Context) error {
	<-ctx.Done()
	return cancel.Checkpoint(ctx)
}

// causeOf returns the *cancel.Cancelled behind ctx's cancellation, or nil.
func causeOf(ctx context.Context) *cancel.Cancelled {
	var c *cancel.Cancelled
	if errors.As(context.Cause(ctx), &c) {
		return c
	}
	return nil
}
