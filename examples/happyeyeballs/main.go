// Command happyeyeballs races TCP connection attempts the way RFC 8305
// ("Happy Eyeballs Version 2") and Trio's open_tcp_stream do, built from a
// nursery and cancel scopes.
//
// Given addresses in order of preference, the first attempt starts at once;
// each next one starts when the previous attempt fails or after a delay
// (250 ms by default), whichever comes first; the first connection that
// succeeds cancels every other attempt. Every attempt is a task of one
// nursery, so when OpenTCPStream returns no attempt is left running.
//
// Run without arguments, the program starts three loopback listeners — one
// that never answers (its accept queue is full; Linux only), one closed port
// that refuses, and one that accepts — races them and prints the timeline:
//
//	   0s  attempt 127.0.0.1:41023 (blackhole)
//	250ms  attempt 127.0.0.1:35117 (refuses)
//	250ms  failed  127.0.0.1:35117 (refuses): … connection refused
//	250ms  attempt 127.0.0.1:44591 (accepts)
//	250ms  done    127.0.0.1:44591 (accepts)
//	250ms  failed  127.0.0.1:41023 (blackhole): … operation was canceled
//	won: 127.0.0.1:44591 (accepts) after 250ms
//
// With arguments, it races the given host:port addresses instead.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

// DefaultDelay is RFC 8305's recommended Connection Attempt Delay.
const DefaultDelay = 250 * time.Millisecond

// Options configure OpenTCPStream. A nil *Options means the defaults.
type Options struct {
	// Delay is how long an attempt runs alone before the next one starts,
	// unless it fails sooner. Zero means DefaultDelay.
	Delay time.Duration

	// Dial makes one connection attempt and must return when ctx is
	// cancelled. Nil means the DialContext method of a zero net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// OpenTCPStream connects to one of addrs, racing the attempts as RFC 8305
// describes: addrs are tried in order, each attempt starting when the
// previous one failed or Delay after it started; the first success cancels
// the others, and connections that succeed too late are closed. It returns
// the connection and the address it reached. When every attempt fails the
// error joins all their errors; when ctx ends first it wraps ctx's cause.
func OpenTCPStream(ctx context.Context, addrs []string, opts *Options) (net.Conn, string, error) {
	if len(addrs) == 0 {
		return nil, "", errors.New("happyeyeballs: connect: no addresses")
	}
	delay, dial := DefaultDelay, (&net.Dialer{}).DialContext
	if opts != nil && opts.Delay > 0 {
		delay = opts.Delay
	}
	if opts != nil && opts.Dial != nil {
		dial = opts.Dial
	}

	var (
		mu       sync.Mutex
		winner   net.Conn
		won      string
		failures []error
	)
	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		for i, addr := range addrs {
			failed := make(chan struct{})
			n.GoNamed("attempt "+addr, func(ctx context.Context) error {
				c, err := dial(ctx, "tcp", addr)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					failures = append(failures, err)
					close(failed)
				case winner == nil:
					winner, won = c, addr
					n.Scope().Cancel("connected to " + addr)
				default:
					c.Close() // connected too late
				}
				return nil // a failed attempt is expected, not a nursery failure
			})
			if i == len(addrs)-1 {
				break
			}
			// The attempt's head start: over when it fails, when the delay
			// passes, or when the nursery is cancelled (a winner, or ctx).
			_, _ = cancel.MoveOnAfter(ctx, delay, func(ctx context.Context) error {
				select {
				case <-failed:
				case <-ctx.Done():
				}
				return nil
			})
			if ctx.Err() != nil {
				break
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("happyeyeballs: connect: %w", err)
	case winner != nil:
		return winner, won, nil
	case ctx.Err() != nil:
		return nil, "", fmt.Errorf("happyeyeballs: connect: %w", context.Cause(ctx))
	}
	return nil, "", fmt.Errorf("happyeyeballs: connect: all %d attempts failed: %w", len(addrs), errors.Join(failures...))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run races addrs, or three loopback listeners of its own when addrs is
// empty, and prints the timeline to w.
func run(ctx context.Context, w io.Writer, addrs []string) error {
	kinds := map[string]string{}
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		if len(addrs) == 0 {
			var err error
			if addrs, err = startListeners(ctx, n, kinds); err != nil {
				return err
			}
		}
		out := &timeline{w: w, start: time.Now(), kinds: kinds}
		dialer := &net.Dialer{}
		conn, addr, err := OpenTCPStream(ctx, addrs, &Options{
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				out.event("attempt %s", addr)
				c, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					out.event("failed  %s: %v", addr, err)
				} else {
					out.event("done    %s", addr)
				}
				return c, err
			},
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "won: %s after %v\n", out.name(addr), out.since())
		n.Scope().Cancel("raced") // stop the listeners
		return conn.Close()
	})
}

// startListeners starts the loopback listeners of the demonstration in n and
// returns their addresses, most preferred first.
func startListeners(ctx context.Context, n *nursery.Nursery, kinds map[string]string) ([]string, error) {
	var addrs []string
	if addr, closeBlackhole, ok := listenBlackhole(); ok {
		n.GoNamed("blackhole", func(ctx context.Context) error {
			<-ctx.Done()
			return closeBlackhole()
		})
		addrs = append(addrs, addr)
		kinds[addr] = "blackhole"
	}

	// A port that was just closed refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	refused := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, fmt.Errorf("close listener: %w", err)
	}
	addrs = append(addrs, refused)
	kinds[refused] = "refuses"

	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	accepts := ln.Addr().String()
	n.GoNamed("accept", func(ctx context.Context) error {
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		defer stop()
		for {
			c, err := ln.Accept()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("accept: %w", err)
			}
			c.Close()
		}
	})
	addrs = append(addrs, accepts)
	kinds[accepts] = "accepts"
	return addrs, nil
}

// timeline prints events with the time elapsed since start; it is safe for
// concurrent use.
type timeline struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	kinds map[string]string
}

func (t *timeline) since() time.Duration { return time.Since(t.start).Round(time.Millisecond) }

func (t *timeline) name(addr string) string {
	if k, ok := t.kinds[addr]; ok {
		return addr + " (" + k + ")"
	}
	return addr
}

// event prints an event; an address argument is shown with its kind.
func (t *timeline) event(format string, addr string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%6v  "+format+"\n", append([]any{t.since(), t.name(addr)}, args...)...)
}
