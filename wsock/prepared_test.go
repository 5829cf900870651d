package wsock

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// withDeflate makes a test connection negotiate permessage-deflate at level, with or
// without context takeover, compressing every message.
func withDeflate(level int, takeover bool) func(*connConfig) {
	return func(cfg *connConfig) {
		cfg.deflate = &deflate.Params{ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover}
		cfg.deflateConfig = deflate.Config{Level: level, Threshold: -1,
			ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover}
	}
}

func TestSendPreparedDeliversTheMessageFromServerAndClient(t *testing.T) {
	pm := NewPreparedMessage(TextMessage, []byte("hello, room"))
	for range 3 {
		withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
			require.NoError(t, p.server.SendPrepared(ctx, pm))
			m, err := p.client.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, Message{Type: TextMessage, Data: []byte("hello, room")}, m)

			require.NoError(t, p.client.SendPrepared(ctx, pm)) // masked on the way out
			m, err = p.server.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, Message{Type: TextMessage, Data: []byte("hello, room")}, m)
		})
	}
	assert.Equal(t, 1, pm.frames.len(), "framed once for every uncompressed connection")
}

func TestPreparedMessageIsFramedOncePerCompressionSetting(t *testing.T) {
	data := []byte(strings.Repeat(`{"user":"ada","text":"hello"},`, 40))
	pm := NewPreparedMessage(TextMessage, data)
	settings := []func(*connConfig){nil, withDeflate(1, false), nil, withDeflate(1, false), withDeflate(9, false)}
	for _, adjust := range settings {
		withPair(t, pairOptions{server: adjust, client: adjust}, func(ctx context.Context, p *pair) {
			require.NoError(t, p.server.SendPrepared(ctx, pm))
			m, err := p.client.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, string(data), string(m.Data))

			require.NoError(t, p.client.SendPrepared(ctx, pm)) // the same frames, masked
			m, err = p.server.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, string(data), string(m.Data))
		})
	}
	assert.Equal(t, 3, pm.frames.len(), "uncompressed, level 1 and level 9")
}

func TestSendPreparedCompressesTheFrameOnTheWire(t *testing.T) {
	data := []byte(strings.Repeat("abcdefgh", 100))
	pm := NewPreparedMessage(BinaryMessage, data)
	synctest.Test(t, func(t *testing.T) { // the raw peer lets the closing handshake time out
		withRaw(t, proto.Server, withDeflate(1, false), func(ctx context.Context, c *Conn, peer *rawPeer, _ <-chan error) {
			go func() { _ = c.SendPrepared(ctx, pm) }()
			h, payload := peer.readFrame()
			assert.True(t, h.Rsv1, "RSV1 marks a compressed message")
			assert.Less(t, len(payload), len(data)/4)
			out, err := deflate.NewDecompressor(true).Inflate(nil, payload, 0)
			require.NoError(t, err)
			assert.Equal(t, data, out)
		})
	})
}

func TestSendPreparedUnderContextTakeoverKeepsTheStreamDecodable(t *testing.T) {
	first := []byte(strings.Repeat("the quick brown fox ", 30))
	second := []byte(strings.Repeat("jumps over the lazy dog ", 30))
	pm := NewPreparedMessage(TextMessage, second)
	takeover := withDeflate(1, true)
	// After the prepared message the compressor's window is reset: "first" is compressed
	// again without reference to the window, which the peer's decompressor (holding
	// "second" too) must decode all the same.
	withPair(t, pairOptions{server: takeover, client: takeover}, func(ctx context.Context, p *pair) {
		want := [][]byte{first, second, first, second}
		errc := make(chan error, 1)
		//gotrio:go the sends must run while the test receives; joined by <-errc
		go func() {
			err := p.server.Send(ctx, TextMessage, first)
			if err == nil {
				err = p.server.SendPrepared(ctx, pm)
			}
			if err == nil {
				err = p.server.Send(ctx, TextMessage, first)
			}
			if err == nil {
				err = p.server.Send(ctx, TextMessage, second)
			}
			errc <- err
		}()
		for _, w := range want {
			m, err := p.client.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, string(w), string(m.Data))
		}
		require.NoError(t, <-errc)
	})
}

func TestSendPreparedOnAClosedConnectionReturnsClosedError(t *testing.T) {
	pm := NewPreparedMessage(BinaryMessage, []byte{1, 2, 3})
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		require.NoError(t, p.client.Close(NormalClosure, ""))
		err := p.client.SendPrepared(ctx, pm)
		assert.Equal(t, NormalClosure, closedReason(t, err).Code)
	})
}

func TestSendPreparedAllocatesNothingOnceFramed(t *testing.T) {
	pm := NewPreparedMessage(BinaryMessage, make([]byte, 4<<10))
	assertSendAllocatesNothing(t, func(ctx context.Context, c *Conn) error { return c.SendPrepared(ctx, pm) })
}

// assertSendAllocatesNothing checks that send, once it has run once, allocates nothing,
// on a server's connection and on a client's, each to a raw peer that discards what it
// reads.
func assertSendAllocatesNothing(t *testing.T, send func(ctx context.Context, c *Conn) error) {
	t.Helper()
	for _, role := range []proto.Role{proto.Server, proto.Client} {
		withBenchConn(t, false, role, func(ctx context.Context, c *Conn, peer net.Conn) {
			drained := make(chan struct{})
			//gotrio:go a raw peer that discards what it reads; joined by <-drained
			go func() {
				_, _ = io.Copy(io.Discard, peer)
				close(drained)
			}()
			require.NoError(t, send(ctx, c))
			allocs := testing.AllocsPerRun(100, func() {
				if err := send(ctx, c); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs, "role %v", role)
			c.nc.Close()
			<-drained
		})
	}
}

func TestNewPreparedMessageCopiesItsData(t *testing.T) {
	data := []byte("abc")
	pm := NewPreparedMessage(BinaryMessage, data)
	data[0] = 'x'
	assert.Equal(t, []byte("abc"), pm.Data())
	assert.Equal(t, BinaryMessage, pm.Type())
}

func TestNewPreparedMessageWithAnInvalidTypePanics(t *testing.T) {
	assert.PanicsWithValue(t, "wsock: NewPreparedMessage with invalid message type MessageType(9)", func() {
		NewPreparedMessage(MessageType(9), nil)
	})
}
