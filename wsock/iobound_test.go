package wsock

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIOBoundExpiresAfterItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		start := time.Now()
		bound := bindIO(a, 10*time.Second, context.Background())
		_, err := a.Read(make([]byte, 1))
		assert.Equal(t, 10*time.Second, time.Since(start))
		assert.False(t, bound.release(), "no context interrupted the read")
		assert.True(t, bound.expired(err), "the read ended at the bound's deadline: %v", err)
	})
}

func TestIOBoundInterruptedByEitherContextLeavesTheSocketUsable(t *testing.T) {
	for _, which := range []int{0, 1} {
		synctest.Test(t, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			ctxs := [2]context.Context{}
			cancels := [2]context.CancelFunc{}
			for i := range ctxs {
				ctxs[i], cancels[i] = context.WithCancel(context.Background())
				defer cancels[i]()
			}
			bound := bindIO(a, 0, ctxs[0], ctxs[1])
			cancels[which]()
			_, err := a.Read(make([]byte, 1))
			require.Error(t, err, "the cancellation interrupts the read")
			assert.True(t, bound.release())
			assert.False(t, bound.expired(err), "no deadline was set")
			// release cleared the deadline the interruption set: the socket works.
			//gotrio:go the peer's one write; the bubble waits for it
			go func() { _, _ = b.Write([]byte("x")) }()
			buf := make([]byte, 1)
			_, err = a.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "x", string(buf))
		})
	}
}

func TestIOBoundReleasedBeforeAnyCancellationReportsNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		ctx, cancel := context.WithCancel(context.Background())
		bound := bindIO(a, time.Second, ctx, ctx)
		assert.False(t, bound.release())
		cancel() // after release: nothing is interrupted any more
		synctest.Wait()
		//gotrio:go the peer's one write; the bubble waits for it
		go func() { _, _ = b.Write([]byte("y")) }()
		time.Sleep(2 * time.Second) // past the released bound's deadline
		_, err := a.Read(make([]byte, 1))
		assert.NoError(t, err)
	})
}
