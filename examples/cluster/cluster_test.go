package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsjson"
)

// TestCluster runs a real cluster: a nats-server and two node processes (this test binary
// re-executed as the node's main) on loopback, with two members on each node.
//
//  1. Every member sends a few messages and every member, on either node, receives all of
//     them, in order.
//  2. Then every member sends without pause (one message in flight each: the next goes
//     when its own came back through the broker), and n1 gets SIGTERM mid-traffic. Its
//     members must see 1001 Going Away and rejoin on n2; once all have, every member sends
//     a last few messages and waits until it has everyone's last one.
//  3. No message is lost after reconnection: every message sent through n2 after a member
//     (re)joined n2 reaches that member, and every member receives each sender's messages
//     in order, without duplicates. (Messages sent to n1 while it drains may be lost: core
//     NATS is at most once.)
func TestCluster(t *testing.T) {
	natsServer := findNATS(t)
	cl := newCluster([]*testClient{
		newTestClient("a1", "n1"), newTestClient("a2", "n1"),
		newTestClient("b1", "n2"), newTestClient("b2", "n2"),
	})
	n1 := &process{}
	err := cancel.FailAfter(t.Context(), 2*time.Minute, func(ctx context.Context) error {
		natsAddr := (&process{}).start(t, ctx, "nats", natsServer, nil, `Listening for client connections on (\S+)`,
			"-a", "127.0.0.1", "-p", "-1")
		addrs := map[string]string{}
		for name, p := range map[string]*process{"n1": n1, "n2": {drains: true}} {
			addrs[name] = p.start(t, ctx, name, os.Args[0], []string{nodeEnv + "=1"}, `node \S+ ready on http://(\S+)/`,
				"-addr", "127.0.0.1:0", "-name", name, "-nats", "nats://"+natsAddr, "-disconnect-timeout", "5s")
		}
		return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			for _, tc := range cl.clients {
				n.GoNamed(tc.name, func(ctx context.Context) error { return tc.run(ctx, cl, addrs) })
			}
			if err := cl.wait(ctx, cl.warm, "every member to receive every warm-up message"); err != nil {
				return err
			}
			for _, r := range cl.clients {
				for _, s := range cl.clients {
					assert.Equal(t, seqs(1, warmN), r.warmUp(s.name), "%s's warm-up messages received by %s", s.name, r.name)
				}
			}
			close(cl.traffic)
			if err := cl.wait(ctx, cl.killNow, "traffic"); err != nil {
				return err
			}
			if err := n1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				return fmt.Errorf("SIGTERM n1: %w", err)
			}
			if err := cl.wait(ctx, cl.allRejoined, "n1's members to rejoin on n2"); err != nil {
				return err
			}
			close(cl.finish)
			return nil // the members end once they have everyone's last message
		})
	})
	require.NoError(t, err)
	require.NoError(t, n1.wait(), "n1 drains and exits cleanly on SIGTERM")
	assert.Contains(t, n1.output(), "drained")
	for _, r := range cl.clients {
		r.mu.Lock()
		if r.home == "n1" {
			assert.Equal(t, []wsock.StatusCode{wsock.GoingAway}, r.closes, "%s was told n1 is going away", r.name)
			assert.Equal(t, []string{"n1", "n2"}, r.nodes(), "%s rejoined on n2", r.name)
		} else {
			assert.Empty(t, r.closes, "%s stayed connected", r.name)
		}
		joined := r.joins[len(r.joins)-1].ticket
		for _, s := range cl.clients {
			got := r.got[s.name]
			assert.True(t, increasing(got), "%s received %s's messages in order, once each: %v", r.name, s.name, got)
			have := map[int]bool{}
			for _, seq := range got {
				have[seq] = true
			}
			var missing []int
			for _, m := range cl.sentBy(s.name) {
				if m.node == "n2" && m.ticket > joined && !have[m.seq] {
					missing = append(missing, m.seq)
				}
			}
			assert.Empty(t, missing, "%s's messages sent through n2 after %s joined it, lost", s.name, r.name)
		}
		t.Logf("%s received %d messages", r.name, len(r.got["a1"])+len(r.got["a2"])+len(r.got["b1"])+len(r.got["b2"]))
		r.mu.Unlock()
	}
}

func TestNodeResubscribesWhenTheBrokerComesBack(t *testing.T) {
	natsServer := findNATS(t)
	const natsReady = `Listening for client connections on (\S+)`
	err := cancel.FailAfter(t.Context(), time.Minute, func(ctx context.Context) error {
		first := &process{}
		natsAddr := first.start(t, ctx, "nats", natsServer, nil, natsReady, "-a", "127.0.0.1", "-p", "-1")
		_, port, err := net.SplitHostPort(natsAddr)
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		logs := newWatcher(`msg=(subscribed)`)
		cfg := config{Name: "n1", NATS: "nats://" + natsAddr, DisconnectTimeout: 5 * time.Second}
		return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("node", func(ctx context.Context) error {
				return run(ctx, ln, cfg, slog.New(slog.NewTextHandler(logs, nil)), func() {})
			})
			defer n.Scope().Cancel("test over")
			subscribed := func() error {
				select {
				case <-logs.found:
					return nil
				case <-ctx.Done():
					return fmt.Errorf("waiting for the subscription: %w\n%s", context.Cause(ctx), logs)
				}
			}
			echo := func(c *wsock.Conn, text string) error {
				if err := c.SendText(ctx, text); err != nil {
					return err
				}
				var ev event
				if err := wsjson.Receive(ctx, c, &ev); err != nil {
					return err
				}
				assert.Equal(t, text, ev.Text)
				return nil
			}
			if err := subscribed(); err != nil {
				return err
			}
			c, _, err := join(ctx, n, ln.Addr().String(), "lobby")
			if err != nil {
				return err
			}
			if err := echo(c, "before"); err != nil {
				return err
			}
			require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
			_ = first.wait() // the broker is gone
			(&process{}).start(t, ctx, "nats again", natsServer, nil, natsReady, "-a", "127.0.0.1", "-p", port)
			if err := subscribed(); err != nil {
				return err
			}
			if err := echo(c, "after"); err != nil {
				return err
			}
			assert.Nil(t, c.CloseReason(), "the member stayed connected while the broker was away")
			assert.Contains(t, logs.String(), "broker unavailable")
			return nil
		})
	})
	require.NoError(t, err)
}

const (
	warmN      = 5  // messages each member sends before the traffic
	killAfter  = 60 // messages sent during the traffic before n1 gets SIGTERM
	finalN     = 5  // messages each member sends once every member is on n2
	maxRejoins = 1  // a member's connections after the first
	// ackTimeout bounds the wait for a member's own message to come back.
	ackTimeout = 10 * time.Second
)

// cluster is the state the members of TestCluster share.
type cluster struct {
	clients []*testClient
	ticket  atomic.Int64 // orders sends and joins: a send's ticket is taken before it, a join's after its hello

	joined, warm, killNow, allRejoined chan struct{} // closed by the members
	traffic, finish                    chan struct{} // closed by the test

	mu       sync.Mutex
	joinLeft int // members not joined yet
	warmLeft int // members still waiting for warm-up messages
	sentN    int // messages sent during the traffic
	away     int // members that have not rejoined yet
	sent     map[string][]sentMsg
	final    map[string]int // sender → the seq of its last message
}

type sentMsg struct {
	seq    int
	ticket int64
	node   string // the node it was sent to
}

func newCluster(clients []*testClient) *cluster {
	cl := &cluster{
		clients: clients, joined: make(chan struct{}), warm: make(chan struct{}), killNow: make(chan struct{}), allRejoined: make(chan struct{}),
		traffic: make(chan struct{}), finish: make(chan struct{}),
		joinLeft: len(clients), warmLeft: len(clients), sent: map[string][]sentMsg{}, final: map[string]int{},
	}
	for _, tc := range clients {
		if tc.home == "n1" {
			cl.away++
		}
	}
	return cl
}

// wait waits for ch to close, or fails saying what it waited for.
func (cl *cluster) wait(ctx context.Context, ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
	}
}

func (cl *cluster) recordSent(from string, m sentMsg, traffic bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.sent[from] = append(cl.sent[from], m)
	if traffic {
		cl.sentN++
		if cl.sentN == killAfter {
			close(cl.killNow)
		}
	}
}

func (cl *cluster) sentBy(from string) []sentMsg {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.sent[from]
}

// testClient is a member: its connection's reader records what it receives, its sender
// sends "NAME SEQ" messages, one at a time.
type testClient struct {
	name, home string
	warmOnce   sync.Once

	mu     sync.Mutex
	got    map[string][]int // sender → seqs received, in order
	joins  []joinRec
	closes []wsock.StatusCode
}

type joinRec struct {
	node   string
	ticket int64
}

func newTestClient(name, home string) *testClient {
	return &testClient{name: name, home: home, got: map[string][]int{}}
}

// errGoneAway ends a connection whose node went away.
var errGoneAway = errors.New("node going away")

// run connects the member to its home node and, when that node goes away, to the other.
func (tc *testClient) run(ctx context.Context, cl *cluster, addrs map[string]string) error {
	node, seq := tc.home, 0
	for range maxRejoins + 1 {
		err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			c, hello, err := join(ctx, n, addrs[node], "lobby")
			if err != nil {
				return err
			}
			tc.mu.Lock()
			tc.joins = append(tc.joins, joinRec{hello.Node, cl.ticket.Add(1)})
			rejoined := len(tc.joins) > 1
			tc.mu.Unlock()
			cl.mu.Lock()
			if !rejoined {
				if cl.joinLeft--; cl.joinLeft == 0 {
					close(cl.joined)
				}
			} else if cl.away--; cl.away == 0 {
				close(cl.allRejoined)
			}
			cl.mu.Unlock()
			acks := make(chan int, 1)
			n.GoNamed(tc.name+" reader", func(ctx context.Context) error {
				err := tc.read(ctx, c, cl, acks)
				n.Scope().Cancel("member done") // stops the sender, closes the connection
				return err
			})
			return tc.send(ctx, c, cl, &seq, hello.Node, acks)
		})
		if !errors.Is(err, errGoneAway) {
			return err
		}
		node = map[string]string{"n1": "n2", "n2": "n1"}[node]
	}
	return fmt.Errorf("%s: gone away more than %d times", tc.name, maxRejoins)
}

// send sends the member's messages: the warm-up, then the traffic until every member is on
// n2, then the last few. Each waits for the previous one to come back.
func (tc *testClient) send(ctx context.Context, c *wsock.Conn, cl *cluster, seq *int, node string, acks <-chan int) error {
	one := func(traffic, last bool) error {
		*seq++
		if last {
			cl.mu.Lock()
			cl.final[tc.name] = *seq // before the send, so that its receivers know it is the last
			cl.mu.Unlock()
		}
		ticket := cl.ticket.Add(1)
		if err := c.SendText(ctx, tc.name+" "+strconv.Itoa(*seq)); err != nil {
			return nil // the connection ended: the reader says why
		}
		cl.recordSent(tc.name, sentMsg{*seq, ticket, node}, traffic)
		err := cancel.FailAfter(ctx, ackTimeout, func(ctx context.Context) error {
			for {
				select {
				case s := <-acks:
					if s == *seq {
						return nil
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
		if errors.Is(err, cancel.ErrTooSlow) {
			return fmt.Errorf("%s %d did not come back within %v", tc.name, *seq, ackTimeout)
		}
		return nil // back, or the connection ended
	}
	if err := cl.wait(ctx, cl.joined, "every member to join"); err != nil {
		return nil
	}
	for *seq < warmN {
		if err := one(false, false); err != nil {
			return err
		}
	}
	if err := cl.wait(ctx, cl.traffic, "traffic"); err != nil {
		return nil
	}
	for ctx.Err() == nil {
		select {
		case <-cl.finish:
			for i := range finalN {
				if err := one(false, i == finalN-1); err != nil {
					return err
				}
			}
			return nil
		default:
		}
		if err := one(true, false); err != nil {
			return err
		}
	}
	return nil
}

// read records the messages received until the member has every sender's last message
// (nil), or the node goes away (errGoneAway).
func (tc *testClient) read(ctx context.Context, c *wsock.Conn, cl *cluster, acks chan<- int) error {
	for {
		var ev event
		err := wsjson.Receive(ctx, c, &ev)
		var ce *wsock.ClosedError
		if errors.As(err, &ce) && ce.Reason.Code == wsock.GoingAway {
			tc.mu.Lock()
			tc.closes = append(tc.closes, ce.Reason.Code)
			tc.mu.Unlock()
			return errGoneAway
		}
		if err != nil {
			return fmt.Errorf("%s: receive: %w", tc.name, err)
		}
		from, s, ok := strings.Cut(ev.Text, " ")
		seq, err := strconv.Atoi(s)
		if ev.Kind != "chat" || !ok || err != nil {
			return fmt.Errorf("%s: unexpected event %+v", tc.name, ev)
		}
		if from == tc.name {
			select {
			case acks <- seq:
			default:
			}
		}
		tc.mu.Lock()
		tc.got[from] = append(tc.got[from], seq)
		warm := true
		for _, s := range cl.clients {
			warm = warm && len(tc.got[s.name]) >= warmN
		}
		tc.mu.Unlock()
		if warm {
			tc.warmOnce.Do(func() {
				cl.mu.Lock()
				if cl.warmLeft--; cl.warmLeft == 0 {
					close(cl.warm)
				}
				cl.mu.Unlock()
			})
		}
		if tc.hasAllFinals(cl) {
			return nil
		}
	}
}

// hasAllFinals reports whether the member has received every sender's last message.
func (tc *testClient) hasAllFinals(cl *cluster) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, s := range cl.clients {
		last, ok := cl.final[s.name]
		got := tc.got[s.name]
		if !ok || len(got) == 0 || got[len(got)-1] != last {
			return false
		}
	}
	return true
}

// warmUp returns the first warmN messages received from a sender.
func (tc *testClient) warmUp(from string) []int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return append([]int(nil), tc.got[from][:min(warmN, len(tc.got[from]))]...)
}

// nodes returns the node of each join; tc.mu is held.
func (tc *testClient) nodes() []string {
	var ns []string
	for _, j := range tc.joins {
		ns = append(ns, j.node)
	}
	return ns
}

func seqs(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func increasing(s []int) bool {
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			return false
		}
	}
	return true
}

// nodeEnv, set in a test binary's environment, makes it run main: the nodes of
// TestCluster are this binary.
const nodeEnv = "GOTRIO_CLUSTER_NODE"

// findNATS returns the path of nats-server, or skips the test (fails it in CI).
func findNATS(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	msg := "nats-server not found: install it with `make peers` (Debian package nats-server)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// process is a program the test runs, with its output kept.
type process struct {
	drains bool // SIGTERM makes it exit with status 0, as a node does: checked at the end

	cmd   *exec.Cmd
	out   *watcher
	waitO sync.Once
	err   error
}

// start runs path with args and waits until a line of its output matches ready; it
// returns the match's first group. When the test ends, the process gets SIGTERM (if it is
// still running) and is waited for.
func (p *process) start(t *testing.T, ctx context.Context, name, path string, env []string, ready string, args ...string) string {
	t.Helper()
	p.out = newWatcher(ready)
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start(), "start %s", name)
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(); err != nil && !t.Failed() && p.drains {
			t.Errorf("%s: %v\n%s", name, err, p.output())
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output())
		}
	})
	select {
	case m := <-p.out.found:
		return m
	case <-ctx.Done():
		t.Fatalf("%s not ready: %v\n%s", name, context.Cause(ctx), p.output())
		return ""
	}
}

// wait waits for the process to exit, once.
func (p *process) wait() error {
	p.waitO.Do(func() { p.err = p.cmd.Wait() })
	return p.err
}

func (p *process) output() string { return p.out.String() }

// watcher keeps a process's output and reports the first group of each line that matches
// re, as long as found has room.
type watcher struct {
	re    *regexp.Regexp
	found chan string

	mu      sync.Mutex
	all     bytes.Buffer
	scanned int
}

func newWatcher(re string) *watcher {
	return &watcher{re: regexp.MustCompile(re), found: make(chan string, 8)}
}

func (w *watcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(b)
	for {
		rest := w.all.Bytes()[w.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if m := w.re.FindSubmatch(rest[:i]); m != nil {
			select {
			case w.found <- string(m[1]):
			default: // nobody waits for so many
			}
		}
		w.scanned += i + 1
	}
	return len(b), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}
