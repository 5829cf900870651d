package interop

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/internal/xconnect"
	"github.com/gotrio/gotrio/wsock"
)

// TestChromiumWebSocketOverHTTP2 loads peers/h2.html over HTTPS with HTTP/2
// in headless Chromium; the page opens wss:// on its own origin, which
// Chromium sends as an RFC 8441 extended CONNECT on the page's HTTP/2
// connection because the server (GODEBUG=http2xconnect=1, hence the child
// process) advertises SETTINGS_ENABLE_CONNECT_PROTOCOL. The handler asserts
// that the handshake came that way. (Chromium opens spare connections of its
// own, so the number of TCP connections proves nothing here.)
func TestChromiumWebSocketOverHTTP2(t *testing.T) {
	requirePeer(t, chromium)
	if !xconnect.Run(t) {
		return
	}
	page, err := os.ReadFile(filepath.Join(peersDir, "h2.html"))
	require.NoError(t, err)

	var protos sync.Map // Request.Proto of each handshake
	var pageProto atomic.Value
	ws := (&wsock.ServerOptions{}).HTTPHandler(func(ctx context.Context, r *wsock.Request) error {
		protos.Store(r.Proto(), true)
		c, err := r.Accept(ctx, &wsock.AcceptOptions{Subprotocol: "echo.v1"})
		if err != nil {
			return err
		}
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil
			}
			if err := c.Send(ctx, m.Type, m.Data); err != nil {
				return nil
			}
		}
	})
	reports := make(chan browserReport, 1)
	var handlers sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		pageProto.Store(r.Proto)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("POST /results", func(w http.ResponseWriter, r *http.Request) {
		var rep browserReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			rep.Error = "decode results: " + err.Error()
		}
		select {
		case reports <- rep:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/ws", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		ws.ServeHTTP(w, r)
	}))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	require.Equal(t, "h2", srv.TLS.NextProtos[0], "the page server offers HTTP/2")

	report, browserErr := runChromium(t.Context(), t, srv.URL+"/", reports, "--ignore-certificate-errors")
	srv.Close()
	handlers.Wait()

	require.NoError(t, browserErr)
	require.Empty(t, report.Error, "the page failed")
	t.Logf("browser: %s", report.UserAgent)
	for _, r := range report.Results {
		assert.True(t, r.OK, "%s: %s", r.Name, r.Detail)
	}
	assert.Len(t, report.Results, 5)
	assert.Equal(t, "HTTP/2.0", pageProto.Load(), "the page's protocol")
	var seen []string
	protos.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
	assert.Equal(t, []string{"HTTP/2.0"}, seen, "protocols of the WebSocket handshakes")
}
