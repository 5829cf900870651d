package wsock

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

// failingDial is a DialContext that fails with err.
func failingDial(err error) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) { return nil, err }
}

func TestOpenErrorsSayWhatFailedOnceWithoutSecrets(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1},
		Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		name  string
		url   string
		opts  *DialOptions // DialContext, if nil, reaches a server rejecting with 403
		want  string
		is    []error
		isNot []error
	}{
		{name: "unparsable URL", url: "ws://exa mple.com/",
			want: `wsock: open: bad URL: invalid character " " in host name`,
			is:   []error{ErrBadURL}, isNot: []error{ErrHandshake, ErrBadOption}},
		{name: "unknown scheme, credentials hidden", url: "http://user:secret@example.com/chat?token=s3cret",
			want: "wsock: open http://example.com/chat: bad URL: scheme must be ws or wss",
			is:   []error{ErrBadURL}, isNot: []error{ErrHandshake}},
		{name: "no host", url: "ws:///chat",
			want: "wsock: open ws:///chat: bad URL: no host",
			is:   []error{ErrBadURL}, isNot: []error{ErrHandshake}},
		{name: "bad compression level", url: "ws://example.com/",
			opts: &DialOptions{Compression: CompressionOptions{Level: 42}},
			want: "wsock: open ws://example.com/: bad option: CompressionOptions.Level 42 is not between -2 and 9",
			is:   []error{ErrBadOption}, isNot: []error{ErrHandshake, ErrBadURL}},
		{name: "header the handshake sets", url: "ws://example.com/",
			opts: &DialOptions{Header: http.Header{"Sec-Websocket-Key": {"x"}}},
			want: "wsock: open ws://example.com/: bad option: header Sec-Websocket-Key is set by the handshake and may not be given as an extra header",
			is:   []error{ErrBadOption}, isNot: []error{ErrHandshake}},
		{name: "subprotocol that is not a token", url: "ws://example.com/",
			opts: &DialOptions{Subprotocols: []string{"a b"}},
			want: `wsock: open ws://example.com/: bad option: invalid or repeated subprotocol "a b"`,
			is:   []error{ErrBadOption}, isNot: []error{ErrHandshake}},
		{name: "dial error said once", url: "ws://127.0.0.1:1/",
			opts: &DialOptions{DialContext: failingDial(refused)},
			want: "wsock: open ws://127.0.0.1:1/: dial tcp 127.0.0.1:1: connect: connection refused",
			is:   []error{ErrHandshake}},
		{name: "custom dialer's bare error, credentials and query hidden", url: "ws://u:pw@example.com/chat?token=s3cret",
			opts: &DialOptions{DialContext: failingDial(errors.New("boom"))},
			want: "wsock: open ws://example.com/chat: dial example.com:80: boom",
			is:   []error{ErrHandshake}},
		{name: "connect timeout", url: "ws://example.com/",
			opts: &DialOptions{ConnectTimeout: time.Second, DialContext: func(context.Context, string, string) (net.Conn, error) {
				client, _ := net.Pipe() // nobody reads the request
				return client, nil
			}},
			want: "wsock: open ws://example.com/: connect timeout",
			is:   []error{ErrHandshake, ErrConnectTimeout}, isNot: []error{context.DeadlineExceeded}},
		{name: "rejection", url: "ws://example.com/x?token=s3cret",
			want: "wsock: open ws://example.com/x: handshake rejected with status 403 Forbidden",
			is:   []error{ErrHandshake}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
					opts := tc.opts
					if opts == nil {
						_, opts = servePipes(t, n, func(ctx context.Context, r *Request) error {
							return r.Reject(ctx, http.StatusForbidden, nil, nil)
						}, nil)
						defer n.Scope().Cancel("test over")
					}
					err := Open(ctx, tc.url, opts, func(context.Context, *Conn) error {
						t.Error("opened")
						return nil
					})
					require.Error(t, err)
					assert.Equal(t, tc.want, err.Error())
					for _, target := range tc.is {
						assert.ErrorIs(t, err, target)
					}
					for _, target := range tc.isNot {
						assert.NotErrorIs(t, err, target)
					}
					return nil
				})
				assert.NoError(t, err)
			})
		})
	}
}

func TestServerSideErrorsSayWhatFailedOnce(t *testing.T) {
	_, err := Listen("127.0.0.1:0", &ServerOptions{Compression: CompressionOptions{Level: -3}})
	assert.EqualError(t, err, "wsock: listen: bad option: CompressionOptions.Level -3 is not between -2 and 9")
	assert.ErrorIs(t, err, ErrBadOption)
	_, err = Listen("127.0.0.1:-1", nil)
	assert.EqualError(t, err, "wsock: listen tcp: address -1: invalid port", "net's own text, said once")
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
	assert.PanicsWithValue(t, "wsock: NewHTTPHandler: bad option: CompressionOptions.Level 10 is not between -2 and 9", func() {
		NewHTTPHandler(echoHandler, &ServerOptions{Compression: CompressionOptions{Level: 10}})
	})

	synctest.Test(t, func(t *testing.T) {
		errs := make(chan []error, 1)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
				_, subErr := r.Accept(ctx, &AcceptOptions{Subprotocol: "chat"})
				_, hdrErr := r.Accept(ctx, &AcceptOptions{Header: http.Header{"Upgrade": {"h2c"}}})
				statusErr := r.Reject(ctx, http.StatusOK, nil, nil)
				errs <- []error{subErr, hdrErr, statusErr}
				return r.Reject(ctx, http.StatusTeapot, nil, nil)
			}, nil)
			defer n.Scope().Cancel("test over")
			err := Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { return nil })
			var re *RejectedError
			require.ErrorAs(t, err, &re)
			return nil
		})
		require.NoError(t, err)
		got := <-errs
		for i, want := range []string{
			`wsock: accept: bad option: subprotocol "chat" was not proposed by the client`,
			"wsock: accept: bad option: header Upgrade is set by the handshake and may not be given as an extra header",
			"wsock: reject: bad option: status 200 is not 400-599",
		} {
			assert.EqualError(t, got[i], want)
			assert.ErrorIs(t, got[i], ErrBadOption)
		}
	})
}

func TestCloseStatusReturnsTheCodeOfAnyError(t *testing.T) {
	closed := &ClosedError{Reason: newCloseReason(GoingAway, "bye")}
	for _, tc := range []struct {
		name string
		err  error
		want StatusCode
	}{
		{"nil", nil, -1},
		{"an error from elsewhere", errors.New("boom"), -1},
		{"a handshake failure", ErrConnectTimeout, -1},
		{"a *ClosedError", closed, GoingAway},
		{"a wrapped *ClosedError", errors.Join(errors.New("context"), closed), GoingAway},
		{"an abnormal closure", &ClosedError{Reason: abnormal(), err: ErrKeepAliveTimeout}, AbnormalClosure},
		{"a *ClosedError without reason", &ClosedError{}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, CloseStatus(tc.err))
		})
	}
}

func TestStatusCodeStringOfCodesOutsideTheWire(t *testing.T) {
	assert.Equal(t, "-1 INVALID", StatusCode(-1).String())
	assert.Equal(t, "1000 NORMAL_CLOSURE", NormalClosure.String())
}

func TestWrapClientErrorsHideTheQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			client, server := net.Pipe()
			defer server.Close()
			_, err := WrapClient(ctx, n, client, "example.com", "/chat?token=s3cret",
				&DialOptions{Subprotocols: []string{"chat", "chat"}})
			assert.EqualError(t, err, `wsock: open example.com/chat: bad option: invalid or repeated subprotocol "chat"`)
			assert.ErrorIs(t, err, ErrBadOption)
			_, err = server.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "WrapClient closed the stream it owns")
			return nil
		})
		assert.NoError(t, err)
	})
}
