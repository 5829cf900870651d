// Command wscat is a small command-line WebSocket client: it sends each line
// of its standard input as a text message and prints every message it
// receives, one per line. At the end of its input it closes the connection
// normally (1000) and exits.
//
//	wscat [-H 'Name: value']... [-s subprotocol]... [-insecure] [-wait d] ws[s]://host[:port]/path
//
//	go run ./examples/wscat ws://127.0.0.1:8000/ws
//	echo hello | go run ./examples/wscat -wait 1s ws://127.0.0.1:8000/ws
//
// -wait keeps printing replies for a while after the end of the input
// before closing (closing drops messages still in flight).
//
// Binary messages are printed as "binary(N): " and their bytes in hex. When
// the server closes the connection first, wscat prints its close code and
// reason on standard error and exits, with status 0 for a normal closure or
// going away, 1 otherwise. An interrupt (Ctrl-C) closes with 1001 GoingAway
// and exits with status 130.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stdin, restore := interruptibleStdin()
	defer restore()
	os.Exit(run(ctx, os.Args[1:], stdin, os.Stdout, os.Stderr))
}

// config is wscat's parsed command line.
type config struct {
	url  string
	opts wsock.DialOptions
	wait time.Duration // after EOF, before closing
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseArgs parses wscat's command line, writing usage and errors to stderr.
func parseArgs(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("wscat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var headers, protocols multiFlag
	fs.Var(&headers, "H", "extra handshake header `'Name: value'` (repeatable)")
	fs.Var(&protocols, "s", "offer `subprotocol` (repeatable, in order of preference)")
	insecure := fs.Bool("insecure", false, "do not verify the server's TLS certificate (wss)")
	wait := fs.Duration("wait", 0, "after the end of the input, keep printing replies this long before closing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: wscat [-H 'Name: value']... [-s subprotocol]... [-insecure] [-wait d] ws[s]://host[:port]/path")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, errors.New("wscat: want exactly one URL")
	}
	cfg := &config{url: fs.Arg(0), wait: *wait}
	cfg.opts.Subprotocols = protocols
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("wscat: header %q is not 'Name: value'", h)
		}
		if cfg.opts.Header == nil {
			cfg.opts.Header = make(http.Header)
		}
		cfg.opts.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if *insecure {
		cfg.opts.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with -insecure
	}
	return cfg, nil
}

// run is wscat's main logic; it returns the exit status. When the connection
// ends or ctx is cancelled before stdin ends, run interrupts the line reader
// (see interrupt).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	var peerClose *wsock.CloseReason
	// The connection lives under a context that ctx's cancellation does not
	// reach, so that an interrupt ends the session with a close handshake
	// (1001 GoingAway, as Open closes after a cancelled body) instead of
	// dropping the connection; the session's tasks run under ctx.
	session := ctx
	err = wsock.Open(context.WithoutCancel(ctx), cfg.url, &cfg.opts, func(_ context.Context, c *wsock.Conn) error {
		if p := c.Subprotocol(); p != "" {
			fmt.Fprintf(stderr, "connected to %s (subprotocol %s)\n", cfg.url, p)
		} else {
			fmt.Fprintf(stderr, "connected to %s\n", cfg.url)
		}
		return nursery.Run(session, func(ctx context.Context, n *nursery.Nursery) error {
			// Whatever ends the session first (the server closing, an
			// interrupt signal) must also stop the line reader.
			stop := context.AfterFunc(ctx, func() { interrupt(stdin) })
			defer stop()
			n.GoNamed("print", func(ctx context.Context) error {
				err := printMessages(ctx, c, stdout)
				if errors.Is(err, wsock.ErrClosed) {
					peerClose = c.CloseReason()
					n.Scope().Cancel("connection closed")
					return nil
				}
				return err
			})
			err := sendLines(ctx, c, stdin)
			if err == nil && cfg.wait > 0 {
				// End of input: let replies in flight arrive. The
				// printer cancels ctx if the server closes meanwhile.
				_ = cancel.Sleep(ctx, cfg.wait)
			}
			if err == nil || ctx.Err() != nil {
				// End of input, or the reader stopped because the
				// connection closed: either way we are done.
				n.Scope().Cancel("input finished")
				return nil
			}
			return err
		})
	})
	if session.Err() != nil {
		fmt.Fprintln(stderr, "wscat: interrupted")
		return 130
	}
	if err != nil {
		fmt.Fprintln(stderr, "wscat:", err)
		return 1
	}
	if peerClose != nil {
		fmt.Fprintf(stderr, "closed by server: %s\n", peerClose)
		if peerClose.Code != wsock.NormalClosure && peerClose.Code != wsock.GoingAway {
			return 1
		}
	}
	return 0
}

// interrupt makes a Read blocked on r return: with a read deadline in the
// past if r has deadlines (os.Stdin made pollable by interruptibleStdin), by
// closing r otherwise (an io.Pipe in tests).
func interrupt(r io.Reader) {
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		if d.SetReadDeadline(time.Unix(1, 0)) == nil {
			return
		}
	}
	if closer, ok := r.(io.Closer); ok {
		_ = closer.Close()
	}
}

// sendLines sends each line of r as a text message until EOF.
func sendLines(ctx context.Context, c *wsock.Conn, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if err := c.SendText(ctx, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	return nil
}

// printMessages prints every received message until Receive fails.
func printMessages(ctx context.Context, c *wsock.Conn, w io.Writer) error {
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		if m.Type == wsock.BinaryMessage {
			_, err = fmt.Fprintf(w, "binary(%d): %s\n", len(m.Data), hex.EncodeToString(m.Data))
		} else {
			_, err = fmt.Fprintf(w, "%s\n", m.Data)
		}
		if err != nil {
			return fmt.Errorf("print message: %w", err)
		}
	}
}
