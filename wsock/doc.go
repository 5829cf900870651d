// Package wsock is a WebSocket client and server (RFC 6455, with
// permessage-deflate of RFC 7692) built on gotrio's nurseries and cancel
// scopes: a Go port of Python's trio-websocket.
//
// Every connection has one reader goroutine, and it always runs in a
// nursery, so a connection never outlives the code that owns it:
//
//   - Open runs a callback with a client connection and closes it when the
//     callback returns (trio-websocket's open_websocket_url);
//   - Connect and WrapClient put the reader in the caller's nursery;
//   - a server runs each TCP connection in a nursery of its own, and its
//     handler in that connection's task.
//
// An echo server and its client in one program:
//
//	echo := func(ctx context.Context, r *wsock.Request) error {
//		c, err := r.Accept(ctx, nil)
//		if err != nil {
//			return err
//		}
//		for {
//			m, err := c.Receive(ctx)
//			if err != nil {
//				return nil // closed
//			}
//			if err := c.Send(ctx, m.Type, m.Data); err != nil {
//				return nil
//			}
//		}
//	}
//	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
//		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", echo, nil))
//		if err != nil {
//			return err
//		}
//		defer n.Scope().Cancel("done") // drains the server
//		url := fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port())
//		return wsock.Open(ctx, url, nil, func(ctx context.Context, c *wsock.Conn) error {
//			if err := c.SendText(ctx, "hello"); err != nil {
//				return err
//			}
//			m, err := c.Receive(ctx)
//			fmt.Println(string(m.Data))
//			return err
//		})
//	})
//
// # Timeouts
//
// Like trio-websocket, the high-level calls bound what a slow or malicious
// peer can hold: ConnectTimeout bounds connecting and the opening handshake
// (ErrConnectTimeout; on a server, the time a client has to send its
// handshake), and DisconnectTimeout bounds each closing handshake
// (ErrDisconnectTimeout). Both default to 60 s. Cancelling the owner of a
// connection (the ctx of Open, the nursery given to Connect, a handler
// nursery) closes it gracefully too: 1001 (GoingAway) and a closing handshake
// bounded by DisconnectTimeout, never a dropped socket. Everything else is
// bounded by the caller, with ctx or a cancel scope around the calls:
//
//	err := cancel.FailAfter(ctx, 15*time.Second, func(ctx context.Context) error {
//		if err := c.SendText(ctx, "question"); err != nil {
//			return err
//		}
//		_, err := c.Receive(ctx)
//		return err
//	})
//
// gotrio's package cancel shadows the usual name of the function
// context.WithCancel returns: gotrio calls that function stop; do the same, or
// import cancel under another name.
//
// # Servers
//
// Serve, Server.Serve and ServeTask run until their ctx is cancelled, then
// drain: they stop accepting, cancel the handlers' contexts, close every open
// connection with 1001 (GoingAway) and return once every goroutine they
// started has returned. A handler's error or panic closes its own connection
// with 1011 and is logged; it never stops the server (unless
// ServerOptions.HandlerNursery asks for it). Requests from other origins
// than the server's own are refused by default (ServerOptions.CheckOrigin,
// AllowedOrigins). NewHTTPHandler mounts a handler in a net/http mux
// instead; its Shutdown drains it the same way and joins its handlers, which
// http.Server.Shutdown does not wait for.
//
// # Memory
//
// Each received Message's Data is the receiver's. A receiver that is done
// with a message may give its buffer back with Message.Release, and the
// connections reuse released buffers for the messages they receive: an echo
// loop that releases what it received, once sent, receives and sends without
// allocating.
//
// # Errors
//
// A URL that Open or Connect cannot use fails with an error matching
// ErrBadURL, an invalid option (a compression level, a header field or a
// subprotocol) with one matching ErrBadOption: nothing was attempted. An
// attempted handshake fails with errors that match ErrHandshake: a
// *RejectedError when the server answered with something other than 101,
// ErrConnectTimeout, or the underlying network or TLS error, which errors.As
// finds. Operations on a closed connection fail with a *ClosedError
// (errors.Is(err, ErrClosed)) whose Reason tells how the connection closed;
// CloseStatus(err) returns its code (-1 for other errors), and a connection
// that keep-alive gave up on unwraps to ErrKeepAliveTimeout. Error texts say
// "wsock: VERB TARGET: what failed" once, and never show a URL's userinfo or
// query.
package wsock
