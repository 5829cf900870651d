package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A wsImpl is one WebSocket library under comparison. Every library serves
// the same handler (see handler) and drives its connections through the same
// wsClient operations, each with its own message API and its defaults, except
// that compression is off everywhere and read limits are at least maxMessage.
type wsImpl struct {
	name string
	// serve starts a server for h on 127.0.0.1:0 and returns its host:port
	// and a stop function that closes it, closes every connection it holds
	// and waits for its goroutines.
	serve func(h *handler) (addr string, stop func(), err error)
	// clients opens k connections to url (dialing several at a time), runs
	// body with them, then closes them all.
	clients func(ctx context.Context, url string, k int, body func(cs []wsClient) error) error
}

// impls lists the libraries in the order of the benchmark names. gotrio's
// entry is prepended by ws_gotrio_test.go.
var impls = []wsImpl{gorillaImpl, coderImpl, gwsImpl}

func implNamed(name string) (wsImpl, bool) {
	for _, im := range impls {
		if im.name == name {
			return im, true
		}
	}
	return wsImpl{}, false
}

// maxMessage is the largest message a benchmark sends; libraries whose
// default read limit is smaller (coder: 32 KiB) are raised to it.
const maxMessage = 1 << 20

// dialWorkers is how many connections clients dials at a time.
const dialWorkers = 16

// A wsClient is one client connection. Data messages are binary; text
// messages are control requests answered by the server (sync).
type wsClient interface {
	// echo sends msg n times, each time waiting for the server to send it
	// back. When lat is not nil, lat[i] receives the duration of round trip
	// i, for i < len(lat).
	echo(msg []byte, n int, lat []time.Duration) error
	// send sends msg n times without waiting for anything.
	send(msg []byte, n int) error
	// sync sends a text message and waits for its echo. On "/sink" it
	// returns once the server has received every message sent before.
	sync() error
	// listen makes the connection count every binary message it receives
	// with h.sunk from now on, until it closes; it returns at once.
	listen(h *handler)
}

var syncMsg = []byte("sync")

// roundTrips runs n round trips of rt, which returns the length of the
// received message, and checks each length. It is the echo loop of the
// libraries with a blocking receive.
func roundTrips(msg []byte, n int, lat []time.Duration, rt func() (int, error)) error {
	for i := range n {
		t0 := time.Now()
		got, err := rt()
		if err != nil {
			return err
		}
		if lat != nil && i < len(lat) {
			lat[i] = time.Since(t0)
		}
		if got != len(msg) {
			return fmt.Errorf("echo: got %d bytes, want %d", got, len(msg))
		}
	}
	return nil
}

// dialAll dials k connections, dialWorkers at a time. On failure it closes
// those it opened and returns the first error.
func dialAll[C any](ctx context.Context, k int, dial func(ctx context.Context) (C, error), closeConn func(C)) ([]C, error) {
	cs := make([]C, k)
	ok := make([]bool, k)
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(k, dialWorkers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= k {
					return
				}
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					return
				}
				c, err := dial(ctx)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("dial connection %d of %d: %w", i+1, k, err)
					}
					mu.Unlock()
					return
				}
				cs[i], ok[i] = c, true
			}
		})
	}
	wg.Wait()
	if first != nil {
		for i, c := range cs {
			if ok[i] {
				closeConn(c)
			}
		}
		return nil, first
	}
	return cs, nil
}

// handler is the server side of every WebSocket benchmark, the same for each
// library. On "/echo" it sends every message back. On "/sink" it drops
// binary messages, counting them, and sends text messages back (the client's
// sync). It also counts open connections.
type handler struct {
	mu      sync.Mutex
	open    int
	changed chan struct{} // closed and replaced whenever open changes

	received atomic.Int64
	target   atomic.Int64
	reached  chan struct{} // receives once received reaches target
}

func newHandler() *handler {
	return &handler{changed: make(chan struct{}), reached: make(chan struct{}, 1)}
}

// echoes reports whether the server sends a message back.
func echoes(path string, text bool) bool { return text || path == "/echo" }

// sunk counts a binary message dropped by "/sink".
func (h *handler) sunk() {
	if h.received.Add(1) == h.target.Load() {
		h.reached <- struct{}{}
	}
}

// expect arms reached for the next n messages dropped by "/sink".
func (h *handler) expect(n int) {
	h.received.Store(0)
	h.target.Store(int64(n))
}

// waitReached waits until the n messages announced by expect have arrived.
func (h *handler) waitReached(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-h.reached:
		return nil
	case <-t.C:
		return fmt.Errorf("sink: %d of %d messages after %v", h.received.Load(), h.target.Load(), timeout)
	}
}

func (h *handler) opened() { h.add(1) }
func (h *handler) closed() { h.add(-1) }

func (h *handler) add(d int) {
	h.mu.Lock()
	h.open += d
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// waitOpen waits until exactly n connections are open.
func (h *handler) waitOpen(n int, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		h.mu.Lock()
		open, ch := h.open, h.changed
		h.mu.Unlock()
		if open == n {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("server: %d connections open after %v, want %d", open, timeout, n)
		}
	}
}

// tracker holds a server's hijacked connections so that stop can close them
// and wait for their goroutines.
type tracker struct {
	mu      sync.Mutex
	stopped bool
	conns   map[io.Closer]struct{}
	wg      sync.WaitGroup
}

// add registers c, or reports false once the server is stopping.
func (t *tracker) add(c io.Closer) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	if t.conns == nil {
		t.conns = make(map[io.Closer]struct{})
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true
}

func (t *tracker) done(c io.Closer) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// stop closes every registered connection and waits for each to be done.
func (t *tracker) stop() {
	t.mu.Lock()
	t.stopped = true
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

// percentile returns the p-th percentile (0 < p < 100) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// reportLatency sorts lat and reports its 50th and 99th percentiles.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(percentile(lat, 99).Nanoseconds()), "p99-ns")
}

// smokeRun reports whether the benchmarks run as the smoke check of `make
// test` (-benchtime 1x) or under -short: then the idle-connection benchmark
// opens fewer connections.
func smokeRun() bool {
	if testing.Short() {
		return true
	}
	f := flag.Lookup("test.benchtime")
	return f != nil && f.Value.String() == "1x"
}

// fileLimit is the process's limit on open files, after raiseFileLimit.
var fileLimit uint64 = 1024

// raiseFileLimit raises the soft limit on open files to the hard limit: the
// idle-connection benchmark holds one descriptor per connection in each of
// its two processes.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	fileLimit = lim.Cur
}

// memUsage is a process's memory after a full garbage collection, and its
// number of goroutines.
type memUsage struct{ heap, stack, rss, goroutines uint64 }

func (m memUsage) heapStack() uint64 { return m.heap + m.stack }

// measureMem collects garbage twice (the second cycle frees what the first
// one's finalizers released) and reads HeapInuse, StackInuse and the RSS.
func measureMem() memUsage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memUsage{heap: ms.HeapInuse, stack: ms.StackInuse, rss: readRSS(), goroutines: uint64(runtime.NumGoroutine())}
}

// readRSS returns the resident set size from /proc/self/statm, 0 if unknown.
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// perConn is (after-before)/n, negative when memory shrank.
func perConn(before, after uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

// childEnv, when set in the environment of the test binary, makes it a peer
// process of a WebSocket benchmark instead of running tests: "serve:IMPL"
// runs IMPL's server, "send:IMPL" IMPL's client. A peer in its own process
// lets a benchmark count the allocations and memory of one side only.
//
// The peer talks over stdin/stdout, one line per command and per reply:
//
//	serve: prints "addr HOST:PORT" when listening, then
//	       "mem N"    waits until N connections are open, replies
//	                  "mem HEAP STACK RSS GOROUTINES" (bytes after GC, and a count)
//	send:  "dial URL" opens one connection, replies "ok"
//	       "send N S" sends N binary messages of S bytes, replies "ok"
//	       "close"    closes the connection, replies "ok"
//
// Any failure is replied as "err MESSAGE"; "quit" or end of input exits at
// once, without closing anything (the kernel does that).
const childEnv = "GOTRIO_BENCH_PEER"

// peerTimeout bounds every wait on or in a peer process.
const peerTimeout = 2 * time.Minute

func runChild(mode string) int {
	raiseFileLimit()
	role, name, _ := strings.Cut(mode, ":")
	im, ok := implNamed(name)
	if !ok {
		fmt.Fprintf(os.Stderr, "bench peer: unknown implementation %q\n", name)
		return 2
	}
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	reply := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	switch role {
	case "recv":
		return runRecvPeer(im, in, reply)
	case "serve":
		h := newHandler()
		addr, _, err := im.serve(h)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench peer: serve: %v\n", err)
			return 1
		}
		reply("addr %s", addr)
		for in.Scan() {
			cmd, arg, _ := strings.Cut(in.Text(), " ")
			switch cmd {
			case "mem":
				n, err := strconv.Atoi(arg)
				if err == nil {
					err = h.waitOpen(n, peerTimeout)
				}
				if err != nil {
					reply("err %v", err)
					continue
				}
				m := measureMem()
				reply("mem %d %d %d %d", m.heap, m.stack, m.rss, m.goroutines)
			case "quit":
				return 0
			default:
				reply("err unknown command %q", in.Text())
			}
		}
		return 0
	case "send":
		for in.Scan() {
			cmd, arg, _ := strings.Cut(in.Text(), " ")
			switch cmd {
			case "dial":
				err := im.clients(context.Background(), arg, 1, func(cs []wsClient) error {
					reply("ok")
					for in.Scan() {
						cmd, arg, _ := strings.Cut(in.Text(), " ")
						switch cmd {
						case "send":
							var n, size int
							if _, err := fmt.Sscan(arg, &n, &size); err != nil {
								reply("err %v", err)
								continue
							}
							if err := cs[0].send(make([]byte, size), n); err != nil {
								reply("err %v", err)
								continue
							}
							reply("ok")
						case "close":
							return nil
						case "quit":
							os.Exit(0)
						default:
							reply("err unknown command %q", in.Text())
						}
					}
					return nil
				})
				if err != nil {
					reply("err %v", err)
					continue
				}
				reply("ok")
			case "quit":
				return 0
			default:
				reply("err unknown command %q", in.Text())
			}
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "bench peer: unknown role %q\n", role)
	return 2
}

// A peer is a running peer process (see childEnv).
type peer struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	addr   string // a "serve" peer's host:port
	exited bool
}

// startPeer starts the test binary as a peer process in mode ("serve:IMPL"
// or "send:IMPL"). Pipes are *os.File on both ends, so no goroutine copies
// them.
func startPeer(tb testing.TB, mode string) *peer {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatalf("start peer: %v", err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatalf("start peer: %v", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("start peer: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start peer %s: %v", mode, err)
	}
	p := &peer{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if strings.HasPrefix(mode, "serve:") {
		f, err := p.read()
		if err != nil || len(f) != 2 || f[0] != "addr" {
			p.stop()
			tb.Fatalf("start peer %s: want its address, got %q (%v)", mode, f, err)
		}
		p.addr = f[1]
	}
	return p
}

// write sends one command line.
func (p *peer) write(line string) error {
	_, err := io.WriteString(p.in, line+"\n")
	return err
}

// read reads one reply line and splits it into fields; "err …" is an error.
func (p *peer) read() ([]string, error) {
	if !p.out.Scan() {
		if err := p.out.Err(); err != nil {
			return nil, fmt.Errorf("read peer reply: %w", err)
		}
		return nil, errors.New("read peer reply: peer exited")
	}
	line := p.out.Text()
	if msg, ok := strings.CutPrefix(line, "err "); ok {
		return nil, errors.New("peer: " + msg)
	}
	return strings.Fields(line), nil
}

// call sends a command and returns its reply.
func (p *peer) call(tb testing.TB, line string) []string {
	tb.Helper()
	if err := p.write(line); err != nil {
		tb.Fatalf("peer %q: %v", line, err)
	}
	f, err := p.read()
	if err != nil {
		tb.Fatalf("peer %q: %v", line, err)
	}
	return f
}

// mem waits until the serving peer has n open connections and returns its
// memory.
func (p *peer) mem(tb testing.TB, n int) memUsage {
	tb.Helper()
	f := p.call(tb, "mem "+strconv.Itoa(n))
	var m memUsage
	if len(f) != 5 {
		tb.Fatalf("peer mem: reply %q", f)
	}
	for i, v := range []*uint64{&m.heap, &m.stack, &m.rss, &m.goroutines} {
		x, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			tb.Fatalf("peer mem: reply %q: %v", f, err)
		}
		*v = x
	}
	return m
}

// stop makes the peer exit and waits for it. It may be called again.
func (p *peer) stop() {
	if p.exited {
		return
	}
	p.exited = true
	_ = p.write("quit")
	_ = p.in.Close()
	_ = p.cmd.Wait()
}

// peers starts peer processes on first use and stops them all at the end of
// the benchmark that made them.
type peers struct {
	b     *testing.B
	procs map[string]*peer
}

func newPeers(b *testing.B) *peers {
	ps := &peers{b: b, procs: make(map[string]*peer)}
	b.Cleanup(func() {
		for _, p := range ps.procs {
			p.stop()
		}
	})
	return ps
}

func (ps *peers) get(tb testing.TB, mode string) *peer {
	p, ok := ps.procs[mode]
	if !ok {
		p = startPeer(tb, mode)
		ps.procs[mode] = p
	}
	return p
}

// processCPU returns the CPU time (user and system) this process has used.
// cpu returns the CPU time (user+system) the peer process has used so far,
// in clock ticks (10 ms on Linux): meaningful over runs of a second or more.
func (p *peer) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command's ")": state is 3, utime 14 and stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
