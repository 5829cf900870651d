package wsocktest_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

func TestPipeConnectsAClientToAServerConn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := wsocktest.Pipe(t, nil)
		assert.True(t, client.IsClient())
		assert.False(t, server.IsClient())
		ctx := t.Context()

		require.NoError(t, client.SendText(ctx, "to the server"))
		m, err := server.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, "to the server", string(m.Data))

		require.NoError(t, server.SendBinary(ctx, []byte{1, 2, 3}))
		m, err = client.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, wsock.BinaryMessage, m.Type)
		assert.Equal(t, []byte{1, 2, 3}, m.Data)
	})
}

func TestPipeNegotiatesWithTheAcceptAndDialOptions(t *testing.T) {
	client, server := wsocktest.Pipe(t, &wsocktest.Options{
		Dial:   &wsock.DialOptions{Subprotocols: []string{"chat.v2", "chat.v1"}},
		Accept: &wsock.AcceptOptions{Subprotocol: "chat.v1"},
	})
	assert.Equal(t, "chat.v1", client.Subprotocol())
	assert.Equal(t, "chat.v1", server.Subprotocol())
}

func TestPipeEndsAreClosedAtCleanup(t *testing.T) {
	ft := newFakeT(t)
	client, server := wsocktest.Pipe(ft, nil)
	assert.Nil(t, client.CloseReason(), "open until the test ends")
	assert.Empty(t, ft.finish())
	require.NotNil(t, client.CloseReason())
	require.NotNil(t, server.CloseReason())
	assert.ErrorIs(t, client.SendText(context.Background(), "too late"), wsock.ErrClosed)
	assert.ErrorIs(t, server.SendText(context.Background(), "too late"), wsock.ErrClosed)
}

func TestPipeEndsClosedByTheTestStayClosed(t *testing.T) {
	client, server := wsocktest.Pipe(t, nil)
	require.NoError(t, client.Close(wsock.NormalClosure, "done"))
	_, err := server.Receive(t.Context())
	var ce *wsock.ClosedError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, wsock.NormalClosure, ce.Reason.Code)
	assert.Equal(t, "done", ce.Reason.Reason)
}
