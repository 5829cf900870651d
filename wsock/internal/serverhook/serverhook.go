// Package serverhook lets package wsocktest run a wsock server on a listener
// of its own (in-memory pipes), which the public API does not offer: Listen
// takes a TCP address. Package wsock fills NewServer in its init.
package serverhook

import "net"

// NewServer returns a *wsock.Server that serves the connections ln accepts,
// configured by opts, a *wsock.ServerOptions (nil means defaults). It wraps
// ln in TLS when opts has a TLSConfig, as Listen does.
var NewServer func(ln net.Listener, opts any) (any, error)
