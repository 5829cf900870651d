package wsock

import (
	"compress/flate"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/deflate"
)

// Default limits and timeouts, those of trio-websocket. A zero option field
// means its default.
const (
	DefaultConnectTimeout    = 60 * time.Second
	DefaultDisconnectTimeout = 60 * time.Second
	DefaultMessageQueueSize  = 1
	DefaultMaxMessageSize    = 1 << 20 // 1 MiB, after decompression
	DefaultReadBufferSize    = 4 << 10 // 4 KiB
)

// Unlimited, in a timeout or a size field of the options, turns the limit
// off: no connect or disconnect timeout, no message size limit.
const Unlimited = -1

// Rendezvous, as MessageQueueSize, queues no message at all: the reader
// hands each message to a waiting Receive and reads nothing more until one
// takes it.
const Rendezvous = -1

// DialOptions configure a client connection. A nil *DialOptions and zero
// fields mean the documented defaults.
type DialOptions struct {
	// ConnectTimeout bounds the TCP connection, the TLS handshake and the
	// opening handshake together; exceeding it fails with ErrConnectTimeout.
	// Default 60 s; Unlimited: bounded by ctx only.
	ConnectTimeout time.Duration
	// DisconnectTimeout bounds the closing handshake (Close, and Open's close
	// when its body returns); exceeding it fails with ErrDisconnectTimeout.
	// Default 60 s; Unlimited: no bound.
	DisconnectTimeout time.Duration
	// MessageQueueSize is how many received messages may wait for Receive
	// before the reader stops reading the socket, pushing back on the peer.
	// Default 1; Rendezvous for none.
	MessageQueueSize int
	// MaxMessageSize bounds a received message, summed over its fragments
	// and after decompression; a larger one closes the connection with 1009.
	// Default 1 MiB; Unlimited: no bound.
	MaxMessageSize int64
	// ReadBufferSize is the size of the buffer the connection reads the
	// socket with. Default 4 KiB.
	ReadBufferSize int
	// Subprotocols are offered to the server, in order of preference; the
	// server's choice is Conn.Subprotocol.
	Subprotocols []string
	// Header holds extra fields for the opening handshake request, such as
	// Origin, Cookie or Authorization. Fields the handshake sets itself
	// (Host, Upgrade, Connection, Sec-WebSocket-*) are an error matching
	// ErrBadOption, as are Subprotocols that are not HTTP tokens.
	Header http.Header
	// TLSConfig configures TLS for wss URLs. nil means a default
	// configuration, which verifies the server's certificate against the
	// system roots. ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// DialContext opens the stream to addr ("host:port"), for proxies or
	// custom transports; TLS, for wss, is layered on what it returns. nil
	// means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Compression configures permessage-deflate, offered by default.
	Compression CompressionOptions
	// KeepAlive configures periodic pings, off by default.
	KeepAlive KeepAliveOptions
	// Logger receives the connection's diagnostics. nil means slog.Default().
	Logger *slog.Logger
	// HTTP2, when set, opens wss URLs over HTTP/2 (RFC 8441) on the
	// connections it shares between WebSockets, falling back to HTTP/1.1
	// for servers without it; its TLSConfig and DialContext then replace
	// the fields above. nil (the default) means the HTTP/1.1 upgrade on a
	// connection of its own.
	HTTP2 *HTTP2Transport
}

// ServerOptions configure a server: Listen, Serve, ServeTask and
// NewHTTPHandler. A nil *ServerOptions and zero fields mean the documented
// defaults.
type ServerOptions struct {
	// ConnectTimeout bounds the time from accepting a TCP connection to
	// having read its opening handshake (TLS included), against slow or
	// silent clients: when it passes the socket is closed and the handler is
	// never called. It also bounds the writing of Accept's and Reject's
	// answers. Default 60 s; Unlimited: no bound.
	ConnectTimeout time.Duration
	// DisconnectTimeout bounds the closing handshake of every connection:
	// after its handler returns, and during a graceful drain. Default 60 s;
	// Unlimited: no bound.
	DisconnectTimeout time.Duration
	// MessageQueueSize, MaxMessageSize and ReadBufferSize apply to each
	// accepted connection, as in DialOptions (defaults 1, 1 MiB, 4 KiB).
	MessageQueueSize int
	MaxMessageSize   int64
	ReadBufferSize   int
	// TLSConfig, when set, makes Listen serve wss: every connection starts
	// with a TLS handshake (bounded by ConnectTimeout). It must hold a
	// certificate. NewHTTPHandler ignores it (net/http does TLS there).
	TLSConfig *tls.Config
	// CheckOrigin decides whether the request's Origin may connect; a request
	// it refuses is answered 403 Forbidden and never reaches the handler.
	// nil means the default check: a request without Origin (not from a
	// browser) and a same-origin request (the Origin's host:port equals the
	// Host header, case-insensitively) pass, and so does an Origin whose host
	// matches one of AllowedOrigins. Setting CheckOrigin replaces all of
	// this, AllowedOrigins included; func(*Request) bool { return true }
	// turns the check off.
	CheckOrigin func(r *Request) bool
	// AllowedOrigins are path.Match patterns (such as "*.example.com" or
	// "localhost:*") matched, case-insensitively, against the host[:port] of
	// cross-origin requests' Origin; "*" allows every origin. Used by the
	// default origin check only.
	AllowedOrigins []string
	// Compression configures permessage-deflate, accepted by default when
	// the client offers it.
	Compression CompressionOptions
	// KeepAlive configures periodic pings on every accepted connection, off
	// by default.
	KeepAlive KeepAliveOptions
	// Logger receives handler failures (Error level) and failed handshakes
	// and connections (Debug level). nil means slog.Default().
	Logger *slog.Logger
	// HandlerNursery, when set, is the nursery the server starts its
	// connection tasks in (trio-websocket's handler_nursery): a handler's
	// error or panic is then that task's failure, and so cancels the
	// nursery, instead of being logged. The connection is still closed with
	// 1011 first; the nursery's other connections are then closed with 1001
	// (GoingAway) and their closing handshakes awaited, each bounded by
	// DisconnectTimeout, as in a drain. It must outlive Serve, which still
	// waits for the connections it started before returning.
	// NewHTTPHandler does not use it: net/http owns the goroutine there.
	HandlerNursery *nursery.Nursery
}

// AcceptOptions shape the server's answer to an opening handshake. A nil
// *AcceptOptions accepts with no subprotocol and no extra header.
type AcceptOptions struct {
	// Subprotocol is the protocol chosen for the connection; it must be one
	// of Request.Subprotocols, or "" for none.
	Subprotocol string
	// Header holds extra fields for the 101 answer, such as Set-Cookie.
	// Fields the handshake sets itself (Upgrade, Connection,
	// Sec-WebSocket-*) are an error.
	Header http.Header
}

// CompressionOptions configure permessage-deflate (RFC 7692). The zero value
// enables it without context takeover.
type CompressionOptions struct {
	// Disabled turns the extension off: a client does not offer it, a
	// server declines every offer.
	Disabled bool
	// ContextTakeover lets both compressors keep their 32 KiB window from
	// one message to the next, which compresses streams of similar messages
	// much better but holds state while the connection lives: a compressor
	// of about 0.8 MiB at the default level (up to 1.4 MiB at higher ones)
	// and the decompressor's 32 KiB window. Off by default: each message is
	// compressed on its own (server_no_context_takeover and
	// client_no_context_takeover), and an idle connection holds no
	// compression state at all.
	ContextTakeover bool
	// Level is the compress/flate level, 1 (fastest) to 9; 0 means
	// flate.BestSpeed.
	Level int
	// Threshold is the size under which messages are sent uncompressed;
	// 0 means 128 bytes, a negative value compresses every message.
	Threshold int
	// FullClientWindow (clients only) leaves client_max_window_bits out of the
	// offer. By default a client offers it, and a server that asks for a
	// window below 32 KiB (Python's websockets asks for 4 KiB) gets
	// Huffman-only compression from us, which we can honour but
	// which compresses text far less (JSON: ~58 % of its size instead of
	// ~19 %). With FullClientWindow such servers decline the offer instead, and
	// the others let us use the full window.
	FullClientWindow bool
}

// KeepAliveOptions configure keep-alive pings. The zero value sends none.
type KeepAliveOptions struct {
	// Interval is the time between the end of one ping and the next; 0
	// disables keep-alive.
	Interval time.Duration
	// Timeout is how long a ping may wait for its pong; when it passes, the
	// connection is failed (closed without a handshake, AbnormalClosure). 0
	// means Interval.
	//
	// Only time spent reading counts: while the connection has stopped
	// reading because of back-pressure (MessageQueueSize messages wait for
	// Receive, or a Reader has not read its data), the pong may be waiting
	// unread, so the wait is paused; when reading resumes it starts again with
	// a whole Timeout. A handler slower than Interval+Timeout to Receive thus
	// never gets a healthy peer killed; a dead peer is found out Timeout after
	// the handler catches up.
	Timeout time.Duration
}

// limits are the resolved sizes and timeouts shared by both roles. A zero
// timeout means none, a zero maxMessageSize means unlimited.
type limits struct {
	connectTimeout    time.Duration
	disconnectTimeout time.Duration
	queueSize         int
	maxMessageSize    int64
	readBufferSize    int
	compression       CompressionOptions
	keepAlive         KeepAliveOptions
	logger            *slog.Logger
}

// resolveTimeout maps a timeout option to its value: 0 is def, a negative
// value (Unlimited) is 0, meaning no bound.
func resolveTimeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func resolveLimits(connect, disconnect time.Duration, queue int, maxMsg int64, readBuf int,
	comp CompressionOptions, ka KeepAliveOptions, logger *slog.Logger) limits {
	l := limits{
		connectTimeout:    resolveTimeout(connect, DefaultConnectTimeout),
		disconnectTimeout: resolveTimeout(disconnect, DefaultDisconnectTimeout),
		queueSize:         queue,
		maxMessageSize:    maxMsg,
		readBufferSize:    readBuf,
		compression:       comp,
		keepAlive:         ka,
		logger:            logger,
	}
	switch {
	case queue == 0:
		l.queueSize = DefaultMessageQueueSize
	case queue < 0:
		l.queueSize = 0
	}
	switch {
	case maxMsg == 0:
		l.maxMessageSize = DefaultMaxMessageSize
	case maxMsg < 0:
		l.maxMessageSize = 0
	}
	if readBuf <= 0 {
		l.readBufferSize = DefaultReadBufferSize
	}
	if ka.Interval > 0 && ka.Timeout <= 0 {
		l.keepAlive.Timeout = ka.Interval
	}
	if logger == nil {
		l.logger = slog.Default()
	}
	return l
}

func (o *DialOptions) resolve() limits {
	if o == nil {
		o = &DialOptions{}
	}
	return resolveLimits(o.ConnectTimeout, o.DisconnectTimeout, o.MessageQueueSize,
		o.MaxMessageSize, o.ReadBufferSize, o.Compression, o.KeepAlive, o.Logger)
}

func (o *ServerOptions) resolve() limits {
	if o == nil {
		o = &ServerOptions{}
	}
	return resolveLimits(o.ConnectTimeout, o.DisconnectTimeout, o.MessageQueueSize,
		o.MaxMessageSize, o.ReadBufferSize, o.Compression, o.KeepAlive, o.Logger)
}

// deflateConfig is the engine's configuration for c.
func (c CompressionOptions) deflateConfig() deflate.Config {
	return deflate.Config{
		ServerNoContextTakeover: !c.ContextTakeover,
		ClientNoContextTakeover: !c.ContextTakeover,
		Level:                   c.Level,
		Threshold:               c.Threshold,
		FullClientWindow:        c.FullClientWindow,
	}
}

// check reports option values the engine would refuse.
func (c CompressionOptions) check() error {
	if !c.Disabled && (c.Level < flate.HuffmanOnly || c.Level > flate.BestCompression) {
		return badOption(fmt.Sprintf("CompressionOptions.Level %d is not between %d and %d",
			c.Level, flate.HuffmanOnly, flate.BestCompression))
	}
	return nil
}
