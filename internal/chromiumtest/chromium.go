// Package chromiumtest drives headless Chromium from tests over the Chrome DevTools
// Protocol, spoken through a wsock client: start the browser, open a page, evaluate
// JavaScript in it. Page's Say, WaitForLine and LogLines work on pages shaped like
// examples/chat's: a #log list of lines, a #name and a #text field and a #form button.
// Chromium is the Debian package that `make peers` installs; Require skips a test without
// it (fails it when CI=true).
package chromiumtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/gotrio/gotrio/wsock"
)

// chromiumBin is where the interop suite's `make peers` installs Chromium.
const chromiumBin = "/usr/bin/chromium"

// browserStepTimeout bounds each single step of driving a page: starting the
// browser, loading the page, waiting for a message to show up.
const browserStepTimeout = 15 * time.Second

// Require skips the test when Chromium is not installed, saying how
// to install it; under CI (CI=true) it fails the test instead, as the interop
// suite does.
func Require(t *testing.T) {
	t.Helper()
	info, err := os.Stat(chromiumBin)
	if err == nil && info.Mode()&0o111 == 0 {
		err = fmt.Errorf("%s is not executable", chromiumBin)
	}
	if err == nil {
		return
	}
	msg := fmt.Sprintf("chromium is missing (%v): run `make peers` to install the Debian package chromium", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Browser is a headless Chromium with its DevTools endpoint on a loopback
// port of its own choosing.
type Browser struct {
	t          *testing.T
	cmd        *exec.Cmd
	stderr     *devtoolsLog
	exited     chan struct{}
	waitErr    error // of cmd.Wait, valid once exited is closed
	cancel     context.CancelFunc
	browserURL string // ws://127.0.0.1:port/devtools/browser/id
	once       sync.Once
}

// Start starts the browser and waits for its DevTools endpoint. The
// browser is stopped and waited for by Stop, or at the latest when the test
// ends.
func Start(ctx context.Context, t *testing.T) (*Browser, error) {
	ctx, cancel := context.WithCancel(ctx)
	b := &Browser{t: t, stderr: newDevtoolsLog(), exited: make(chan struct{}), cancel: cancel}
	b.cmd = exec.CommandContext(ctx, chromiumBin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-breakpad", "--disable-crash-reporter", "--disable-dev-shm-usage",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--window-size=800,600", "--user-data-dir="+t.TempDir(), "about:blank")
	// Its own process group, ended with SIGTERM (Chromium reaps its helpers)
	// and then SIGKILL for whatever survived.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.Cancel = func() error { return b.cmd.Process.Signal(syscall.SIGTERM) }
	b.cmd.WaitDelay = 10 * time.Second
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	//gotrio:go waits for the chromium process, which no ctx can stop; joined by b.exited in b.Stop
	go func() {
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(b.Stop)

	timer := time.NewTimer(browserStepTimeout)
	defer timer.Stop()
	select {
	case <-b.stderr.ready:
		b.browserURL = b.stderr.url
		return b, nil
	case <-b.exited:
		b.logStderr()
		return nil, fmt.Errorf("chromium exited before its DevTools endpoint was up: %v", b.waitErr)
	case <-timer.C:
		b.Stop()
		return nil, errors.New("wait for chromium's DevTools endpoint: timed out")
	case <-ctx.Done():
		b.Stop()
		return nil, fmt.Errorf("wait for chromium's DevTools endpoint: %w", ctx.Err())
	}
}

// Stop ends the browser and waits for it. It is idempotent.
func (b *Browser) Stop() { b.once.Do(b.stopOnce) }

func (b *Browser) stopOnce() {
	b.cancel()
	<-b.exited
	if err := syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		b.t.Logf("kill chromium's process group: %v", err)
	}
	// Wait reports the SIGTERM we sent as the context's error; anything
	// else is news.
	if b.waitErr != nil && !errors.Is(b.waitErr, context.Canceled) {
		b.t.Logf("chromium: wait: %v", b.waitErr)
		b.logStderr()
	}
}

func (b *Browser) logStderr() {
	for _, line := range b.stderr.lines() {
		b.t.Logf("chromium: %s", line)
	}
}

// OpenPage opens a new tab on target for user, waits for its load event and
// runs body with a DevTools connection to it. The tab is closed when body
// returns.
func (b *Browser) OpenPage(ctx context.Context, target, user string, body func(ctx context.Context, p *Page) error) error {
	var targetID string
	err := b.browserCall(ctx, func(ctx context.Context, cdp *cdpConn) error {
		var created struct {
			TargetID string `json:"targetId"`
		}
		if err := cdp.call(ctx, "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
			return err
		}
		targetID = created.TargetID
		return nil
	})
	if err != nil {
		return err
	}
	defer func() {
		// The browser may be gone already, which closes the tab too.
		_ = b.browserCall(ctx, func(ctx context.Context, cdp *cdpConn) error {
			return cdp.call(ctx, "Target.closeTarget", map[string]any{"targetId": targetID}, nil)
		})
	}()
	pageURL := b.browserURL[:strings.Index(b.browserURL, "/devtools/")] + "/devtools/page/" + targetID
	return wsock.Open(ctx, pageURL, cdpDialOptions, func(ctx context.Context, c *wsock.Conn) error {
		p := &Page{cdpConn: cdpConn{c: c}, User: user}
		if err := p.call(ctx, "Page.enable", nil, nil); err != nil {
			return err
		}
		var nav struct {
			ErrorText string `json:"errorText"`
		}
		if err := p.call(ctx, "Page.navigate", map[string]any{"url": target}, &nav); err != nil {
			return err
		}
		if nav.ErrorText != "" {
			return fmt.Errorf("navigate %s's page to %s: %s", user, target, nav.ErrorText)
		}
		// Page.navigate answers once the navigation has committed, so any
		// event so far is about:blank's, and the next load is the chat page's.
		p.events = nil
		if err := p.waitEvent(ctx, "Page.loadEventFired"); err != nil {
			return err
		}
		return body(ctx, p)
	})
}

// browserCall runs body with a DevTools connection to the browser itself.
func (b *Browser) browserCall(ctx context.Context, body func(ctx context.Context, cdp *cdpConn) error) error {
	return wsock.Open(ctx, b.browserURL, cdpDialOptions, func(ctx context.Context, c *wsock.Conn) error {
		return body(ctx, &cdpConn{c: c})
	})
}

// cdpDialOptions leave room for screenshots, which come back as one message.
var cdpDialOptions = &wsock.DialOptions{MaxMessageSize: 64 << 20, ConnectTimeout: browserStepTimeout}

// cdpConn is a minimal Chrome DevTools Protocol client: one call at a time,
// events kept until asked for.
type cdpConn struct {
	c      *wsock.Conn
	lastID int
	events []string // methods of the events received so far
}

// cdpMessage is a DevTools response or event.
type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call sends a command and decodes its result into result (if not nil).
func (p *cdpConn) call(ctx context.Context, method string, params, result any) error {
	ctx, stop := context.WithTimeout(ctx, browserStepTimeout)
	defer stop()
	p.lastID++
	id := p.lastID
	if params == nil {
		params = struct{}{}
	}
	req, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	if err := p.c.SendText(ctx, string(req)); err != nil {
		return fmt.Errorf("send %s: %w", method, err)
	}
	for {
		m, err := p.receive(ctx)
		if err != nil {
			return fmt.Errorf("await %s: %w", method, err)
		}
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			return fmt.Errorf("%s: devtools error %d: %s", method, m.Error.Code, m.Error.Message)
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(m.Result, result); err != nil {
			return fmt.Errorf("decode %s result: %w", method, err)
		}
		return nil
	}
}

// waitEvent waits for an event, which may have arrived already.
func (p *cdpConn) waitEvent(ctx context.Context, method string) error {
	ctx, stop := context.WithTimeout(ctx, browserStepTimeout)
	defer stop()
	for {
		for i, ev := range p.events {
			if ev == method {
				p.events = append(p.events[:i], p.events[i+1:]...)
				return nil
			}
		}
		if _, err := p.receive(ctx); err != nil {
			return fmt.Errorf("await %s: %w", method, err)
		}
	}
}

// receive reads one message, noting it if it is an event.
func (p *cdpConn) receive(ctx context.Context) (cdpMessage, error) {
	msg, err := p.c.Receive(ctx)
	if err != nil {
		return cdpMessage{}, err
	}
	var m cdpMessage
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		return cdpMessage{}, fmt.Errorf("decode devtools message: %w", err)
	}
	if m.Method != "" {
		p.events = append(p.events, m.Method)
	}
	return m, nil
}

// Page is a DevTools connection to one tab showing the chat page.
type Page struct {
	cdpConn
	User string // who uses the page, and the name it chats under
}

// Eval evaluates a JavaScript expression in the page, awaiting it if it is a
// promise, and decodes its value into result.
func (p *Page) Eval(ctx context.Context, expr string, result any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.call(ctx, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	}, &r)
	if err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		msg := e.Exception.Description
		if msg == "" {
			msg = e.Text
		}
		return fmt.Errorf("evaluate in %s's page: %s", p.User, msg)
	}
	if err := json.Unmarshal(r.Result.Value, result); err != nil {
		return fmt.Errorf("decode value from %s: %w", p.User, err)
	}
	return nil
}

// Say types the page's user's name into the name field and text into the
// message box, and clicks Send.
func (p *Page) Say(ctx context.Context, text string) error {
	name := p.User
	var sent bool
	err := p.Eval(ctx, fmt.Sprintf(`(() => {
		document.getElementById('name').value = %s;
		const text = document.getElementById('text');
		text.value = %s;
		document.querySelector('#form button').click();
		return text.value === '';
	})()`, jsString(name), jsString(text)), &sent)
	if err != nil {
		return err
	}
	if !sent {
		return fmt.Errorf("%s's page did not send %q: its socket is not open", name, text)
	}
	return nil
}

// WaitForLine waits until the page's log has the line want and returns all
// of the log's lines.
func (p *Page) WaitForLine(ctx context.Context, want string) ([]string, error) {
	var lines []string
	err := p.Eval(ctx, fmt.Sprintf(`new Promise((resolve, reject) => {
		const want = %s, deadline = Date.now() + %d;
		(function poll() {
			const lines = Array.from(document.querySelectorAll('#log li'), li => li.textContent);
			if (lines.includes(want)) resolve(lines);
			else if (Date.now() > deadline) reject(new Error('no line ' + JSON.stringify(want) + ' in ' + JSON.stringify(lines)));
			else setTimeout(poll, 20);
		})();
	})`, jsString(want), (browserStepTimeout-2*time.Second).Milliseconds()), &lines)
	if err != nil {
		return nil, fmt.Errorf("wait for %q: %w", want, err)
	}
	return lines, nil
}

// LogLines returns the lines of the page's log.
func (p *Page) LogLines(ctx context.Context) ([]string, error) {
	var lines []string
	err := p.Eval(ctx, `Array.from(document.querySelectorAll('#log li'), li => li.textContent)`, &lines)
	return lines, err
}

// Screenshot saves a PNG of the page in the test's artifact directory (kept
// with `go test -artifacts`).
func (p *Page) Screenshot(ctx context.Context, t *testing.T) error {
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return fmt.Errorf("decode screenshot: %w", err)
	}
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "the screenshot is a PNG")
	path := filepath.Join(t.ArtifactDir(), p.User+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("save screenshot: %w", err)
	}
	t.Logf("screenshot of %s's page: %s", p.User, path)
	return nil
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic("chromiumtest: " + err.Error())
	}
	return string(b)
}

// devtoolsLog is Chromium's stderr: it keeps the lines and notes the
// DevTools endpoint from the "DevTools listening on ws://…" line. exec's own
// copying goroutine feeds it, and cmd.Wait joins that goroutine.
type devtoolsLog struct {
	mu      sync.Mutex
	all     []string
	partial []byte
	url     string        // valid once ready is closed
	ready   chan struct{} // closed when the endpoint is known
}

func newDevtoolsLog() *devtoolsLog { return &devtoolsLog{ready: make(chan struct{})} }

func (l *devtoolsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimRight(string(l.partial[:i]), "\r")
		l.partial = l.partial[i+1:]
		l.all = append(l.all, line)
		if url, ok := strings.CutPrefix(line, "DevTools listening on "); ok && l.url == "" {
			l.url = url
			close(l.ready)
		}
	}
}

func (l *devtoolsLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}
