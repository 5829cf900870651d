package wsock

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chatBatch is a batch of chat lines, short and long, text and binary.
func chatBatch() (*PreparedBatch, []string) {
	want := []string{
		"hi",
		strings.Repeat(`{"user":"ada","text":"hello"},`, 20),
		"\x00\x01binary",
		strings.Repeat("the quick brown fox ", 400), // 8 KB: a large frame
	}
	pms := make([]*PreparedMessage, len(want))
	for i, w := range want {
		typ := TextMessage
		if strings.HasPrefix(w, "\x00") {
			typ = BinaryMessage
		}
		pms[i] = NewPreparedMessage(typ, []byte(w))
	}
	return NewPreparedBatch(pms...), want
}

// receiveBatch checks that c receives want next, in order, with their types.
func receiveBatch(t *testing.T, ctx context.Context, c *Conn, b *PreparedBatch, want []string) {
	t.Helper()
	for i, w := range want {
		m, err := c.Receive(ctx)
		require.NoError(t, err, "message %d", i)
		assert.Equal(t, w, string(m.Data), "message %d", i)
		assert.Equal(t, b.Messages()[i].Type(), m.Type, "message %d", i)
	}
}

func TestSendBatchDeliversItsMessagesInOrderFromServerAndClient(t *testing.T) {
	b, want := chatBatch()
	for _, tcp := range []bool{false, true} {
		withPair(t, pairOptions{tcp: tcp}, func(ctx context.Context, p *pair) {
			sent := make(chan error, 1)
			//gotrio:go the send, so that the test can read meanwhile over a pipe; joined by <-sent
			go func() { sent <- p.server.SendBatch(ctx, b) }()
			receiveBatch(t, ctx, p.client, b, want)
			require.NoError(t, <-sent)

			//gotrio:go as above
			go func() { sent <- p.client.SendBatch(ctx, b) }()
			receiveBatch(t, ctx, p.server, b, want)
			require.NoError(t, <-sent)
		})
	}
	assert.Equal(t, 1, b.wires.len(), "laid out once for the servers' one setting")
}

// writeCounter counts the writes made to its net.Conn.
type writeCounter struct {
	net.Conn
	writes *atomic.Int32
}

func (c writeCounter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestSendBatchIsOneWriteOnAServersConnection(t *testing.T) {
	b, want := chatBatch()
	var writes atomic.Int32
	count := func(cfg *connConfig) { cfg.netConn = writeCounter{cfg.netConn, &writes} }
	withPair(t, pairOptions{tcp: true, server: count}, func(ctx context.Context, p *pair) {
		require.NoError(t, p.server.SendBatch(ctx, b))
		assert.Equal(t, int32(1), writes.Load(), "frames of %d messages", len(want))
		receiveBatch(t, ctx, p.client, b, want)
	})
}

func TestSendBatchUnderCompressionKeepsEveryStreamDecodable(t *testing.T) {
	// Threshold 64: the short messages go uncompressed, the long ones compressed; with
	// context takeover the window is reset after the batch, and the Send that follows
	// is decoded by a peer whose window holds the batch.
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			b, want := chatBatch()
			deflate := func(cfg *connConfig) {
				withDeflate(1, takeover)(cfg)
				cfg.deflateConfig.Threshold = 64
			}
			after := strings.Repeat("jumps over the lazy dog ", 30)
			withPair(t, pairOptions{server: deflate, client: deflate}, func(ctx context.Context, p *pair) {
				for _, from := range []*pair{{server: p.server, client: p.client}, {server: p.client, client: p.server}} {
					sent := make(chan error, 1)
					//gotrio:go the sends, so that the test can read meanwhile over a pipe; joined by <-sent
					go func() {
						err := from.server.Send(ctx, TextMessage, []byte(after))
						if err == nil {
							err = from.server.SendBatch(ctx, b)
						}
						if err == nil {
							err = from.server.Send(ctx, TextMessage, []byte(after))
						}
						sent <- err
					}()
					m, err := from.client.Receive(ctx)
					require.NoError(t, err)
					assert.Equal(t, after, string(m.Data))
					receiveBatch(t, ctx, from.client, b, want)
					m, err = from.client.Receive(ctx)
					require.NoError(t, err)
					assert.Equal(t, after, string(m.Data))
					require.NoError(t, <-sent)
				}
			})
			assert.Equal(t, 1, b.wires.len(), "one server setting")
		})
	}
}

func TestSendBatchOfNothingSendsNothing(t *testing.T) {
	var writes atomic.Int32
	count := func(cfg *connConfig) { cfg.netConn = writeCounter{cfg.netConn, &writes} }
	withPair(t, pairOptions{tcp: true, server: count}, func(ctx context.Context, p *pair) {
		require.NoError(t, p.server.SendBatch(ctx, NewPreparedBatch()))
		assert.Zero(t, writes.Load())
	})
}

func TestSendBatchOnAClosedConnectionReturnsClosedError(t *testing.T) {
	b, _ := chatBatch()
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		require.NoError(t, p.server.Close(NormalClosure, ""))
		err := p.server.SendBatch(ctx, b)
		assert.Equal(t, NormalClosure, closedReason(t, err).Code)
	})
}

func TestSendBatchAllocatesNothingOnceLaidOut(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b, _ := chatBatch()
	assertSendAllocatesNothing(t, func(ctx context.Context, c *Conn) error { return c.SendBatch(ctx, b) })
}

func TestBroadcastBatchDeliversTheBatchToEveryConnectionInOrder(t *testing.T) {
	for _, n := range []int{3, 3 * broadcastInline} {
		t.Run(fmt.Sprintf("conns=%d", n), func(t *testing.T) {
			withRoom(t, n, 0, func(ctx context.Context, r *room) {
				b := NewPreparedBatch(
					NewPreparedMessage(TextMessage, []byte("one")),
					NewPreparedMessage(TextMessage, []byte("two")))
				sent := make(chan error, 1)
				//gotrio:go the broadcaster, so that the test can read meanwhile; joined by <-sent
				go func() { sent <- BroadcastBatch(ctx, b, r.servers, nil) }()
				for _, c := range r.clients {
					receiveBatch(t, ctx, c, b, []string{"one", "two"})
				}
				assert.NoError(t, <-sent)
			})
		})
	}
}

func TestBroadcastBatchReportsTheClosedConnections(t *testing.T) {
	withRoom(t, 3, 0, func(ctx context.Context, r *room) {
		require.NoError(t, r.servers[1].Close(NormalClosure, ""))
		b := NewPreparedBatch(NewPreparedMessage(TextMessage, []byte("still here")))
		sent := make(chan error, 1)
		//gotrio:go the broadcaster, so that the test can read meanwhile; joined by <-sent
		go func() { sent <- BroadcastBatch(ctx, b, r.servers, nil) }()
		receiveAll(t, ctx, []*Conn{r.clients[0], r.clients[2]}, "still here")
		var berr *BroadcastError
		require.ErrorAs(t, <-sent, &berr)
		require.Len(t, berr.Failed, 1)
		assert.Same(t, r.servers[1], berr.Failed[0].Conn)
		assert.ErrorIs(t, berr, ErrClosed)
	})
}

func TestBatchWithNilArgumentsPanics(t *testing.T) {
	assert.PanicsWithValue(t, "wsock: NewPreparedBatch with a nil *PreparedMessage", func() {
		NewPreparedBatch(NewPreparedMessage(TextMessage, nil), nil)
	})
	assert.PanicsWithValue(t, "wsock: BroadcastBatch with a nil *PreparedBatch", func() {
		_ = BroadcastBatch(context.Background(), nil, nil, nil)
	})
}
