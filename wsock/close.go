package wsock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// StatusCode is the status code of a close frame (RFC 6455 §7.4): 0 to 65535 on the
// wire. It is signed so that CloseStatus can return -1 for "no close status".
type StatusCode int

// Close status codes of the IANA "WebSocket Close Code Number Registry". NoStatusReceived,
// AbnormalClosure and TLSHandshake are reported locally and never sent.
const (
	NormalClosure      StatusCode = 1000
	GoingAway          StatusCode = 1001
	ProtocolError      StatusCode = 1002
	UnsupportedData    StatusCode = 1003
	NoStatusReceived   StatusCode = 1005
	AbnormalClosure    StatusCode = 1006
	InvalidPayload     StatusCode = 1007
	PolicyViolation    StatusCode = 1008
	MessageTooBig      StatusCode = 1009
	MandatoryExtension StatusCode = 1010
	InternalError      StatusCode = 1011
	ServiceRestart     StatusCode = 1012
	TryAgainLater      StatusCode = 1013
	BadGateway         StatusCode = 1014
	TLSHandshake       StatusCode = 1015
)

// String returns the code and its registry name, for example "1000 NORMAL_CLOSURE".
func (s StatusCode) String() string {
	if s < 0 || s > 0xFFFF {
		return strconv.Itoa(int(s)) + " INVALID"
	}
	return strconv.Itoa(int(s)) + " " + proto.CloseCode(s).Name()
}

// CloseReason says how a connection closed.
type CloseReason struct {
	// Code is the status code: the peer's, the one we failed the connection with, or
	// AbnormalClosure when the connection ended without a close handshake.
	Code StatusCode
	// Name is the code's name in the IANA registry, as RFC 6455 and wsproto spell it
	// ("NORMAL_CLOSURE", "GOING_AWAY", ...); "REGISTERED" for 3000–3999, "PRIVATE_USE" for
	// 4000–4999, "UNKNOWN" otherwise.
	Name string
	// Reason is the close frame's reason text, possibly empty.
	Reason string
}

func newCloseReason(code StatusCode, reason string) *CloseReason {
	return &CloseReason{Code: code, Name: proto.CloseCode(code).Name(), Reason: reason}
}

// String returns "CODE NAME", followed by ": REASON" when there is a reason.
func (r CloseReason) String() string {
	s := strconv.Itoa(int(r.Code)) + " " + r.Name
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// CloseReason returns how the connection closed, nil while it is open. During our own
// closing handshake it is the code and reason we sent; once the peer's Close frame
// arrives, the peer's; AbnormalClosure (1006) if the TCP connection ended without one.
func (c *Conn) CloseReason() *CloseReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == nil {
		return nil
	}
	r := *c.reason
	return &r
}

// Close closes the connection with the closing handshake: it marks the connection closing
// at once (sends that have not started fail with *ClosedError, queued messages are
// dropped), sends a Close frame with code and reason, waits for the peer's Close frame and
// closes the TCP connection (a client first waits for the server to close it). The wait
// is bounded by DisconnectTimeout; when it passes, the TCP connection is closed anyway and
// Close returns ErrDisconnectTimeout. Afterwards CloseReason is the peer's.
//
// Close is idempotent and safe from any goroutine: every call waits for the connection to
// be closed. On a connection that is already closing or closed it sends nothing; this
// includes a connection whose owner is gone (the ctx of its reader's nursery is
// cancelled), which closes itself with GoingAway: a Close racing that cancellation joins
// the one closing handshake, whichever began it. code 0 sends a Close frame without
// status. An invalid code (NoStatusReceived, AbnormalClosure, TLSHandshake, 1004,
// 1016–2999, 5000 and up) or a reason longer than 123 bytes or not valid UTF-8 is an
// error, and the connection is left as it was.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code < 0 || code > 0xFFFF {
		return fmt.Errorf("wsock: close %s: invalid status code %d", c.name, code)
	}
	var payload [125]byte
	if _, err := proto.AppendClose(payload[:0], proto.CloseCode(code), reason); err != nil {
		return fmt.Errorf("wsock: close %s: %w", c.name, err)
	}
	if c.beginClose(code, reason) {
		if err := c.writeClose(context.Background(), proto.CloseCode(code), reason); err != nil {
			c.abort(err, true)
		}
	}
	<-c.doneCh.wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeResult
}

// errClosedNow is the cause of a connection that CloseNow ended: its *ClosedError
// unwraps to it.
var errClosedNow = errors.New("wsock: closed with CloseNow")

// CloseNow closes the connection at once, without the closing handshake (coder/websocket's
// CloseNow): the TCP connection is closed now, so the peer sees it end without a Close
// frame (1006 on its side); queued messages are dropped; every blocked Receive, Reader,
// Send, Writer, Ping and Close returns a *ClosedError, as later calls do; and CloseReason
// is AbnormalClosure (1006), unless the connection had closed already, which it leaves as
// it was. CloseNow returns once the connection's reader has seen the end. It is idempotent
// and safe from any goroutine, also while Close waits for the peer's answer, which it cuts
// short (Close then returns nil).
func (c *Conn) CloseNow() error {
	if c.markLocalClose() {
		c.fireDropped()
		drain(c.queued())
	}
	c.abort(errClosedNow, true)
	<-c.doneCh.wait()
	return nil
}

// markLocalClose records that a local close was asked for, and reports whether it is the
// first: the caller then drops the queued messages.
func (c *Conn) markLocalClose() (first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first = !c.closeCalled
	c.closeCalled = true
	return first
}

// beginClose does what the first local close does before its Close frame is sent: it
// marks the connection closing with code and reason (unless it is closing already), drops
// the queued messages and bounds the closing handshake by DisconnectTimeout. It reports
// whether the caller is to send the Close frame.
func (c *Conn) beginClose(code StatusCode, reason string) bool {
	local := code
	if local == 0 {
		local = NoStatusReceived
	}
	c.mu.Lock()
	first := !c.closeCalled
	c.closeCalled = true
	began := first && c.beginClosingLocked(newCloseReason(local, reason))
	c.mu.Unlock()
	if first {
		c.fireDropped()
		drain(c.queued())
	}
	if began {
		c.dl.arm(c.disconnectTimeout)
	}
	if first {
		c.wakeReader() // someone must read the peer's answer
	}
	return began
}

// goAway closes the connection because its owner is gone: run calls it when the ctx of
// the reader's nursery is cancelled. It is Close(GoingAway) without the wait, and the
// reason is a server's shutdown reason on the server side: the reader goes on until the
// peer answers or DisconnectTimeout passes, and run's return is what its nursery waits
// for.
//
// goAway runs in a context.AfterFunc callback, so it must not block for long: it never
// waits for frameLock. If a frame is being written, its writer sends the Close frame
// when it lets frameLock go (unlockFrame), as it does for the reader's pongs.
func (c *Conn) goAway() {
	if !c.beginClose(GoingAway, c.awayReason()) {
		return
	}
	c.awayPending.Store(true)
	c.flushPending()
}

// awayReason is the reason of goAway's Close frame.
func (c *Conn) awayReason() string {
	if c.role == proto.Server {
		return shutdownReason
	}
	return ""
}

// beginClosingLocked marks the connection closing with reason r, unless it is already
// closing. It reports whether it did.
func (c *Conn) beginClosingLocked(r *CloseReason) bool {
	if c.isClosing() { // set under c.mu, here only
		return false
	}
	c.reason = r
	c.flags.Or(flagClosing) // before the signal: whoever sees it fired sees the bit
	c.closingCh.fire()
	return true
}

// setReasonLocked records r as the connection's CloseReason, final or not, unless the
// reason is final already; the connection is closing from then on.
func (c *Conn) setReasonLocked(r *CloseReason, final bool) {
	if c.final {
		return
	}
	if !c.beginClosingLocked(r) {
		c.reason = r
	}
	c.final = final
}

// endRecvLocked records that no message will be queued any more.
func (c *Conn) endRecvLocked() {
	if !c.recvEnded {
		c.recvEnded = true
		c.recvDone.fire()
	}
}

// isClosing reports whether the connection is closing or closed.
func (c *Conn) isClosing() bool { return c.flags.Load()&flagClosing != 0 }

// Bits of Conn.flags, which every message looks at: isClosing and isDropped read them
// from the Conn rather than from their signals' channels, Receive looks in the message
// queue only when flagQueued says it may hold something (the channels are other cache
// lines, each, once made), and pingsWaiting takes no lock.
const (
	flagClosing = 1 << iota // closingCh is fired, or about to be
	flagDropped             // dropped is fired, or about to be
	// flagQueued: the reader task may have queued a message since a Receive holding the
	// read turn (when nothing can be queued) last found the queue empty. Set before the
	// task queues; cleared only by such a Receive (receiveHolding).
	flagQueued
	// flagPings: a Ping waits for its pong (c.pings is not empty); kept by whoever
	// changes c.pings, under pingMu.
	flagPings
)

// fireDropped fires dropped; it must be called once only.
func (c *Conn) fireDropped() {
	c.flags.Or(flagDropped)
	c.dropped.fire()
}

// closedErr returns the *ClosedError for an operation on a closing or closed connection.
func (c *Conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reason
	if r == nil {
		r = abnormal()
	}
	cause := c.cause
	if cause == nil && !c.violated {
		cause = c.failure // an abort's, before finish
	}
	return &ClosedError{Reason: r, err: cause}
}

// onClose handles the peer's Close frame: the reason becomes final, the Close frame is
// answered with the same code and reason, and the connection ends: at once for a server, once the server has closed the
// TCP connection (bounded by DisconnectTimeout) for a client.
func (c *Conn) onClose(buf []byte, ev proto.Event) error {
	c.mu.Lock()
	c.peerClosed = true
	c.setReasonLocked(newCloseReason(StatusCode(ev.Code), ev.Reason), true)
	c.endRecvLocked()
	c.mu.Unlock()
	c.endMessage(c.closedErr())
	c.dl.arm(c.disconnectTimeout)
	if !c.sentClose.Load() {
		code := ev.Code
		if code == proto.NoStatusReceived {
			code = 0
		}
		// Echo the peer's code and reason, as trio-websocket does: the reason
		// is valid UTF-8 and fits, or the reader would have failed the frame.
		if err := c.writeClose(context.Background(), code, ev.Reason); err != nil {
			return nil // the connection is over either way
		}
	}
	if c.role == proto.Client {
		for {
			if _, err := c.nc.Read(buf); err != nil {
				break
			}
		}
	}
	return nil
}

// failProtocol fails the connection after the peer's protocol violation err: it sends a
// Close frame with the violation's code, then the connection ends.
func (c *Conn) failProtocol(err error) error {
	var pe *proto.Error
	if !errors.As(err, &pe) {
		pe = &proto.Error{Code: proto.ProtocolError, Reason: "protocol error"}
	}
	c.logger.Debug("wsock: failing connection", "conn", c.name, "err", err)
	c.mu.Lock()
	if !c.final {
		c.failure, c.violated = err, true
	}
	c.setReasonLocked(newCloseReason(StatusCode(pe.Code), pe.Reason), true)
	c.endRecvLocked()
	c.mu.Unlock()
	c.endMessage(c.closedErr())
	c.dl.arm(c.disconnectTimeout)
	c.writeClose(context.Background(), pe.Code, truncateReason(pe.Reason))
	return nil
}

// truncateReason cuts s to the longest valid UTF-8 prefix that fits a close frame.
func truncateReason(s string) string {
	if len(s) <= proto.MaxCloseReason {
		return s
	}
	s = s[:proto.MaxCloseReason]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// abort ends the connection at once, without a close handshake: cause is why (a failed or
// interrupted write), local whether it was our own doing rather than the peer's or the
// network's. The reason becomes AbnormalClosure unless it is final already.
func (c *Conn) abort(cause error, local bool) {
	c.mu.Lock()
	if !c.final {
		// During our closing handshake, failures are part of closing.
		c.failure, c.abortLocal = cause, local || c.closeCalled
	}
	c.setReasonLocked(abnormal(), true)
	c.mu.Unlock()
	c.nc.Close()
	c.ensureReader() // the task finishes the connection
}

// writeClose sends a Close frame, unless one was sent already; no frame follows it. Its
// callers pass a ctx that is never cancelled: the closing handshake's deadline, armed
// before, bounds the wait and the write.
func (c *Conn) writeClose(ctx context.Context, code proto.CloseCode, reason string) error {
	if err := c.lockFrame(ctx, false); err != nil {
		return err
	}
	defer c.unlockFrame()
	return c.writeCloseLocked(ctx, code, reason)
}

// writeCloseLocked is writeClose; the caller holds frameLock.
func (c *Conn) writeCloseLocked(ctx context.Context, code proto.CloseCode, reason string) error {
	if c.sentClose.Swap(true) {
		return nil
	}
	wb := c.writeBufs()
	payload, err := proto.AppendClose(wb.ctrlPayload[:0], code, reason)
	if err != nil {
		payload, _ = proto.AppendClose(wb.ctrlPayload[:0], code, "")
	}
	_, err = c.writeFrameLocked(ctx, true, proto.OpClose, false, payload)
	return err
}
