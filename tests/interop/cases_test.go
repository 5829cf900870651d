package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/wsock"
)

// The shared vocabulary of the cases; peers/common.py and peers/common.js
// hold the same values.
var (
	sizes        = []int{0, 125, 126, 65535, 65536, 1 << 20}
	utf8Text     = "héllo wörld ✓ 🚀 ünïcödé"
	clientClose  = closeFrame{4001, "bye from client"}
	serverClose  = closeFrame{4002, "bye from server"}
	offered      = []string{"unknown.v9", "gotrio.v1"}
	supported    = "gotrio.v1"
	rejectBody   = "rejected by " // + the rejecting side's name
	rejectHeader = "X-Interop-Reject"
	// Room for the 1 MiB cases; the default limit is exactly 1 MiB.
	maxMessageSize int64 = 4 << 20
)

type closeFrame struct {
	code   wsock.StatusCode
	reason string
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// makeText is an ASCII string of exactly n bytes.
func makeText(n int) string {
	return strings.Repeat(alphabet, n/len(alphabet)+1)[:n]
}

// makeBinary is n bytes covering every byte value.
func makeBinary(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

// echoCase is one message sent to an echo endpoint.
type echoCase struct {
	name string
	typ  wsock.MessageType
	data []byte
}

func echoCases() []echoCase {
	var cases []echoCase
	for _, n := range sizes {
		cases = append(cases, echoCase{fmt.Sprintf("text-%d", n), wsock.TextMessage, []byte(makeText(n))})
	}
	cases = append(cases, echoCase{"text-utf8", wsock.TextMessage, []byte(utf8Text)})
	for _, n := range sizes {
		cases = append(cases, echoCase{fmt.Sprintf("binary-%d", n), wsock.BinaryMessage, makeBinary(n)})
	}
	return cases
}

// streamMessages are similar, compressible messages for one connection, so
// that a compressor keeping its window between messages makes a difference.
func streamMessages() []echoCase {
	var msgs []echoCase
	for i := range 20 {
		text := fmt.Sprintf(`{"seq": %d, "text": "%s"}`, i, strings.Repeat("the quick brown fox jumps over the lazy dog ", i+1))
		typ := wsock.TextMessage
		if i%4 == 0 {
			typ = wsock.BinaryMessage
		}
		msgs = append(msgs, echoCase{fmt.Sprintf("stream-%d", i), typ, []byte(text)})
	}
	return msgs
}

// clientCaseNames lists the cases a client peer reports: the echo cases, the
// common ones, then extra.
func clientCaseNames(extra ...string) []string {
	var names []string
	for _, c := range echoCases() {
		names = append(names, c.name)
	}
	names = append(names, "server-ping", "close-from-client", "close-from-server", "reject", "subprotocol")
	return append(names, extra...)
}

// requireCases turns a client peer's report into one subtest per expected
// case, so that a case the peer never reported fails too.
func requireCases(t *testing.T, results map[string]caseResult, expected []string) {
	t.Helper()
	for _, name := range expected {
		t.Run(name, func(t *testing.T) {
			r, ok := results[name]
			require.True(t, ok, "the peer did not report case %s", name)
			assert.True(t, r.pass, "peer reports: %s", r.detail)
		})
	}
	var unexpected []string
	for name := range results {
		if !slices.Contains(expected, name) {
			unexpected = append(unexpected, name)
		}
	}
	assert.Empty(t, unexpected, "the peer reported cases the test does not know")
}

// interopServer is our side of the server cases: a wsock handler serving the
// peers' paths, recording what only the server can see.
type interopServer struct {
	prefix string // where the paths are mounted, "" for the root

	mu     sync.Mutex
	closes map[string]*wsock.CloseReason // by the ?case= of /echo connections
	errs   []error                       // handler failures
	exts   map[string]int                // negotiated Sec-WebSocket-Extensions answers, counted
}

func newInteropServer() *interopServer {
	return &interopServer{closes: make(map[string]*wsock.CloseReason), exts: make(map[string]int)}
}

// serverOptions are the options of the server under test; log goes to t.
func serverOptions(t *testing.T) *wsock.ServerOptions {
	return &wsock.ServerOptions{
		MaxMessageSize: maxMessageSize,
		Logger:         testLogger(t),
	}
}

// handle serves /echo, /ping, /close, /reject and /subprotocol.
func (s *interopServer) handle(ctx context.Context, r *wsock.Request) error {
	err := s.serve(ctx, r)
	if err != nil && !cancel.IsCancellation(err) {
		s.mu.Lock()
		s.errs = append(s.errs, fmt.Errorf("handler for %s: %w", r.Path(), err))
		s.mu.Unlock()
	}
	return err
}

func (s *interopServer) serve(ctx context.Context, r *wsock.Request) error {
	u, err := url.Parse(r.Path())
	if err != nil {
		return fmt.Errorf("parse request path: %w", err)
	}
	path := strings.TrimPrefix(u.Path, s.prefix)
	var accept *wsock.AcceptOptions
	switch path {
	case "/reject":
		return r.Reject(ctx, http.StatusForbidden, http.Header{rejectHeader: {"yes"}}, []byte(rejectBody+"gotrio"))
	case "/subprotocol":
		if slices.Contains(r.Subprotocols(), supported) {
			accept = &wsock.AcceptOptions{Subprotocol: supported}
		}
	}
	c, err := r.Accept(ctx, accept)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.exts[c.ResponseHeader().Get("Sec-WebSocket-Extensions")]++
	s.mu.Unlock()
	switch path {
	case "/echo":
		for {
			m, err := c.Receive(ctx)
			if errors.Is(err, wsock.ErrClosed) {
				s.mu.Lock()
				s.closes[u.Query().Get("case")] = c.CloseReason()
				s.mu.Unlock()
				return nil
			}
			if err != nil {
				return err
			}
			if err := c.Send(ctx, m.Type, m.Data); err != nil {
				return err
			}
		}
	case "/ping":
		if err := c.Ping(ctx, []byte("ping from gotrio")); err != nil {
			return err
		}
		if err := c.SendText(ctx, "pinged"); err != nil {
			return err
		}
		return drain(ctx, c)
	case "/close":
		return c.Close(serverClose.code, serverClose.reason)
	case "/subprotocol":
		if err := c.SendText(ctx, c.Subprotocol()); err != nil {
			return err
		}
		return drain(ctx, c)
	}
	return c.Close(4004, "unknown path "+path)
}

// drain receives until the peer closes.
func drain(ctx context.Context, c *wsock.Conn) error {
	for {
		if _, err := c.Receive(ctx); err != nil {
			if errors.Is(err, wsock.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// check asserts what the server saw: the client's close code and reason, and
// no handler failure.
func (s *interopServer) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Run("server-sees-close-from-client", func(t *testing.T) {
		r := s.closes["close-from-client"]
		require.NotNil(t, r, "the server saw no close on the close-from-client connection")
		assert.Equal(t, clientClose.code, r.Code)
		assert.Equal(t, clientClose.reason, r.Reason)
	})
	t.Run("server-handlers-succeed", func(t *testing.T) {
		assert.Empty(t, s.errs)
	})
}

// testLogger sends slog output to t.Log; the server is joined before the
// test returns, so nothing logs after it.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// checkExtensions asserts what the server negotiated: permessage-deflate on
// some connection when the peer offers it, and, when the server allows
// context takeover, no connection where it was turned off.
func (s *interopServer) checkExtensions(t *testing.T, opts *wsock.ServerOptions, peerOffersDeflate bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("negotiated extensions (answer: connections): %v", s.exts)
	t.Run("server-negotiates-deflate", func(t *testing.T) {
		deflated := 0
		for ext, n := range s.exts {
			if strings.Contains(ext, "permessage-deflate") {
				deflated += n
				if opts.Compression.ContextTakeover {
					assert.NotContains(t, ext, "no_context_takeover", "the server allows context takeover")
				}
			}
		}
		if peerOffersDeflate {
			assert.Positive(t, deflated, "no connection negotiated permessage-deflate")
		} else {
			assert.Zero(t, deflated, "a peer that does not offer deflate gets none")
		}
	})
}
