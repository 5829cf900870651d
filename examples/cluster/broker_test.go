package main

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestKeepUpBacksOffExponentiallyAndStartsOverAfterASessionRan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, stop := context.WithCancel(t.Context())
		defer stop()
		start := time.Now()
		// Sessions 1–7 fail to connect, 8 runs for a minute and is lost, 9 fails, 10 ends it.
		var starts []time.Duration
		var waits []time.Duration
		session := func(ctx context.Context) (bool, error) {
			starts = append(starts, time.Since(start))
			switch len(starts) {
			case 8:
				time.Sleep(time.Minute)
				return true, errors.New("connection lost")
			case 10:
				stop()
				<-ctx.Done()
				return true, nil
			}
			return false, errors.New("connection refused")
		}
		keepUp(ctx, session, func(_ error, backoff time.Duration) { waits = append(waits, backoff) })
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 100 * ms, 200 * ms}, waits)
		assert.Equal(t, []time.Duration{0, 100 * ms, 300 * ms, 700 * ms, 1500 * ms, 3100 * ms, 6300 * ms, 11300 * ms,
			11300*ms + time.Minute + 100*ms, 11300*ms + time.Minute + 300*ms}, starts)
	})
}

func TestKeepUpReturnsWhenCancelledDuringItsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, stop := context.WithTimeout(t.Context(), 250*time.Millisecond)
		defer stop()
		calls := 0
		keepUp(ctx, func(context.Context) (bool, error) { calls++; return false, errors.New("refused") }, func(error, time.Duration) {})
		assert.Equal(t, 2, calls, "at 0 and 100 ms; the wait until 300 ms is cut short")
	})
}
