// Package wsock is a WebSocket client and server (RFC 6455, with
// permessage-deflate of RFC 7692 and WebSockets over HTTP/2 of RFC 8441) built on gotrio's nurseries and cancel
// scopes: a Go port of Python's trio-websocket.
//
// Every connection has one reader task, and it always runs in a nursery,
// where the connection holds a place from its start to its end, so a
// connection never outlives the code that owns it:
//
//   - Open runs a callback with a client connection and closes it when the
//     callback returns (trio-websocket's open_websocket_url);
//   - Connect and WrapClient put the reader in the caller's nursery;
//   - a server runs each TCP connection in a nursery of its own, and its
//     handler in that connection's task.
//
// Over a TCP or unix socket the reader task has a goroutine only while
// nobody receives: a goroutine waiting in Receive reads the socket itself
// (answering pings on the way) and the task returns, so an idle connection
// whose handler waits in Receive is one goroutine, and a message reaches
// Receive with no hand-off between goroutines. The task starts again when
// something needs reading and nobody receives (a Reader, a Ping waiting for
// its pong, a close, the owner's cancellation), or shortly (20 to 40 ms) after
// a Receive returns, or after the connection opens, if no Receive follows.
// Over TLS, net.Pipe and HTTP/2 streams the reader task reads for the
// connection's whole life.
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
// instead, and serves WebSockets over HTTP/2 too; its Shutdown drains it the
// same way and joins its handlers, which http.Server.Shutdown does not wait
// for.
//
// # WebSockets over HTTP/2
//
// RFC 8441 carries a WebSocket on one stream of an HTTP/2 connection, opened
// by an extended CONNECT (:protocol websocket) and answered 200, so that
// WebSockets share their page's TLS connection. Both sides support it:
//
//   - Server: an HTTPHandler (NewHTTPHandler), mounted in an http.Server serving
//     TLS with HTTP/2 (ListenAndServeTLS, ServeTLS), accepts both the
//     HTTP/1.1 upgrade and the extended CONNECT, with the same Request,
//     origin check, subprotocols, permessage-deflate, handler semantics and
//     drain; Request.Proto tells them apart ("HTTP/1.1" or "HTTP/2.0").
//     net/http only advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, without
//     which no client tries, when the process starts with
//     GODEBUG=http2xconnect=1 (off by default since Go 1.24, golang/go#71128:
//     browsers then open every WebSocket to the server that way, which breaks
//     WebSocket libraries without RFC 8441 support). It is read at start-up
//     from the environment; a //go:debug directive cannot set it. Without it,
//     browsers and our client use the HTTP/1.1 upgrade, on a connection of its
//     own. Listen, Serve and ServeTask speak HTTP/1.1 only.
//   - Client: DialOptions.HTTP2, an *HTTP2Transport shared by the dials,
//     opens wss URLs as streams of its HTTP/2 connections, one per server
//     until the server's limit of concurrent streams. When the server picks
//     HTTP/1.1 in TLS ALPN, or speaks HTTP/2 without advertising the setting,
//     the dial falls back to the HTTP/1.1 upgrade (on the connection ALPN
//     chose, or on a new one). The client needs no GODEBUG setting.
//
// Over HTTP/2 a Conn behaves as over TCP; its back-pressure is HTTP/2's flow
// control, and closing it ends its stream, not the shared connection.
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
