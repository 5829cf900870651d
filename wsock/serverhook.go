package wsock

import (
	"crypto/tls"
	"net"

	"github.com/gotrio/gotrio/wsock/internal/serverhook"
)

func init() {
	serverhook.NewServer = func(ln net.Listener, opts any) (any, error) {
		srv, err := newServerConfig(opts.(*ServerOptions))
		if err != nil {
			return nil, err
		}
		if srv.opts.TLSConfig != nil {
			ln = tls.NewListener(ln, srv.opts.TLSConfig)
		}
		return newServer(ln, srv), nil
	}
}
