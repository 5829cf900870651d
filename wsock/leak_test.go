package wsock

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// These tests check, beyond TestMain's check at the end of the package,
// that nothing of ours outlives the call that owned it.

func TestNoGoroutineOutlivesServeAndOpen(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, err := Listen("127.0.0.1:0", &ServerOptions{KeepAlive: KeepAliveOptions{Interval: 1 << 40}})
	require.NoError(t, err)
	url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/"
	serving := cancel.New()
	err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			return serving.Run(ctx, func(ctx context.Context) error { return srv.Serve(ctx, echoHandler) })
		})
		defer serving.Cancel("test over")
		opts := &DialOptions{KeepAlive: KeepAliveOptions{Interval: 1 << 40}}
		for i := range 5 {
			err := Open(ctx, url, opts, func(ctx context.Context, c *Conn) error {
				if err := c.SendText(ctx, "hello "+strconv.Itoa(i)); err != nil {
					return err
				}
				_, err := c.Receive(ctx)
				return err
			})
			require.NoError(t, err)
		}
		// A connection left open when the server drains.
		c, err := Connect(ctx, n, url, opts)
		require.NoError(t, err)
		n.Go(func(ctx context.Context) error {
			_, err := c.Receive(ctx)
			assert.ErrorIs(t, err, ErrClosed)
			return nil
		})
		return nil
	})
	assert.NoError(t, err)
}

func TestNoGoroutineOutlivesFailedHandshakes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, err := Listen("127.0.0.1:0", nil)
	require.NoError(t, err)
	addr := srv.Addr().String()
	serving := cancel.New()
	err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			return serving.Run(ctx, func(ctx context.Context) error {
				return srv.Serve(ctx, func(ctx context.Context, r *Request) error {
					return r.Reject(ctx, http.StatusForbidden, nil, nil)
				})
			})
		})
		defer serving.Cancel("test over")
		err := Open(ctx, "ws://"+addr+"/", nil, func(context.Context, *Conn) error { return nil })
		var re *RejectedError
		assert.ErrorAs(t, err, &re)
		resp, err := http.Get("http://" + addr + "/")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		nc, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		return nc.Close() // a client that leaves before its handshake
	})
	assert.NoError(t, err)
	http.DefaultClient.CloseIdleConnections()
}
