package wsock

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestW36PingWaitsForItsPong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			pinged := make(chan error, 1)
			go func() { pinged <- c.Ping(ctx, []byte("hello")) }()
			peer.expectFrame(proto.OpPing, []byte("hello"))
			peer.frame(true, proto.OpPong, []byte("other")) // answers no ping
			synctest.Wait()
			select {
			case <-pinged:
				t.Fatal("Ping returned before its pong")
			default:
			}
			peer.frame(true, proto.OpPong, []byte("hello"))
			assert.NoError(t, <-pinged)
		})
	})
}

func TestW36PingWithNilPayloadSendsRandomPayload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			var payloads [][]byte
			for range 2 {
				pinged := make(chan error, 1)
				go func() { pinged <- c.Ping(ctx, nil) }()
				h, payload := peer.readFrame()
				require.Equal(t, proto.OpPing, h.Op)
				assert.Len(t, payload, 8)
				peer.frame(true, proto.OpPong, payload)
				require.NoError(t, <-pinged)
				payloads = append(payloads, payload)
			}
			assert.NotEqual(t, payloads[0], payloads[1])
		})
	})
}

func TestW37PongWakesItsPingAndEveryEarlierOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			results := make([]chan error, 3)
			for i := range results {
				results[i] = make(chan error, 1)
				go func() { results[i] <- c.Ping(ctx, []byte{byte('a' + i)}) }()
				peer.expectFrame(proto.OpPing, []byte{byte('a' + i)})
			}
			peer.frame(true, proto.OpPong, []byte("b"))
			assert.NoError(t, <-results[0])
			assert.NoError(t, <-results[1])
			synctest.Wait()
			select {
			case <-results[2]:
				t.Fatal("a pong woke a later ping")
			default:
			}
			peer.frame(true, proto.OpPong, []byte("c"))
			assert.NoError(t, <-results[2])
		})
	})
}

func TestW38PingWithPayloadAlreadyInFlightFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			pinged := make(chan error, 1)
			go func() { pinged <- c.Ping(ctx, []byte("same")) }()
			peer.expectFrame(proto.OpPing, []byte("same"))
			err := c.Ping(ctx, []byte("same"))
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrClosed)
			peer.frame(true, proto.OpPong, []byte("same"))
			assert.NoError(t, <-pinged)
			// Once answered, the payload is free again.
			go func() { pinged <- c.Ping(ctx, []byte("same")) }()
			peer.expectFrame(proto.OpPing, []byte("same"))
			peer.frame(true, proto.OpPong, []byte("same"))
			assert.NoError(t, <-pinged)
		})
	})
}

func TestPingCancelledStopsWaitingOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			pctx, stop := context.WithCancel(ctx)
			pinged := make(chan error, 1)
			go func() { pinged <- c.Ping(pctx, []byte("p")) }()
			peer.expectFrame(proto.OpPing, []byte("p"))
			stop()
			assert.ErrorIs(t, <-pinged, context.Canceled)
			// The cancelled ping is forgotten: its payload may be used again.
			go func() { pinged <- c.Ping(ctx, []byte("p")) }()
			peer.expectFrame(proto.OpPing, []byte("p"))
			peer.frame(true, proto.OpPong, []byte("p"))
			assert.NoError(t, <-pinged)
			assert.Nil(t, c.CloseReason())
		})
	})
}

func TestPingFailsWhenConnectionCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			pinged := make(chan error, 1)
			go func() { pinged <- c.Ping(ctx, nil) }()
			peer.readFrame()
			peer.closeFrame(proto.GoingAway, "")
			assert.Equal(t, GoingAway, closedReason(t, <-pinged).Code)
		})
	})
}

func TestPingPayloadOver125BytesFails(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		assert.Error(t, p.client.Ping(ctx, make([]byte, 126)))
		assert.Error(t, p.client.Pong(ctx, make([]byte, 126)))
		assert.NoError(t, p.client.Ping(ctx, make([]byte, 125)))
	})
}

func TestW40IncomingPingsAreAnsweredAutomatically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			for _, payload := range []string{"", "x", string(make([]byte, 125))} {
				peer.frame(true, proto.OpPing, []byte(payload))
				peer.expectFrame(proto.OpPong, []byte(payload))
			}
		})
	})
}

func TestPingRoundTripBetweenConns(t *testing.T) {
	withPair(t, pairOptions{tcp: true}, func(ctx context.Context, p *pair) {
		for range 10 {
			require.NoError(t, p.client.Ping(ctx, nil))
			require.NoError(t, p.server.Ping(ctx, nil))
		}
	})
}

func TestPongIsSentUnsolicited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			go func() { assert.NoError(t, c.Pong(ctx, []byte("heartbeat"))) }()
			peer.expectFrame(proto.OpPong, []byte("heartbeat"))
		})
	})
}
