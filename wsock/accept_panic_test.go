package wsock

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gotrio/gotrio/nursery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// panicWriteListener hands out connections whose Write panics: a net.Conn of
// the program's own that misbehaves while Accept writes the 101.
type panicWriteListener struct{ net.Listener }

func (l panicWriteListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return panicWriteConn{nc}, nil
}

type panicWriteConn struct{ net.Conn }

func (panicWriteConn) Write([]byte) (int, error) { panic("write exploded") }

func TestAcceptWhoseWritePanicsFailsTheRequestAndClosesTheSocket(t *testing.T) {
	logger, logs := captureLogger()
	srv, err := NewServer(&ServerOptions{Logger: logger}, panicWriteListener{tcpListener(t)})
	require.NoError(t, err)
	accepted := make(chan error, 1)
	err = nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("server", func(ctx context.Context) error {
			return srv.Serve(ctx, func(ctx context.Context, r *Request) error {
				defer func() { accepted <- nil }()
				_, err := r.Accept(ctx, nil)
				return err
			})
		})
		nc, err := net.Dial("tcp", srv.Addr().String())
		require.NoError(t, err)
		defer nc.Close()
		_, err = io.WriteString(nc, validUpgrade+"Sec-WebSocket-Version: 13\r\n\r\n")
		require.NoError(t, err)
		<-accepted // the handler's Accept panicked through it
		// A bound on the test, not a timing assertion: the socket is closed at
		// once, and without the fix the read never ends.
		require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
		got, err := nc.Read(make([]byte, 1))
		assert.Equal(t, 0, got)
		assert.ErrorIs(t, err, io.EOF, "the server closed the socket without an answer")
		n.Scope().Cancel("test over")
		return nil
	})
	require.NoError(t, err, "the server drained: the handler's end did not wait for the failed Accept")
	assert.Contains(t, logs.String(), "write exploded")
}
