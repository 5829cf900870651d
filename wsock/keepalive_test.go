package wsock

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestKeepAliveAbortsAConnectionWhosePeerStopsAnswering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		go func() {
			acceptRaw(t, server)
			_, _ = io.Copy(io.Discard, server) // reads our pings, never answers them
		}()
		opts := &DialOptions{
			KeepAlive:   KeepAliveOptions{Interval: 10 * time.Second, Timeout: 5 * time.Second},
			DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		err := Open(context.Background(), "ws://example.com/", opts, func(ctx context.Context, c *Conn) error {
			start := time.Now()
			_, err := c.Receive(ctx)
			assert.Equal(t, 15*time.Second, time.Since(start), "one interval, then the pong timeout")
			var ce *ClosedError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, AbnormalClosure, ce.Reason.Code)
			assert.ErrorIs(t, err, ErrKeepAliveTimeout)
			return nil
		})
		assert.NoError(t, err)
		_ = server.Close()
	})
}

func TestKeepAlivePingsAResponsivePeerEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		pings := make(chan time.Time, 16)
		go func() {
			acceptRaw(t, server)
			for {
				f, err := readPeerFrame(server)
				if err != nil {
					return
				}
				switch f.op {
				case proto.OpPing:
					pings <- time.Now()
					_ = writePeerFrame(server, proto.OpPong, f.payload, false)
				case proto.OpClose:
					_ = writePeerFrame(server, proto.OpClose, f.payload, false)
					_ = server.Close()
					return
				}
			}
		}()
		opts := &DialOptions{
			KeepAlive:   KeepAliveOptions{Interval: 10 * time.Second}, // Timeout defaults to Interval
			DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		start := time.Now()
		err := Open(context.Background(), "ws://example.com/", opts, func(ctx context.Context, c *Conn) error {
			require.NoError(t, cancel.Sleep(ctx, 35*time.Second))
			assert.Nil(t, c.CloseReason(), "the connection is still open")
			return nil
		})
		assert.NoError(t, err)
		close(pings)
		var at []time.Duration
		for p := range pings {
			at = append(at, p.Sub(start))
		}
		assert.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second}, at)
	})
}

func TestServerKeepAliveAbortsASilentClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := make(chan error, 1)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
				c, err := r.Accept(ctx, nil)
				if err != nil {
					return err
				}
				_, err = c.Receive(ctx)
				closed <- err
				return nil
			}, &ServerOptions{KeepAlive: KeepAliveOptions{Interval: time.Minute, Timeout: 30 * time.Second}})
			defer n.Scope().Cancel("test over")
			nc, err := dial.DialContext(ctx, "tcp", "")
			require.NoError(t, err)
			defer nc.Close()
			start := time.Now()
			resp := upgradeRaw(t, nc, "/")
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			go func() { _, _ = io.Copy(io.Discard, nc) }() // a client that never answers pings
			err = <-closed
			assert.Equal(t, 90*time.Second, time.Since(start))
			var ce *ClosedError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, AbnormalClosure, ce.Reason.Code)
			return nil
		})
		assert.NoError(t, err)
	})
}

// serveTwoMessagesRaw plays a server on nc that sends two text messages at once (the
// client's queue holds one, so its reader parks with the second) and then answers pings
// if answer is set, recording when each ping arrived; it answers a Close frame and
// hangs up.
func serveTwoMessagesRaw(t *testing.T, nc net.Conn, answer bool, pings chan<- time.Duration) {
	start := time.Now()
	acceptRaw(t, nc)
	for _, m := range []string{"one", "two"} {
		if writePeerFrame(nc, proto.OpText, []byte(m), false) != nil {
			return
		}
	}
	for {
		f, err := readPeerFrame(nc)
		if err != nil {
			return
		}
		switch f.op {
		case proto.OpPing:
			pings <- time.Since(start)
			if answer {
				_ = writePeerFrame(nc, proto.OpPong, f.payload, false)
			}
		case proto.OpClose:
			_ = writePeerFrame(nc, proto.OpClose, f.payload, false)
			_ = nc.Close()
			return
		}
	}
}

func TestKeepAliveDoesNotFailAHealthyPeerBehindASlowHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		pings := make(chan time.Duration, 16)
		go serveTwoMessagesRaw(t, server, true, pings)
		opts := &DialOptions{
			KeepAlive:   KeepAliveOptions{Interval: 10 * time.Second, Timeout: 5 * time.Second},
			DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		err := Open(context.Background(), "ws://example.com/", opts, func(ctx context.Context, c *Conn) error {
			// A handler busy for far longer than Interval+Timeout, while the reader is
			// parked with a full queue and the pong of the first ping waits unread.
			require.NoError(t, cancel.Sleep(ctx, time.Minute))
			assert.Nil(t, c.CloseReason(), "the connection is still open")
			for _, want := range []string{"one", "two"} {
				m, err := c.Receive(ctx)
				require.NoError(t, err)
				assert.Equal(t, want, string(m.Data))
			}
			require.NoError(t, cancel.Sleep(ctx, 15*time.Second))
			assert.Nil(t, c.CloseReason(), "pings are answered again once the reader reads")
			return nil
		})
		assert.NoError(t, err)
		close(pings)
		var at []time.Duration
		for p := range pings {
			at = append(at, p)
		}
		// The first ping's pong is read at 60 s, so the next ping goes at 70 s.
		assert.Equal(t, []time.Duration{10 * time.Second, 70 * time.Second}, at)
	})
}

func TestKeepAliveTimesOutATimeoutAfterTheParkedReaderResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client := net.Pipe()
		pings := make(chan time.Duration, 16)
		go serveTwoMessagesRaw(t, server, false, pings)
		opts := &DialOptions{
			KeepAlive:   KeepAliveOptions{Interval: 10 * time.Second, Timeout: 5 * time.Second},
			DialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil },
		}
		err := Open(context.Background(), "ws://example.com/", opts, func(ctx context.Context, c *Conn) error {
			start := time.Now()
			require.NoError(t, cancel.Sleep(ctx, time.Minute))
			_, err := c.Receive(ctx) // the reader resumes: the pong wait restarts
			require.NoError(t, err)
			_, err = c.Receive(ctx)
			require.NoError(t, err)
			_, err = c.Receive(ctx)
			assert.Equal(t, 65*time.Second, time.Since(start), "a whole Timeout after the reader resumed")
			assert.ErrorIs(t, err, ErrKeepAliveTimeout)
			return nil
		})
		assert.NoError(t, err)
		_ = server.Close()
	})
}
