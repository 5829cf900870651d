package wsocktest

import (
	"context"
	"testing"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

// Pipe returns the two ends of a WebSocket connection over net.Pipe, with
// no socket: a client *wsock.Conn and the server's *wsock.Conn, accepted
// with opts.Accept (opts.Pipe is implied; opts.Server and opts.Dial
// configure the two ends). It is meant for unit tests of code that talks
// over a connection, and works inside a testing/synctest bubble. Both ends
// live until the test ends: then they are closed, their goroutines are
// joined, and the test fails if one of them remains, as for NewServer.
func Pipe(t testing.TB, opts *Options) (client, server *wsock.Conn) {
	t.Helper()
	o := resolve(t, opts)
	o.Pipe = true
	accepted := make(chan *wsock.Conn, 1)
	s := NewServer(t, func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, o.Accept)
		if err != nil {
			return err
		}
		//gotrio:connescape the server end is the test's: the handler keeps it open until the test ends
		accepted <- c
		<-ctx.Done()
		return nil
	}, &o)
	err := s.h.run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		var err error
		client, err = wsock.Connect(ctx, n, s.URL(), s.DialOptions())
		return err
	})
	if err != nil {
		t.Fatalf("wsocktest: pipe: %v", err)
	}
	return client, <-accepted
}
