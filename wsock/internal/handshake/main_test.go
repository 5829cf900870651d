package handshake

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// crlf turns the readable "\n" line ends of a test head into CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// requireStatus asserts err is an *Error with the status and a message containing msg.
func requireStatus(t *testing.T, err error, status int, msg string) *Error {
	t.Helper()
	var e *Error
	require.True(t, errors.As(err, &e), "want *Error, got %T %v", err, err)
	require.Equal(t, status, e.Status, "status of %v", err)
	require.Contains(t, e.Msg, msg)
	require.True(t, strings.HasPrefix(e.Error(), "websocket handshake: "))
	return e
}
