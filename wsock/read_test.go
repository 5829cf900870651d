package wsock

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestW30ReceiveReassemblesFragments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.frame(false, proto.OpText, []byte("Hel"))
			peer.frame(false, proto.OpContinuation, nil)
			peer.frame(true, proto.OpPing, []byte("between")) // control frames may interleave
			peer.expectFrame(proto.OpPong, []byte("between"))
			peer.frame(false, proto.OpContinuation, []byte("lo, "))
			peer.frame(true, proto.OpContinuation, []byte("world"))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, Message{Type: TextMessage, Data: []byte("Hello, world")}, m)
		})
	})
}

func TestW30ReceiveReturnsLargeMessagesWhole(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		withPair(t, pairOptions{tcp: tcp}, func(ctx context.Context, p *pair) {
			for _, size := range []int{0, 125, 126, 4 << 10, 64<<10 + 3, 1 << 20} {
				data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
				//gotrio:go the send must run while the test receives; it ends with the receive or the pair's close
				go func() { assert.NoError(t, p.client.SendBinary(ctx, data)) }()
				m, err := p.server.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, BinaryMessage, m.Type)
				assert.True(t, bytes.Equal(data, m.Data), "size %d", size)
				//gotrio:go the send must run while the test receives; it ends with the receive or the pair's close
				go func() { assert.NoError(t, p.server.SendBinary(ctx, data)) }()
				m, err = p.client.Receive(ctx)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(data, m.Data), "size %d", size)
			}
		})
	}
}

func TestW30ConcurrentReceiversEachGetWholeDistinctMessages(t *testing.T) {
	const n = 200
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					m, err := p.server.Receive(ctx)
					if err != nil {
						return
					}
					mu.Lock()
					got[string(m.Data)]++
					mu.Unlock()
				}
			})
		}
		for i := range n {
			w, err := p.client.Writer(ctx, TextMessage)
			require.NoError(t, err)
			_, err = w.Write([]byte{'m', byte('0' + i/100)})
			require.NoError(t, err)
			_, err = w.Write([]byte{byte('0' + i/10%10), byte('0' + i%10)})
			require.NoError(t, err)
			require.NoError(t, w.Close())
		}
		require.NoError(t, p.client.Close(NormalClosure, ""))
		wg.Wait()
		assert.Len(t, got, n)
		for m, count := range got {
			assert.Equal(t, 1, count, m)
		}
	})
}

func TestW31QueuedMessagesSurviveRemoteClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, func(cfg *connConfig) { cfg.queueSize = 3 }, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			for _, s := range []string{"one", "two", "three"} {
				peer.frame(true, proto.OpText, []byte(s))
			}
			peer.closeFrame(4001, "server done")
			peer.expectClose()
			require.NoError(t, peer.nc.Close())
			<-c.done()
			for _, s := range []string{"one", "two", "three"} {
				m, err := c.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, s, string(m.Data))
			}
			_, err := c.Receive(ctx)
			assert.Equal(t, CloseReason{Code: 4001, Name: "PRIVATE_USE", Reason: "server done"}, closedReason(t, err))
		})
	})
}

func TestW32LocalCloseDropsPendingMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, func(cfg *connConfig) { cfg.queueSize = 2 }, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.frame(true, proto.OpText, []byte("one"))
			peer.frame(true, proto.OpText, []byte("two"))
			closed := make(chan error, 1)
			go func() { closed <- c.Close(NormalClosure, "") }()
			peer.expectClose()
			_, err := c.Receive(ctx)
			assert.Equal(t, NormalClosure, closedReason(t, err).Code, "queued messages are dropped")
			// Messages arriving during the closing handshake are dropped too.
			peer.frame(true, proto.OpText, []byte("three"))
			peer.closeFrame(proto.NormalClosure, "")
			require.NoError(t, <-closed)
			_, err = c.Receive(ctx)
			closedReason(t, err)
			_, _, err = c.Reader(ctx)
			closedReason(t, err)
		})
	})
}

func TestW33BackPressureStopsReadingWhenQueueIsFull(t *testing.T) {
	for _, queue := range []int{0, 1, 3} {
		synctest.Test(t, func(t *testing.T) {
			withRaw(t, proto.Server, func(cfg *connConfig) { cfg.queueSize = queue }, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
				// net.Pipe writes complete only once read: the peer can get queue
				// messages into the queue, plus one the reader holds, and no more.
				for i := range queue + 1 {
					peer.frame(true, proto.OpBinary, []byte{byte(i)})
				}
				written := make(chan struct{})
				go func() {
					peer.frame(true, proto.OpBinary, []byte{byte(queue + 1)})
					close(written)
				}()
				synctest.Wait()
				select {
				case <-written:
					t.Fatalf("queue %d: the reader kept reading the socket", queue)
				default:
				}
				m, err := c.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, []byte{0}, m.Data)
				<-written // one message taken: room for one more
				for i := 1; i <= queue+1; i++ {
					m, err := c.Receive(ctx)
					require.NoError(t, err)
					assert.Equal(t, []byte{byte(i)}, m.Data)
				}
			})
		})
	}
}

func TestW35MessageOverMaxMessageSizeCloses1009(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limit := func(cfg *connConfig) { cfg.maxMessageSize = 100 }
		withRaw(t, proto.Server, limit, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.frame(true, proto.OpBinary, make([]byte, 100)) // at the limit: fine
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Len(t, m.Data, 100)
			// Over it, summed over fragments.
			peer.frame(false, proto.OpBinary, make([]byte, 60))
			go peer.nc.Write(proto.AppendFrame(nil, true, proto.OpContinuation, false, make([]byte, 41), true, [4]byte{}))
			code, _ := peer.expectClose()
			assert.Equal(t, proto.MessageTooBig, code)
			_, err = c.Receive(ctx)
			assert.Equal(t, MessageTooBig, closedReason(t, err).Code)
		})
	})
}

func TestReceiveCancellationKeepsConnectionAndMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			rctx, stop := context.WithCancel(ctx)
			received := make(chan error, 1)
			go func() {
				_, err := c.Receive(rctx)
				received <- err
			}()
			synctest.Wait()
			stop()
			assert.ErrorIs(t, <-received, context.Canceled)
			_, err := c.Receive(rctx)
			assert.ErrorIs(t, err, context.Canceled, "a cancelled ctx is a checkpoint")
			peer.frame(true, proto.OpText, []byte("still here"))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, "still here", string(m.Data))
			assert.Nil(t, c.CloseReason())
		})
	})
}

// readerResult is what a Reader call started by goReader returned.
type readerResult struct {
	typ MessageType
	r   io.Reader
	err error
}

// goReader calls c.Reader in a goroutine of the synctest bubble, so the test
// can feed the peer's frames while Reader waits.
func goReader(ctx context.Context, c *Conn) <-chan readerResult {
	got := make(chan readerResult, 1)
	//gotrio:go Reader must wait in the synctest bubble (callers are in it) while the test feeds frames; joined by <-got
	go func() {
		typ, r, err := c.Reader(ctx)
		got <- readerResult{typ, r, err}
	}()
	return got
}

func TestReaderStreamsMessageAsItArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			got := goReader(ctx, c)
			synctest.Wait()
			peer.frame(false, proto.OpBinary, []byte("first part;"))
			res := <-got
			require.NoError(t, res.err)
			assert.Equal(t, BinaryMessage, res.typ)
			buf := make([]byte, 5)
			n, err := io.ReadFull(res.r, buf)
			require.NoError(t, err)
			assert.Equal(t, "first", string(buf[:n]), "data is readable before the message ends")
			rest := make(chan []byte, 1)
			go func() {
				b, err := io.ReadAll(res.r)
				assert.NoError(t, err)
				rest <- b
			}()
			peer.frame(false, proto.OpContinuation, []byte("second;"))
			peer.frame(true, proto.OpPing, []byte("p"))
			peer.expectFrame(proto.OpPong, []byte("p"))
			peer.frame(true, proto.OpContinuation, []byte("end"))
			assert.Equal(t, " part;second;end", string(<-rest))
			// The next message comes normally.
			peer.frame(true, proto.OpText, []byte("next"))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, "next", string(m.Data))
		})
	})
}

func TestReaderTakesOverAMessageAlreadyBeingBuffered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.frame(false, proto.OpText, []byte("buffered;"))
			synctest.Wait() // the chunk is buffered, as no Reader is waiting
			got := goReader(ctx, c)
			synctest.Wait()
			peer.frame(false, proto.OpContinuation, []byte("streamed;"))
			res := <-got
			typ, r, err := res.typ, res.r, res.err
			require.NoError(t, err)
			assert.Equal(t, TextMessage, typ)
			done := make(chan []byte, 1)
			go func() {
				b, err := io.ReadAll(r)
				assert.NoError(t, err)
				done <- b
			}()
			peer.frame(true, proto.OpContinuation, []byte("end"))
			assert.Equal(t, "buffered;streamed;end", string(<-done))
		})
	})
}

func TestReaderReadsWholeQueuedMessageFromMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.frame(true, proto.OpText, []byte("queued"))
			typ, r, err := c.Reader(ctx)
			require.NoError(t, err)
			assert.Equal(t, TextMessage, typ)
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, "queued", string(b))
		})
	})
}

func TestReaderCancelDiscardsRestOfMessageOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			rctx, stop := context.WithCancel(ctx)
			got := make(chan io.Reader, 1)
			go func() {
				_, r, err := c.Reader(rctx)
				assert.NoError(t, err)
				got <- r
			}()
			synctest.Wait()
			peer.frame(false, proto.OpBinary, []byte("abandoned"))
			r := <-got
			stop()
			_, err := io.ReadAll(r)
			assert.ErrorIs(t, err, context.Canceled)
			peer.frame(true, proto.OpContinuation, []byte("rest is discarded"))
			peer.frame(true, proto.OpBinary, []byte("next"))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, "next", string(m.Data))
			assert.Nil(t, c.CloseReason())
		})
	})
}

func TestReaderReportsConnectionClosedMidMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			got := make(chan io.Reader, 1)
			go func() {
				_, r, err := c.Reader(ctx)
				assert.NoError(t, err)
				got <- r
			}()
			synctest.Wait()
			peer.frame(false, proto.OpBinary, []byte("part"))
			r := <-got
			closeFrame, err := proto.AppendClose(nil, proto.GoingAway, "bye")
			require.NoError(t, err)
			go peer.nc.Write(proto.AppendFrame(nil, true, proto.OpClose, false, closeFrame, true, [4]byte{}))
			b, err := io.ReadAll(r)
			assert.Equal(t, "part", string(b))
			assert.Equal(t, GoingAway, closedReason(t, err).Code)
		})
	})
}

func TestW35ReaderStillEnforcesMaxMessageSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limit := func(cfg *connConfig) { cfg.maxMessageSize = 10 }
		withRaw(t, proto.Server, limit, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			got := make(chan io.Reader, 1)
			go func() {
				_, r, err := c.Reader(ctx)
				assert.NoError(t, err)
				got <- r
			}()
			synctest.Wait()
			peer.frame(false, proto.OpBinary, []byte("12345678"))
			r := <-got
			go peer.nc.Write(proto.AppendFrame(nil, true, proto.OpContinuation, false, []byte("901"), true, [4]byte{}))
			b, err := io.ReadAll(r)
			assert.Equal(t, "12345678", string(b))
			assert.Equal(t, MessageTooBig, closedReason(t, err).Code)
			code, _ := peer.expectClose()
			assert.Equal(t, proto.MessageTooBig, code)
		})
	})
}

func TestCompressedMessagesRoundTrip(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		params := &deflate.Params{ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover}
		withDeflate := func(cfg *connConfig) {
			cfg.deflate = params
			cfg.deflateConfig = deflate.Config{Threshold: 64}
		}
		withPair(t, pairOptions{client: withDeflate, server: withDeflate}, func(ctx context.Context, p *pair) {
			for i, data := range [][]byte{
				[]byte("short"),
				bytes.Repeat([]byte("compressible "), 100),
				bytes.Repeat([]byte("compressible "), 100),
				bytes.Repeat([]byte{'z'}, 300<<10),
			} {
				//gotrio:go the send must run while the test receives; it ends with the receive or the pair's close
				go func() { assert.NoError(t, p.client.SendBinary(ctx, data)) }()
				m, err := p.server.Receive(ctx)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(data, m.Data), "message %d", i)
				//gotrio:go the send must run while the test receives; it ends with the receive or the pair's close
				go func() { assert.NoError(t, p.server.SendBinary(ctx, data)) }()
				m, err = p.client.Receive(ctx)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(data, m.Data), "message %d", i)
			}
		})
	}
}

func TestW35LimitAppliesToDecompressedSize(t *testing.T) {
	withDeflate := func(cfg *connConfig) {
		cfg.deflate = &deflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		cfg.deflateConfig = deflate.Config{Threshold: -1}
	}
	withPair(t, pairOptions{client: withDeflate, server: func(cfg *connConfig) {
		withDeflate(cfg)
		cfg.maxMessageSize = 1000
	}}, func(ctx context.Context, p *pair) {
		// 10 000 zeros compress to a few dozen bytes: the limit is on what they inflate to.
		require.NoError(t, p.client.SendBinary(ctx, make([]byte, 10000)))
		_, err := p.server.Receive(ctx)
		assert.Equal(t, MessageTooBig, closedReason(t, err).Code)
		_, err = p.client.Receive(ctx)
		assert.Equal(t, MessageTooBig, closedReason(t, err).Code, "the client learns why")
	})
}

func TestBufferedHandshakeBytesAreReadFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		early := proto.AppendFrame(nil, true, proto.OpText, false, []byte("early"), true, [4]byte{9, 8, 7, 6})
		early = append(early, proto.AppendFrame(nil, false, proto.OpText, false, []byte("split "), true, [4]byte{1, 2, 3, 4})...)
		buffered := func(cfg *connConfig) { cfg.buffered = early }
		withRaw(t, proto.Server, buffered, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, "early", string(m.Data))
			peer.frame(true, proto.OpContinuation, []byte("message"))
			m, err = c.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, "split message", string(m.Data))
		})
	})
}
