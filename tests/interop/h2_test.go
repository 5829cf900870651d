package interop

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/internal/xconnect"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
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
	ws := wsock.NewHTTPHandler(func(ctx context.Context, r *wsock.Request) error {
		protos.Store(r.Proto(), true)
		c, err := r.Accept(ctx, &wsock.AcceptOptions{Subprotocol: "echo.v1"})
		if err != nil {
			return err
		}
		return wsocktest.EchoConn(ctx, c)
	}, nil)
	pages := startPageServer(page, ws, func(s *httptest.Server) {
		s.EnableHTTP2 = true
		s.StartTLS()
	})
	require.Equal(t, "h2", pages.TLS.NextProtos[0], "the page server offers HTTP/2")

	report, browserErr := runChromium(t.Context(), t, pages.URL+"/", pages.reports, "--ignore-certificate-errors")
	pages.Close()
	require.NoError(t, ws.Shutdown(t.Context()), "join the WebSocket handlers")

	require.NoError(t, browserErr)
	require.Empty(t, report.Error, "the page failed")
	t.Logf("browser: %s", report.UserAgent)
	for _, r := range report.Results {
		assert.True(t, r.OK, "%s: %s", r.Name, r.Detail)
	}
	assert.Len(t, report.Results, 5)
	assert.Equal(t, "HTTP/2.0", pages.pageProto.Load(), "the page's protocol")
	var seen []string
	protos.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
	assert.Equal(t, []string{"HTTP/2.0"}, seen, "protocols of the WebSocket handshakes")
}
