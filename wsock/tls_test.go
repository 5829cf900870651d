package wsock

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

// tlsSeen is what a handler saw of its connection's TLS.
type tlsSeen struct {
	tls      bool
	complete bool
}

func tlsReporter(seen chan<- tlsSeen) Handler {
	return func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		st := c.TLS()
		seen <- tlsSeen{tls: st != nil, complete: st != nil && st.HandshakeComplete}
		return echoConn(ctx, c)
	}
}

func TestConnReportsItsTLSStateOnBothSides(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	seen := make(chan tlsSeen, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, ServeTask("127.0.0.1:0", tlsReporter(seen), &ServerOptions{TLSConfig: serverTLS}))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("test over")
		url := "wss://localhost:" + strconv.Itoa(srv.Port()) + "/"
		return Open(ctx, url, &DialOptions{TLSConfig: clientTLS}, func(ctx context.Context, c *Conn) error {
			st := c.TLS()
			require.NotNil(t, st)
			assert.True(t, st.HandshakeComplete)
			assert.Equal(t, "localhost", st.ServerName)
			require.NotEmpty(t, st.PeerCertificates)
			assert.Equal(t, "wsock test", st.PeerCertificates[0].Subject.CommonName)
			return nil
		})
	})
	assert.NoError(t, err)
	assert.Equal(t, tlsSeen{tls: true, complete: true}, <-seen)
}

func TestConnOverPlainTCPHasNoTLSState(t *testing.T) {
	seen := make(chan tlsSeen, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, ServeTask("127.0.0.1:0", tlsReporter(seen), nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("test over")
		return Open(ctx, "ws://127.0.0.1:"+strconv.Itoa(srv.Port())+"/", nil, func(ctx context.Context, c *Conn) error {
			assert.Nil(t, c.TLS())
			return nil
		})
	})
	assert.NoError(t, err)
	assert.Equal(t, tlsSeen{}, <-seen)
}

func TestConnBehindAnHTTPSServerReportsItsTLSState(t *testing.T) {
	seen := make(chan tlsSeen, 1)
	hs := httptest.NewTLSServer(NewHTTPHandler(tlsReporter(seen), nil))
	defer hs.Close()
	url := "wss" + strings.TrimPrefix(hs.URL, "https") + "/"
	clientTLS := hs.Client().Transport.(*http.Transport).TLSClientConfig
	err := Open(context.Background(), url, &DialOptions{TLSConfig: clientTLS}, func(ctx context.Context, c *Conn) error {
		assert.NotNil(t, c.TLS())
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, tlsSeen{tls: true, complete: true}, <-seen)
}
