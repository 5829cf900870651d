package leak

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

// receiveUntilClosed receives until Receive fails and returns its error.
func receiveUntilClosed(ctx context.Context, c *wsock.Conn) error {
	for range maxExchanges {
		if _, err := c.Receive(ctx); err != nil {
			return err
		}
	}
	return errors.New("the connection never closed")
}

// dropConn is a client's raw net.Conn, kept by its dialer so that the test
// can make the TCP connection vanish under the WebSocket connection.
type dropConn struct {
	net.Conn
	cutWrites atomic.Bool // the next write sends half its bytes, then the socket closes
}

func (c *dropConn) Write(p []byte) (int, error) {
	if c.cutWrites.Load() && len(p) > 1 {
		n, _ := c.Conn.Write(p[:len(p)/2])
		_ = c.Conn.Close()
		return n, net.ErrClosed
	}
	return c.Conn.Write(p)
}

// droppingDialer returns dial options whose connections are dropConns; got
// receives each one.
func droppingDialer(got *dropConn) *wsock.DialOptions {
	var once sync.Once
	return &wsock.DialOptions{
		Logger: quiet,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			once.Do(func() { got.Conn = nc })
			return got, nil
		},
	}
}

func TestAbruptlyDroppedClientsEndTheirHandlersWithAbnormalClosure(t *testing.T) {
	defer goleak.VerifyNone(t)
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		// client runs in Open's body; the test drops raw under it.
		client func(ctx context.Context, c *wsock.Conn, raw *dropConn) error
		// handler runs on the server's side of the connection and returns
		// the error that told it the client was gone.
		handler func(ctx context.Context, c *wsock.Conn) error
	}{
		{
			name: "cut in the middle of a frame the client sends",
			client: func(ctx context.Context, c *wsock.Conn, raw *dropConn) error {
				raw.cutWrites.Store(true)
				err := c.SendBinary(ctx, big)
				assert.Equal(t, wsock.AbnormalClosure, closeCode(err), "Send: %v", err)
				return nil
			},
			handler: func(ctx context.Context, c *wsock.Conn) error {
				_, err := c.Receive(ctx)
				return err
			},
		},
		{
			name: "closed while the server streams to the client",
			client: func(ctx context.Context, c *wsock.Conn, raw *dropConn) error {
				if _, err := c.Receive(ctx); err != nil {
					return err
				}
				_ = raw.Conn.Close()
				// Messages queued before the cut are still delivered.
				err := receiveUntilClosed(ctx, c)
				assert.Equal(t, wsock.AbnormalClosure, closeCode(err), "Receive: %v", err)
				return nil
			},
			handler: func(ctx context.Context, c *wsock.Conn) error {
				for range maxExchanges {
					if err := c.SendBinary(ctx, big); err != nil {
						return err
					}
				}
				return errors.New("the client never went away")
			},
		},
		{
			name: "closed while both ends wait for a message",
			client: func(ctx context.Context, c *wsock.Conn, raw *dropConn) error {
				// The server acknowledges it is waiting before the cut.
				if _, err := c.Receive(ctx); err != nil {
					return err
				}
				_ = raw.Conn.Close()
				_, err := c.Receive(ctx)
				assert.Equal(t, wsock.AbnormalClosure, closeCode(err), "Receive: %v", err)
				return nil
			},
			handler: func(ctx context.Context, c *wsock.Conn) error {
				if err := c.SendText(ctx, "waiting"); err != nil {
					return err
				}
				_, err := c.Receive(ctx)
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			const clients = 8
			scenario(t, func() {
				handlerErrs := make(chan error, clients)
				err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
					ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
						c, err := r.Accept(ctx, nil)
						if err != nil {
							return err
						}
						handlerErrs <- tt.handler(ctx, c)
						return nil
					}, nil)
					var clientsDone sync.WaitGroup
					for range clients {
						clientsDone.Add(1)
						n.Go(func(ctx context.Context) error {
							defer clientsDone.Done()
							raw := &dropConn{}
							opts := droppingDialer(raw)
							err := wsock.Open(ctx, ts.URL(), opts, func(ctx context.Context, c *wsock.Conn) error {
								return tt.client(ctx, c, raw)
							})
							// The reader's abnormal end is Open's result once
							// the body succeeded.
							assert.Equal(t, wsock.AbnormalClosure, closeCode(err), "Open: %v", err)
							return nil
						})
					}
					clientsDone.Wait()
					for range clients {
						err := <-handlerErrs
						assert.ErrorIs(t, err, wsock.ErrClosed)
						assert.Equal(t, wsock.AbnormalClosure, closeCode(err), "handler: %v", err)
					}
					ts.Close()
					return nil
				})
				require.NoError(t, err)
			})
		})
	}
}
