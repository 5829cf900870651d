package wsjson_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// withConns runs body with a client connection to a loopback server whose connection
// is handed to server, which runs until it returns or the client is done.
func withConns(t testing.TB, server func(ctx context.Context, c *wsock.Conn) error, body func(ctx context.Context, c *wsock.Conn) error) {
	t.Helper()
	h := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		return server(ctx, c)
	}
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", h, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("test over")
		return wsock.Open(ctx, "ws://127.0.0.1:"+strconv.Itoa(srv.Port())+"/", nil, body)
	})
	require.NoError(t, err)
}
