package wsock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Tests of NetConn: the checks of golang.org/x/net/nettest.TestConn, written by hand
// (tests/bench runs nettest itself), and real protocols layered on top.

// goErr runs fn in a goroutine; its error comes on the channel, for the test to check
// before it ends.
func goErr(fn func() error) <-chan error {
	done := make(chan error, 1)
	//gotrio:go the test's own goroutine beside the Conn's; joined by receiving from done
	go func() { done <- fn() }()
	return done
}

// assertTimeout checks that err is a net.Conn deadline error.
func assertTimeout(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
}

func TestNetConnReadStreamsSuccessiveMessages(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		sent := goErr(func() error {
			for _, s := range []string{"hello, ", "", "net", ".Conn"} {
				if err := p.server.SendBinary(ctx, []byte(s)); err != nil {
					return err
				}
			}
			return nil
		})
		got := make([]byte, len("hello, net.Conn"))
		r := NetConn(ctx, p.client, BinaryMessage)
		buf := make([]byte, 3) // smaller than a message: messages are split across Reads
		var n int
		for n < len(got) {
			k, err := r.Read(buf)
			require.NoError(t, err)
			n += copy(got[n:], buf[:k])
		}
		assert.Equal(t, "hello, net.Conn", string(got))
		require.NoError(t, <-sent)
	})
}

func TestNetConnWriteSendsOneMessagePerWrite(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		w := NetConn(ctx, p.client, TextMessage)
		wrote := goErr(func() error {
			for _, s := range []string{"one", "two"} {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					return fmt.Errorf("wrote %d of %q: %w", n, s, err)
				}
			}
			return nil
		})
		for _, want := range []string{"one", "two"} {
			m, err := p.server.Receive(ctx)
			require.NoError(t, err)
			assert.Equal(t, Message{Type: TextMessage, Data: []byte(want)}, Message{Type: m.Type, Data: m.Data})
		}
		require.NoError(t, <-wrote)
	})
}

func TestNetConnReadReturnsEOFAfterPeersNormalClose(t *testing.T) {
	for _, code := range []StatusCode{NormalClosure, GoingAway} {
		t.Run(code.String(), func(t *testing.T) {
			withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
				closed := goErr(func() error { return p.server.Close(code, "") })
				_, err := NetConn(ctx, p.client, BinaryMessage).Read(make([]byte, 8))
				assert.Equal(t, io.EOF, err)
				require.NoError(t, <-closed)
			})
		})
	}
}

func TestNetConnReadReportsAbnormalCloseAsAnError(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		closed := goErr(func() error { return p.server.Close(InternalError, "boom") })
		_, err := NetConn(ctx, p.client, BinaryMessage).Read(make([]byte, 8))
		assert.Equal(t, InternalError, closedReason(t, err).Code)
		require.NoError(t, <-closed)
	})
}

func TestNetConnMessageOfTheOtherTypeClosesWithUnsupportedData(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		require.NoError(t, p.server.SendText(ctx, "not binary")) // queued: MessageQueueSize 1
		nc := NetConn(ctx, p.client, BinaryMessage)
		_, err := nc.Read(make([]byte, 8))
		require.Error(t, err)
		assert.ErrorContains(t, err, "text message on a net.Conn of binary messages")
		_, err = p.server.Receive(ctx)
		assert.Equal(t, UnsupportedData, closedReason(t, err).Code, "the peer sees 1003")
		_, err = nc.Read(make([]byte, 8))
		assert.ErrorIs(t, err, ErrClosed, "the stream has ended")
	})
}

func TestNetConnCloseSendsNormalClosureAndLaterCallsFailWithErrClosed(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		nc := NetConn(ctx, p.client, BinaryMessage)
		received := goErr(func() error { _, err := p.server.Receive(ctx); return err })
		require.NoError(t, nc.Close())
		assert.Equal(t, NormalClosure, closedReason(t, <-received).Code)
		_, err := nc.Read(make([]byte, 1))
		assert.ErrorIs(t, err, net.ErrClosed)
		_, err = nc.Write([]byte("x"))
		assert.ErrorIs(t, err, net.ErrClosed)
		assert.NoError(t, nc.SetDeadline(time.Now()), "deadlines may still be set")
	})
}

func TestNetConnCloseEndsAWaitingRead(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		nc := NetConn(ctx, p.client, BinaryMessage)
		read := goErr(func() error { _, err := nc.Read(make([]byte, 1)); return err })
		require.NoError(t, nc.Close())
		assert.ErrorIs(t, <-read, net.ErrClosed)
	})
}

func TestNetConnReadDeadlineTimesOutWithoutLosingData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
			nc := NetConn(ctx, p.client, BinaryMessage)
			start := time.Now()
			require.NoError(t, nc.SetReadDeadline(start.Add(time.Second)))
			_, err := nc.Read(make([]byte, 4))
			assertTimeout(t, err)
			assert.Equal(t, time.Second, time.Since(start))

			require.NoError(t, nc.SetReadDeadline(time.Time{}), "a deadline can be lifted after expiry")
			require.NoError(t, p.server.SendBinary(ctx, []byte("late")))
			buf := make([]byte, 4)
			n, err := nc.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, "late", string(buf[:n]))
		})
	})
}

func TestNetConnSetReadDeadlineMovesAWaitingRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
			nc := NetConn(ctx, p.client, BinaryMessage)
			start := time.Now()
			read := goErr(func() error { _, err := nc.Read(make([]byte, 4)); return err })
			synctest.Wait() // the Read waits, without a deadline
			require.NoError(t, nc.SetReadDeadline(start.Add(time.Minute)))
			require.NoError(t, nc.SetReadDeadline(start.Add(2*time.Second)), "earlier again")
			assertTimeout(t, <-read)
			assert.Equal(t, 2*time.Second, time.Since(start))
		})
	})
}

func TestNetConnPastDeadlineFailsAtOnceEvenWithDataAtHand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
			nc := NetConn(ctx, p.client, BinaryMessage)
			require.NoError(t, p.server.SendBinary(ctx, []byte("abcd")))
			buf := make([]byte, 2)
			_, err := io.ReadFull(nc, buf)
			require.NoError(t, err)
			require.NoError(t, nc.SetDeadline(time.Now().Add(-time.Second)))
			_, err = nc.Read(buf)
			assertTimeout(t, err)
			_, err = nc.Write([]byte("x"))
			assertTimeout(t, err)
			require.NoError(t, nc.SetDeadline(time.Time{}))
			_, err = io.ReadFull(nc, buf)
			require.NoError(t, err)
			assert.Equal(t, "cd", string(buf))
		})
	})
}

func TestNetConnWriteDeadlineEndsABlockedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The raw peer reads nothing, so over net.Pipe the write blocks.
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			nc := NetConn(ctx, c, BinaryMessage)
			start := time.Now()
			require.NoError(t, nc.SetWriteDeadline(start.Add(3*time.Second)))
			n, err := nc.Write([]byte("stuck"))
			assertTimeout(t, err)
			assert.Zero(t, n)
			assert.Equal(t, 3*time.Second, time.Since(start))
			require.NoError(t, peer.nc.Close())
		})
	})
}

func TestNetConnCancelledCtxFailsReadsAndWrites(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		cctx, stop := context.WithCancel(ctx)
		stop()
		nc := NetConn(cctx, p.client, BinaryMessage)
		_, err := nc.Read(make([]byte, 1))
		assert.ErrorIs(t, err, context.Canceled)
		_, err = nc.Write([]byte("x"))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Nil(t, p.client.CloseReason(), "the connection is not closed")
	})
}

func TestNetConnConcurrentMethodsAreSafe(t *testing.T) {
	withPair(t, pairOptions{tcp: true}, func(ctx context.Context, p *pair) {
		a, b := NetConn(ctx, p.client, BinaryMessage), NetConn(ctx, p.server, BinaryMessage)
		const writers, per = 4, 50
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range per {
					_, err := a.Write([]byte("0123456789"))
					assert.NoError(t, err)
					assert.NoError(t, a.SetDeadline(time.Now().Add(time.Minute)))
				}
			})
		}
		got := 0
		var mu sync.Mutex
		for range 2 {
			wg.Go(func() {
				buf := make([]byte, 7)
				for {
					assert.NoError(t, b.SetReadDeadline(time.Now().Add(time.Minute)))
					n, err := b.Read(buf)
					if err != nil {
						assert.ErrorIs(t, err, net.ErrClosed)
						return
					}
					mu.Lock()
					got += n
					done := got == writers*per*10
					mu.Unlock()
					if done {
						assert.NoError(t, b.Close()) // ends the other reader's Read too
					}
				}
			})
		}
		wg.Wait()
		assert.Equal(t, writers*per*10, got)
	})
}

func TestNetConnCarriesTLS(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	clientTLS.ServerName = "localhost"
	withPair(t, pairOptions{tcp: true}, func(ctx context.Context, p *pair) {
		srv := tls.Server(NetConn(ctx, p.server, BinaryMessage), serverTLS)
		cli := tls.Client(NetConn(ctx, p.client, BinaryMessage), clientTLS)
		served := goErr(func() error {
			buf := make([]byte, 64<<10)
			n, err := io.ReadFull(srv, buf)
			if err == nil {
				_, err = srv.Write(buf[:n])
			}
			if err == nil {
				err = srv.Close()
			}
			return err
		})
		require.NoError(t, cli.HandshakeContext(ctx))
		assert.Equal(t, uint16(tls.VersionTLS13), cli.ConnectionState().Version)
		sent := make([]byte, 64<<10)
		for i := range sent {
			sent[i] = byte(i * 7)
		}
		_, err := cli.Write(sent)
		require.NoError(t, err)
		echoed, err := io.ReadAll(cli) // to the server's close_notify, then the WebSocket close
		if !errors.Is(err, net.ErrClosed) {
			require.NoError(t, err)
		}
		assert.Equal(t, sent, echoed)
		require.NoError(t, <-served)
	})
}

// BenchmarkNetConnStream measures a byte stream through NetConn over loopback TCP: one
// goroutine writes chunks of the given size, the other reads them.
func BenchmarkNetConnStream(b *testing.B) {
	for _, size := range []int{512, 16 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			withPair(b, pairOptions{tcp: true}, func(ctx context.Context, p *pair) {
				w, r := NetConn(ctx, p.client, BinaryMessage), NetConn(ctx, p.server, BinaryMessage)
				chunk := make([]byte, size)
				buf := make([]byte, 32<<10)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				wrote := goErr(func() error {
					for range b.N {
						if _, err := w.Write(chunk); err != nil {
							return err
						}
					}
					return nil
				})
				for left := b.N * size; left > 0; {
					n, err := r.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					left -= n
				}
				if err := <-wrote; err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
