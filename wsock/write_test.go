package wsock

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestW29SendOnClosingOrClosedConnReturnsClosedError(t *testing.T) {
	t.Run("local close", func(t *testing.T) {
		withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
			require.NoError(t, p.client.Close(NormalClosure, "done"))
			assertSendsFail(t, ctx, p.client, NormalClosure)
		})
	})
	t.Run("remote close", func(t *testing.T) {
		withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
			require.NoError(t, p.client.Close(GoingAway, ""))
			<-p.server.done()
			assertSendsFail(t, ctx, p.server, GoingAway)
		})
	})
	t.Run("abrupt", func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			require.NoError(t, peer.nc.Close())
			<-c.done()
			assertSendsFail(t, ctx, c, AbnormalClosure)
		})
	})
}

// assertSendsFail checks that every kind of send on c fails with a *ClosedError with code.
func assertSendsFail(t *testing.T, ctx context.Context, c *Conn, code StatusCode) {
	t.Helper()
	assert.Equal(t, code, closedReason(t, c.SendText(ctx, "x")).Code)
	assert.Equal(t, code, closedReason(t, c.SendBinary(ctx, make([]byte, 1<<16))).Code)
	_, err := c.Writer(ctx, BinaryMessage)
	assert.Equal(t, code, closedReason(t, err).Code)
	assert.Equal(t, code, closedReason(t, c.Ping(ctx, nil)).Code)
	assert.Equal(t, code, closedReason(t, c.Pong(ctx, nil)).Code)
}

func TestSendsAreWrittenInTheOrderTheyStartedWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			// A Writer holds the turn; senders queue up behind it one after another.
			w, err := c.Writer(ctx, BinaryMessage)
			require.NoError(t, err)
			const n = 20
			for i := range n {
				go func() { assert.NoError(t, c.SendBinary(ctx, []byte{byte(i)})) }()
				synctest.Wait()
			}
			go func() { assert.NoError(t, w.Close()) }()
			h, _ := peer.readFrame()
			assert.Equal(t, proto.OpBinary, h.Op)
			assert.True(t, h.Fin)
			for i := range n {
				peer.expectFrame(proto.OpBinary, []byte{byte(i)})
			}
		})
	})
}

func TestSendCancelledWhileWaitingLeavesConnectionIntact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			w, err := c.Writer(ctx, TextMessage)
			require.NoError(t, err)
			sctx, stop := context.WithCancel(ctx)
			sent := make(chan error, 1)
			go func() { sent <- c.SendText(sctx, "never") }()
			synctest.Wait()
			stop()
			assert.ErrorIs(t, <-sent, context.Canceled)
			assert.ErrorIs(t, c.SendText(sctx, "cancelled already"), context.Canceled)
			go func() {
				assert.NoError(t, w.Close())
				assert.NoError(t, c.SendText(ctx, "after"))
			}()
			peer.expectFrame(proto.OpText, nil)
			peer.expectFrame(proto.OpText, []byte("after"))
			assert.Nil(t, c.CloseReason())
		})
	})
}

func TestSendCancelledBeforeAnyByteWasWrittenLeavesConnectionIntact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			// The peer reads nothing: the Send's write is blocked before its first byte.
			sctx, stop := context.WithCancel(ctx)
			sent := make(chan error, 1)
			go func() { sent <- c.SendText(sctx, "blocked") }()
			synctest.Wait()
			stop()
			assert.ErrorIs(t, <-sent, context.Canceled)
			assert.Nil(t, c.CloseReason())
			go func() { assert.NoError(t, c.SendText(ctx, "next")) }()
			peer.expectFrame(proto.OpText, []byte("next"))
		})
	})
}

func TestSendCancelledMidFrameFailsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			sctx, stop := context.WithCancel(ctx)
			sent := make(chan error, 1)
			go func() { sent <- c.SendBinary(sctx, make([]byte, 200<<10)) }()
			// Read the start of the frame only.
			_, err := io.ReadFull(peer.br, make([]byte, 100))
			require.NoError(t, err)
			synctest.Wait()
			stop()
			assert.ErrorIs(t, <-sent, context.Canceled)
			<-c.done()
			assert.Equal(t, AbnormalClosure, c.CloseReason().Code)
			assert.NoError(t, <-run, "the failure is our own doing")
			closedReason(t, c.SendText(ctx, "x"))
		})
	})
}

func TestClientSendMasksWithoutModifyingData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			for _, size := range []int{0, 5, 125, 126, 4000, 5000, 70000, 200000} {
				data := bytes.Repeat([]byte("abcdefghijklm"), size/13+1)[:size]
				orig := bytes.Clone(data)
				go func() { assert.NoError(t, c.SendBinary(ctx, data)) }()
				peer.expectFrame(proto.OpBinary, orig) // readFrame checks the mask bit
				assert.Equal(t, orig, data, "the caller's data is unchanged")
			}
		})
	})
}

func TestServerSendsUnmaskedFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			for _, size := range []int{0, 125, 126, 4000, 5000, 70000} {
				data := bytes.Repeat([]byte{'s'}, size)
				go func() { assert.NoError(t, c.SendText(ctx, string(data))) }()
				peer.expectFrame(proto.OpText, data)
			}
		})
	})
}

func TestWriterSendsOneFramePerWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			go func() {
				w, err := c.Writer(ctx, TextMessage)
				assert.NoError(t, err)
				for _, s := range []string{"one ", "", "two ", "three"} {
					n, err := io.WriteString(w, s)
					assert.NoError(t, err)
					assert.Equal(t, len(s), n)
				}
				assert.NoError(t, w.Close())
				assert.NoError(t, w.Close(), "Close is idempotent")
				_, err = w.Write([]byte("x"))
				assert.Error(t, err, "Write after Close")
			}()
			for i, want := range []struct {
				op      proto.Opcode
				fin     bool
				payload string
			}{
				{proto.OpText, false, "one "},
				{proto.OpContinuation, false, "two "},
				{proto.OpContinuation, false, "three"},
				{proto.OpContinuation, true, ""},
			} {
				h, payload := peer.readFrame()
				assert.Equal(t, want.op, h.Op, "frame %d", i)
				assert.Equal(t, want.fin, h.Fin, "frame %d", i)
				assert.Equal(t, want.payload, string(payload), "frame %d", i)
			}
		})
	})
}

func TestWriterLetsControlFramesThroughBetweenFragments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			w, err := c.Writer(ctx, BinaryMessage)
			require.NoError(t, err)
			wrote := make(chan error, 1)
			go func() {
				_, err := w.Write([]byte("first"))
				wrote <- err
			}()
			peer.readFrame()
			require.NoError(t, <-wrote)
			// The Writer's user is slow: the peer's ping is answered meanwhile.
			peer.frame(true, proto.OpPing, []byte("alive?"))
			peer.expectFrame(proto.OpPong, []byte("alive?"))
			go func() { assert.NoError(t, c.Pong(ctx, []byte("unsolicited"))) }()
			peer.expectFrame(proto.OpPong, []byte("unsolicited"))
			// Other data messages wait for the end of this one.
			sent := make(chan error, 1)
			go func() { sent <- c.SendText(ctx, "next") }()
			synctest.Wait()
			select {
			case <-sent:
				t.Fatal("a Send interleaved with a Writer's message")
			default:
			}
			go func() { assert.NoError(t, w.Close()) }()
			h, _ := peer.readFrame()
			assert.True(t, h.Fin)
			assert.Equal(t, proto.OpContinuation, h.Op)
			peer.expectFrame(proto.OpText, []byte("next"))
			assert.NoError(t, <-sent)
		})
	})
}

func TestPendingPongGoesOutWithTheNextFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			// A large Send holds the frame lock while the peer is slow to read; the
			// reader keeps reading and leaves the pong to the Send.
			data := make([]byte, 100<<10)
			sent := make(chan error, 1)
			go func() { sent <- c.SendBinary(ctx, data) }()
			synctest.Wait()
			peer.frame(true, proto.OpPing, []byte("1"))
			peer.frame(true, proto.OpPing, []byte("2")) // only the latest is answered
			peer.frame(true, proto.OpText, []byte("the reader is not blocked"))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, "the reader is not blocked", string(m.Data))
			peer.expectFrame(proto.OpBinary, data)
			peer.expectFrame(proto.OpPong, []byte("2"))
			assert.NoError(t, <-sent)
		})
	})
}

func TestWriterCancelledFailsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			wctx, stop := context.WithCancel(ctx)
			w, err := c.Writer(wctx, BinaryMessage)
			require.NoError(t, err)
			wrote := make(chan error, 1)
			go func() {
				_, err := w.Write([]byte("part"))
				wrote <- err
			}()
			peer.readFrame()
			require.NoError(t, <-wrote)
			stop()
			assert.ErrorIs(t, w.Close(), context.Canceled)
			<-c.done()
			assert.Equal(t, AbnormalClosure, c.CloseReason().Code)
			peer.expectEOF()
		})
	})
}

func TestSendCompressesMessagesFromTheThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withDeflate := func(cfg *connConfig) {
			cfg.deflate = &deflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
			cfg.deflateConfig = deflate.Config{Threshold: 100}
		}
		withRaw(t, proto.Server, withDeflate, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			small := bytes.Repeat([]byte{'a'}, 99)
			large := bytes.Repeat([]byte{'a'}, 100)
			go func() {
				assert.NoError(t, c.SendBinary(ctx, small))
				assert.NoError(t, c.SendBinary(ctx, large))
			}()
			h, payload := peer.readFrame()
			assert.False(t, h.Rsv1, "under the threshold: not compressed")
			assert.Equal(t, small, payload)
			h, payload = peer.readFrame()
			assert.True(t, h.Rsv1, "at the threshold: compressed")
			assert.Less(t, len(payload), len(large))
			inflated, err := deflate.NewDecompressor(true).Inflate(nil, payload, 1<<20)
			require.NoError(t, err)
			assert.Equal(t, large, inflated)
		})
	})
}

func TestSendWithInvalidMessageTypePanics(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		assert.PanicsWithValue(t, "wsock: Send with invalid message type MessageType(9)", func() {
			p.client.Send(ctx, 9, nil)
		})
		assert.Panics(t, func() { p.client.Writer(ctx, 0) })
	})
}
