package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
)

// browserReport is what peers/browser.html POSTs to /results.
type browserReport struct {
	Results []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"results"`
	Error     string `json:"error"`
	UserAgent string `json:"userAgent"`
}

// TestServerWithChromium loads peers/browser.html in headless Chromium from a
// loopback page server; the page's script runs the client cases against our
// server and POSTs its results back to the page server. The server is either
// a wsock.Server on a port of its own (a cross-origin request, allowed with
// AllowedOrigins) or NewHTTPHandler mounted on the page server
// under /ws/ (a same-origin request).
func TestServerWithChromium(t *testing.T) {
	requirePeer(t, chromium)
	page, err := os.ReadFile(filepath.Join(peersDir, "browser.html"))
	require.NoError(t, err)

	t.Run("listen", func(t *testing.T) {
		srv := newInteropServer()
		opts := serverOptions(t)
		opts.AllowedOrigins = []string{"127.0.0.1:*"}
		pages := newPageServer(page, nil)
		defer pages.Close()
		var report browserReport
		var browserErr error
		err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
			server, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", srv.handle, opts))
			if err != nil {
				return err
			}
			report, browserErr = runChromium(ctx, t, pages.pageURL("ws://127.0.0.1:"+strconv.Itoa(server.Port())), pages.reports)
			n.Scope().Cancel("the browser is done")
			return nil
		})
		require.NoError(t, err, "serve")
		checkBrowserReport(t, report, browserErr, srv, opts)
	})

	t.Run("http-handler", func(t *testing.T) {
		srv := newInteropServer()
		srv.prefix = "/ws"
		opts := serverOptions(t)
		ws := wsock.NewHTTPHandler(srv.handle, opts)
		pages := newPageServer(page, ws)
		report, browserErr := runChromium(t.Context(), t, pages.pageURL("ws"+strings.TrimPrefix(pages.URL, "http")+"/ws"), pages.reports)
		pages.Close()
		// net/http forgets hijacked connections; ws joins them.
		require.NoError(t, ws.Shutdown(t.Context()))
		checkBrowserReport(t, report, browserErr, srv, opts)
	})
}

// pageServer serves the browser page on / and takes its report on /results;
// ws, if not nil, serves /ws/.
type pageServer struct {
	*httptest.Server
	reports   chan browserReport
	pageProto atomic.Value // the protocol the page was fetched with ("HTTP/1.1")
}

// newPageServer starts a page server over plain HTTP/1.1.
func newPageServer(page []byte, ws http.Handler) *pageServer {
	return startPageServer(page, ws, (*httptest.Server).Start)
}

// startPageServer makes a page server and starts it with start (Start, or
// StartTLS, for instance).
func startPageServer(page []byte, ws http.Handler, start func(*httptest.Server)) *pageServer {
	p := &pageServer{reports: make(chan browserReport, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		p.pageProto.Store(r.Proto)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("POST /results", func(w http.ResponseWriter, r *http.Request) {
		var rep browserReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			rep.Error = "decode results: " + err.Error()
		}
		select {
		case p.reports <- rep:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if ws != nil {
		mux.Handle("/ws/", ws)
	}
	p.Server = httptest.NewUnstartedServer(mux)
	start(p.Server)
	return p
}

// pageURL is the page's address, telling it where the server under test is.
func (p *pageServer) pageURL(wsBase string) string {
	return p.URL + "/?ws=" + url.QueryEscape(wsBase)
}

// checkBrowserReport turns the page's report into subtests, one per case,
// plus the server-side checks.
func checkBrowserReport(t *testing.T, report browserReport, browserErr error, srv *interopServer, opts *wsock.ServerOptions) {
	t.Helper()
	require.NoError(t, browserErr)
	require.Empty(t, report.Error, "the page failed")
	t.Logf("browser: %s", report.UserAgent)
	results := make(map[string]caseResult)
	for _, r := range report.Results {
		results[r.Name] = caseResult{pass: r.OK, detail: r.Detail}
	}
	// Browsers cannot send pings, so "ping" is not among the cases.
	requireCases(t, results, clientCaseNames("deflate", "deflate-stream"))
	srv.check(t)
	srv.checkExtensions(t, opts, true)
}

// runChromium opens target in headless Chromium, with the common flags and
// extraFlags, and returns the first report the page POSTs, then stops the
// browser. The browser runs in its own process
// group, ended with SIGTERM (Chromium then reaps its helpers and exits 0) and,
// should anything survive, SIGKILL to the group.
func runChromium(ctx context.Context, t *testing.T, target string, reports <-chan browserReport, extraFlags ...string) (browserReport, error) {
	ctx, stop := context.WithTimeout(ctx, peerTimeout)
	defer stop()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-breakpad", "--disable-crash-reporter", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir()}, extraFlags...)
	cmd := exec.CommandContext(ctx, chromiumBin, append(args, target)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	stderr := newLineLog()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return browserReport{}, fmt.Errorf("start chromium: %w", err)
	}
	exited := make(chan error, 1)
	//gotrio:go waits for the chromium process, which no ctx can stop; joined by <-exited
	go func() { exited <- cmd.Wait() }()

	var report browserReport
	var err error
	select {
	case report = <-reports:
	case werr := <-exited:
		exited <- werr
		err = fmt.Errorf("chromium exited before the page reported: %v", werr)
	case <-ctx.Done():
		err = fmt.Errorf("wait for the page's report: %w", ctx.Err())
	}
	stop()
	werr := <-exited
	// Whatever ignored SIGTERM is gone with its group.
	if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Logf("kill chromium's process group: %v", kerr)
	}
	if err != nil {
		for _, line := range stderr.Lines() {
			t.Logf("chromium: %s", line)
		}
		return report, err
	}
	// Wait reports the SIGTERM we sent as ctx's error; anything else is news.
	if werr != nil && !errors.Is(werr, context.Canceled) {
		t.Logf("chromium: wait: %v", werr)
	}
	return report, nil
}
