package cancel_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
)

type valueKey struct{}
type innerKey struct{}

func TestStandardChildrenOfScopeContextAttachWithoutGoroutines(t *testing.T) {
	outer := cancel.New(cancel.WithTimeout(time.Hour))
	before := runtime.NumGoroutine()
	require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
		var children []context.Context
		for range 50 {
			c1, stop1 := context.WithCancel(ctx)
			defer stop1()
			c2, stop2 := context.WithTimeout(ctx, time.Minute)
			defer stop2()
			c3, stop3 := context.WithCancelCause(context.WithValue(ctx, valueKey{}, "v"))
			defer stop3(nil)
			c4, stop4 := context.WithDeadline(c1, time.Now().Add(time.Hour))
			defer stop4()
			children = append(children, c1, c2, c3, c4)
		}
		// Scopes nested directly and behind standard contexts.
		var nested []context.Context
		var enter func(i int, parent context.Context) error
		enter = func(i int, parent context.Context) error {
			if i == 10 {
				assert.LessOrEqual(t, runtime.NumGoroutine(), before, "no goroutine per child context or scope")
				outer.Cancel("all at once")
				for _, c := range append(children, nested...) {
					assert.Error(t, c.Err(), "cancelled synchronously")
					if cause := causeOf(c); assert.NotNil(t, cause) {
						assert.Same(t, outer, cause.Scope)
					}
				}
				return cancel.Checkpoint(parent)
			}
			if i%2 == 1 {
				p, stop := context.WithCancel(parent)
				defer stop()
				parent = p
			}
			return cancel.New().Run(parent, func(ctx context.Context) error {
				nested = append(nested, ctx)
				return enter(i+1, ctx)
			})
		}
		return enter(0, ctx)
	}))
	assert.True(t, outer.CancelledCaught())
}

func TestStandardChildrenSeeScopeValuesAndDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent := context.WithValue(context.Background(), valueKey{}, "outside")
		s := cancel.New(cancel.WithTimeout(time.Minute))
		require.NoError(t, s.Run(parent, func(ctx context.Context) error {
			child, stop := context.WithCancel(context.WithValue(ctx, innerKey{}, 1))
			defer stop()
			assert.Equal(t, "outside", child.Value(valueKey{}))
			d, ok := child.Deadline()
			assert.True(t, ok)
			assert.Equal(t, time.Now().Add(time.Minute), d)
			return waitCancelled(child)
		}))
		assert.True(t, s.CancelledCaught())
	})
}

func TestScopeUnderForeignParentIsCancelledWithIt(t *testing.T) {
	errShutdown := errors.New("shutting down")
	parent, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	s := cancel.New()
	err := s.Run(parent, func(ctx context.Context) error {
		stop(errShutdown)
		<-ctx.Done() // delivered through context.AfterFunc
		assert.ErrorIs(t, context.Cause(ctx), errShutdown)
		return cancel.Checkpoint(ctx)
	})
	assert.ErrorIs(t, err, context.Canceled, "the parent's cancellation passes up")
	assert.False(t, s.CancelCalled())
	assert.False(t, s.CancelledCaught())
}

// customCtx is a context package context knows nothing about.
type customCtx struct {
	context.Context
	done chan struct{}
}

func (c *customCtx) Done() <-chan struct{} { return c.done }
func (c *customCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

func TestScopeUnderCustomParentIsCancelledWithIt(t *testing.T) {
	parent := &customCtx{Context: context.Background(), done: make(chan struct{})}
	s := cancel.New()
	err := s.Run(parent, func(ctx context.Context) error {
		close(parent.done)
		return waitCancelled(ctx)
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, s.CancelledCaught())

	// A parent that is never cancelled (no Done) costs nothing.
	s2 := cancel.New()
	require.NoError(t, s2.Run(context.WithoutCancel(parent), func(ctx context.Context) error {
		s2.Cancel("own")
		return cancel.Checkpoint(ctx)
	}))
	assert.True(t, s2.CancelledCaught())
}

func TestScopeBehindWithoutCancelIsNotCancelledByEnclosingScope(t *testing.T) {
	outer := cancel.New()
	require.NoError(t, outer.Run(context.Background(), func(ctx context.Context) error {
		detached, stop := context.WithCancel(context.WithoutCancel(ctx))
		defer stop()
		inner := cancel.New()
		innerErr := inner.Run(detached, func(ictx context.Context) error {
			outer.Cancel("outer")
			assert.NoError(t, ictx.Err(), "WithoutCancel stops the outer cancellation")
			stop()
			return waitCancelled(ictx) // the detached parent still reaches it
		})
		assert.ErrorIs(t, innerErr, context.Canceled)
		assert.False(t, inner.CancelledCaught())
		return cancel.Checkpoint(ctx)
	}))
	assert.True(t, outer.CancelledCaught())
}

func TestScopeContextCancelsBlockedDial(t *testing.T) {
	s := cancel.New()
	var dialErr error
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		// The resolver blocks until ctx is cancelled: no packet leaves.
		d := net.Dialer{Resolver: &net.Resolver{PreferGo: true, Dial: func(rctx context.Context, _, _ string) (net.Conn, error) {
			s.Cancel("gave up dialing")
			<-rctx.Done()
			return nil, rctx.Err()
		}}}
		conn, err := d.DialContext(ctx, "tcp", "blocked.gotrio.test:80")
		if conn != nil {
			_ = conn.Close()
		}
		dialErr = err
		return err
	}))
	assert.True(t, s.CancelledCaught())
	assert.ErrorIs(t, dialErr, context.Canceled)
}

func TestScopeContextDialsLoopbackWithItsDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	at := time.Now().Add(time.Hour)
	s := cancel.New(cancel.WithDeadline(at))
	require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
		d := net.Dialer{ControlContext: func(cctx context.Context, _, _ string, _ syscall.RawConn) error {
			dl, ok := cctx.Deadline()
			assert.True(t, ok)
			assert.True(t, dl.Equal(at), "the dialer sees the scope's deadline: %v", dl)
			return nil
		}}
		conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		require.NoError(t, err)
		require.NoError(t, conn.Close())

		s.Cancel("done")
		conn, err = d.DialContext(ctx, "tcp", ln.Addr().String())
		if conn != nil {
			_ = conn.Close()
		}
		assert.ErrorIs(t, err, context.Canceled, "a cancelled scope fails the dial at once")
		return err
	}))
	assert.True(t, s.CancelledCaught())
}

func TestScopeContextCancelsHTTPRequest(t *testing.T) {
	cases := []struct {
		name   string
		cancel func(s *cancel.Scope)
		source cancel.Source
		is     error
	}{
		{"explicit", func(s *cancel.Scope) { s.Cancel("client gave up") }, cancel.SourceExplicit, context.Canceled},
		{"deadline", func(s *cancel.Scope) { s.SetDeadline(time.Now()) }, cancel.SourceDeadline, context.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := cancel.New()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.cancel(s) // cancel while the client waits for the response
				<-r.Context().Done()
			}))
			defer srv.Close()

			var reqErr error
			require.NoError(t, s.Run(context.Background(), func(ctx context.Context) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				require.NoError(t, err)
				resp, err := srv.Client().Do(req)
				if err == nil {
					_ = resp.Body.Close()
					return errors.New("request was not cancelled")
				}
				reqErr = err
				return err
			}))
			assert.True(t, s.CancelledCaught())
			assert.ErrorIs(t, reqErr, tc.is)
			var c *cancel.Cancelled
			require.ErrorAs(t, reqErr, &c, "net/http reports context.Cause")
			assert.Same(t, s, c.Scope)
			assert.Equal(t, tc.source, c.Source)
		})
	}
}
