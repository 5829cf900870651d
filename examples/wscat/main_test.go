package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is an echo server with a few extras: it greets with the X-Token
// header it got, picks the subprotocol "chat" when offered, answers "binary"
// with a binary message and "bye" by closing with 4000, and records how each
// connection ended (its CloseReason, nil if no close handshake ended it).
type testServer struct {
	closes chan *wsock.CloseReason
}

func (s *testServer) handle(ctx context.Context, r *wsock.Request) error {
	var opts *wsock.AcceptOptions
	if slices.Contains(r.Subprotocols(), "chat") {
		opts = &wsock.AcceptOptions{Subprotocol: "chat"}
	}
	c, err := r.Accept(ctx, opts)
	if err != nil {
		return err
	}
	// However the handler ends, it reports how the connection ended (nil: not by a close
	// handshake), so that a test waiting for it fails instead of hanging.
	defer func() { s.closes <- c.CloseReason() }()
	if tok := r.Header("X-Token"); tok != "" {
		if err := c.SendText(ctx, "token "+tok); err != nil {
			return err
		}
	}
	for {
		m, err := c.Receive(ctx)
		if errors.Is(err, wsock.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		switch string(m.Data) {
		case "bye":
			return c.Close(4000, "server says bye")
		case "binary":
			err = c.SendBinary(ctx, []byte{1, 2, 0xff})
		default:
			err = c.Send(ctx, m.Type, m.Data)
		}
		if err != nil {
			return err
		}
	}
}

// session is one wscat run against the test server, driven through pipes.
type session struct {
	stdin  *io.PipeWriter
	stdout *bufio.Reader
	code   chan int
	stderr *bytes.Buffer // read only after code delivered
	closes chan *wsock.CloseReason
	cancel context.CancelFunc // cancels wscat's context
}

// withWscat runs wscat with flags and the test server's URL, and body with the session.
func withWscat(t *testing.T, flags []string, body func(ctx context.Context, s *session)) {
	t.Helper()
	ctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	srv := &testServer{closes: make(chan *wsock.CloseReason, 1)}
	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		server, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", srv.handle, nil))
		if err != nil {
			return err
		}
		stdinR, stdinW := io.Pipe()
		stdoutR, stdoutW := io.Pipe()
		s := &session{stdin: stdinW, stdout: bufio.NewReader(stdoutR), code: make(chan int, 1),
			stderr: new(bytes.Buffer), closes: srv.closes}
		args := append(slices.Clone(flags), fmt.Sprintf("ws://127.0.0.1:%d/cat", server.Port()))
		wscatCtx, cancelWscat := context.WithCancel(ctx)
		defer cancelWscat()
		s.cancel = cancelWscat
		n.GoNamed("wscat", func(context.Context) error {
			s.code <- run(wscatCtx, args, stdinR, stdoutW, s.stderr)
			return stdoutW.Close()
		})
		body(ctx, s)
		// Unblock a wscat the body left running, then stop the server.
		_ = stdinW.Close()
		_ = stdoutR.Close()
		n.Scope().Cancel("test finished")
		return nil
	})
	require.NoError(t, err)
}

func (s *session) send(t *testing.T, line string) {
	t.Helper()
	_, err := io.WriteString(s.stdin, line+"\n")
	require.NoError(t, err)
}

func (s *session) expect(t *testing.T, line string) {
	t.Helper()
	got, err := s.stdout.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, line+"\n", got)
}

func TestLinesAreSentAndRepliesPrintedUntilEOFClosesNormally(t *testing.T) {
	withWscat(t, nil, func(ctx context.Context, s *session) {
		s.send(t, "hello")
		s.expect(t, "hello")
		s.send(t, "héllo wörld ✓")
		s.expect(t, "héllo wörld ✓")
		s.send(t, "binary")
		s.expect(t, "binary(3): 0102ff")

		require.NoError(t, s.stdin.Close())
		assert.Equal(t, 0, <-s.code)
		assert.Contains(t, s.stderr.String(), "connected to ws://127.0.0.1:")
		closed := <-s.closes
		require.NotNil(t, closed)
		assert.Equal(t, wsock.NormalClosure, closed.Code, "the server sees a normal close")
		_, err := s.stdout.ReadString('\n')
		assert.ErrorIs(t, err, io.EOF, "nothing more is printed")
	})
}

func TestHeadersAndSubprotocolsReachTheServer(t *testing.T) {
	withWscat(t, []string{"-H", "X-Token: abc 123", "-s", "superchat", "-s", "chat"}, func(ctx context.Context, s *session) {
		s.expect(t, "token abc 123")
		require.NoError(t, s.stdin.Close())
		assert.Equal(t, 0, <-s.code)
		assert.Contains(t, s.stderr.String(), "(subprotocol chat)")
		<-s.closes
	})
}

func TestServerCloseEndsWscatWhileInputIsOpen(t *testing.T) {
	withWscat(t, nil, func(ctx context.Context, s *session) {
		s.send(t, "bye")
		assert.Equal(t, 1, <-s.code, "4000 is not a normal closure")
		assert.Contains(t, s.stderr.String(), "closed by server: ")
		assert.Contains(t, s.stderr.String(), "server says bye")
		closed := <-s.closes
		require.NotNil(t, closed)
		assert.Equal(t, wsock.StatusCode(4000), closed.Code)
	})
}

func TestWaitKeepsPrintingRepliesAfterEOFUntilTheServerCloses(t *testing.T) {
	withWscat(t, []string{"-wait", "1m"}, func(ctx context.Context, s *session) {
		// Both lines and EOF go out before any reply: without -wait the
		// echo of "hello" would be dropped by the close.
		s.send(t, "hello")
		s.send(t, "bye")
		require.NoError(t, s.stdin.Close())
		s.expect(t, "hello")
		assert.Equal(t, 1, <-s.code, "the server's 4000 ends the wait")
		assert.Contains(t, s.stderr.String(), "server says bye")
		<-s.closes
	})
}

func TestInterruptClosesWithGoingAwayWhileInputIsOpen(t *testing.T) {
	withWscat(t, nil, func(ctx context.Context, s *session) {
		s.send(t, "hello")
		s.expect(t, "hello")
		// What an interrupt signal does through signal.NotifyContext.
		s.cancel()
		assert.Equal(t, 130, <-s.code)
		assert.Contains(t, s.stderr.String(), "interrupted")
		closed := <-s.closes
		require.NotNil(t, closed)
		assert.Equal(t, wsock.GoingAway, closed.Code, "the server sees a close handshake")
	})
}

func TestBadCommandLinesExitWithStatus2(t *testing.T) {
	for name, args := range map[string][]string{
		"no URL":       nil,
		"two URLs":     {"ws://a/", "ws://b/"},
		"bad header":   {"-H", "no colon", "ws://a/"},
		"unknown flag": {"-x", "ws://a/"},
	} {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(t.Context(), args, bytes.NewReader(nil), io.Discard, &stderr)
			assert.Equal(t, 2, code)
			assert.NotEmpty(t, stderr.String())
		})
	}
}

func TestUnreachableServerExitsWithStatus1(t *testing.T) {
	var stderr bytes.Buffer
	// Port 1 on loopback refuses connections.
	code := run(t.Context(), []string{"ws://127.0.0.1:1/"}, bytes.NewReader(nil), io.Discard, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "wscat:")
}
