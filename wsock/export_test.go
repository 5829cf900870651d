package wsock

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Test helpers for the connection layer: connected pairs of Conns without the opening
// handshake, and a raw peer that writes and reads hand-made frames.

// testDisconnectTimeout is the DisconnectTimeout of test connections; tests that depend
// on it run under synctest.
const testDisconnectTimeout = 5 * time.Second

// testConfig is the configuration of a test connection over nc.
func testConfig(nc net.Conn, role proto.Role) connConfig {
	return connConfig{
		netConn:           nc,
		role:              role,
		path:              "/test",
		maxMessageSize:    DefaultMaxMessageSize,
		queueSize:         DefaultMessageQueueSize,
		readBufferSize:    DefaultReadBufferSize,
		disconnectTimeout: testDisconnectTimeout,
	}
}

// pairOptions shape a test pair.
type pairOptions struct {
	tcp            bool              // loopback TCP instead of net.Pipe
	client, server func(*connConfig) // adjust each end's configuration
}

// pair is a connected client and server, each with its reader running.
type pair struct {
	client, server *Conn
	// clientRun and serverRun receive what each reader returned.
	clientRun, serverRun chan error
}

// withPair runs body with a connected pair of Conns, their readers running in a nursery.
// When body returns, the readers are cancelled (which closes both connections) and
// joined.
func withPair(t testing.TB, o pairOptions, body func(ctx context.Context, p *pair)) {
	t.Helper()
	cn, sn := connectedSockets(t, o.tcp)
	ccfg, scfg := testConfig(cn, proto.Client), testConfig(sn, proto.Server)
	if o.client != nil {
		o.client(&ccfg)
	}
	if o.server != nil {
		o.server(&scfg)
	}
	p := &pair{
		client: newConn(ccfg), server: newConn(scfg),
		clientRun: make(chan error, 1), serverRun: make(chan error, 1),
	}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		runIn(n, p.client, p.clientRun)
		runIn(n, p.server, p.serverRun)
		body(ctx, p)
		n.Scope().Cancel("test over")
		return nil
	})
	require.NoError(t, err)
}

// runIn starts c's reader in n; what it returns goes to result.
func runIn(n *nursery.Nursery, c *Conn, result chan<- error) {
	n.GoNamed(c.String()+" reader", func(ctx context.Context) error {
		result <- c.run(ctx)
		return nil
	})
}

// connectedSockets returns the two ends of a net.Pipe, or of a loopback TCP connection.
func connectedSockets(t testing.TB, tcp bool) (client, server net.Conn) {
	t.Helper()
	if !tcp {
		return net.Pipe()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	//gotrio:go accepts one raw TCP connection for the test; joined by <-accepted
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	return client, server
}

// rawPeer plays the other end of a connection by hand, frame by frame.
type rawPeer struct {
	t     testing.TB
	nc    net.Conn
	br    *bufio.Reader
	masks bool // the peer is a client: its frames are masked
}

// withRaw runs body with a Conn of the given role, its reader running, and a raw peer on
// the other end of a net.Pipe. adjust, if not nil, adjusts the Conn's configuration.
// When body returns, the Conn's reader is cancelled and joined; its result goes to run.
func withRaw(t testing.TB, role proto.Role, adjust func(*connConfig), body func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error)) {
	t.Helper()
	ours, theirs := net.Pipe()
	cfg := testConfig(ours, role)
	if adjust != nil {
		adjust(&cfg)
	}
	c := newConn(cfg)
	peer := &rawPeer{t: t, nc: theirs, br: bufio.NewReader(theirs), masks: role == proto.Server}
	run := make(chan error, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		runIn(n, c, run)
		body(ctx, c, peer, run)
		n.Scope().Cancel("test over")
		return nil
	})
	theirs.Close()
	require.NoError(t, err)
}

// frame writes one frame, masked if the peer is a client.
func (p *rawPeer) frame(fin bool, op proto.Opcode, payload []byte) {
	p.t.Helper()
	p.write(proto.AppendFrame(nil, fin, op, false, payload, p.masks, [4]byte{0x11, 0x22, 0x33, 0x44}))
}

// write writes raw bytes.
func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	_, err := p.nc.Write(b)
	require.NoError(p.t, err)
}

// closeFrame writes a Close frame with code and reason.
func (p *rawPeer) closeFrame(code proto.CloseCode, reason string) {
	p.t.Helper()
	payload, err := proto.AppendClose(nil, code, reason)
	require.NoError(p.t, err)
	p.frame(true, proto.OpClose, payload)
}

// readFrame reads one frame, checks that its masking is the Conn's role's, and returns it
// with its payload unmasked.
func (p *rawPeer) readFrame() (proto.Header, []byte) {
	p.t.Helper()
	h, payload, err := p.tryReadFrame()
	require.NoError(p.t, err)
	return h, payload
}

// tryReadFrame is readFrame, returning read errors.
func (p *rawPeer) tryReadFrame() (proto.Header, []byte, error) {
	var hb []byte
	for {
		h, n, err := proto.ParseHeader(hb)
		if err != nil {
			return h, nil, err
		}
		if n > 0 {
			require.Equal(p.t, !p.masks, h.Masked, "masking of a frame from a Conn")
			payload := make([]byte, h.Length)
			if _, err := io.ReadFull(p.br, payload); err != nil {
				return h, nil, err
			}
			if h.Masked {
				proto.Mask(h.Key, 0, payload)
			}
			return h, payload, nil
		}
		b, err := p.br.ReadByte()
		if err != nil {
			return proto.Header{}, nil, err
		}
		hb = append(hb, b)
	}
}

// expectFrame reads a frame and checks its opcode and payload.
func (p *rawPeer) expectFrame(op proto.Opcode, payload []byte) {
	p.t.Helper()
	h, got := p.readFrame()
	require.Equal(p.t, op, h.Op)
	require.True(p.t, h.Fin)
	require.Equal(p.t, string(payload), string(got))
}

// expectClose reads a frame, checks it is a Close frame and returns its code and reason.
func (p *rawPeer) expectClose() (proto.CloseCode, string) {
	p.t.Helper()
	h, payload := p.readFrame()
	require.Equal(p.t, proto.OpClose, h.Op, "payload %q", payload)
	code, reason, err := proto.ParseClose(payload)
	require.NoError(p.t, err)
	return code, reason
}

// expectEOF checks that the Conn closed the connection: nothing but EOF is left to read.
func (p *rawPeer) expectEOF() {
	p.t.Helper()
	b, err := p.br.ReadByte()
	require.ErrorIs(p.t, err, io.EOF, "read %#x", b)
}

// closedReason returns the CloseReason of err, which must be a *ClosedError.
func closedReason(t testing.TB, err error) CloseReason {
	t.Helper()
	var ce *ClosedError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, ErrClosed)
	require.NotNil(t, ce.Reason)
	return *ce.Reason
}
