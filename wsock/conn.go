package wsock

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotrio/gotrio/internal/scopehook"
	"github.com/gotrio/gotrio/wsock/internal/deflate"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// connConfig is what a Conn needs once the opening handshake is done.
type connConfig struct {
	netConn                       net.Conn // TCP, TLS, or net.Pipe in tests
	buffered                      []byte   // bytes read past the handshake, consumed before netConn
	role                          proto.Role
	path                          string // request target (path?query)
	subprotocol                   string
	requestHeader, responseHeader http.Header
	makeHeaders                   func() (req, resp http.Header) // builds those left nil on first use, if set
	deflate                       *deflate.Params                // nil: permessage-deflate not negotiated
	deflateConfig                 deflate.Config                 // level, threshold
	maxMessageSize                int64                          // <= 0: unlimited
	queueSize                     int                            // MessageQueueSize (0 = rendezvous)
	readBufferSize                int                            // <= 0: DefaultReadBufferSize
	disconnectTimeout             time.Duration                  // <= 0: unbounded
	logger                        *slog.Logger                   // nil: slog.Default()
}

// smallRead is the size of the buffer an idle connection waits for data with.
const smallRead = 256

// connSeq numbers connections per role, for String.
var connSeq [proto.Server + 1]atomic.Uint64

// Conn is an open WebSocket connection, client or server.
//
// Every connection belongs to a nursery, chosen by whoever opened it (Open, Connect, the
// server), where it holds a place until it ends, and has a reader task there: the task
// reads frames, answers pings, queues messages for Receive and Reader, and carries out the
// closing handshake. Over a TCP or unix socket, a Receive that finds nothing queued reads
// the socket itself, answering pings on the way, and the reader task's goroutine is gone
// meanwhile, so an idle connection whose handler waits in Receive costs one goroutine; the
// task comes back as soon as something needs reading while nobody receives (a Reader, a
// Ping, a close), and 20 to 40 ms after a Receive returned (20 ms after the connection
// opened) if no Receive has begun. Over TLS, pipes and HTTP/2 streams the task reads for
// the connection's whole life. Cancelling the nursery closes the connection as
// Close(GoingAway) would, without dropping it: the connection ends once the closing
// handshake is over, within DisconnectTimeout. Receive,
// Reader, Send, Writer, Ping, Pong and Close may be called from any number of goroutines;
// sends are written in the order they started waiting (FIFO).
//
// Cancelling the ctx of a Receive or of a Reader never harms the connection. Cancelling the
// ctx of a Send while it waits its turn just returns the ctx's error; cancelling it while
// its frame is being written fails the connection (the frame cannot be completed, so
// nothing else could be sent), as does cancelling a Writer before its Close.
type Conn struct {
	nc                            net.Conn
	name                          string
	path, subprotocol             string
	requestHeader, responseHeader http.Header
	makeHeaders                   func() (req, resp http.Header) // builds those left nil, once
	headersOnce                   sync.Once
	readBufferSize                int32 // ReadBufferSize
	logger                        *slog.Logger
	disconnectTimeout             time.Duration

	// Reading: owned by the holder of the read turn (turn.go).
	rs        readState
	got       Message // the message decoded for the Receive that holds the turn
	gotOK     bool    // got is set
	role      proto.Role
	turn      readTurn
	awayStop  func() bool // stops the watch of the owner's cancellation (see runTurn)
	rd        *proto.Reader
	cur       inMessage        // the message being received
	frameLeft int64            // payload bytes of the current data frame still to come
	small     *[smallRead]byte // allocated on first use: a raw socket waits without it
	readBuf   *[]byte          // from readPool for the default size (given back when idle), else the connection's own
	raw       rawReader

	// Delivery to Receive and Reader (read.go).
	msgs          atomic.Pointer[chan Message] // complete messages (see queue)
	streams       lazyChan[*stream]            // a message handed, as it arrives, to a waiting Reader
	streamWaiters atomic.Int32                 // Reader calls waiting for a message
	queueSize     int32                        // msgs' capacity: MessageQueueSize
	recvDone      signal                       // fired when no message will be queued any more
	dropped       signal                       // fired by Close: queued and later messages are dropped

	// Writing (write.go).
	msgLock     lazyLock // 1-slot: held for a whole data message
	frameLock   lazyLock // 1-slot: held while one frame is written
	keys        *proto.MaskKeys
	fl          *deflateState // permessage-deflate's, when negotiated
	wb          *writeBufs    // made by the first frame written; guarded by frameLock
	sentClose   atomic.Bool   // a Close frame was sent: no more frames
	pongPending atomic.Bool   // pong holds a payload to send
	awayPending atomic.Bool   // goAway's Close frame is to be sent
	pongMu      sync.Mutex    // guards pong, pongLen
	pongLen     uint8
	pong        *[125]byte // made by the first ping answered
	dl          deadlines

	// Pings waiting for their pong (ping.go), and keep-alive's (keepalive.go).
	pingMu sync.Mutex
	pings  []*pendingPing
	pongs  pongWatch

	// Closing state (close.go).
	mu          sync.Mutex
	reason      *CloseReason // nil while open
	closingCh   signal
	final       bool          // reason is final: the peer's Close, a failure or an abort
	recvEnded   bool          // recvDone is fired
	closeCalled bool          // Close was called
	peerClosed  bool          // the peer's Close frame arrived
	abortLocal  bool          // the abort was our own doing
	flags       atomic.Uint32 // flagClosing, flagDropped, flagQueued, flagPings (close.go)
	violated    bool          // failure is the peer's protocol violation, not an abort's cause
	failure     error         // the peer's protocol violation, or why the connection was aborted
	cause       error         // for ClosedError: what ended the connection abnormally
	closeResult error         // what Close returns
	doneCh      signal

	away sync.WaitGroup // goAway's callback (see run), which run joins
}

// queue returns the channel of complete messages, whose capacity is MessageQueueSize,
// making it on first use: a connection whose handler waits in Receive, reading itself,
// never queues a message.
func (c *Conn) queue() chan Message { return lazyMake(&c.msgs, int(c.queueSize)) }

// queued returns the channel of complete messages if it has been made, else nil: nothing
// was ever queued, and a nil channel is never ready in a select.
func (c *Conn) queued() chan Message {
	if p := c.msgs.Load(); p != nil {
		return *p
	}
	return nil
}

// lazyChan is an unbuffered channel made when first used: a connection needs some of its
// channels only when a rarely used path (a Reader, a blocked Send, a close) waits on them,
// and each costs about 100 bytes.
type lazyChan[T any] struct{ p atomic.Pointer[chan T] }

// get returns the channel, making it if no one has yet.
func (l *lazyChan[T]) get() chan T { return lazyMake(&l.p, 0) }

// lazyLock is a 1-slot channel used as a lock (see write.go), made when first taken: an
// idle connection that has never written makes neither of its two.
type lazyLock struct{ p atomic.Pointer[chan struct{}] }

// get returns the channel, making it if no one has yet.
func (l *lazyLock) get() chan struct{} { return lazyMake(&l.p, 1) }

// lazyMake returns *p's channel, making it with capacity size if *p is nil.
func lazyMake[T any](p *atomic.Pointer[chan T], size int) chan T {
	if q := p.Load(); q != nil {
		return *q
	}
	ch := make(chan T, size)
	if p.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *p.Load()
}

// signal is an event that happens once: a channel closed by fire, made only if someone
// waits for it before then; fired later, it is a channel closed already.
type signal struct{ ch lazyChan[struct{}] }

// closedSignal is the channel of every signal fired before anyone waited for it.
var closedSignal = func() *chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return &ch
}()

// wait returns a channel closed once s has fired.
func (s *signal) wait() <-chan struct{} { return s.ch.get() }

// fire makes s happen; it must be called once only.
func (s *signal) fire() {
	if !s.ch.p.CompareAndSwap(nil, closedSignal) {
		close(*s.ch.p.Load())
	}
}

// deflateState is a connection's permessage-deflate state, made only when the extension
// was negotiated.
type deflateState struct {
	comp     *deflate.Compressor // guarded by msgLock
	zbuf     []byte              // compressed message; guarded by msgLock
	takeover bool                // comp keeps its window between messages
	decomp   *deflate.Decompressor
	cfg      deflate.Config
}

// newConn returns a connection over cfg.netConn, whose opening handshake is done. Its
// reader, run, must be started in a nursery.
func newConn(cfg connConfig) *Conn {
	if cfg.role != proto.Client && cfg.role != proto.Server {
		panic("wsock: connConfig.role must be proto.Client or proto.Server")
	}
	c := &Conn{
		nc:                cfg.netConn,
		role:              cfg.role,
		path:              cfg.path,
		subprotocol:       cfg.subprotocol,
		requestHeader:     cfg.requestHeader,
		responseHeader:    cfg.responseHeader,
		makeHeaders:       cfg.makeHeaders,
		logger:            cfg.logger,
		disconnectTimeout: cfg.disconnectTimeout,
		readBufferSize:    int32(min(cfg.readBufferSize, math.MaxInt32)),
		queueSize:         int32(min(max(cfg.queueSize, 0), math.MaxInt32)),
	}
	c.dl.c = c
	c.rs.pending = cfg.buffered
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.readBufferSize <= 0 {
		c.readBufferSize = DefaultReadBufferSize
	}
	prefix := "server-"
	if cfg.role == proto.Client {
		prefix = "client-"
		c.keys = proto.NewMaskKeys()
	}
	c.name = prefix + strconv.FormatUint(connSeq[cfg.role].Add(1), 10)
	rcfg := proto.ReaderConfig{Role: cfg.role, MaxMessageSize: cfg.maxMessageSize}
	if p := cfg.deflate; p != nil {
		ours, theirs := p.ClientNoContextTakeover, p.ServerNoContextTakeover
		if cfg.role == proto.Server {
			ours, theirs = theirs, ours
		}
		c.fl = &deflateState{
			comp:     deflate.NewCompressor(p.CompressionLevel(cfg.role, cfg.deflateConfig.Level), ours),
			takeover: !ours,
			decomp:   deflate.NewDecompressor(theirs),
			cfg:      cfg.deflateConfig,
		}
		rcfg.Inflater = c.fl.decomp
	}
	c.rd = proto.NewReader(rcfg)
	return c
}

// Subprotocol returns the subprotocol negotiated in the opening handshake, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Path returns the request target of the opening handshake: the path and the query.
func (c *Conn) Path() string { return c.path }

// RequestHeader returns the header of the opening handshake's request.
func (c *Conn) RequestHeader() http.Header {
	c.loadHeaders()
	return c.requestHeader
}

// ResponseHeader returns the header of the opening handshake's response.
func (c *Conn) ResponseHeader() http.Header {
	c.loadHeaders()
	return c.responseHeader
}

// loadHeaders builds the handshake's headers a server left to build on demand: few
// handlers look at them, and an idle connection should not hold maps for them.
func (c *Conn) loadHeaders() {
	if c.makeHeaders == nil {
		return
	}
	c.headersOnce.Do(func() {
		req, resp := c.makeHeaders()
		if c.requestHeader == nil {
			c.requestHeader = req
		}
		if c.responseHeader == nil {
			c.responseHeader = resp
		}
	})
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// TLS returns the state of the TLS connection the WebSocket runs over (wss,
// on either side; behind net/http, a request that came over TLS), or nil when
// it runs over plain TCP or another stream.
func (c *Conn) TLS() *tls.ConnectionState {
	tc, ok := c.nc.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}

// IsClient reports whether the connection is the client side.
func (c *Conn) IsClient() bool { return c.role == proto.Client }

// String returns the connection's name: "client-N" or "server-N", N counting the
// connections of that role made by this process.
func (c *Conn) String() string { return c.name }

// done is closed when run has returned and the TCP connection is closed.
func (c *Conn) done() <-chan struct{} { return c.doneCh.wait() }

// run is the connection's reader task, for a connection no Receive reads (tests start
// it so, in a nursery; startConn starts runTurn, which hands the turn to a Receive and
// back):
//
//	n.GoNamed(c.String()+" reader", c.run)
//
// It reads frames, answers pings, queues messages (back-pressure), carries out the closing
// handshake (answering the peer's Close; a server closes TCP right after, a client waits,
// bounded by DisconnectTimeout, for the server to do so), fails the connection with the
// right code on protocol violations, and returns once the connection is closed: nil after
// a clean or a local close, a *ClosedError wrapping the cause after an abnormal one (the
// peer's protocol violation, or the TCP connection lost without a close handshake).
//
// Cancelling ctx means the owner is gone, and closes the connection gracefully, as
// Close(GoingAway) would (see goAway): the Close frame goes out unless a close was begun
// already, and run goes on reading until the peer's Close frame arrives or
// DisconnectTimeout passes (then the TCP connection is closed, AbnormalClosure); either
// way that is a local close. A cancelled nursery thus joins its connections within
// DisconnectTimeout (with DisconnectTimeout Unlimited, it waits for the peer), and the
// peer sees 1001, not a dropped connection.
func (c *Conn) run(ctx context.Context) error {
	_, err := c.runTurn(ctx) // always ended: no Receive reads a connection started by run
	return err
}

// runTurn is one run of the reader task: it reads until the connection ends, and then
// returns ended true with run's result, or until it hands the read turn to a Receive
// (only on a connection whose callers read, see turn.go), and then returns ended false.
func (c *Conn) runTurn(ctx context.Context) (ended bool, err error) {
	if c.awayStop == nil {
		c.watchOwner(ctx)
	}
	if c.rs.end == endNone {
		if c.readFrames(ctx, false) == stopYield {
			return false, nil
		}
		c.endTurn(false)
	}
	c.dl.clearInterrupt() // the rest reads with the real deadline
	err = c.endRead()
	c.putReadBuf()
	c.rs.large = nil
	c.nc.Close() // ends a Close frame goAway may still be writing
	if c.awayStop() {
		c.away.Done() // goAway will not run
	}
	c.away.Wait()
	c.finishTurn()
	return true, c.finish(ctx, err)
}

// watchOwner makes the cancellation of ctx, the context of the connection's nursery, close
// the connection (goAway). goAway runs as a context.AfterFunc callback, not a task: it
// never waits for a lock, and a Close frame it writes is bounded by DisconnectTimeout; the
// run that finishes the connection joins it.
func (c *Conn) watchOwner(ctx context.Context) {
	c.away.Add(1)
	c.awayStop = scopehook.Watch(ctx, func() {
		defer c.away.Done()
		c.goAway()
	})
}

// readState is where reading stands between two holders of the read turn (see turn.go):
// whoever holds the turn, the reader task or a Receive, continues from it.
type readState struct {
	inited   bool
	caller   bool // a Receive reads: a whole message is its, not the queue's (see deliver)
	useLarge bool // the next read uses the large buffer: data is streaming in
	// How reading ended, once it has (endNone while it goes on); the reader task carries
	// out the rest (see endRead).
	end     endKind
	pending []byte      // bytes read past the handshake, not yet copied into a read buffer
	src     []byte      // bytes read and not parsed yet
	buf     []byte      // the buffer src lies in
	large   []byte      // the large read buffer in use; nil while idle
	rerr    error       // the error of the read that produced src
	endEv   proto.Event // endClose: the peer's Close frame
	endErr  error       // endViolation: the violation; endRead: the read error
}

// endKind says how reading ended.
type endKind uint8

const (
	endNone      endKind = iota
	endClose             // the peer's Close frame
	endViolation         // a protocol violation of the peer
	endRead              // a read error, EOF included
)

// readStop is why readFrames returned.
type readStop uint8

const (
	stopEnded   readStop = iota // reading is over: see readState.end
	stopMessage                 // a message was decoded for the Receive that reads (c.got)
	stopYield                   // the holder gives the turn up: see readFrames
)

// readFrames reads and handles frames, as the holder of the read turn: the reader task
// (caller false), or a Receive (caller true) whose ctx is ctx. It returns when reading
// ends, when a whole message has been decoded for the Receive, or when the holder is to
// give the turn up: the task, to a Receive that asked for it (see yieldToCaller); the
// Receive, once ctx is done or the connection is closing. A Receive is interrupted in its
// wait for data by the read deadline (see deadlines.interruptRead), which is safe on a
// raw socket: a read that has not started to copy loses nothing.
//
// An idle connection holds no read buffer: after a read that drained the socket (it did
// not fill its buffer), the ReadBufferSize buffer goes back to a pool, and the next read
// waits without a buffer (a TCP or unix socket, see rawReader) or with c.small, a buffer of
// smallRead bytes (other transports). A read that fills its buffer means data is
// streaming in, and the next one uses the large buffer.
//
// Nothing the task waits for watches a ctx: the owner's cancellation reaches it as a
// close (see run), which releases every wait and bounds the reads by DisconnectTimeout.
func (c *Conn) readFrames(ctx context.Context, caller bool) readStop {
	rs := &c.rs
	if !rs.inited {
		rs.inited = true
		c.raw.init(c)
	}
	for {
		for len(rs.src) > 0 {
			ev, n, err := c.rd.Next(rs.src)
			rs.src = rs.src[n:]
			if err != nil {
				rs.src = nil
				rs.end, rs.endErr = endViolation, err
				return stopEnded
			}
			if ev.Kind == proto.EventNone {
				break
			}
			if ev.Kind == proto.EventClose {
				rs.src = nil
				rs.end, rs.endEv = endClose, ev
				return stopEnded
			}
			c.handle(rs.buf, ev)
			if caller && c.gotOK {
				return stopMessage
			}
		}
		rs.src = nil
		if rs.rerr != nil {
			rs.end, rs.endErr = endRead, rs.rerr
			rs.rerr = nil
			return stopEnded
		}
		if !rs.useLarge && rs.large != nil {
			c.putReadBuf()
			rs.large = nil
		}
		if caller {
			if ctx.Err() != nil || c.isClosing() || c.isDropped() {
				return stopYield
			}
		} else if c.yieldToCaller() {
			return stopYield
		}
		c.readOnce()
		if rs.rerr != nil && c.dl.takeInterrupt(rs.rerr) {
			rs.rerr = nil // interrupted, to look again at why it reads (above)
		}
	}
}

// readOnce reads once from the socket (or from the bytes read past the handshake) into
// rs.src, rs.buf and rs.rerr.
func (c *Conn) readOnce() {
	rs := &c.rs
	var buf []byte
	idle := false
	switch region := c.directRegion(); {
	case region != nil && len(rs.pending) == 0:
		buf = region
	case rs.useLarge || len(rs.pending) > 0:
		if rs.large == nil {
			rs.large = c.getReadBuf()
		}
		buf = rs.large
	case c.raw.ok():
		idle = true // rawReader waits without a buffer
	default:
		buf = c.smallBuf()
	}
	switch {
	case len(rs.pending) > 0:
		// Copied, so that message chunks alias only the read buffers (see onData).
		n := copy(buf, rs.pending)
		rs.pending, rs.src = rs.pending[n:], buf[:n]
		rs.useLarge = true
	case idle:
		// Waits without a buffer, then reads into the large one (see rawReader).
		rs.large = c.raw.read()
		n, err := c.raw.n, c.raw.err
		if rs.large == nil {
			buf = c.rawFallbackBuf() // rawReader did not read into a buffer
		} else {
			buf = rs.large
		}
		rs.src, rs.rerr = buf[:n], err
		rs.useLarge = n > 0 && n == len(buf)
	default:
		n, err := c.nc.Read(buf)
		rs.src, rs.rerr = buf[:n], err
		rs.useLarge = n == len(buf)
	}
	rs.buf = buf
}

// idle reports whether the next read waits for data without a buffer (rawReader).
func (c *Conn) idle() bool {
	rs := &c.rs
	return rs.inited && len(rs.src) == 0 && len(rs.pending) == 0 && !rs.useLarge &&
		rs.rerr == nil && c.raw.ok() && c.directRegion() == nil
}

// rawFallbackBuf is the buffer of a raw read that read nothing: none if it was
// interrupted, else the small buffer rawReader fell back to.
func (c *Conn) rawFallbackBuf() []byte {
	if c.raw.n == 0 {
		return nil
	}
	return c.smallBuf()
}

// endRead carries out the end of reading that readFrames met (the reader task does it,
// whoever met it), and returns the read error that ended it (nil after a close handshake
// or a failure), as run's finish wants it.
func (c *Conn) endRead() error {
	rs := &c.rs
	switch rs.end {
	case endClose:
		buf := rs.buf
		if len(buf) == 0 {
			buf = c.smallBuf()
		}
		return c.onClose(buf, rs.endEv)
	case endViolation:
		return c.failProtocol(rs.endErr)
	default:
		return rs.endErr
	}
}

// smallBuf returns the small read buffer, allocating it on first use.
func (c *Conn) smallBuf() []byte {
	if c.small == nil {
		c.small = new([smallRead]byte)
	}
	return c.small[:]
}

// readPool holds read buffers of DefaultReadBufferSize bytes, and room for a frame
// header, so that a message of that size arrives in one read; connections share them
// while they are busy.
var readPool = sync.Pool{New: func() any { b := make([]byte, DefaultReadBufferSize+proto.MaxHeaderLen); return &b }}

// rawReader reads a TCP or unix socket (a net.Conn that is a syscall.Conn: not TLS, pipes
// or the streams WrapClient wraps) through syscall.RawConn, so that an idle connection
// waits for data without holding a read buffer, and reads it, once it comes, straight
// into the large buffer: a plain Read would need a buffer chosen before the wait, and the
// small one would take a second read system call for any message over smallRead bytes.
// Its errors are those Read returns.
type rawReader struct {
	c     *Conn
	rc    syscall.RawConn // nil: not available
	fn    func(fd uintptr) bool
	large []byte // read's result
	n     int
	err   error
}

// init prepares r for c's socket, if it is a raw one.
func (r *rawReader) init(c *Conn) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	r.c, r.rc = c, rc
	r.fn = r.attempt
}

func (r *rawReader) ok() bool { return r.rc != nil }

// read reads what is there, or waits for data and reads it, into a large buffer from
// c.getReadBuf, which it returns, and sets r.n and r.err as Read would. When the socket
// fails, closes or passes its read deadline while waiting, it reads with c.smallBuf through
// Read instead, to report that as Read does, and returns nil.
func (r *rawReader) read() []byte {
	r.large, r.n, r.err = nil, 0, nil
	if err := r.rc.Read(r.fn); err != nil {
		if r.large != nil {
			r.c.putReadBuf()
			r.large = nil
		}
		if r.c.dl.interrupting(err) {
			r.err = err // see readFrames; the small buffer is not needed
			return nil
		}
		r.n, r.err = r.c.nc.Read(r.c.smallBuf())
		return nil
	}
	return r.large
}

// attempt is RawConn.Read's callback: it reads once, and returns false, having given the
// buffer back, if there is nothing to read yet (RawConn.Read then waits and calls it
// again).
func (r *rawReader) attempt(fd uintptr) bool {
	buf := r.c.getReadBuf()
	for {
		n, err := syscall.Read(int(fd), buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			r.c.putReadBuf()
			return false
		case err != nil:
			r.n, r.err = 0, &net.OpError{Op: "read", Net: r.c.nc.LocalAddr().Network(),
				Source: r.c.nc.LocalAddr(), Addr: r.c.nc.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		case n == 0:
			r.n, r.err = 0, io.EOF
		default:
			r.n = n
		}
		r.large = buf
		return true
	}
}

// getReadBuf returns a buffer of ReadBufferSize bytes: from the pool for the default
// size, else the connection's own, allocated once.
func (c *Conn) getReadBuf() []byte {
	if c.readBuf == nil {
		if c.readBufferSize == DefaultReadBufferSize {
			c.readBuf = readPool.Get().(*[]byte)
		} else {
			b := make([]byte, int(c.readBufferSize))
			c.readBuf = &b
		}
	}
	return *c.readBuf
}

// putReadBuf gives back the buffer from getReadBuf, if it came from the pool.
func (c *Conn) putReadBuf() {
	if c.readBuf != nil && c.readBufferSize == DefaultReadBufferSize {
		readPool.Put(c.readBuf)
		c.readBuf = nil
	}
}

// handle acts on one event other than the peer's Close.
func (c *Conn) handle(buf []byte, ev proto.Event) {
	switch ev.Kind {
	case proto.EventData:
		c.onData(buf, ev)
	case proto.EventPing:
		c.onPing(ev.Data)
	case proto.EventPong:
		c.onPong(ev.Data)
	}
}

// finish closes the connection once reading is over and settles its CloseReason; it
// returns run's result. readErr is what ended the read loop.
func (c *Conn) finish(ctx context.Context, readErr error) error {
	c.nc.Close()
	c.dl.finish()
	var runErr error
	c.mu.Lock()
	switch {
	case c.final:
		if c.failure != nil {
			c.cause = c.failure
			if c.violated || !c.abortLocal {
				runErr = &ClosedError{Reason: c.reason, err: c.failure}
			}
		}
	case ctx.Err() != nil:
		c.setReasonLocked(abnormal(), true)
		c.cause = context.Cause(ctx)
	case c.closeCalled:
		// Our Close frame got no answer: the peer closed TCP, or DisconnectTimeout passed.
		c.setReasonLocked(abnormal(), true)
		c.cause = readErr
	default:
		if readErr == nil {
			readErr = errors.New("connection ended")
		}
		c.setReasonLocked(abnormal(), true)
		c.cause = readErr
		runErr = &ClosedError{Reason: c.reason, err: readErr}
	}
	if c.closeCalled && !c.peerClosed && c.dl.expired() {
		c.closeResult = ErrDisconnectTimeout
	}
	c.endRecvLocked()
	dropped := c.closeCalled
	c.mu.Unlock()

	c.endMessage(c.closedErr())
	if dropped {
		drain(c.queued())
	}
	if c.fl != nil {
		c.fl.decomp.Close()
	}
	c.releaseCompressor()
	c.doneCh.fire()
	return runErr
}

// abnormal is the CloseReason of a connection that ended without a close handshake.
func abnormal() *CloseReason { return newCloseReason(AbnormalClosure, "") }

// drain empties ch without blocking; the messages are dropped.
func drain(ch chan Message) {
	for {
		select {
		case m := <-ch:
			m.Release()
		default:
			return
		}
	}
}

// deadlines drives the socket's deadlines: the bound of the closing handshake, the
// interruption of a write whose ctx is cancelled, and that of the read of a Receive
// (holding the read turn) whose ctx is cancelled, or that must give the turn up.
//
// A blocked write or read cannot watch a ctx, so a write or a Receive with a cancellable
// ctx registers it (context.AfterFunc, a runtime callback and not a task: it runs briefly,
// only once the ctx is done); the callback sets the write (read) deadline in the past if
// that write (read) is still in progress. A registration is kept while successive writes
// and reads use the same ctx, so that a steady stream of sends and receives costs no
// allocation. There are two, since a write and a read may run at once under different
// ctxs; a registration is replaced only when the other side is not using it.
type deadlines struct {
	mu       sync.Mutex
	c        *Conn           // whose nc's deadlines these are
	close    time.Time       // the closing handshake's deadline; zero: none yet
	writing  <-chan struct{} // Done of the ctx of the write in progress
	watches  [2]ctxWatch
	reading  <-chan struct{} // Done of the ctx of the Receive that reads, if any
	owner    <-chan struct{} // Done of the ctx of the connection's nursery, which c.awayStop watches; nil if unknown
	poisoned bool            // the write deadline was set in the past
	readIntr bool            // the read deadline was set in the past to interrupt a read
	finished bool            // the connection is closed: watch nothing
}

// ctxWatch is the registration of a ctx's cancellation (see deadlines).
type ctxWatch struct {
	done <-chan struct{} // Done of the ctx watched
	stop func() bool     // stops the watch
}

// pastTime is a deadline that has always passed.
var pastTime = time.Unix(1, 0)

// arm sets the closing handshake's deadline to now+d, unless one is set already or d is
// not positive (no bound).
func (dl *deadlines) arm(d time.Duration) {
	if d <= 0 {
		return
	}
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if dl.finished || !dl.close.IsZero() {
		return
	}
	dl.close = time.Now().Add(d)
	if !dl.readIntr {
		dl.c.nc.SetReadDeadline(dl.close)
	}
	if !dl.poisoned {
		dl.c.nc.SetWriteDeadline(dl.close)
	}
}

// expired reports whether the closing handshake's deadline has passed.
func (dl *deadlines) expired() bool {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return !dl.close.IsZero() && !time.Now().Before(dl.close)
}

// beginWrite registers done, the Done channel of the ctx of the write about to start; ctx
// is not nil-Done.
func (dl *deadlines) beginWrite(ctx context.Context, done <-chan struct{}) {
	dl.mu.Lock()
	dl.writing = done
	dl.watchLocked(ctx, done, dl.reading)
	dl.mu.Unlock()
}

// beginRead registers done, the Done channel of the ctx of the Receive about to read
// (holding the read turn); ctx is not nil-Done. A handler that receives and sends under
// one ctx keeps a single registration.
func (dl *deadlines) beginRead(ctx context.Context, done <-chan struct{}) {
	dl.mu.Lock()
	dl.reading = done
	if done != dl.owner {
		// The owner's cancellation closes the connection, which interrupts the read.
		dl.watchLocked(ctx, done, dl.writing)
	}
	dl.mu.Unlock()
}

// setOwner records owner, the Done of the connection's nursery's ctx: its cancellation
// closes the connection (see watchOwner), which interrupts a read as a watch would, so a
// Receive under that ctx (a server's handler's) needs no watch of its own.
func (dl *deadlines) setOwner(owner <-chan struct{}) {
	dl.mu.Lock()
	dl.owner = owner
	dl.mu.Unlock()
}

// watch watches ctx, whose Done is done, for a Receive about to read with it.
func (dl *deadlines) watch(ctx context.Context, done <-chan struct{}) {
	dl.mu.Lock()
	if done != dl.owner {
		dl.watchLocked(ctx, done, dl.writing)
	}
	dl.mu.Unlock()
}

// endRead ends the read registered by beginRead.
func (dl *deadlines) endRead() {
	dl.mu.Lock()
	dl.reading = nil
	dl.mu.Unlock()
}

// watchLocked watches ctx, whose Done is done, unless it is watched already, replacing
// a registration that inUse (the Done of the other side's ctx, if any) does not need.
func (dl *deadlines) watchLocked(ctx context.Context, done, inUse <-chan struct{}) {
	if dl.finished || dl.watches[0].done == done || dl.watches[1].done == done {
		return
	}
	w := &dl.watches[0]
	if inUse != nil && w.done == inUse {
		w = &dl.watches[1]
	}
	if w.stop != nil {
		w.stop()
	}
	w.done = done
	w.stop = scopehook.Watch(ctx, func() { dl.interrupt(done) })
}

// interrupt fails the write in progress if it belongs to the ctx whose Done is done, and
// interrupts the read of a Receive under that ctx.
func (dl *deadlines) interrupt(done <-chan struct{}) {
	dl.mu.Lock()
	if done != nil && dl.writing == done {
		dl.poisoned = true
		dl.c.nc.SetWriteDeadline(pastTime)
	}
	if done != nil && dl.reading == done {
		dl.interruptReadLocked()
	}
	dl.mu.Unlock()
}

// interruptRead makes the read in progress, or the next one, return at once with
// os.ErrDeadlineExceeded, for its reader to look again at why it reads (see readFrames).
// On a raw socket this loses nothing: a read either has copied its data or has not begun.
func (dl *deadlines) interruptRead() {
	dl.mu.Lock()
	dl.interruptReadLocked()
	dl.mu.Unlock()
}

func (dl *deadlines) interruptReadLocked() {
	if !dl.finished {
		dl.readIntr = true
		dl.c.nc.SetReadDeadline(pastTime)
	}
}

// interrupting reports whether err, a read's, may come from interruptRead.
func (dl *deadlines) interrupting(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.readIntr
}

// takeInterrupt reports whether err, a read's, comes from interruptRead, and if so
// restores the read deadline: the closing handshake's, or none.
func (dl *deadlines) takeInterrupt(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return dl.clearInterrupt()
}

// clearInterrupt restores the read deadline if interruptRead had set it, and reports
// whether it had.
func (dl *deadlines) clearInterrupt() bool {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if !dl.readIntr {
		return false
	}
	dl.readIntr = false
	if !dl.finished {
		dl.c.nc.SetReadDeadline(dl.close)
	}
	return true
}

// endWrite ends the write registered by beginWrite and restores the write deadline.
func (dl *deadlines) endWrite() {
	dl.mu.Lock()
	dl.writing = nil
	if dl.poisoned {
		dl.poisoned = false
		dl.c.nc.SetWriteDeadline(dl.close)
	}
	dl.mu.Unlock()
}

// finish stops watching ctxs: the connection is closed.
func (dl *deadlines) finish() {
	dl.mu.Lock()
	dl.finished = true
	for i := range dl.watches {
		if w := &dl.watches[i]; w.stop != nil {
			w.stop()
			*w = ctxWatch{}
		}
	}
	dl.mu.Unlock()
}
