package bench

import (
	"context"
	"net"
	"strconv"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

// TestNetConnPassesNettest runs golang.org/x/net/nettest's net.Conn conformance checks on
// wsock.NetConn of binary messages, over a loopback WebSocket (nettest is not a dependency the main module
// may have, so the check lives here).
func TestNetConnPassesNettest(t *testing.T) {
	// Binary only: nettest writes random bytes, which a text message may not carry.
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		return netConnPipe(wsock.BinaryMessage)
	})
}

// netConnPipe returns the NetConn views of both ends of a loopback WebSocket. stop closes
// both and waits until every goroutine of theirs has returned.
func netConnPipe(typ wsock.MessageType) (c1, c2 net.Conn, stop func(), err error) {
	type ends struct{ client, server net.Conn }
	ready := make(chan ends, 1)
	accepted := make(chan net.Conn, 1)
	done := make(chan error, 1)
	ctx, cancelAll := context.WithCancel(context.Background())
	handler := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		accepted <- wsock.NetConn(ctx, c, typ)
		<-ctx.Done() // the connection lives until stop
		return nil
	}
	//gotrio:go nettest's MakePipe returns while the connections live; stop joins it by <-done
	go func() {
		done <- nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", handler, nil))
			if err != nil {
				return err
			}
			c, err := wsock.Connect(ctx, n, "ws://127.0.0.1:"+strconv.Itoa(srv.Port())+"/", nil)
			if err != nil {
				return err
			}
			ready <- ends{wsock.NetConn(ctx, c, typ), <-accepted}
			<-ctx.Done()
			return nil
		})
	}()
	stop = func() {
		cancelAll()
		<-done
	}
	select {
	case e := <-ready:
		return e.client, e.server, stop, nil
	case err := <-done:
		cancelAll()
		return nil, nil, nil, err
	}
}
