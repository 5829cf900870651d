package bench

// BenchmarkBroadcast: one message to many connections, a chat room's
// broadcast. The server (the room) runs in this process and the clients in a
// peer process ("recv:IMPL", see runRecvPeer), so that the allocations counted
// are the broadcasting server's alone. Each library broadcasts as it is meant
// to: gotrio with NewPreparedMessage and Broadcast (impl=gotrio-loop: one
// SendPrepared per connection, in one goroutine), gorilla with
// NewPreparedMessage and WritePreparedMessage, gws with its Broadcaster (which
// queues each write to the connection's own writer), coder, which has no
// prepared messages, with one Write per connection. An iteration is one
// broadcast. ns/recipient, B/recipient and allocs/recipient divide by the
// number of connections; cpu-ns/recipient is the server process's CPU time
// (user+system) per recipient, which does not depend on how fast the peer
// reads, nor on whether a library writes in the caller's goroutine or in its
// own; peer-cpu-ns/recipient is the peer process's (from /proc, in clock
// ticks: meaningful over runs of a second or more); the allocations are the
// server process's, from runtime.MemStats.
//
// Two modes. mode=one: each broadcast is received on every connection before
// the next is made, the time of one message to the whole room. mode=stream:
// b.N broadcasts are made back to back, then the peer waits for all of them:
// the rate of a busy room. There gws's Broadcaster, which only queues each
// write (to a goroutine per connection) and returns, has several messages
// queued per connection, written one after the other and read by the peer
// together; a synchronous broadcast (gotrio's Broadcast, gorilla's loop)
// sends the next message only once the last went to everyone. The row
// impl=gotrio-room is the gotrio way to run a busy room, a wsock.Room:
// broadcast posts the message (Room.Post) and returns; the room's task
// (Room.Run) sends what came meanwhile as one PreparedBatch
// (wsock.BroadcastBatch), one write per connection for the lot. In mode=one
// it sends one message at a time, as impl=gotrio does.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

// broadcastSize is the size of the broadcast message: a chat line with its
// metadata.
const broadcastSize = 256

// broadcastConns is the number of connections of BenchmarkBroadcast; 200
// under -short or -benchtime 1x, BENCH_BROADCAST_CONNS=N overrides both.
func broadcastConns(b *testing.B) int {
	n := 10000
	if smokeRun() {
		n = 200
	}
	if s := os.Getenv("BENCH_BROADCAST_CONNS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("BENCH_BROADCAST_CONNS=%q: want a positive number", s)
		}
		n = v
	}
	if limit := int(fileLimit) - 256; n > limit {
		n = limit
	}
	return n
}

// A room serves connections that only listen, and broadcasts to all of
// them.
type room struct {
	addr      string
	broadcast func(msg []byte) error
	stop      func()
}

// broadcasters are the rows of BenchmarkBroadcast, in order: a room server
// and the library of the peer's clients.
var broadcasters = []struct {
	name, peer string
	room       func(h *handler) (*room, error)
}{
	{"gotrio", "gotrio", func(h *handler) (*room, error) { return gotrioRoom(h, gotrioBroadcast) }},
	{"gotrio-loop", "gotrio", func(h *handler) (*room, error) { return gotrioRoom(h, gotrioLoop) }},
	{"gotrio-room", "gotrio", gotrioRoomRoom},
	{"gorilla", "gorilla", gorillaRoom},
	{"coder", "coder", coderRoom},
	{"gws", "gws", gwsRoom},
}

// gotrioBroadcast sends pm to conns with wsock.Broadcast.
func gotrioBroadcast(ctx context.Context, pm *wsock.PreparedMessage, conns []*wsock.Conn) error {
	return wsock.Broadcast(ctx, pm, conns, nil)
}

// gotrioLoop sends pm to conns one after the other, in the caller's goroutine.
func gotrioLoop(ctx context.Context, pm *wsock.PreparedMessage, conns []*wsock.Conn) error {
	for _, c := range conns {
		if err := c.SendPrepared(ctx, pm); err != nil {
			return err
		}
	}
	return nil
}

// members is a room's connections.
type members[C comparable] struct {
	mu    sync.Mutex
	conns map[C]struct{}
	list  []C // snapshot, rebuilt when conns changes
}

func (m *members[C]) add(c C) {
	m.mu.Lock()
	if m.conns == nil {
		m.conns = make(map[C]struct{})
	}
	m.conns[c] = struct{}{}
	m.list = nil
	m.mu.Unlock()
}

func (m *members[C]) remove(c C) {
	m.mu.Lock()
	delete(m.conns, c)
	m.list = nil
	m.mu.Unlock()
}

func (m *members[C]) snapshot() []C {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.list == nil {
		m.list = make([]C, 0, len(m.conns))
		for c := range m.conns {
			m.list = append(m.list, c)
		}
	}
	return m.list
}

func gotrioRoom(h *handler, send func(context.Context, *wsock.PreparedMessage, []*wsock.Conn) error) (*room, error) {
	var ms members[*wsock.Conn]
	return gotrioServeRoom(h, &ms, nil, func(ctx context.Context) func([]byte) error {
		return func(msg []byte) error {
			return send(ctx, wsock.NewPreparedMessage(wsock.BinaryMessage, msg), ms.snapshot())
		}
	})
}

func gotrioRoomRoom(h *handler) (*room, error) {
	var ms members[*wsock.Conn]
	rm := wsock.NewRoom(nil)
	return gotrioServeRoom(h, &ms, rm, func(ctx context.Context) func([]byte) error {
		return func(msg []byte) error { return rm.Post(ctx, wsock.NewPreparedMessage(wsock.BinaryMessage, msg)) }
	})
}

// gotrioServeRoom serves a room of gotrio connections, registered in ms and,
// if rm is not nil, joined to rm, whose task runs beside the server;
// broadcast makes the room's broadcast function from the server's ctx.
func gotrioServeRoom(h *handler, ms *members[*wsock.Conn], rm *wsock.Room,
	broadcast func(context.Context) func([]byte) error) (*room, error) {
	srv, err := wsock.Listen("127.0.0.1:0", gotrioServerOptions)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	//gotrio:go the benchmark server runs the way the compared libraries' servers do; joined by <-done
	go func() {
		defer close(done)
		_ = nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			if rm != nil {
				n.GoNamed("room", rm.Run)
			}
			return srv.Serve(ctx, func(ctx context.Context, r *wsock.Request) error {
				c, err := r.Accept(ctx, nil)
				if err != nil {
					return err
				}
				ms.add(c)
				defer ms.remove(c)
				if rm != nil {
					rm.Join(c)
					defer rm.Leave(c)
				}
				h.opened()
				defer h.closed()
				for {
					m, err := c.Receive(ctx)
					if err != nil {
						return nil
					}
					m.Release()
				}
			})
		})
	}()
	return &room{addr: srv.Addr().String(), broadcast: broadcast(ctx), stop: func() { stop(); <-done }}, nil
}

func gorillaRoom(h *handler) (*room, error) {
	var ms members[*websocket.Conn]
	var t tracker
	var up websocket.Upgrader
	addr, stop, err := serveHTTP(&t, func(w http.ResponseWriter, r *http.Request) {
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
		ms.add(c)
		defer ms.remove(c)
		h.opened()
		defer h.closed()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	broadcast := func(msg []byte) error {
		pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, msg)
		if err != nil {
			return err
		}
		for _, c := range ms.snapshot() {
			if err := c.WritePreparedMessage(pm); err != nil {
				return err
			}
		}
		return nil
	}
	return &room{addr: addr, broadcast: broadcast, stop: stop}, nil
}

func coderRoom(h *handler) (*room, error) {
	var ms members[*coder.Conn]
	var t tracker
	opts := &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled}
	addr, stop, err := serveHTTP(&t, func(w http.ResponseWriter, r *http.Request) {
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
		ms.add(c)
		defer ms.remove(c)
		h.opened()
		defer h.closed()
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	broadcast := func(msg []byte) error {
		ctx := context.Background()
		for _, c := range ms.snapshot() {
			if err := c.Write(ctx, coder.MessageBinary, msg); err != nil {
				return err
			}
		}
		return nil
	}
	return &room{addr: addr, broadcast: broadcast, stop: stop}, nil
}

// gwsRoomHandler registers gws connections in a room.
type gwsRoomHandler struct {
	gws.BuiltinEventHandler
	h  *handler
	ms *members[*gws.Conn]
}

func (g *gwsRoomHandler) OnOpen(c *gws.Conn) { g.ms.add(c); g.h.opened() }
func (g *gwsRoomHandler) OnClose(c *gws.Conn, _ error) {
	g.ms.remove(c)
	g.h.closed()
}
func (g *gwsRoomHandler) OnMessage(_ *gws.Conn, m *gws.Message) { m.Close() }

func gwsRoom(h *handler) (*room, error) {
	ms := &members[*gws.Conn]{}
	addr, stop, err := gwsListen(gws.NewUpgrader(&gwsRoomHandler{h: h, ms: ms}, &gws.ServerOption{Logger: quietLogger{}}))
	if err != nil {
		return nil, err
	}
	broadcast := func(msg []byte) error {
		b := gws.NewBroadcaster(gws.OpcodeBinary, msg)
		defer b.Close()
		for _, c := range ms.snapshot() {
			if err := b.Broadcast(c); err != nil {
				return err
			}
		}
		return nil
	}
	return &room{addr: addr, broadcast: broadcast, stop: stop}, nil
}

// gwsListen is gwsServe's accept loop for a single upgrader.
func gwsListen(up *gws.Upgrader) (string, func(), error) {
	return gwsServeUpgraders(func(string) (*gws.Upgrader, bool) { return up, true })
}

func BenchmarkBroadcast(b *testing.B) {
	n := broadcastConns(b)
	ps := newPeers(b)
	msg := []byte(strings.Repeat("x", broadcastSize))
	for _, mode := range []string{"one", "stream"} {
		for _, bc := range broadcasters {
			b.Run(fmt.Sprintf("mode=%s/conns=%d/size=%d/impl=%s", mode, n, broadcastSize, bc.name), func(b *testing.B) {
				h := newHandler()
				rm, err := bc.room(h)
				if err != nil {
					b.Fatal(err)
				}
				defer rm.stop()
				p := ps.get(b, "recv:"+bc.peer)
				p.call(b, fmt.Sprintf("dial ws://%s/room %d", rm.addr, n))
				defer p.call(b, "close")
				if err := h.waitOpen(n, peerTimeout); err != nil {
					b.Fatal(err)
				}
				send := func(k int) {
					p.call(b, "expect "+strconv.Itoa(k*n))
					for range k {
						if err := rm.broadcast(msg); err != nil {
							b.Fatal(err)
						}
					}
					p.call(b, "wait")
				}
				round := func(k int) {
					if mode == "stream" {
						send(k)
						return
					}
					for range k {
						send(1)
					}
				}
				round(1)     // warm up
				runtime.GC() // so that collecting the setup's garbage is not timed
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				cpu0, peer0 := processCPU(), p.cpu()
				b.ResetTimer()
				round(b.N)
				b.StopTimer()
				cpu, peerCPU := processCPU()-cpu0, p.cpu()-peer0
				runtime.ReadMemStats(&after)
				recipients := float64(b.N) * float64(n)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/recipients, "ns/recipient")
				b.ReportMetric(float64(cpu.Nanoseconds())/recipients, "cpu-ns/recipient")
				b.ReportMetric(float64(peerCPU.Nanoseconds())/recipients, "peer-cpu-ns/recipient")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/recipients, "B/recipient")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/recipients, "allocs/recipient")
			})
		}
	}
}

// runRecvPeer is the "recv:IMPL" peer: clients that count the binary
// messages they receive. Commands, one a line, each answered "ok" or "err …":
//
//	dial URL N   opens N connections to URL, each counting what it receives
//	expect M     arms the count for M more messages, over all connections
//	wait         waits until they have arrived
//	close        closes the connections
func runRecvPeer(im wsImpl, in *bufio.Scanner, reply func(string, ...any)) int {
	h := newHandler()
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "dial":
			url, k, _ := strings.Cut(arg, " ")
			n, err := strconv.Atoi(k)
			if err != nil {
				reply("err %v", err)
				continue
			}
			err = im.clients(context.Background(), url, n, func(cs []wsClient) error {
				for _, c := range cs {
					c.listen(h)
				}
				reply("ok")
				for in.Scan() {
					switch cmd, arg, _ := strings.Cut(in.Text(), " "); cmd {
					case "expect":
						m, err := strconv.Atoi(arg)
						if err != nil {
							reply("err %v", err)
							continue
						}
						h.expect(m)
						reply("ok")
					case "wait":
						if err := h.waitReached(peerTimeout); err != nil {
							reply("err %v", err)
							continue
						}
						reply("ok")
					case "close":
						return nil
					case "quit":
						os.Exit(0)
					default:
						reply("err unknown command %q", in.Text())
					}
				}
				return errors.New("end of input")
			})
			if err != nil {
				reply("err %v", err)
				continue
			}
			reply("ok")
		case "quit":
			return 0
		default:
			reply("err unknown command %q", in.Text())
		}
	}
	return 0
}
