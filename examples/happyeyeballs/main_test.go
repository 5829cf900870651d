package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/cancel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// peer is how a fake address answers.
type peer struct {
	after     time.Duration // time to answer
	err       error         // the answer is this error instead of a connection
	blackhole bool          // never answers
	stubborn  bool          // answers even when cancelled
}

type attempt struct {
	start, end time.Duration
	err        error
	server     net.Conn // our end of a successful connection
}

// fakeNet dials fake peers with net.Pipe connections, on synctest's clock.
type fakeNet struct {
	t0    time.Time
	peers map[string]peer

	mu       sync.Mutex
	attempts map[string]*attempt
}

func newFakeNet(peers map[string]peer) *fakeNet {
	return &fakeNet{t0: time.Now(), peers: peers, attempts: map[string]*attempt{}}
}

func (f *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	a := &attempt{start: time.Since(f.t0)}
	f.mu.Lock()
	f.attempts[addr] = a
	f.mu.Unlock()
	c, err := f.answer(ctx, f.peers[addr], a)
	f.mu.Lock()
	a.end, a.err = time.Since(f.t0), err
	f.mu.Unlock()
	return c, err
}

func (f *fakeNet) answer(ctx context.Context, p peer, a *attempt) (net.Conn, error) {
	switch {
	case p.blackhole:
		<-ctx.Done()
		return nil, ctx.Err()
	case p.stubborn:
		time.Sleep(p.after)
	default:
		if err := cancel.Sleep(ctx, p.after); err != nil {
			return nil, err
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	client, server := net.Pipe()
	a.server = server
	return client, nil
}

func (f *fakeNet) attempt(addr string) *attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[addr]
}

// closeAll closes the server ends of the connections.
func (f *fakeNet) closeAll() {
	for _, a := range f.attempts {
		if a.server != nil {
			a.server.Close()
		}
	}
}

var errRefused = errors.New("connection refused")

func TestFirstSuccessWinsAndCancelsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]peer{
			"a": {blackhole: true},
			"b": {after: 10 * time.Millisecond},
		})
		defer f.closeAll()
		conn, addr, err := OpenTCPStream(context.Background(), []string{"a", "b"}, &Options{Dial: f.dial})
		require.NoError(t, err)
		defer conn.Close()
		assert.Equal(t, "b", addr)
		assert.Equal(t, 260*time.Millisecond, time.Since(f.t0))
		assert.Equal(t, DefaultDelay, f.attempt("b").start, "b starts after the delay")
		assert.ErrorIs(t, f.attempt("a").err, context.Canceled, "the winner cancels a")
		assert.Equal(t, 260*time.Millisecond, f.attempt("a").end)
	})
}

func TestFailedAttemptStartsTheNextAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]peer{
			"a": {after: 5 * time.Millisecond, err: errRefused},
			"b": {after: 10 * time.Millisecond},
		})
		defer f.closeAll()
		conn, addr, err := OpenTCPStream(context.Background(), []string{"a", "b"}, &Options{Dial: f.dial})
		require.NoError(t, err)
		defer conn.Close()
		assert.Equal(t, "b", addr)
		assert.Equal(t, 5*time.Millisecond, f.attempt("b").start)
		assert.Equal(t, 15*time.Millisecond, time.Since(f.t0))
	})
}

func TestAttemptsStartOneDelayApart(t *testing.T) {
	for _, delay := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				want := delay
				if want == 0 {
					want = DefaultDelay
				}
				f := newFakeNet(map[string]peer{
					"a": {blackhole: true},
					"b": {blackhole: true},
					"c": {},
				})
				defer f.closeAll()
				conn, addr, err := OpenTCPStream(context.Background(), []string{"a", "b", "c"}, &Options{Delay: delay, Dial: f.dial})
				require.NoError(t, err)
				defer conn.Close()
				assert.Equal(t, "c", addr)
				assert.Equal(t, time.Duration(0), f.attempt("a").start)
				assert.Equal(t, want, f.attempt("b").start)
				assert.Equal(t, 2*want, f.attempt("c").start)
				assert.Equal(t, 2*want, time.Since(f.t0))
			})
		})
	}
}

func TestEarlyWinnerStopsLaterAttemptsFromStarting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet(map[string]peer{"a": {after: 100 * time.Millisecond}, "b": {}})
		defer f.closeAll()
		conn, addr, err := OpenTCPStream(context.Background(), []string{"a", "b"}, &Options{Dial: f.dial})
		require.NoError(t, err)
		defer conn.Close()
		assert.Equal(t, "a", addr)
		assert.Nil(t, f.attempt("b"), "b never started")
		assert.Equal(t, 100*time.Millisecond, time.Since(f.t0))
	})
}

func TestAllAttemptsFailedReturnsEveryError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errUnreachable := errors.New("network unreachable")
		f := newFakeNet(map[string]peer{
			"a": {after: 300 * time.Millisecond, err: errUnreachable},
			"b": {after: 10 * time.Millisecond, err: errRefused},
		})
		conn, _, err := OpenTCPStream(context.Background(), []string{"a", "b"}, &Options{Dial: f.dial})
		assert.Nil(t, conn)
		assert.ErrorIs(t, err, errUnreachable)
		assert.ErrorIs(t, err, errRefused)
		assert.ErrorContains(t, err, "all 2 attempts failed")
		assert.Equal(t, 300*time.Millisecond, time.Since(f.t0), "every attempt is waited for")
	})
}

func TestLateConnectionsAreClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Both connect at 300 ms and ignore cancellation: one wins, the
		// other is closed.
		f := newFakeNet(map[string]peer{
			"a": {after: 300 * time.Millisecond, stubborn: true},
			"b": {after: 50 * time.Millisecond, stubborn: true},
		})
		defer f.closeAll()
		conn, addr, err := OpenTCPStream(context.Background(), []string{"a", "b"}, &Options{Dial: f.dial})
		require.NoError(t, err)
		defer conn.Close()
		loser := map[string]string{"a": "b", "b": "a"}[addr]
		require.NotEmpty(t, loser)
		_, err = f.attempt(loser).server.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "the losing connection was closed")
	})
}

func TestCallerCancellationStopsEveryAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, stop := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer stop()
		f := newFakeNet(map[string]peer{"a": {blackhole: true}, "b": {blackhole: true}, "c": {blackhole: true}})
		conn, _, err := OpenTCPStream(ctx, []string{"a", "b", "c"}, &Options{Dial: f.dial})
		assert.Nil(t, conn)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 400*time.Millisecond, time.Since(f.t0))
		assert.Nil(t, f.attempt("c"), "no attempt starts after the caller gave up")
	})
}

func TestNoAddressesIsAnError(t *testing.T) {
	_, _, err := OpenTCPStream(context.Background(), nil, nil)
	assert.ErrorContains(t, err, "no addresses")
}

// The program itself, against real loopback listeners.
func TestRunRacesLoopbackListeners(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, nil))
	assert.Contains(t, out.String(), "(refuses): dial tcp")
	assert.Regexp(t, `won: 127\.0\.0\.1:\d+ \(accepts\) after `, out.String())
	t.Log("\n" + out.String())
}
