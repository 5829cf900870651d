package wsock

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestConnReportsItsHandshakeAndAddresses(t *testing.T) {
	withPair(t, pairOptions{
		tcp: true,
		client: func(cfg *connConfig) {
			cfg.subprotocol = "chat"
			cfg.responseHeader = http.Header{"X-Server": {"yes"}}
		},
		server: func(cfg *connConfig) {
			cfg.path = "/room?id=1"
			cfg.requestHeader = http.Header{"Origin": {"http://example.com"}}
		},
	}, func(ctx context.Context, p *pair) {
		assert.True(t, p.client.IsClient())
		assert.False(t, p.server.IsClient())
		assert.Regexp(t, regexp.MustCompile(`^client-[0-9]+$`), p.client.String())
		assert.Regexp(t, regexp.MustCompile(`^server-[0-9]+$`), p.server.String())
		assert.Equal(t, "chat", p.client.Subprotocol())
		assert.Equal(t, "yes", p.client.ResponseHeader().Get("X-Server"))
		assert.Equal(t, "/room?id=1", p.server.Path())
		assert.Equal(t, "http://example.com", p.server.RequestHeader().Get("Origin"))
		assert.Equal(t, p.client.LocalAddr().String(), p.server.RemoteAddr().String())
		assert.Equal(t, p.server.LocalAddr().String(), p.client.RemoteAddr().String())
	})
}

func TestConnNamesCountPerRole(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c1 := newConn(testConfig(a, proto.Client))
	c2 := newConn(testConfig(b, proto.Client))
	var n1, n2 int
	_, err := fmt.Sscanf(c1.String(), "client-%d", &n1)
	require.NoError(t, err)
	_, err = fmt.Sscanf(c2.String(), "client-%d", &n2)
	require.NoError(t, err)
	assert.Equal(t, n1+1, n2)
}

func TestW44AbruptTCPLossReports1006AndUnblocksEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			received := make(chan error, 1)
			go func() {
				_, err := c.Receive(ctx)
				received <- err
			}()
			pinged := make(chan error, 1)
			go func() { pinged <- c.Ping(ctx, []byte("p")) }()
			peer.expectFrame(proto.OpPing, []byte("p"))
			sent := make(chan error, 1)
			go func() { sent <- c.SendBinary(ctx, make([]byte, 1<<20)) }() // the peer never reads it
			queued := make(chan error, 1)
			go func() { queued <- c.SendText(ctx, "queued behind") }()
			synctest.Wait()

			require.NoError(t, peer.nc.Close())

			for name, ch := range map[string]chan error{"Receive": received, "Ping": pinged, "Send": sent, "queued Send": queued} {
				assert.Equal(t, AbnormalClosure, closedReason(t, <-ch).Code, name)
			}
			err := <-run
			assert.Equal(t, AbnormalClosure, closedReason(t, err).Code, "the reader reports an abnormal closure")
			assert.Equal(t, CloseReason{Code: AbnormalClosure, Name: "ABNORMAL_CLOSURE"}, *c.CloseReason())
			assert.NoError(t, c.Close(NormalClosure, ""), "Close of a lost connection")
		})
	})
}

func TestW44AbruptTCPLossOverTCP(t *testing.T) {
	withPair(t, pairOptions{tcp: true}, func(ctx context.Context, p *pair) {
		received := make(chan error, 1)
		//gotrio:go the receive must block while the test cuts TCP; joined by <-received
		go func() {
			_, err := p.client.Receive(ctx)
			received <- err
		}()
		require.NoError(t, p.server.nc.Close()) // the server's host vanishes
		assert.Equal(t, AbnormalClosure, closedReason(t, <-received).Code)
		assert.Error(t, <-p.clientRun)
		assert.Equal(t, AbnormalClosure, p.client.CloseReason().Code)
	})
}

func TestConcurrentUseThenCloseEndsEverything(t *testing.T) {
	withPair(t, pairOptions{tcp: true}, func(ctx context.Context, p *pair) {
		echoed := make(chan struct{})
		//gotrio:go echoes on the server side; ends when the pair closes, joined by <-echoed
		go func() {
			defer close(echoed)
			for {
				m, err := p.server.Receive(ctx)
				if err != nil {
					return
				}
				if err := p.server.Send(ctx, m.Type, m.Data); err != nil {
					return
				}
			}
		}()
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				data := make([]byte, 100*(i+1)*(i+1)*(i+1))
				for range 50 {
					if err := p.client.SendBinary(ctx, data); err != nil {
						assert.ErrorIs(t, err, ErrClosed)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for {
				if err := p.client.Ping(ctx, nil); err != nil {
					assert.ErrorIs(t, err, ErrClosed)
					return
				}
			}
		})
		received := 0
		for received < 100 {
			_, err := p.client.Receive(ctx)
			require.NoError(t, err)
			received++
		}
		require.NoError(t, p.client.Close(NormalClosure, "enough"))
		wg.Wait()
		<-echoed
		assert.Equal(t, NormalClosure, p.client.CloseReason().Code)
		assert.NoError(t, <-p.clientRun)
		assert.NoError(t, <-p.serverRun)
	})
}

func TestMessagesAroundTheReadBufferSizeArriveWholeOverTCP(t *testing.T) {
	// Over TCP the idle connection waits through syscall.RawConn and reads into the pooled
	// buffer (DefaultReadBufferSize plus a frame header): sizes on each side of its edges.
	sizes := []int{0, 1, 125, 126, 255, 256, 257, 4096 - 4, 4096, 4096 + 10, 4096 + 11, 8 << 10, 70 << 10}
	withPair(t, pairOptions{tcp: true}, func(ctx context.Context, p *pair) {
		for _, size := range sizes {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*7 + size)
			}
			errc := make(chan error, 1)
			//gotrio:go the send must run while the test receives; joined by <-errc
			go func() { errc <- p.client.SendBinary(ctx, data) }()
			m, err := p.server.Receive(ctx)
			require.NoError(t, err)
			require.NoError(t, <-errc)
			assert.Equal(t, data, m.Data, "size %d", size)
		}
	})
}
