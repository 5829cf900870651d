package wsock_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

// An echo server and a client in one program: the server runs as a task of
// the nursery, the client's connection lives for Open's callback, and
// cancelling the nursery drains the server.
func Example() {
	echo := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil // the client closed the connection
			}
			if err := c.Send(ctx, m.Type, m.Data); err != nil {
				return nil
			}
		}
	}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", echo, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done") // stops the server when the client is done
		url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/echo"
		return wsock.Open(ctx, url, nil, func(ctx context.Context, c *wsock.Conn) error {
			if err := c.SendText(ctx, "hello, trio"); err != nil {
				return err
			}
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			fmt.Println(m.Type, string(m.Data))
			return nil
		})
	})
	fmt.Println("error:", err)
	// Output:
	// text hello, trio
	// error: <nil>
}

// Mounting WebSocket handlers in a net/http mux, next to ordinary pages.
func ExampleNewHTTPHandler() {
	mux := http.NewServeMux()
	mux.Handle("/shout", wsock.NewHTTPHandler(func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		return c.SendText(ctx, strings.ToUpper(string(m.Data)))
	}, nil))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/shout"
	err := wsock.Open(context.Background(), url, nil, func(ctx context.Context, c *wsock.Conn) error {
		if err := c.SendText(ctx, "quiet please"); err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		fmt.Println(string(m.Data))
		return nil
	})
	fmt.Println("error:", err)
	// Output:
	// QUIET PLEASE
	// error: <nil>
}

// A handler that refuses clients without a token, and the client's view of
// the refusal.
func ExampleRequest_Reject() {
	guarded := func(ctx context.Context, r *wsock.Request) error {
		if r.Header("Authorization") != "Bearer secret" {
			return r.Reject(ctx, http.StatusUnauthorized, nil, []byte("token required"))
		}
		_, err := r.Accept(ctx, nil)
		return err
	}
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", guarded, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		err = wsock.Open(ctx, "ws://"+srv.Addr().String()+"/", nil, func(context.Context, *wsock.Conn) error {
			return nil
		})
		var re *wsock.RejectedError
		if errors.As(err, &re) {
			fmt.Println(re.StatusCode, string(re.Body))
		}
		return nil
	})
	// Output:
	// 401 token required
}

// Shutting an http.Server down together with the WebSockets it serves:
// http.Server.Shutdown does not wait for hijacked connections, and
// HTTPHandler.Shutdown joins them.
func ExampleHTTPHandler_Shutdown() {
	accepted := make(chan struct{})
	var handlerErr error
	ws := wsock.NewHTTPHandler(func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		close(accepted)
		_, handlerErr = c.Receive(ctx) // until the shutdown cancels ctx
		return nil
	}, nil)
	hs := httptest.NewUnstartedServer(ws)
	ws.RegisterOn(hs.Config) // hs.Config.Shutdown sends 1001 to every connection
	hs.Start()
	defer hs.Close()

	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/"
	var clientErr error
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			<-accepted
			if err := hs.Config.Shutdown(ctx); err != nil {
				return err
			}
			return ws.Shutdown(ctx) // returns once the handler has
		})
		return wsock.Open(ctx, url, nil, func(ctx context.Context, c *wsock.Conn) error {
			_, clientErr = c.Receive(ctx)
			return nil
		})
	})
	fmt.Println("handler:", handlerErr)
	fmt.Println("client:", clientErr)
	fmt.Println("error:", err)
	// Output:
	// handler: context canceled
	// client: wsock: connection closed: 1001 GOING_AWAY: server shutting down
	// error: <nil>
}

// Serving on listeners of your own, several at once, and reporting where.
func ExampleNewServer() {
	v4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "wsock")
	defer os.RemoveAll(dir)
	unix, err := net.Listen("unix", filepath.Join(dir, "ws.sock"))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := wsock.NewServer(nil, v4, unix)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ep := range srv.Endpoints() {
		fmt.Printf("%s tls=%t url=%q\n", ep.Addr.Network(), ep.TLS, strings.Split(ep.URL(), ":")[0])
	}
	err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			_ = srv.Serve(ctx, func(ctx context.Context, r *wsock.Request) error {
				c, err := r.Accept(ctx, nil)
				if err != nil {
					return err
				}
				return c.SendText(ctx, "hello from "+c.LocalAddr().Network())
			})
			return nil
		})
		defer n.Scope().Cancel("done") // drains the server
		var d net.Dialer
		viaUnix := &wsock.DialOptions{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", unix.Addr().String())
		}}
		for _, dial := range []struct {
			url  string
			opts *wsock.DialOptions
		}{{srv.Endpoints()[0].URL() + "/", nil}, {"ws://localhost/", viaUnix}} {
			err := wsock.Open(ctx, dial.url, dial.opts, func(ctx context.Context, c *wsock.Conn) error {
				m, err := c.Receive(ctx)
				fmt.Println(string(m.Data))
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	fmt.Println("error:", err)
	// Output:
	// tcp tls=false url="ws"
	// unix tls=false url=""
	// hello from tcp
	// hello from unix
	// error: <nil>
}

// Telling how a connection closed from the error of any call.
func ExampleCloseStatus() {
	h := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		return c.Close(wsock.PolicyViolation, "no thanks")
	}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", h, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		return wsock.Open(ctx, srv.Endpoints()[0].URL()+"/", nil, func(ctx context.Context, c *wsock.Conn) error {
			_, err := c.Receive(ctx)
			fmt.Println(wsock.CloseStatus(err) == wsock.PolicyViolation, wsock.CloseStatus(err))
			fmt.Println(wsock.CloseStatus(errors.New("not a connection's")))
			return nil
		})
	})
	fmt.Println("error:", err)
	// Output:
	// true 1008 POLICY_VIOLATION
	// -1 INVALID
	// error: <nil>
}

// A chat room's broadcast with Broadcast: one member has left, the others get the
// message, and the error names the connection that could not be sent to.
func ExampleBroadcast() {
	var mu sync.Mutex
	var room []*wsock.Conn
	joined := make(chan struct{})
	member := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		mu.Lock()
		//gotrio:connescape a member stays in the room while its handler runs, in Receive until the nursery ends
		room = append(room, c)
		mu.Unlock()
		joined <- struct{}{}
		_, _ = c.Receive(ctx) // until the member leaves
		return nil
	}
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", member, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		url := "ws://" + srv.Addr().String() + "/room"
		var members []*wsock.Conn
		for range 3 {
			c, err := wsock.Connect(ctx, n, url, nil)
			if err != nil {
				return err
			}
			members = append(members, c)
			<-joined
		}
		mu.Lock()
		conns := slices.Clone(room)
		mu.Unlock()
		_ = conns[2].Close(wsock.NormalClosure, "left the room")

		pm := wsock.NewPreparedMessage(wsock.TextMessage, []byte("ada: hello, room"))
		err = wsock.Broadcast(ctx, pm, conns, &wsock.BroadcastOptions{SendTimeout: 10 * time.Second})
		var be *wsock.BroadcastError
		if errors.As(err, &be) {
			fmt.Println("failed:", len(be.Failed), "closed:", errors.Is(err, wsock.ErrClosed))
		}
		for i, c := range members[:2] {
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			fmt.Printf("member %d got %q\n", i+1, m.Data)
		}
		return nil
	})
	// Output:
	// failed: 1 closed: true
	// member 1 got "ada: hello, room"
	// member 2 got "ada: hello, room"
}

// A chat server: every member's handler posts what it receives to the room,
// and the room's task, beside the server in its nursery, sends it to everyone.
func ExampleRoom() {
	room := wsock.NewRoom(nil)
	joined := make(chan struct{})
	member := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		room.Join(c)
		defer room.Leave(c)
		joined <- struct{}{}
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil // the member left
			}
			if err := room.Post(ctx, wsock.NewPreparedMessage(m.Type, m.Data)); err != nil {
				return err
			}
		}
	}
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("room", room.Run)
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", member, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		url := "ws://" + srv.Addr().String() + "/room"
		var members []*wsock.Conn
		for range 2 {
			c, err := wsock.Connect(ctx, n, url, nil)
			if err != nil {
				return err
			}
			members = append(members, c)
			<-joined
		}
		if err := members[0].SendText(ctx, "ada: hello, room"); err != nil {
			return err
		}
		for i, c := range members {
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			fmt.Printf("member %d got %q\n", i+1, m.Data)
		}
		return nil
	})
	// Output:
	// member 1 got "ada: hello, room"
	// member 2 got "ada: hello, room"
}

// A busy chat room: what was said while the room was broadcasting goes out
// as one batch, one write per member for all of it.
func ExampleBroadcastBatch() {
	var mu sync.Mutex
	var room []*wsock.Conn
	joined := make(chan struct{})
	member := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		mu.Lock()
		//gotrio:connescape a member stays in the room while its handler runs, in Receive until the nursery ends
		room = append(room, c)
		mu.Unlock()
		joined <- struct{}{}
		_, _ = c.Receive(ctx) // until the member leaves
		return nil
	}
	// nextBatch waits for a line, then takes the others already said.
	nextBatch := func(ctx context.Context, said <-chan string) (*wsock.PreparedBatch, error) {
		var pms []*wsock.PreparedMessage
		select {
		case line := <-said:
			pms = append(pms, wsock.NewPreparedMessage(wsock.TextMessage, []byte(line)))
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		for {
			select {
			case line := <-said:
				pms = append(pms, wsock.NewPreparedMessage(wsock.TextMessage, []byte(line)))
			default:
				return wsock.NewPreparedBatch(pms...), nil
			}
		}
	}
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", member, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		url := "ws://" + srv.Addr().String() + "/room"
		var members []*wsock.Conn
		for range 2 {
			c, err := wsock.Connect(ctx, n, url, nil)
			if err != nil {
				return err
			}
			members = append(members, c)
			<-joined
		}
		said := make(chan string, 16)
		said <- "ada: hello"
		said <- "bob: hi ada"
		said <- "ada: how is the room?"

		b, err := nextBatch(ctx, said)
		if err != nil {
			return err
		}
		mu.Lock()
		conns := slices.Clone(room)
		mu.Unlock()
		if err := wsock.BroadcastBatch(ctx, b, conns, nil); err != nil {
			return err
		}
		fmt.Println("batch of", len(b.Messages()))
		for i, c := range members {
			for range b.Messages() {
				m, err := c.Receive(ctx)
				if err != nil {
					return err
				}
				fmt.Printf("member %d got %q\n", i+1, m.Data)
			}
		}
		return nil
	})
	// Output:
	// batch of 3
	// member 1 got "ada: hello"
	// member 1 got "bob: hi ada"
	// member 1 got "ada: how is the room?"
	// member 2 got "ada: hello"
	// member 2 got "bob: hi ada"
	// member 2 got "ada: how is the room?"
}

// A chat room's broadcast: the message is framed (and compressed, where the
// connection negotiated permessage-deflate) once per distinct setting, not
// once per member of the room.
func ExamplePreparedMessage() {
	var mu sync.Mutex
	var room []*wsock.Conn
	joined := make(chan struct{})
	member := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		mu.Lock()
		//gotrio:connescape a member stays in the room while its handler runs, in Receive until the nursery ends
		room = append(room, c)
		mu.Unlock()
		joined <- struct{}{}
		_, _ = c.Receive(ctx) // until the member leaves
		return nil
	}
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", member, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		url := "ws://" + srv.Addr().String() + "/room"
		var members []*wsock.Conn
		for range 3 {
			c, err := wsock.Connect(ctx, n, url, nil)
			if err != nil {
				return err
			}
			members = append(members, c)
			<-joined
		}

		pm := wsock.NewPreparedMessage(wsock.TextMessage, []byte("ada: hello, room"))
		mu.Lock()
		for _, c := range room {
			_ = c.SendPrepared(ctx, pm) // a failed member is the member's business
		}
		mu.Unlock()

		for i, c := range members {
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			fmt.Printf("member %d got %q\n", i+1, m.Data)
		}
		return nil
	})
	// Output:
	// member 1 got "ada: hello, room"
	// member 2 got "ada: hello, room"
	// member 3 got "ada: hello, room"
}

// A line protocol written for net.Conn, run inside a WebSocket: the server
// reads lines from a NetConn view of its connection and answers each one.
func ExampleNetConn() {
	shout := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		nc := wsock.NetConn(ctx, c, wsock.BinaryMessage)
		lines := bufio.NewScanner(nc)
		for lines.Scan() {
			if _, err := fmt.Fprintf(nc, "%s!\n", strings.ToUpper(lines.Text())); err != nil {
				return err
			}
		}
		return lines.Err() // nil: the client closed the connection (io.EOF)
	}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", shout, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/shout"
		return wsock.Open(ctx, url, nil, func(ctx context.Context, c *wsock.Conn) error {
			nc := wsock.NetConn(ctx, c, wsock.BinaryMessage)
			answers := bufio.NewReader(nc)
			for _, word := range []string{"hello", "net.Conn"} {
				if _, err := io.WriteString(nc, word+"\n"); err != nil {
					return err
				}
				line, err := answers.ReadString('\n')
				if err != nil {
					return err
				}
				fmt.Print(line)
			}
			return nc.Close()
		})
	})
	fmt.Println("error:", err)
	// Output:
	// HELLO!
	// NET.CONN!
	// error: <nil>
}

// WebSockets over HTTP/2: the dials share one HTTPS connection when the
// server speaks RFC 8441 (a net/http server started with
// GODEBUG=http2xconnect=1), and fall back to HTTP/1.1 otherwise, as here
// unless the example runs with that setting.
func ExampleHTTP2Transport() {
	ws := wsock.NewHTTPHandler(func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		return c.Send(ctx, m.Type, m.Data)
	}, nil)
	hs := httptest.NewUnstartedServer(ws)
	hs.EnableHTTP2 = true
	hs.StartTLS()
	defer hs.Close()

	h2 := &wsock.HTTP2Transport{TLSConfig: hs.Client().Transport.(*http.Transport).TLSClientConfig}
	defer h2.CloseIdleConnections()
	opts := &wsock.DialOptions{HTTP2: h2}
	url := "wss" + strings.TrimPrefix(hs.URL, "https") + "/echo"
	for _, text := range []string{"one", "two"} {
		err := wsock.Open(context.Background(), url, opts, func(ctx context.Context, c *wsock.Conn) error {
			if err := c.SendText(ctx, text); err != nil {
				return err
			}
			m, err := c.Receive(ctx)
			fmt.Println(string(m.Data))
			return err
		})
		if err != nil {
			fmt.Println("error:", err)
		}
	}
	// Output:
	// one
	// two
}
