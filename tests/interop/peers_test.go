package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Where the peers live. Debian's Python packages are importable only by the
// system interpreter, which may not be the python3 first on PATH.
const (
	pythonBin   = "/usr/bin/python3"
	nodeBin     = "/usr/bin/node"
	chromiumBin = "/usr/bin/chromium"
	peersDir    = "peers"
	nodeDir     = "node"
)

// peerTimeout bounds a whole peer run: every case of a client script, or a
// server peer's lifetime. The scripts have their own, shorter, per-case limits.
const peerTimeout = 3 * time.Minute

// A peer is a third-party WebSocket implementation the tests talk to.
type peer struct {
	name    string       // as in test names: "trio-websocket", "websockets", "ws", "chromium"
	install string       // what `make peers` installs for it
	check   func() error // nil when the peer can run here
}

var (
	trioWebsocket = peer{
		name:    "trio-websocket",
		install: "the Debian package python3-trio-websocket",
		check:   func() error { return pythonImports("trio_websocket") },
	}
	pyWebsockets = peer{
		name:    "websockets",
		install: "the Debian package python3-websockets",
		check:   func() error { return pythonImports("websockets") },
	}
	nodeWS = peer{
		name:    "ws",
		install: "the npm package ws into tests/interop/node (npm ci)",
		check: func() error {
			if err := executable(nodeBin); err != nil {
				return err
			}
			_, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws", "package.json"))
			return err
		},
	}
	chromium = peer{
		name:    "chromium",
		install: "the Debian package chromium",
		check:   func() error { return executable(chromiumBin) },
	}
)

// requirePeer skips the test when p cannot run on this machine, saying how to
// install it; under CI (CI=true) a missing peer fails the test instead, so that
// CI never passes by skipping interop.
func requirePeer(t *testing.T, p peer) {
	t.Helper()
	err := p.check()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("interop peer %s is missing (%v): run `make peers` to install %s", p.name, err, p.install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func executable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

func pythonImports(module string) error {
	if err := executable(pythonBin); err != nil {
		return err
	}
	out, err := exec.Command(pythonBin, "-c", "import "+module).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import %s: %w: %s", pythonBin, module, err, bytes.TrimSpace(out))
	}
	return nil
}

// lineLog collects a process's output line by line and lets tests wait for a
// line. It is the process's Stdout, so exec's own copying goroutine feeds it
// and Wait joins that goroutine.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced whenever a line arrives
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, strings.TrimRight(string(l.partial[:i]), "\r"))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// Lines returns the complete lines written so far.
func (l *lineLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// waitFor returns the first line (from the start of the output) for which
// match holds, waiting for it until ctx is done or exited is closed.
func (l *lineLog) waitFor(ctx context.Context, exited <-chan struct{}, match func(string) bool) (string, error) {
	seen := 0
	for {
		l.mu.Lock()
		lines, changed := l.lines[seen:], l.changed
		seen = len(l.lines)
		l.mu.Unlock()
		for _, line := range lines {
			if match(line) {
				return line, nil
			}
		}
		select {
		case <-changed:
		case <-exited:
			// The copy into l is done when the process has been waited for.
			l.mu.Lock()
			rest := l.lines[seen:]
			l.mu.Unlock()
			for _, line := range rest {
				if match(line) {
					return line, nil
				}
			}
			return "", errors.New("peer exited before printing the expected line")
		case <-ctx.Done():
			return "", fmt.Errorf("wait for peer output: %w", ctx.Err())
		}
	}
}

// peerCommand builds the command for a peer script in peers/: python files
// run under the system Python, .js files under the system Node.
func peerCommand(ctx context.Context, script string, args ...string) *exec.Cmd {
	bin := pythonBin
	if strings.HasSuffix(script, ".js") {
		bin = nodeBin
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{script}, args...)...)
	cmd.Dir = peersDir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// caseResult is one "PASS name" / "FAIL name: detail" line of a client peer.
type caseResult struct {
	pass   bool
	detail string
}

// parseResults reads the case lines of a client peer's output.
func parseResults(lines []string) map[string]caseResult {
	results := make(map[string]caseResult)
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, "PASS "):
			results[strings.TrimPrefix(line, "PASS ")] = caseResult{pass: true}
		case strings.HasPrefix(line, "FAIL "):
			name, detail, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ": ")
			results[name] = caseResult{detail: detail}
		}
	}
	return results
}

// runClientPeer runs a client script to completion against a server on port
// and returns its case results. The script's output is logged.
func runClientPeer(ctx context.Context, t *testing.T, script string, port int, args ...string) (map[string]caseResult, error) {
	t.Helper()
	ctx, stop := context.WithTimeout(ctx, peerTimeout)
	defer stop()
	out := newLineLog()
	var stderr bytes.Buffer
	cmd := peerCommand(ctx, script, append([]string{"--port", strconv.Itoa(port)}, args...)...)
	cmd.Stdout, cmd.Stderr = out, &stderr
	err := cmd.Run()
	for _, line := range out.Lines() {
		t.Logf("%s: %s", script, line)
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", script, tail(stderr.String(), 4000))
	}
	if err != nil {
		err = fmt.Errorf("run %s: %w", script, err)
	}
	return parseResults(out.Lines()), err
}

// serverPeer is a running server script.
type serverPeer struct {
	t      *testing.T
	script string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *lineLog
	stderr *bytes.Buffer
	port   int
	exited chan struct{}
	err    error // of Wait, valid once exited is closed
	once   sync.Once
}

// startServerPeer starts a server script and waits for its READY line. The
// peer is stopped (stdin closed, process waited for) when the test ends, or
// earlier by stop.
func startServerPeer(ctx context.Context, t *testing.T, script string, args ...string) *serverPeer {
	t.Helper()
	ctx, stopCtx := context.WithTimeout(context.WithoutCancel(ctx), peerTimeout)
	p := &serverPeer{t: t, script: script, out: newLineLog(), stderr: new(bytes.Buffer), exited: make(chan struct{})}
	p.cmd = peerCommand(ctx, script, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.stderr
	stdin, err := p.cmd.StdinPipe()
	require.NoError(t, err)
	p.stdin = stdin
	require.NoError(t, p.cmd.Start(), "start %s", script)
	//gotrio:go waits for the peer process, which no ctx can stop; joined by p.exited
	go func() {
		p.err = p.cmd.Wait()
		stopCtx()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop() })

	readyCtx, readyStop := context.WithTimeout(ctx, 30*time.Second)
	defer readyStop()
	line, err := p.out.waitFor(readyCtx, p.exited, func(l string) bool { return strings.HasPrefix(l, "READY ") })
	if err != nil {
		p.stop()
		t.Fatalf("%s did not get ready: %v", script, err)
	}
	p.port, err = strconv.Atoi(strings.TrimPrefix(line, "READY "))
	require.NoError(t, err, "READY line %q", line)
	return p
}

// waitLine waits for an output line with the given prefix.
func (p *serverPeer) waitLine(ctx context.Context, prefix string) (string, error) {
	ctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	return p.out.waitFor(ctx, p.exited, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// stop closes the peer's stdin, which asks it to exit, waits for it and
// reports a non-zero exit (the peer found a mismatch) as a test failure. It
// is idempotent.
func (p *serverPeer) stop() {
	p.t.Helper()
	p.once.Do(p.stopOnce)
}

func (p *serverPeer) stopOnce() {
	_ = p.stdin.Close()
	<-p.exited
	for _, line := range p.out.Lines() {
		p.t.Logf("%s: %s", p.script, line)
	}
	if p.stderr.Len() > 0 {
		p.t.Logf("%s stderr:\n%s", p.script, tail(p.stderr.String(), 4000))
	}
	if p.err != nil {
		p.t.Errorf("%s exited with %v", p.script, p.err)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
