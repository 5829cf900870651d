package wsock

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestCloseNowClosesTCPWithoutACloseFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			require.NoError(t, c.CloseNow())
			peer.expectEOF()
			assert.NoError(t, <-run, "a local abort is no failure of the reader")
			assert.Equal(t, CloseReason{Code: AbnormalClosure, Name: "ABNORMAL_CLOSURE"}, *c.CloseReason())
			err := c.SendText(ctx, "too late")
			assert.Equal(t, AbnormalClosure, closedReason(t, err).Code)
			assert.ErrorIs(t, err, errClosedNow)
		})
	})
}

func TestCloseNowIsSeenByThePeerAsAbnormalClosure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
			require.NoError(t, p.server.CloseNow())
			_, err := p.client.Receive(ctx)
			assert.Equal(t, AbnormalClosure, CloseStatus(err))
		})
	})
}

func TestCloseNowReleasesEveryBlockedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			// The peer reads nothing: the send blocks in its write, the ping
			// waits for the frame lock, the receive for a message.
			errs := make(chan error, 3)
			err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.Go(func(ctx context.Context) error { errs <- c.SendBinary(ctx, make([]byte, 1<<20)); return nil })
				n.Go(func(ctx context.Context) error { errs <- c.Ping(ctx, []byte("p")); return nil })
				n.Go(func(ctx context.Context) error { _, err := c.Receive(ctx); errs <- err; return nil })
				synctest.Wait()
				return c.CloseNow()
			})
			require.NoError(t, err)
			close(errs)
			for err := range errs {
				assert.Equal(t, AbnormalClosure, closedReason(t, err).Code, "%v", err)
			}
			<-run
		})
	})
}

func TestCloseNowIsIdempotentAndCutsAWaitingCloseShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			closed := make(chan error, 1)
			err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.Go(func(context.Context) error { closed <- c.Close(NormalClosure, "bye"); return nil })
				code, _ := peer.expectClose() // and never answered
				assert.Equal(t, proto.NormalClosure, code)
				synctest.Wait()
				for range 2 {
					n.Go(func(context.Context) error { return c.CloseNow() })
				}
				return nil
			})
			require.NoError(t, err)
			assert.NoError(t, <-closed)
			assert.NoError(t, c.CloseNow(), "once more")
			assert.Equal(t, AbnormalClosure, c.CloseReason().Code)
			peer.expectEOF()
			<-run
		})
	})
}
