// Command echo is gotrio's quickstart, after trio-websocket's: a WebSocket
// server that answers each message with its reverse, and a client that sends
// one message and checks the reply, both running in one nursery.
//
//	go run ./examples/echo [-addr 127.0.0.1:0] [-message hello]
//
// It exits 0 when the client got "olleh" back.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address for the server to listen on")
	message := flag.String("message", "hello", "message for the client to send")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := log.New(os.Stderr, "", log.LstdFlags)
	if err := run(ctx, *addr, *message, logger); err != nil {
		logger.Fatal(err)
	}
}

// run starts the server, talks to it with one client connection, and stops
// the server again: the nursery's scope bounds the server's lifetime.
func run(ctx context.Context, addr, message string, logger *log.Logger) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask(addr, reverser(logger), nil))
		if err != nil {
			return fmt.Errorf("start server: %w", err)
		}
		url := fmt.Sprintf("ws://127.0.0.1:%d/", srv.Port())
		logger.Printf("server listening on %s", url)

		err = wsock.Open(ctx, url, nil, func(ctx context.Context, c *wsock.Conn) error {
			return client(ctx, c, message, logger)
		})
		// The client is done: cancelling the nursery stops the server, which
		// says Going Away to any connection still open and returns.
		n.Scope().Cancel("client finished")
		return err
	})
}

// reverser is the server's handler: it accepts every connection and answers
// each text message with the message reversed, until the client closes.
func reverser(logger *log.Logger) wsock.Handler {
	return func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		logger.Printf("server accepted %s from %s", r.Path(), c.RemoteAddr())
		for {
			m, err := c.Receive(ctx)
			if errors.Is(err, wsock.ErrClosed) {
				logger.Printf("server connection closed: %s", c.CloseReason())
				return nil
			}
			if err != nil {
				return err
			}
			logger.Printf("server received: %s", m.Data)
			if err := c.SendText(ctx, reverse(string(m.Data))); err != nil {
				return err
			}
		}
	}
}

// client sends message and checks that the reply is its reverse.
func client(ctx context.Context, c *wsock.Conn, message string, logger *log.Logger) error {
	logger.Printf("client sending: %s", message)
	if err := c.SendText(ctx, message); err != nil {
		return err
	}
	m, err := c.Receive(ctx)
	if err != nil {
		return err
	}
	logger.Printf("client received: %s", m.Data)
	if want := reverse(message); string(m.Data) != want {
		return fmt.Errorf("client received %q, want %q", m.Data, want)
	}
	return nil
}

// reverse reverses s by runes, so that UTF-8 text stays valid.
func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}
