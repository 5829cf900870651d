package wsjson_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// withConns runs body with a client connection to a loopback server whose end of the
// connection is handed to server.
func withConns(t testing.TB, server func(ctx context.Context, c *wsock.Conn) error, body func(ctx context.Context, c *wsock.Conn) error) {
	t.Helper()
	s := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		return server(ctx, c)
	}, nil)
	require.NoError(t, s.Open(t.Context(), body))
}
