package wsock

import (
	"context"
	"net"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestOpenReturnsTheReadersClosedErrorAfterAProtocolViolation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		send   func(nc net.Conn) error
		code   StatusCode
		reason string
	}{
		{"1002 for a masked frame from the server", func(nc net.Conn) error {
			return writePeerFrame(nc, proto.OpText, []byte("masked"), true)
		}, ProtocolError, "masked frame from a server"},
		{"1007 for invalid UTF-8 in a text message", func(nc net.Conn) error {
			return writePeerFrame(nc, proto.OpText, []byte{'o', 'k', 0xff}, false)
		}, InvalidPayload, "text message is not valid UTF-8"},
		{"1009 for a message over MaxMessageSize", func(nc net.Conn) error {
			return writePeerFrame(nc, proto.OpBinary, make([]byte, 17), false)
		}, MessageTooBig, "message larger than 16 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client, server := net.Pipe()
				var sentCode proto.CloseCode
				err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
					n.Go(func(context.Context) error {
						defer server.Close()
						acceptRaw(t, server)
						if err := tc.send(server); err != nil {
							return err
						}
						f, err := readPeerFrame(server)
						require.NoError(t, err)
						require.Equal(t, proto.OpClose, f.op)
						sentCode, _, err = proto.ParseClose(f.payload)
						require.NoError(t, err)
						return nil
					})
					opts := &DialOptions{MaxMessageSize: 16, Compression: CompressionOptions{Disabled: true},
						DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
					err := Open(ctx, "ws://example.com/", opts, func(ctx context.Context, c *Conn) error {
						_, err := c.Receive(ctx)
						assert.Equal(t, tc.code, CloseStatus(err), "Receive reports it too")
						return nil // the body succeeds: Open reports the reader's error
					})
					var ce *ClosedError
					require.ErrorAs(t, err, &ce)
					assert.Equal(t, tc.code, ce.Reason.Code)
					assert.Equal(t, tc.code, CloseStatus(err))
					assert.ErrorIs(t, err, ErrClosed)
					assert.NotErrorIs(t, err, ErrHandshake)
					assert.EqualError(t, err, "wsock: connection closed: "+tc.code.String()+": "+tc.reason)
					return nil
				})
				require.NoError(t, err)
				assert.Equal(t, proto.CloseCode(tc.code), sentCode, "the server was told why")
			})
		})
	}
}
