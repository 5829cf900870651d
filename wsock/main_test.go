package wsock

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/handshake"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Helpers shared by the endpoint tests (dial, server, accept, keepalive,
// leak). They run servers over net.Pipe, so that tests can use synctest's
// fake clock, and over loopback TCP where a real socket matters.

// wsPipeListener is a net.Listener whose connections are net.Pipe ends; its
// DialContext (for DialOptions) makes the other ends.
type wsPipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newWSPipeListener() *wsPipeListener {
	return &wsPipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *wsPipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *wsPipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *wsPipeListener) Addr() net.Addr { return wsPipeAddr{} }

// DialContext connects to the listener; it fails like a refused TCP
// connection once the listener is closed.
func (l *wsPipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type wsPipeAddr struct{}

func (wsPipeAddr) Network() string { return "pipe" }
func (wsPipeAddr) String() string  { return "pipe" }

// servePipes starts a server over a pipe listener as a task of n and returns
// it with the dial options that reach it. The task ends when n is cancelled.
func servePipes(t *testing.T, n *nursery.Nursery, h Handler, opts *ServerOptions) (*Server, *DialOptions) {
	t.Helper()
	cfg, err := newServerConfig(opts)
	require.NoError(t, err)
	ln := newWSPipeListener()
	srv := newServer(cfg, ln)
	n.GoNamed("test server", func(ctx context.Context) error {
		err := srv.Serve(ctx, h)
		if ctx.Err() != nil {
			return nil // drained because the test is over
		}
		return err
	})
	return srv, &DialOptions{DialContext: ln.DialContext}
}

// echoHandler accepts and echoes every message until the connection closes.
func echoHandler(ctx context.Context, r *Request) error {
	c, err := r.Accept(ctx, nil)
	if err != nil {
		return err
	}
	return echoConn(ctx, c)
}

// echoConn echoes every message on c until it closes.
func echoConn(ctx context.Context, c *Conn) error {
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		if err := c.Send(ctx, m.Type, m.Data); err != nil {
			return nil
		}
	}
}

// readHead reads an HTTP head (request or response) byte by byte, so that
// nothing after it is consumed.
func readHead(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var head []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		_, err := io.ReadFull(r, b)
		require.NoError(t, err, "reading a head, got %q so far", head)
		head = append(head, b[0])
	}
	return head
}

// acceptRaw plays a minimal server on nc: it reads the opening handshake and
// answers 101 with extra lines (each "Name: value") added to the head. It
// returns the request.
func acceptRaw(t *testing.T, nc net.Conn, extra ...string) *handshake.Request {
	t.Helper()
	head := readHead(t, nc)
	req, _, err := handshake.ParseRequest(head, handshake.Limits{})
	require.NoError(t, err)
	answer := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + handshake.AcceptKey(req.Key) + "\r\n"
	for _, line := range extra {
		answer += line + "\r\n"
	}
	_, err = io.WriteString(nc, answer+"\r\n")
	require.NoError(t, err)
	return req
}

// upgradeRaw plays a minimal client on nc: it sends an opening handshake
// for path and returns the answer.
func upgradeRaw(t *testing.T, nc net.Conn, path string) *http.Response {
	t.Helper()
	req, err := handshake.AppendRequest(nil, "example.com", path, handshake.NewKey(), nil, "", nil)
	require.NoError(t, err)
	_, err = nc.Write(req)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(readHead(t, nc))), nil)
	require.NoError(t, err)
	return resp
}

// peerFrame is one frame read by readPeerFrame.
type peerFrame struct {
	op      proto.Opcode
	payload []byte
}

// readPeerFrame reads one frame from r, unmasking its payload.
func readPeerFrame(r io.Reader) (peerFrame, error) {
	buf := make([]byte, 0, proto.MaxHeaderLen)
	b := make([]byte, 1)
	for {
		h, n, err := proto.ParseHeader(buf)
		if err != nil {
			return peerFrame{}, err
		}
		if n > 0 {
			payload := make([]byte, h.Length)
			if _, err := io.ReadFull(r, payload); err != nil {
				return peerFrame{}, err
			}
			if h.Masked {
				proto.Mask(h.Key, 0, payload)
			}
			return peerFrame{op: h.Op, payload: payload}, nil
		}
		if _, err := io.ReadFull(r, b); err != nil {
			return peerFrame{}, err
		}
		buf = append(buf, b[0])
	}
}

// writePeerFrame writes one final frame, masked when fromClient.
func writePeerFrame(w io.Writer, op proto.Opcode, payload []byte, fromClient bool) error {
	_, err := w.Write(proto.AppendFrame(nil, true, op, false, payload, fromClient, [4]byte{1, 2, 3, 4}))
	return err
}

// selfSignedTLS returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1 and localhost, and a client configuration that
// trusts it.
func selfSignedTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wsock test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	return server, &tls.Config{RootCAs: pool}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureLogger returns a logger writing every level to the returned buffer.
func captureLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
