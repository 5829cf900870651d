package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gotrio/gotrio/cancel"
)

// The broker carries every room's messages between the nodes: a node publishes what its
// members send on the room's subject and delivers what arrives on any room's subject to
// its own members, its own messages included, so that every member of a room, on every
// node, sees the same messages (core NATS: at most once, in order per publishing node).

// subjectPrefix is the NATS subject of room R: subjectPrefix + R.
const subjectPrefix = "gotrio.chat."

const (
	// minBackoff and maxBackoff bound the wait between two attempts to reach NATS: it
	// doubles after every failed attempt and starts over once a session has run.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// connectTimeout bounds one attempt to connect to NATS.
	connectTimeout = 2 * time.Second
	// inboxSize is how many NATS messages may wait for delivery to the rooms; delivery
	// never blocks (slow members are evicted), so it is only a burst buffer.
	inboxSize = 1024
)

// errNoBroker is returned by publish while the node is not connected to NATS.
var errNoBroker = errors.New("not connected to the message broker")

// broker is a node's link to NATS. Its run task keeps one NATS connection with one
// subscription to every room, reconnecting with backoff.
type broker struct {
	url     string         // NATS URL; "" means the embedded server
	node    string         // this node's name, for the NATS connection name
	embed   *server.Server // the embedded server, when url is ""
	deliver func(room string, data []byte)
	logger  *slog.Logger

	conn      atomic.Pointer[nats.Conn] // while a session runs
	ready     chan struct{}             // closed when the first subscription is in place
	readyOnce sync.Once
}

func newBroker(url, node string, deliver func(room string, data []byte), logger *slog.Logger) *broker {
	return &broker{url: url, node: node, deliver: deliver, logger: logger, ready: make(chan struct{})}
}

// run keeps the node subscribed until ctx is cancelled. A session that ends (the broker
// went away, the connection broke) is started again after a backoff (keepUp).
func (b *broker) run(ctx context.Context) error {
	if b.url == "" {
		ns, err := startEmbedded()
		if err != nil {
			return err
		}
		b.embed = ns
		defer func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		}()
	}
	keepUp(ctx, b.session, func(err error, backoff time.Duration) {
		b.logger.Warn("broker unavailable", "err", err, "retry in", backoff)
	})
	return nil
}

// keepUp runs session again and again until ctx is cancelled, waiting between two runs:
// minBackoff at first, twice as long after every session that failed to start, up to
// maxBackoff, and minBackoff again after a session that ran (reported ran). retrying is
// told each error and the wait that follows it.
func keepUp(ctx context.Context, session func(ctx context.Context) (ran bool, err error), retrying func(err error, backoff time.Duration)) {
	backoff := minBackoff
	for {
		ran, err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		if ran {
			backoff = minBackoff
		}
		retrying(err, backoff)
		if cancel.Sleep(ctx, backoff) != nil {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session connects, subscribes and delivers messages until the connection is lost or ctx
// is cancelled. ran reports whether the subscription was in place at some point.
func (b *broker) session(ctx context.Context) (ran bool, err error) {
	lost := make(chan error, 1)
	signal := func(err error) {
		select {
		case lost <- err:
		default:
		}
	}
	opts := []nats.Option{
		nats.Name(b.node),
		nats.NoReconnect(), // reconnecting is run's job, with its backoff
		nats.Timeout(connectTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				err = nats.ErrConnectionClosed
			}
			signal(err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { signal(nats.ErrConnectionClosed) }),
	}
	if b.embed != nil {
		opts = append(opts, nats.InProcessServer(b.embed))
	} else {
		opts = append(opts, nats.SetCustomDialer(ctxDialer{ctx}))
	}
	nc, err := nats.Connect(b.url, opts...)
	if err != nil {
		return false, fmt.Errorf("connect to nats: %w", err)
	}
	defer nc.Close()
	inbox := make(chan *nats.Msg, inboxSize)
	if _, err := nc.ChanSubscribe(subjectPrefix+"*", inbox); err != nil {
		return false, fmt.Errorf("subscribe: %w", err)
	}
	if err := nc.Flush(); err != nil { // the server has the subscription
		return false, fmt.Errorf("subscribe: %w", err)
	}
	b.conn.Store(nc)
	defer b.conn.Store(nil)
	b.readyOnce.Do(func() { close(b.ready) })
	where := nc.ConnectedUrlRedacted()
	if b.embed != nil {
		where = "embedded, in process"
	}
	b.logger.Info("subscribed", "broker", where)
	for {
		select {
		case m := <-inbox:
			b.deliver(strings.TrimPrefix(m.Subject, subjectPrefix), m.Data)
		case err := <-lost:
			return true, fmt.Errorf("nats connection lost: %w", err)
		case <-ctx.Done():
			return true, nil
		}
	}
}

// publish sends data to every member of room, on every node.
func (b *broker) publish(room string, data []byte) error {
	nc := b.conn.Load()
	if nc == nil {
		return errNoBroker
	}
	if err := nc.Publish(subjectPrefix+room, data); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// startEmbedded starts a NATS server inside the process, without a listening port: the
// node connects to it in memory. A node without a broker URL is a cluster of one.
func startEmbedded() (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{ServerName: "embedded", DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("embedded nats: not ready within 10s")
	}
	return ns, nil
}

// ctxDialer dials NATS under ctx, so that cancelling the node ends a connection attempt.
type ctxDialer struct{ ctx context.Context }

func (d ctxDialer) Dial(network, address string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(d.ctx, network, address)
}
