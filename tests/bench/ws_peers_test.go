package bench

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"
)

// serveHTTP serves fn with net/http on 127.0.0.1:0, as gorilla and coder are
// used. Connections fn hijacks are registered in t, which stop closes.
func serveHTTP(t *tracker, fn http.HandlerFunc) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: fn, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	//gotrio:go net/http's server for the compared libraries; joined by <-done
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	stop := func() {
		_ = srv.Close()
		t.stop()
		<-done
	}
	return ln.Addr().String(), stop, nil
}

// gorilla/websocket: Upgrader and Dialer with their defaults (buffers reused
// from net/http on the server, no compression); ReadMessage and WriteMessage.

var gorillaImpl = wsImpl{name: "gorilla", serve: gorillaServe, clients: gorillaClients}

func gorillaServe(h *handler) (string, func(), error) {
	return gorillaServeWith(h, websocket.Upgrader{})
}

func gorillaServeWith(h *handler, up websocket.Upgrader) (string, func(), error) {
	var t tracker
	return serveHTTP(&t, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if !t.add(c) {
			_ = c.Close()
			return
		}
		defer t.done(c)
		defer c.Close()
		h.opened()
		defer h.closed()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if !echoes(r.URL.Path, typ == websocket.TextMessage) {
				h.sunk()
				continue
			}
			if err := c.WriteMessage(typ, p); err != nil {
				return
			}
		}
	})
}

func gorillaClients(ctx context.Context, url string, k int, body func([]wsClient) error) error {
	return gorillaClientsWith(ctx, url, k, body, websocket.DefaultDialer)
}

func gorillaClientsWith(ctx context.Context, url string, k int, body func([]wsClient) error, d *websocket.Dialer) error {
	cs, err := dialAll(ctx, k, func(ctx context.Context) (*websocket.Conn, error) {
		c, _, err := d.DialContext(ctx, url, nil)
		return c, err
	}, func(c *websocket.Conn) { _ = c.Close() })
	if err != nil {
		return err
	}
	ws := make([]wsClient, k)
	for i, c := range cs {
		ws[i] = gorillaClient{c}
	}
	err = body(ws)
	for _, c := range cs {
		_ = c.Close()
	}
	return err
}

type gorillaClient struct{ c *websocket.Conn }

func (g gorillaClient) echo(msg []byte, n int, lat []time.Duration) error {
	return roundTrips(msg, n, lat, func() (int, error) {
		if err := g.c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return 0, err
		}
		_, p, err := g.c.ReadMessage()
		return len(p), err
	})
}

func (g gorillaClient) send(msg []byte, n int) error {
	for range n {
		if err := g.c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return err
		}
	}
	return nil
}

func (g gorillaClient) listen(h *handler) {
	//gotrio:go listen returns at once for every library alike (wsClient); the reader ends when the connection closes
	go func() {
		for {
			typ, _, err := g.c.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.BinaryMessage {
				h.sunk()
			}
		}
	}()
}

func (g gorillaClient) sync() error {
	if err := g.c.WriteMessage(websocket.TextMessage, syncMsg); err != nil {
		return err
	}
	_, _, err := g.c.ReadMessage()
	return err
}

// coder/websocket: Accept and Dial with compression disabled (their default)
// and the read limit raised from 32 KiB to maxMessage; Read and Write.

var coderImpl = wsImpl{name: "coder", serve: coderServe, clients: coderClients}

// coderCloser closes a coder connection without a closing handshake.
type coderCloser struct{ c *coder.Conn }

func (c coderCloser) Close() error { return c.c.CloseNow() }

func coderServe(h *handler) (string, func(), error) {
	return coderServeWith(h, &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled})
}

func coderServeWith(h *handler, opts *coder.AcceptOptions) (string, func(), error) {
	var t tracker
	return serveHTTP(&t, func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, opts)
		if err != nil {
			return
		}
		cc := coderCloser{c}
		if !t.add(cc) {
			_ = c.CloseNow()
			return
		}
		defer t.done(cc)
		defer c.CloseNow()
		c.SetReadLimit(maxMessage)
		h.opened()
		defer h.closed()
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			if !echoes(r.URL.Path, typ == coder.MessageText) {
				h.sunk()
				continue
			}
			if err := c.Write(ctx, typ, p); err != nil {
				return
			}
		}
	})
}

func coderClients(ctx context.Context, url string, k int, body func([]wsClient) error) error {
	return coderClientsWith(ctx, url, k, body, &coder.DialOptions{CompressionMode: coder.CompressionDisabled})
}

func coderClientsWith(ctx context.Context, url string, k int, body func([]wsClient) error, opts *coder.DialOptions) error {
	cs, err := dialAll(ctx, k, func(ctx context.Context) (*coder.Conn, error) {
		c, _, err := coder.Dial(ctx, url, opts)
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(maxMessage)
		return c, nil
	}, func(c *coder.Conn) { _ = c.CloseNow() })
	if err != nil {
		return err
	}
	ws := make([]wsClient, k)
	for i, c := range cs {
		ws[i] = coderClient{c}
	}
	err = body(ws)
	for _, c := range cs {
		_ = c.CloseNow()
	}
	return err
}

type coderClient struct{ c *coder.Conn }

func (c coderClient) echo(msg []byte, n int, lat []time.Duration) error {
	ctx := context.Background()
	return roundTrips(msg, n, lat, func() (int, error) {
		if err := c.c.Write(ctx, coder.MessageBinary, msg); err != nil {
			return 0, err
		}
		_, p, err := c.c.Read(ctx)
		return len(p), err
	})
}

func (c coderClient) send(msg []byte, n int) error {
	ctx := context.Background()
	for range n {
		if err := c.c.Write(ctx, coder.MessageBinary, msg); err != nil {
			return err
		}
	}
	return nil
}

func (c coderClient) listen(h *handler) {
	//gotrio:go listen returns at once for every library alike (wsClient); the reader ends when the connection closes
	go func() {
		for {
			typ, _, err := c.c.Read(context.Background())
			if err != nil {
				return
			}
			if typ == coder.MessageBinary {
				h.sunk()
			}
		}
	}()
}

func (c coderClient) sync() error {
	ctx := context.Background()
	if err := c.c.Write(ctx, coder.MessageText, syncMsg); err != nil {
		return err
	}
	_, _, err := c.c.Read(ctx)
	return err
}

// lxzan/gws: event handlers called from the connection's ReadLoop. The server
// is gws.Server's accept loop (its own HTTP request parsing with a 4 KiB
// bufio.Reader, no net/http), written out here because RunListener cannot be
// stopped; the options are the defaults (no compression, no parallel
// handlers, 4 KiB read buffer).

var gwsImpl = wsImpl{name: "gws", serve: gwsServe, clients: gwsClients}

// quietLogger drops gws's error logs (closed connections at the end of each
// benchmark).
type quietLogger struct{}

func (quietLogger) Error(...any) {}

type gwsServer struct {
	gws.BuiltinEventHandler
	h    *handler
	echo bool
}

func (s *gwsServer) OnOpen(*gws.Conn)         { s.h.opened() }
func (s *gwsServer) OnClose(*gws.Conn, error) { s.h.closed() }

func (s *gwsServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if !s.echo && m.Opcode != gws.OpcodeText {
		s.h.sunk()
		return
	}
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

func gwsServe(h *handler) (string, func(), error) {
	return gwsServeWith(h, func() *gws.ServerOption { return &gws.ServerOption{Logger: quietLogger{}} })
}

// gwsServeWith is gwsServe with the options opts returns (gws modifies them,
// so that each upgrader needs its own).
func gwsServeWith(h *handler, opts func() *gws.ServerOption) (string, func(), error) {
	ups := map[string]*gws.Upgrader{
		"/echo": gws.NewUpgrader(&gwsServer{h: h, echo: true}, opts()),
		"/sink": gws.NewUpgrader(&gwsServer{h: h}, opts()),
	}
	return gwsServeUpgraders(func(path string) (*gws.Upgrader, bool) {
		up, ok := ups[path]
		return up, ok
	})
}

// gwsServeUpgraders runs gws.Server's accept loop on 127.0.0.1:0, upgrading
// each request with the upgrader route picks for its path.
func gwsServeUpgraders(route func(path string) (*gws.Upgrader, bool)) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var t tracker
	done := make(chan struct{})
	//gotrio:go the accept loop of the compared library (gws); joined by <-done
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if !t.add(nc) {
				_ = nc.Close()
				continue
			}
			//gotrio:go one goroutine per connection, as gws is meant to be used; joined by the tracker
			go func() {
				defer t.done(nc)
				br := bufio.NewReaderSize(nc, 4<<10)
				r, err := http.ReadRequest(br)
				if err != nil {
					_ = nc.Close()
					return
				}
				up, ok := route(r.URL.Path)
				if !ok {
					_ = nc.Close()
					return
				}
				socket, err := up.UpgradeFromConn(nc, br, r)
				if err != nil {
					return
				}
				socket.ReadLoop()
			}()
		}
	}()
	stop := func() {
		_ = ln.Close()
		<-done
		t.stop()
	}
	return ln.Addr().String(), stop, nil
}

// gwsClient drives one gws client connection. Its echo chains round trips
// inside OnMessage, which is how gws is meant to be used, instead of handing
// every message to another goroutine.
type gwsClient struct {
	gws.BuiltinEventHandler
	socket *gws.Conn
	closed chan struct{}

	// state of the echo in progress, owned by the ReadLoop while it runs
	msg  []byte
	left int
	lat  []time.Duration
	i    int
	t0   time.Time
	done chan error

	synced chan struct{}
	// listener, once set, counts every binary message instead of the echo.
	listener atomic.Pointer[handler]
}

func (g *gwsClient) listen(h *handler) { g.listener.Store(h) }

func (g *gwsClient) OnClose(*gws.Conn, error) { close(g.closed) }

func (g *gwsClient) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if m.Opcode == gws.OpcodeText {
		g.synced <- struct{}{}
		return
	}
	if h := g.listener.Load(); h != nil {
		h.sunk()
		return
	}
	if m.Data.Len() != len(g.msg) {
		g.done <- errors.New("echo: wrong length")
		return
	}
	if g.lat != nil && g.i < len(g.lat) {
		g.lat[g.i] = time.Since(g.t0)
	}
	g.i++
	g.left--
	if g.left == 0 {
		g.done <- nil
		return
	}
	g.t0 = time.Now()
	if err := c.WriteMessage(gws.OpcodeBinary, g.msg); err != nil {
		g.done <- err
	}
}

func (g *gwsClient) echo(msg []byte, n int, lat []time.Duration) error {
	if n == 0 {
		return nil
	}
	g.msg, g.left, g.lat, g.i = msg, n, lat, 0
	g.t0 = time.Now()
	if err := g.socket.WriteMessage(gws.OpcodeBinary, msg); err != nil {
		return err
	}
	select {
	case err := <-g.done:
		return err
	case <-g.closed:
		return errors.New("echo: connection closed")
	}
}

func (g *gwsClient) send(msg []byte, n int) error {
	for range n {
		if err := g.socket.WriteMessage(gws.OpcodeBinary, msg); err != nil {
			return err
		}
	}
	return nil
}

func (g *gwsClient) sync() error {
	if err := g.socket.WriteMessage(gws.OpcodeText, syncMsg); err != nil {
		return err
	}
	select {
	case <-g.synced:
		return nil
	case <-g.closed:
		return errors.New("sync: connection closed")
	}
}

func (g *gwsClient) close() {
	_ = g.socket.NetConn().Close()
	<-g.closed
}

func gwsClients(ctx context.Context, url string, k int, body func([]wsClient) error) error {
	return gwsClientsWith(ctx, url, k, body, gws.PermessageDeflate{})
}

func gwsClientsWith(ctx context.Context, url string, k int, body func([]wsClient) error, z gws.PermessageDeflate) error {
	var wg sync.WaitGroup
	cs, err := dialAll(ctx, k, func(context.Context) (*gwsClient, error) {
		g := &gwsClient{closed: make(chan struct{}), done: make(chan error, 1), synced: make(chan struct{}, 1)}
		socket, _, err := gws.NewClient(g, &gws.ClientOption{Addr: url, Logger: quietLogger{}, PermessageDeflate: z})
		if err != nil {
			return nil, err
		}
		g.socket = socket
		wg.Go(socket.ReadLoop)
		return g, nil
	}, (*gwsClient).close)
	if err != nil {
		wg.Wait()
		return err
	}
	ws := make([]wsClient, k)
	for i, c := range cs {
		ws[i] = c
	}
	err = body(ws)
	for _, c := range cs {
		c.close()
	}
	wg.Wait()
	return err
}
