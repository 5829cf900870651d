package wsock

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

// unixListener listens on a fresh unix socket, removed with the test.
func unixListener(t *testing.T) *net.UnixListener {
	t.Helper()
	dir, err := os.MkdirTemp("", "wsock") // short: socket paths are limited to ~100 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "ws.sock"), Net: "unix"})
	require.NoError(t, err)
	return ln
}

func tcpListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// echoOnce sends text over url and checks that it comes back.
func echoOnce(t *testing.T, ctx context.Context, url, text string, opts *DialOptions) {
	t.Helper()
	err := Open(ctx, url, opts, func(ctx context.Context, c *Conn) error {
		if err := c.SendText(ctx, text); err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		assert.Equal(t, text, string(m.Data))
		return err
	})
	assert.NoError(t, err, "over %s", url)
}

func TestServerServesOnSeveralListenersAtOnce(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	plain, unix, secure := tcpListener(t), unixListener(t), tls.NewListener(tcpListener(t), serverTLS)
	srv, err := NewServer(nil, plain, unix, secure)
	require.NoError(t, err)

	eps := srv.Endpoints()
	require.Len(t, eps, 3)
	assert.Equal(t, Endpoint{Addr: plain.Addr(), TLS: false}, eps[0])
	assert.Equal(t, "ws://127.0.0.1:"+strconv.Itoa(eps[0].Port()), eps[0].URL())
	assert.Equal(t, Endpoint{Addr: unix.Addr(), TLS: false}, eps[1])
	assert.Zero(t, eps[1].Port())
	assert.Empty(t, eps[1].URL(), "a unix socket has no ws URL")
	assert.Equal(t, Endpoint{Addr: secure.Addr(), TLS: true}, eps[2], "a tls.NewListener is recognised")
	assert.Equal(t, "wss://127.0.0.1:"+strconv.Itoa(eps[2].Port()), eps[2].URL())
	assert.Equal(t, plain.Addr(), srv.Addr())
	assert.Equal(t, eps[0].Port(), srv.Port())

	err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			if err := srv.Serve(ctx, echoHandler); !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
		defer n.Scope().Cancel("test over")
		echoOnce(t, ctx, eps[0].URL()+"/", "over TCP", nil)
		var d net.Dialer
		echoOnce(t, ctx, "ws://localhost/", "over a unix socket", &DialOptions{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", eps[1].Addr.String())
			},
		})
		echoOnce(t, ctx, eps[2].URL()+"/", "over TLS", &DialOptions{TLSConfig: clientTLS})
		return nil
	})
	assert.NoError(t, err)
	_, err = plain.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "Serve closed its listeners")
	_, err = unix.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestServerWrapsTheCallersListenersWithTLSConfig(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	srv, err := NewServer(&ServerOptions{TLSConfig: serverTLS}, tcpListener(t))
	require.NoError(t, err)
	ep := srv.Endpoints()[0]
	assert.True(t, ep.TLS)
	err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error { _ = srv.Serve(ctx, echoHandler); return nil })
		defer n.Scope().Cancel("test over")
		echoOnce(t, ctx, ep.URL()+"/", "wrapped", &DialOptions{TLSConfig: clientTLS})
		return nil
	})
	assert.NoError(t, err)
}

// brokenListener fails every Accept for good.
type brokenListener struct{ net.Listener }

func (brokenListener) Accept() (net.Conn, error) { return nil, errors.New("listener broken") }

func TestServerStopsWhenOneOfItsListenersFailsForGood(t *testing.T) {
	healthy := tcpListener(t)
	srv, err := NewServer(nil, healthy, brokenListener{tcpListener(t)})
	require.NoError(t, err)
	err = srv.Serve(context.Background(), echoHandler)
	assert.EqualError(t, err, "wsock: accept: listener broken")
	_, err = healthy.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "the other listeners were closed")
}

func TestNewServerNeedsAListener(t *testing.T) {
	assert.PanicsWithValue(t, "wsock: NewServer without a listener", func() { _, _ = NewServer(nil) })
	assert.PanicsWithValue(t, "wsock: NewServer with a nil listener", func() { _, _ = NewServer(nil, nil) })
	_, err := NewServer(&ServerOptions{Compression: CompressionOptions{Level: 11}}, brokenListener{})
	assert.ErrorIs(t, err, ErrBadOption)
}

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct {
		ep   Endpoint
		want string
	}{
		{Endpoint{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}}, "ws://127.0.0.1:8000"},
		{Endpoint{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}}, "ws://127.0.0.1"},
		{Endpoint{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, TLS: true}, "wss://127.0.0.1:80"},
		{Endpoint{Addr: &net.TCPAddr{IP: net.IPv6loopback, Port: 443}, TLS: true}, "wss://[::1]"},
		{Endpoint{Addr: &net.TCPAddr{IP: net.IPv6loopback, Port: 8443}, TLS: true}, "wss://[::1]:8443"},
		{Endpoint{Addr: &net.TCPAddr{IP: net.IPv6unspecified, Port: 9000}}, "ws://[::]:9000"},
		{Endpoint{Addr: &net.TCPAddr{Port: 9000}}, "ws://0.0.0.0:9000"},
		{Endpoint{Addr: &net.UnixAddr{Name: "/run/ws.sock", Net: "unix"}}, ""},
	} {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.ep.URL())
		})
	}
}
