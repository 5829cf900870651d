package nursery_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/internal/nurseryhook"
	"github.com/gotrio/gotrio/nursery"
)

// Tests of the place a connection holds in its nursery (internal/nurseryhook): the
// nursery waits for it as for a task, while the tasks started in it come and go.

func TestHeldPlaceKeepsTheNurseryOpenBetweenItsTasks(t *testing.T) {
	var released atomic.Bool
	places := make(chan nurseryhook.Holder, 1)
	bodyDone := make(chan struct{})
	joined := make(chan struct{})
	//gotrio:go plays the owner that starts the place's next task once the body and the first task are over; joined by <-joined
	go func() {
		defer close(joined)
		h := <-places
		<-bodyDone
		h.Go("second", func(context.Context) error {
			released.Store(true)
			h.Release()
			return nil
		})
	}()
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer close(bodyDone)
		h, ok := nurseryhook.Hold(n)
		require.True(t, ok)
		first := make(chan struct{})
		h.Go("first", func(context.Context) error {
			close(first)
			return nil
		})
		<-first
		places <- h
		return nil
	})
	require.NoError(t, err)
	assert.True(t, released.Load(), "Run returned before the place was released")
	<-joined
}

func TestHeldPlaceOfAFinishedNurseryIsRefused(t *testing.T) {
	var done *nursery.Nursery
	require.NoError(t, nursery.Run(context.Background(), func(_ context.Context, n *nursery.Nursery) error {
		//gotrio:nurseryescape the test asks for a place in n after Run returned, to see it refused
		done = n
		return nil
	}))
	_, ok := nurseryhook.Hold(done)
	assert.False(t, ok)
}

func TestHeldPlaceTaskFailureIsTheNurserys(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		h, ok := nurseryhook.Hold(n)
		require.True(t, ok)
		h.Go("failing", func(context.Context) error {
			defer h.Release()
			return errBoom
		})
		return nil
	})
	assert.True(t, errors.Is(err, errBoom), "got %v", err)
}

func TestHeldPlaceTaskPanicReleasesThePlace(t *testing.T) {
	defer func() {
		var pe *nursery.PanicError
		v := recover()
		require.NotNil(t, v, "Run re-panics")
		e, ok := v.(error)
		require.True(t, ok)
		assert.ErrorAs(t, e, &pe)
	}()
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		h, ok := nurseryhook.Hold(n)
		require.True(t, ok)
		h.Go("panicking", func(context.Context) error { panic("held task panics") })
		return nil
	})
}
