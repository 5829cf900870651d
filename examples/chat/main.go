// Command chat is a broadcast chat room: it serves a small page on / and a
// WebSocket on /ws, and every message any member sends goes to every member.
//
//	go run ./examples/chat [-addr 127.0.0.1:8000]
//
// then open http://127.0.0.1:8000/ in a few browser tabs. The WebSocket is
// mounted in an ordinary http.ServeMux with wsock.NewHTTPHandler, whose
// Shutdown joins the WebSocket handlers that http.Server.Shutdown forgets.
//
// Each connection's handler owns a nursery holding the connection's writer,
// so the writer can never outlive its connection: when the member leaves (or
// is too slow and gets evicted), the handler's scope ends and takes the writer
// with it.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

//go:embed index.html
var indexHTML []byte

// outboxSize is how many messages may wait for a member's writer; a member
// that falls further behind is evicted rather than slowing everyone down.
const outboxSize = 64

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("listen", "err", err)
		os.Exit(1)
	}
	logger.Info(fmt.Sprintf("chat on http://%s/", ln.Addr()))
	if err := run(ctx, ln, logger); err != nil {
		logger.Error("serve", "err", err)
		os.Exit(1)
	}
}

// run serves the chat on ln until ctx is cancelled, then shuts the HTTP
// server down and waits for every WebSocket handler to return.
func run(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	rm := newRoom(logger)
	ws := wsock.NewHTTPHandler(rm.handle, &wsock.ServerOptions{Logger: logger})
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		srv := &http.Server{
			Handler:           newMux(ws),
			ReadHeaderTimeout: 10 * time.Second,
		}
		ws.RegisterOn(srv) // srv.Shutdown sends 1001 to every member
		n.GoNamed("shutdown", func(ctx context.Context) error {
			<-ctx.Done()
			shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer stop()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				return fmt.Errorf("shut down http server: %w", err)
			}
			// srv.Shutdown forgets hijacked connections: ws joins them.
			if err := ws.Shutdown(shutdownCtx); err != nil {
				return fmt.Errorf("shut down websockets: %w", err)
			}
			return nil
		})
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
}

// newMux routes / to the page and /ws to the room's WebSocket handler.
func newMux(ws http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	mux.Handle("/ws", ws)
	return mux
}

// room is the set of connected members.
type room struct {
	logger *slog.Logger

	mu      sync.Mutex
	members map[*member]struct{}
}

func newRoom(logger *slog.Logger) *room {
	return &room{logger: logger, members: make(map[*member]struct{})}
}

// member is one connection's queue of messages to send.
type member struct {
	outbox    chan string
	evicted   chan struct{} // closed when the outbox overflowed
	evictOnce sync.Once
}

func (rm *room) join() *member {
	m := &member{outbox: make(chan string, outboxSize), evicted: make(chan struct{})}
	rm.mu.Lock()
	rm.members[m] = struct{}{}
	rm.mu.Unlock()
	return m
}

func (rm *room) leave(m *member) {
	rm.mu.Lock()
	delete(rm.members, m)
	rm.mu.Unlock()
}

// broadcast queues msg for every member without waiting for any of them.
func (rm *room) broadcast(msg string) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for m := range rm.members {
		select {
		case m.outbox <- msg:
		default:
			m.evictOnce.Do(func() { close(m.evicted) })
		}
	}
}

// handle is the WebSocket handler, called once per connection. The member
// joins before the handshake completes, so a client whose Open has returned
// receives every later message.
func (rm *room) handle(ctx context.Context, r *wsock.Request) error {
	m := rm.join()
	defer rm.leave(m)
	c, err := r.Accept(ctx, nil)
	if err != nil {
		return err
	}
	rm.logger.Info("member joined", "conn", c.String(), "remote", c.RemoteAddr().String())
	defer rm.logger.Info("member left", "conn", c.String())
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed(c.String()+" writer", func(ctx context.Context) error {
			return m.write(ctx, c)
		})
		for {
			msg, err := c.Receive(ctx)
			if errors.Is(err, wsock.ErrClosed) {
				n.Scope().Cancel("member left")
				return nil
			}
			if err != nil {
				return err
			}
			if msg.Type == wsock.TextMessage {
				rm.broadcast(string(msg.Data))
			}
		}
	})
}

// write sends the member's queued messages until the connection closes, the
// handler's scope ends, or the member is evicted for falling behind.
func (m *member) write(ctx context.Context, c *wsock.Conn) error {
	for {
		select {
		case msg := <-m.outbox:
			if err := c.SendText(ctx, msg); err != nil {
				if errors.Is(err, wsock.ErrClosed) {
					return nil
				}
				return err
			}
		case <-m.evicted:
			return c.Close(wsock.PolicyViolation, "too slow to keep up")
		case <-ctx.Done():
			return nil
		}
	}
}
