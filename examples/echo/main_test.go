package main

import (
	"bytes"
	"context"
	"log"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunSendsHelloAndReceivesItReversed(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), "127.0.0.1:0", "hello", log.New(&out, "", 0))
	require.NoError(t, err)

	logged := out.String()
	assert.Regexp(t, regexp.MustCompile(`(?m)^server listening on ws://127\.0\.0\.1:\d+/$`), logged)
	assert.Contains(t, logged, "client sending: hello\n")
	assert.Contains(t, logged, "server received: hello\n")
	assert.Contains(t, logged, "client received: olleh\n")
}

func TestReverserAnswersEveryMessageUntilTheClientCloses(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	handler := reverser(log.New(&out, "", 0))
	returned := make(chan struct{})
	srv := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
		defer close(returned)
		return handler(ctx, r)
	}, nil) // drained and checked for leaks at cleanup
	err := srv.Open(t.Context(), func(ctx context.Context, c *wsock.Conn) error {
		for _, msg := range []string{"abc", "", "héllo ✓"} {
			require.NoError(t, c.SendText(ctx, msg))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, wsock.TextMessage, m.Type)
			assert.Equal(t, reverse(msg), string(m.Data))
		}
		return nil
	})
	require.NoError(t, err)
	<-returned // on the client's close, before the server drains
	assert.Contains(t, out.String(), "server connection closed")
}

func TestReverseKeepsUTF8Valid(t *testing.T) {
	assert.Equal(t, "olleh", reverse("hello"))
	assert.Equal(t, "✓ olléh", reverse("héllo ✓"))
	assert.Equal(t, "", reverse(""))
}
