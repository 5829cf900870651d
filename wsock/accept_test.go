package wsock

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

func TestW25RequestExposesTheHandshake(t *testing.T) {
	type seen struct {
		header, headerAnyCase, canonical, path, origin string
		protocols                                      []string
		local, remote                                  string
	}
	got := make(chan seen, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, ServeTask("127.0.0.1:0", func(ctx context.Context, r *Request) error {
			got <- seen{
				header:        r.Header("x-custom"),
				headerAnyCase: r.Header("X-CUSTOM"),
				canonical:     r.Headers().Get("X-Custom"),
				path:          r.Path(),
				origin:        r.Origin(),
				protocols:     r.Subprotocols(),
				local:         r.LocalAddr().String(),
				remote:        r.RemoteAddr().String(),
			}
			_, err := r.Accept(ctx, nil)
			return err
		}, &ServerOptions{AllowedOrigins: []string{"app.example.com"}}))
		require.NoError(t, err)
		defer n.Scope().Cancel("test over")
		opts := &DialOptions{
			Subprotocols: []string{"v2.chat", "v1.chat"},
			Header:       http.Header{"X-Custom": {"a", "b"}, "Origin": {"https://app.example.com"}},
		}
		url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/room/1?user=al%20ice"
		return Open(ctx, url, opts, func(ctx context.Context, c *Conn) error {
			s := <-got
			assert.Equal(t, "a, b", s.header)
			assert.Equal(t, "a, b", s.headerAnyCase)
			assert.Equal(t, "a", s.canonical)
			assert.Equal(t, "/room/1?user=al%20ice", s.path)
			assert.Equal(t, "https://app.example.com", s.origin)
			assert.Equal(t, []string{"v2.chat", "v1.chat"}, s.protocols)
			assert.Equal(t, c.LocalAddr().String(), s.remote)
			assert.Equal(t, c.RemoteAddr().String(), s.local)
			return nil
		})
	})
	assert.NoError(t, err)
}

func TestW26AcceptNegotiatesSubprotocolAndExtraHeaders(t *testing.T) {
	serverSide := make(chan string, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, &AcceptOptions{
				Subprotocol: r.Subprotocols()[1],
				Header:      http.Header{"Set-Cookie": {"session=42"}},
			})
			if err != nil {
				return err
			}
			serverSide <- c.Subprotocol()
			return nil
		}, nil)
		defer n.Scope().Cancel("test over")
		dial.Subprotocols = []string{"v2.chat", "v1.chat"}
		return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			assert.Equal(t, "v1.chat", c.Subprotocol())
			assert.Equal(t, "v1.chat", <-serverSide)
			assert.Equal(t, "session=42", c.ResponseHeader().Get("Set-Cookie"))
			return nil
		})
	})
	assert.NoError(t, err)
}

func TestW26AcceptRefusesASubprotocolTheClientDidNotPropose(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			_, err := r.Accept(ctx, &AcceptOptions{Subprotocol: "v3.chat"})
			assert.ErrorContains(t, err, "not proposed")
			// Nothing was answered: the handler may still refuse.
			return r.Reject(ctx, http.StatusBadRequest, nil, []byte("unsupported protocol"))
		}, nil)
		defer n.Scope().Cancel("test over")
		dial.Subprotocols = []string{"v1.chat"}
		err := Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { return nil })
		var re *RejectedError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, http.StatusBadRequest, re.StatusCode)
		return nil
	})
	assert.NoError(t, err)
}

func TestW27RejectSendsStatusHeadersAndBody(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			return r.Reject(ctx, http.StatusTeapot, http.Header{"X-Brew": {"earl grey"}}, []byte("short and stout"))
		}, nil)
		defer n.Scope().Cancel("test over")
		err := Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error {
			t.Error("body called after a rejection")
			return nil
		})
		var re *RejectedError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, http.StatusTeapot, re.StatusCode)
		assert.Equal(t, "earl grey", re.Header.Get("X-Brew"))
		assert.Equal(t, "short and stout", string(re.Body))
		return nil
	})
	assert.NoError(t, err)
}

func TestW27RejectRefusesStatusesBelow400(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			for _, status := range []int{101, 200, 302, 399, 600} {
				assert.Error(t, r.Reject(ctx, status, nil, nil), "status %d", status)
			}
			return r.Reject(ctx, http.StatusForbidden, nil, nil)
		}, nil)
		defer n.Scope().Cancel("test over")
		err := Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { return nil })
		var re *RejectedError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, http.StatusForbidden, re.StatusCode)
		return nil
	})
	assert.NoError(t, err)
}

func TestRequestIsAnsweredOnce(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			require.NoError(t, err)
			_, err = r.Accept(ctx, nil)
			assert.ErrorContains(t, err, "already accepted")
			assert.ErrorContains(t, r.Reject(ctx, http.StatusForbidden, nil, nil), "already accepted")
			return c.SendText(ctx, "accepted once")
		}, nil)
		defer n.Scope().Cancel("test over")
		return Open(ctx, "ws://example.com/", dial, func(ctx context.Context, c *Conn) error {
			m, err := c.Receive(ctx)
			assert.Equal(t, "accepted once", string(m.Data))
			return err
		})
	})
	assert.NoError(t, err)
}

func TestOriginCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		origin  string
		opts    ServerOptions
		allowed bool
	}{
		{"no origin", "", ServerOptions{}, true},
		{"same origin", "https://example.com", ServerOptions{}, true},
		{"same origin any case", "https://EXAMPLE.com", ServerOptions{}, true},
		{"cross origin", "https://evil.com", ServerOptions{}, false},
		{"other port", "https://example.com:8080", ServerOptions{}, false},
		{"null origin", "null", ServerOptions{}, false},
		{"allowed pattern", "https://app.trusted.org", ServerOptions{AllowedOrigins: []string{"*.trusted.org"}}, true},
		{"pattern with port", "http://localhost:3000", ServerOptions{AllowedOrigins: []string{"localhost:*"}}, true},
		{"pattern mismatch", "https://trusted.org.evil.com", ServerOptions{AllowedOrigins: []string{"*.trusted.org"}}, false},
		{"everything allowed", "https://evil.com", ServerOptions{AllowedOrigins: []string{"*"}}, true},
		{"custom check allows", "https://evil.com", ServerOptions{CheckOrigin: func(*Request) bool { return true }}, true},
		{"custom check refuses", "", ServerOptions{CheckOrigin: func(r *Request) bool { return r.Origin() != "" }}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
					_, dial := servePipes(t, n, echoHandler, &tc.opts)
					defer n.Scope().Cancel("test over")
					if tc.origin != "" {
						dial.Header = http.Header{"Origin": {tc.origin}}
					}
					err := Open(ctx, "ws://example.com/", dial, func(context.Context, *Conn) error { return nil })
					if tc.allowed {
						assert.NoError(t, err)
					} else {
						var re *RejectedError
						require.ErrorAs(t, err, &re)
						assert.Equal(t, http.StatusForbidden, re.StatusCode)
					}
					return nil
				})
				assert.NoError(t, err)
			})
		})
	}
}

func TestHTTPHandlerServesWebSocketsInAServeMux(t *testing.T) {
	logger, _ := captureLogger()
	mux := http.NewServeMux()
	mux.Handle("/ws", NewHTTPHandler(func(ctx context.Context, r *Request) error {
		assert.Equal(t, "/ws?x=1", r.Path())
		return echoHandler(ctx, r)
	}, &ServerOptions{Logger: logger}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "plain page") })
	hs := httptest.NewServer(mux)
	defer hs.Close()
	wsURL := "ws://" + hs.Listener.Addr().String()

	err := Open(context.Background(), wsURL+"/ws?x=1", nil, func(ctx context.Context, c *Conn) error {
		if err := c.SendText(ctx, "through net/http"); err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		assert.Equal(t, "through net/http", string(m.Data))
		return err
	})
	assert.NoError(t, err)

	// The rest of the mux is untouched.
	resp, err := http.Get(hs.URL + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "plain page", string(body))

	// A plain request to the WebSocket route is a bad request.
	resp, err = http.Get(hs.URL + "/ws")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// A cross-origin handshake is refused.
	err = Open(context.Background(), wsURL+"/ws?x=1", &DialOptions{Header: http.Header{"Origin": {"https://evil.com"}}},
		func(context.Context, *Conn) error { return nil })
	var re *RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusForbidden, re.StatusCode)
}

func TestHTTPHandlerAnswersUnsupportedVersionsWith426(t *testing.T) {
	hs := httptest.NewServer(NewHTTPHandler(echoHandler, nil))
	defer hs.Close()
	nc, err := net.Dial("tcp", hs.Listener.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_, err = io.WriteString(nc, validUpgrade+"Sec-WebSocket-Version: 8\r\n\r\n")
	require.NoError(t, err)
	head := string(readHead(t, nc))
	assert.True(t, strings.HasPrefix(head, "HTTP/1.1 426 "), head)
	assert.Contains(t, head, "Sec-Websocket-Version: 13")
}

func TestHTTPHandlerClosesWithGoingAwayWhenTheRequestContextEnds(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	accepted := make(chan struct{})
	hs := httptest.NewUnstartedServer(NewHTTPHandler(func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		close(accepted)
		<-ctx.Done()
		_ = c // closed with 1001 once the handler returns
		return ctx.Err()
	}, nil))
	hs.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	hs.Start()
	defer hs.Close()
	err := Open(context.Background(), "ws://"+hs.Listener.Addr().String()+"/", nil, func(ctx context.Context, c *Conn) error {
		<-accepted
		stop()
		_, err := c.Receive(ctx)
		var ce *ClosedError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, GoingAway, ce.Reason.Code)
		return nil
	})
	assert.NoError(t, err)
}

func TestNewHTTPHandlerPanicsWithoutAHandler(t *testing.T) {
	assert.PanicsWithValue(t, "wsock: NewHTTPHandler with a nil Handler", func() {
		NewHTTPHandler(nil, nil)
	})
}

func TestRequestPathOfAnAbsoluteTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		paths := make(chan string, 1)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
				paths <- r.Path()
				return r.Reject(ctx, http.StatusNotFound, nil, nil)
			}, nil)
			defer n.Scope().Cancel("test over")
			resp := exchangeRaw(t, dial, strings.Replace(validUpgrade, "/chat", "ws://example.com/chat?room=1", 1)+
				"Sec-WebSocket-Version: 13\r\n\r\n")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			return nil
		})
		assert.NoError(t, err)
		assert.Equal(t, "/chat?room=1", <-paths)
	})
}

func TestRequestURLParsesPathAndQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		urls := make(chan *url.URL, 2)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			_, dial := servePipes(t, n, func(ctx context.Context, r *Request) error {
				urls <- r.URL()
				return r.Reject(ctx, http.StatusNotFound, nil, nil)
			}, nil)
			defer n.Scope().Cancel("test over")
			for _, target := range []string{"/chat%20room?room=1&next=%2Fhome", "ws://example.com/chat%20room?room=1&next=%2Fhome"} {
				resp := exchangeRaw(t, dial, strings.Replace(validUpgrade, "/chat", target, 1)+"Sec-WebSocket-Version: 13\r\n\r\n")
				assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			}
			return nil
		})
		assert.NoError(t, err)
		for range 2 {
			u := <-urls
			assert.Equal(t, "/chat room", u.Path)
			assert.Equal(t, "/chat%20room", u.EscapedPath())
			assert.Equal(t, "1", u.Query().Get("room"))
			assert.Equal(t, "/home", u.Query().Get("next"))
			assert.Empty(t, u.Host, "an absolute target keeps its path and query only")
		}
	})
}

func TestAnAcceptedConnectionHoldsNoRequestHeaderMapUntilAskedAndThenTheWholeHeader(t *testing.T) {
	type seen struct {
		heldAfterAccept bool
		fromRequest     http.Header
		fromConn        http.Header
	}
	got := make(chan seen, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, ServeTask("127.0.0.1:0", func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			r.mu.Lock()
			held := r.hs.Header != nil
			r.mu.Unlock()
			got <- seen{heldAfterAccept: held, fromConn: c.RequestHeader(), fromRequest: r.Headers()}
			_, err = c.Receive(ctx)
			return err
		}, nil))
		require.NoError(t, err)
		defer n.Scope().Cancel("test over")
		opts := &DialOptions{Header: http.Header{"X-Custom": {"a", "b"}}}
		url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/"
		return Open(ctx, url, opts, func(ctx context.Context, c *Conn) error {
			s := <-got
			assert.False(t, s.heldAfterAccept, "the map was dropped once the head was checked")
			assert.Equal(t, []string{"a", "b"}, s.fromConn["X-Custom"], "repeated fields, in order")
			assert.Equal(t, []string{"127.0.0.1:" + strconv.Itoa(srv.Port())}, s.fromConn["Host"])
			assert.Equal(t, []string{"13"}, s.fromConn["Sec-Websocket-Version"])
			assert.Equal(t, reflect.ValueOf(s.fromConn).Pointer(), reflect.ValueOf(s.fromRequest).Pointer(),
				"the same map, built once, from either accessor")
			return nil
		})
	})
	require.NoError(t, err)
}
