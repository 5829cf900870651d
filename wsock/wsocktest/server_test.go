package wsocktest_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

// roundTrip sends text on c and returns what comes back.
func roundTrip(ctx context.Context, c *wsock.Conn, text string) (string, error) {
	if err := c.SendText(ctx, text); err != nil {
		return "", err
	}
	m, err := c.Receive(ctx)
	return string(m.Data), err
}

func TestNewServerServesTheHandlerOnALoopbackPort(t *testing.T) {
	srv := wsocktest.NewServer(t, wsocktest.Echo, nil)
	assert.Regexp(t, regexp.MustCompile(`^ws://127\.0\.0\.1:\d+/$`), srv.URL())
	err := srv.Open(t.Context(), func(ctx context.Context, c *wsock.Conn) error {
		got, err := roundTrip(ctx, c, "hello")
		assert.Equal(t, "hello", got)
		return err
	})
	require.NoError(t, err)

	err = wsock.Open(t.Context(), srv.URL()+"plain", nil, func(ctx context.Context, c *wsock.Conn) error {
		got, err := roundTrip(ctx, c, "any client")
		assert.Equal(t, "any client", got)
		return err
	})
	require.NoError(t, err, "the URL works without DialOptions")
}

func TestNewServerWithPipeServesInMemoryInsideASynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := wsocktest.NewServer(t, wsocktest.Echo, &wsocktest.Options{Pipe: true})
		assert.Equal(t, "ws://wsocktest.pipe/", srv.URL())
		err := srv.Open(t.Context(), func(ctx context.Context, c *wsock.Conn) error {
			assert.Equal(t, "pipe", c.RemoteAddr().Network())
			got, err := roundTrip(ctx, c, "in memory")
			assert.Equal(t, "in memory", got)
			return err
		})
		require.NoError(t, err)
	})
}

func TestCloseDrainsOpenConnectionsWithGoingAway(t *testing.T) {
	srv := wsocktest.NewServer(t, wsocktest.Echo, nil)
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		c, err := wsock.Connect(ctx, n, srv.URL(), srv.DialOptions())
		require.NoError(t, err)
		srv.Close()
		_, err = c.Receive(ctx)
		var ce *wsock.ClosedError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, wsock.GoingAway, ce.Reason.Code)
		return nil
	})
	require.NoError(t, err)
	srv.Close() // a second Close, and the cleanup's, do nothing
}

func TestCloseRefusesNewClientsAfterwards(t *testing.T) {
	srv := wsocktest.NewServer(t, wsocktest.Echo, &wsocktest.Options{Pipe: true})
	srv.Close()
	err := srv.Open(t.Context(), func(context.Context, *wsock.Conn) error { return nil })
	assert.ErrorIs(t, err, wsock.ErrHandshake)
}

// leakingHandler accepts, then starts a goroutine that nobody joins, which
// waits for release.
func leakingHandler(release <-chan struct{}) wsock.Handler {
	return func(ctx context.Context, r *wsock.Request) error {
		if _, err := r.Accept(ctx, nil); err != nil {
			return err
		}
		go func() { <-release }() //gotrio:go the leak under test; close(release) ends it
		return nil
	}
}

func TestCloseFailsTheTestWhenAHandlerLeaksAGoroutine(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := newFakeT(t)
	srv := wsocktest.NewServer(ft, leakingHandler(release), nil)
	require.NoError(t, srv.Open(t.Context(), func(context.Context, *wsock.Conn) error { return nil }))
	failures := ft.finish()
	require.Len(t, failures, 1)
	report := failures[0]
	assert.Contains(t, report, "nurserytest: 1 leaked goroutine, by task:\n"+srv.Task()+"\n  serve\n    wsock conn 127.0.0.1:",
		"the report names the server's task and the connection's")
	assert.Regexp(t, `goroutine \d+ \[chan receive\]`, report)
	assert.Regexp(t, `created by  github.com/gotrio/gotrio/wsock/wsocktest_test\.(\w+\.)?leakingHandler\.func[.\d]+ `+
		`\S+/wsock/wsocktest/server_test.go:\d+ `, report, "and the go statement in the handler")
}

func TestCloseChecksOnlyTheServersOwnGoroutines(t *testing.T) {
	release := make(chan struct{})
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		defer close(release)
		// Goroutines of another test, running in parallel: one in a task,
		// one of no task.
		n.GoNamed("someone else", func(context.Context) error { <-release; return nil })
		go func() { <-release }() //gotrio:go a goroutine of no task, as of another test; close(release) ends it

		ft := newFakeT(t)
		srv := wsocktest.NewServer(ft, wsocktest.Echo, nil)
		require.NoError(t, srv.Open(ctx, func(ctx context.Context, c *wsock.Conn) error {
			_, err := roundTrip(ctx, c, "hi")
			return err
		}))
		assert.Empty(t, ft.finish())
		return nil
	})
	require.NoError(t, err)
}

func TestHandlerFailuresGoToTheTestLog(t *testing.T) {
	ft := newFakeT(t)
	srv := wsocktest.NewServer(ft, func(ctx context.Context, r *wsock.Request) error {
		if _, err := r.Accept(ctx, nil); err != nil {
			return err
		}
		return errors.New("boom")
	}, nil)
	err := srv.Open(t.Context(), func(ctx context.Context, c *wsock.Conn) error {
		_, err := c.Receive(ctx)
		return err
	})
	var ce *wsock.ClosedError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, wsock.InternalError, ce.Reason.Code)
	assert.Empty(t, ft.finish(), "a handler's failure is the handler's, not the test's")
	require.Len(t, ft.logs, 1)
	assert.Contains(t, ft.logs[0], `msg="wsock: handler failed"`)
	assert.Contains(t, ft.logs[0], "err=boom")
}

func TestParallelServersEachCheckTheirOwnSubtree(t *testing.T) {
	// Twelve servers, so that "wsocktest server 1" runs beside
	// "wsocktest server 1x": a subtree is its path and what lies below it.
	for i := range 12 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv := wsocktest.NewServer(t, wsocktest.Echo, &wsocktest.Options{Pipe: i%2 == 0})
			err := srv.Open(t.Context(), func(ctx context.Context, c *wsock.Conn) error {
				got, err := roundTrip(ctx, c, srv.Task())
				assert.Equal(t, srv.Task(), got)
				return err
			})
			require.NoError(t, err)
		})
	}
}
