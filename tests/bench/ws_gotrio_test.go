package bench

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

// gotrio's wsock: Listen and Serve, Connect into a nursery, Receive and Send,
// every received message given back with Message.Release once used (as gws
// recycles its read buffers), with the defaults except that compression (offered by default) is off, the
// disconnect timeout is 5 s instead of 60 s (so that a failure cannot stall
// the benchmarks; it changes no steady-state cost) and logs are dropped.

var gotrioImpl = wsImpl{name: "gotrio", serve: gotrioServe, clients: gotrioClients}

func init() { impls = append([]wsImpl{gotrioImpl}, impls...) }

var quietSlog = slog.New(slog.DiscardHandler)

var gotrioServerOptions = &wsock.ServerOptions{
	DisconnectTimeout: 5 * time.Second,
	Compression:       wsock.CompressionOptions{Disabled: true},
	Logger:            quietSlog,
}

var gotrioDialOptions = &wsock.DialOptions{
	DisconnectTimeout: 5 * time.Second,
	Compression:       wsock.CompressionOptions{Disabled: true},
	Logger:            quietSlog,
}

func gotrioServe(h *handler) (string, func(), error) { return gotrioServeWith(h, gotrioServerOptions) }

func gotrioServeWith(h *handler, opts *wsock.ServerOptions) (string, func(), error) {
	srv, err := wsock.Listen("127.0.0.1:0", opts)
	if err != nil {
		return "", nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	//gotrio:go the benchmark server runs the way the compared libraries' servers do; joined by <-done
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, func(ctx context.Context, r *wsock.Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			h.opened()
			defer h.closed()
			path := r.Path()
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					if errors.Is(err, wsock.ErrClosed) {
						return nil
					}
					return err
				}
				if !echoes(path, m.Type == wsock.TextMessage) {
					m.Release()
					h.sunk()
					continue
				}
				err = c.Send(ctx, m.Type, m.Data)
				m.Release()
				if err != nil {
					return nil
				}
			}
		})
	}()
	return srv.Addr().String(), func() { stop(); <-done }, nil
}

// gotrioClients connects k clients into one nursery, dialWorkers at a time,
// and closes them all, concurrently, with the closing handshake.
func gotrioClients(ctx context.Context, url string, k int, body func([]wsClient) error) error {
	return gotrioClientsWith(ctx, url, k, body, gotrioDialOptions)
}

func gotrioClientsWith(ctx context.Context, url string, k int, body func([]wsClient) error, opts *wsock.DialOptions) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		cs := make([]*wsock.Conn, k)
		defer func() {
			for _, c := range cs {
				if c != nil {
					n.Go(func(context.Context) error {
						_ = c.Close(wsock.NormalClosure, "")
						return nil
					})
				}
			}
		}()
		var next atomic.Int64
		err := nursery.Run(ctx, func(ctx context.Context, dn *nursery.Nursery) error {
			for range min(k, dialWorkers) {
				dn.Go(func(ctx context.Context) error {
					for i := int(next.Add(1) - 1); i < k; i = int(next.Add(1) - 1) {
						c, err := wsock.Connect(ctx, n, url, opts)
						if err != nil {
							return err
						}
						cs[i] = c
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return err
		}
		ws := make([]wsClient, k)
		for i, c := range cs {
			ws[i] = gotrioClient{c}
		}
		return body(ws)
	})
}

type gotrioClient struct{ c *wsock.Conn }

func (g gotrioClient) echo(msg []byte, n int, lat []time.Duration) error {
	ctx := context.Background()
	return roundTrips(msg, n, lat, func() (int, error) {
		if err := g.c.Send(ctx, wsock.BinaryMessage, msg); err != nil {
			return 0, err
		}
		m, err := g.c.Receive(ctx)
		n := len(m.Data)
		m.Release()
		return n, err
	})
}

func (g gotrioClient) send(msg []byte, n int) error {
	ctx := context.Background()
	for range n {
		if err := g.c.Send(ctx, wsock.BinaryMessage, msg); err != nil {
			return err
		}
	}
	return nil
}

func (g gotrioClient) sync() error {
	ctx := context.Background()
	if err := g.c.Send(ctx, wsock.TextMessage, syncMsg); err != nil {
		return err
	}
	m, err := g.c.Receive(ctx)
	m.Release()
	return err
}

func (g gotrioClient) listen(h *handler) {
	//gotrio:go listen returns at once for every library alike (wsClient); the reader ends when the connection closes
	go func() {
		ctx := context.Background()
		for {
			m, err := g.c.Receive(ctx)
			if err != nil {
				return
			}
			if m.Type == wsock.BinaryMessage {
				h.sunk()
			}
			m.Release()
		}
	}()
}
