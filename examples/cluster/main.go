// Command cluster is the chat of examples/chat scaled out: any number of nodes, behind any
// load balancer (or none), share their rooms through a NATS broker.
//
//	nats-server -a 127.0.0.1 -p 4222 &
//	go run . -addr 127.0.0.1:8001 -nats nats://127.0.0.1:4222 -peers 127.0.0.1:8001,127.0.0.1:8002 &
//	go run . -addr 127.0.0.1:8002 -nats nats://127.0.0.1:4222 -peers 127.0.0.1:8001,127.0.0.1:8002 &
//
// then open http://127.0.0.1:8001/?room=lobby in a few tabs. Without -nats (and with
// NATS_URL unset) a node runs a NATS server inside its own process and is a cluster of
// one, so that `go run .` just works.
//
// Each node serves a page on /, its configuration on /config.json and the chat's
// WebSocket on /ws?room=NAME. Every text message a member sends is published on the
// room's NATS subject as a JSON event, encoded once; every node subscribed to the rooms
// delivers it to its own members (its own messages come back through NATS too, so every
// member sees one order per node). The subscription is a task of the node's nursery that
// reconnects with backoff when the broker goes away.
//
// On SIGTERM (or SIGINT) a node drains: it stops accepting, closes every WebSocket with
// 1001 Going Away and waits for the closing handshakes. The page then reconnects: to the
// same URL (a load balancer sends it to another node) or, given -peers, to the next node
// of the list.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

//go:embed index.html
var indexHTML []byte

// config is a node's configuration.
type config struct {
	Name  string   // the node's name, shown to its members
	NATS  string   // the broker's URL; "" runs an embedded one
	Peers []string // host:port of every node, for the page to rotate through
	// DisconnectTimeout bounds each closing handshake, when a member leaves and during
	// the drain.
	DisconnectTimeout time.Duration
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	var cfg config
	flag.StringVar(&cfg.NATS, "nats", os.Getenv("NATS_URL"), "NATS URL (default $NATS_URL); empty runs an embedded NATS server")
	flag.StringVar(&cfg.Name, "name", "", "node name (default the listening address)")
	peers := flag.String("peers", "", "comma-separated host:port of every node, for pages to reconnect to when there is no load balancer")
	flag.DurationVar(&cfg.DisconnectTimeout, "disconnect-timeout", 5*time.Second, "bound of each closing handshake")
	flag.Parse()
	if *peers != "" {
		cfg.Peers = strings.Split(*peers, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("listen", "err", err)
		os.Exit(1)
	}
	if cfg.Name == "" {
		cfg.Name = ln.Addr().String()
	}
	ready := func() { fmt.Printf("node %s ready on http://%s/\n", cfg.Name, ln.Addr()) }
	if err := run(ctx, ln, cfg, logger, ready); err != nil {
		logger.Error("serve", "err", err)
		os.Exit(1)
	}
	logger.Info("drained")
}

// run serves the node on ln until ctx is cancelled, then drains it: the HTTP server shuts
// down, every WebSocket is closed with 1001 and every handler and task is joined. ready
// is called once the node is listening and subscribed to its broker.
func run(ctx context.Context, ln net.Listener, cfg config, logger *slog.Logger, ready func()) error {
	rs := newRooms(cfg.Name, logger.With("node", cfg.Name))
	b := newBroker(cfg.NATS, cfg.Name, rs.deliver, logger.With("node", cfg.Name))
	rs.publish = b.publish
	ws := wsock.NewHTTPHandler(rs.handle, &wsock.ServerOptions{
		Logger:            logger,
		AllowedOrigins:    cfg.Peers, // pages served by the other nodes
		DisconnectTimeout: cfg.DisconnectTimeout,
	})
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("broker", b.run)
		n.GoNamed("ready", func(ctx context.Context) error {
			select {
			case <-b.ready:
				ready()
			case <-ctx.Done():
			}
			return nil
		})
		srv := &http.Server{
			Handler:           newMux(ws, cfg),
			ReadHeaderTimeout: 10 * time.Second,
		}
		ws.RegisterOn(srv) // srv.Shutdown sends 1001 to every member
		n.GoNamed("shutdown", func(ctx context.Context) error {
			<-ctx.Done()
			shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), cfg.DisconnectTimeout+time.Second)
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

// pageConfig is what /config.json tells the page.
type pageConfig struct {
	Node  string   `json:"node"`
	Peers []string `json:"peers"` // host:port; empty: reconnect to the page's own host
}

// newMux routes / to the page, /config.json to its configuration and /ws to the rooms.
func newMux(ws http.Handler, cfg config) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	pc, err := json.Marshal(pageConfig{Node: cfg.Name, Peers: append([]string{}, cfg.Peers...)})
	if err != nil {
		panic(err) // strings only
	}
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(pc)
	})
	mux.Handle("/ws", ws)
	return mux
}
