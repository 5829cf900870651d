package conformance

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
	"unicode/utf8"
)

// event is something the implementation sent, as Autobahn records it: a whole message, a
// ping or a pong; "timeout" events are markers a script adds when a wait passed quietly.
type event struct {
	kind string // "message", "ping", "pong", "timeout"
	op   byte   // message: opText or opBinary
	data []byte
}

// closeInfo is the implementation's close frame.
type closeInfo struct {
	hasCode bool
	code    uint16
	reason  string
}

// fuzzer is the Autobahn side of one connection: a WebSocket endpoint of the test's own
// that sends exactly the bytes a case prescribes and records what the implementation
// answers. Its reader goroutine decodes and checks every frame the implementation sends;
// the case's script writes from the test goroutine.
type fuzzer struct {
	conn    net.Conn
	br      *bufio.Reader
	client  bool          // the fuzzer is the client: it masks, the server must not
	pmd     *pmdSession   // negotiated permessage-deflate, nil if none
	timeout time.Duration // bound of every wait for the implementation

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every change below
	events      []event
	peerClose   *closeInfo
	sentClose   bool   // we sent a Close frame
	closedByMe  bool   // we had sent a Close frame when the implementation's arrived
	ended       bool   // the reader stopped: TCP closed (or reset) by the peer, or by us
	violation   string // the first protocol violation by the implementation
	droppedByMe bool   // we closed TCP because the server did not
	notes       []string
	readerDone  chan struct{}
}

func newFuzzer(conn net.Conn, br *bufio.Reader, client bool, pmd *pmdSession, timeout time.Duration) *fuzzer {
	f := &fuzzer{
		conn: conn, br: br, client: client, pmd: pmd, timeout: timeout,
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	//gotrio:go the fuzzer reads a deliberately broken peer; closing conn ends readLoop, joined by readerDone
	go f.readLoop()
	return f
}

// --- writing -------------------------------------------------------------------------

// appendFrame appends a frame: rsv is Autobahn's 3-bit value (4 is RSV1, 1 is RSV3). A
// client frame is masked with a random key.
func (f *fuzzer) appendFrame(dst []byte, fin bool, rsv, op byte, payload []byte) []byte {
	return appendFrame(dst, fin, rsv, op, payload, f.client)
}

// frame returns a frame, as appendFrame.
func (f *fuzzer) frame(fin bool, rsv, op byte, payload []byte) []byte {
	return appendFrame(nil, fin, rsv, op, payload, f.client)
}

// write sends b in one write. Write errors are noted, not fatal: a peer that failed the
// connection early may have closed TCP before the script is done, as under Autobahn.
func (f *fuzzer) write(b []byte) bool {
	_ = f.conn.SetWriteDeadline(time.Now().Add(f.timeout))
	_, err := f.conn.Write(b)
	if err != nil {
		f.note("write: %v", err)
		return false
	}
	return true
}

// writeChopped sends b in writes of n bytes (all at once if n <= 0).
func (f *fuzzer) writeChopped(b []byte, n int) {
	if n <= 0 {
		f.write(b)
		return
	}
	for len(b) > 0 && f.write(b[:min(n, len(b))]) {
		b = b[min(n, len(b)):]
	}
}

// writeEach sends every frame in a write of its own ("frame-wise chops", "SYNC").
func (f *fuzzer) writeEach(frames ...[]byte) {
	for _, b := range frames {
		if !f.write(b) {
			return
		}
	}
}

// sendFrames sends frames in one write.
func (f *fuzzer) sendFrames(frames ...[]byte) {
	var b []byte
	for _, fr := range frames {
		b = append(b, fr...)
	}
	f.write(b)
}

// closePayload is a Close frame's payload: code 0 means none.
func closePayload(code uint16, reason string) []byte {
	if code == 0 {
		return nil
	}
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// sendCloseRaw sends a Close frame with payload p, valid or not, and records that the
// fuzzer started (or answered) the closing handshake.
func (f *fuzzer) sendCloseRaw(p []byte) { f.writeClosing(f.frame(true, 0, opClose, p)) }

// writeClosing writes b, which holds the fuzzer's Close frame. The frame counts as sent
// from before the write, since the answer may be read before the write returns.
func (f *fuzzer) writeClosing(b []byte) {
	f.mu.Lock()
	already := f.sentClose
	f.sentClose = true
	f.mu.Unlock()
	if !f.write(b) && !already {
		f.mu.Lock()
		f.sentClose = false
		f.mu.Unlock()
	}
}

func (f *fuzzer) sendClose(code uint16, reason string) { f.sendCloseRaw(closePayload(code, reason)) }

// sendMessage sends a data message as Autobahn's sendMessage does: compressed when
// permessage-deflate was negotiated, cut into frames of fragSize payload bytes (0: one frame).
func (f *fuzzer) sendMessage(op byte, msg []byte, fragSize int) {
	var rsv byte
	if f.pmd != nil {
		msg, rsv = f.pmd.compress(msg), 4
	}
	f.write(f.fragments(op, rsv, msg, fragSize))
}

// fragments returns the frames of a message cut into fragSize-byte fragments.
func (f *fuzzer) fragments(op, rsv byte, msg []byte, fragSize int) []byte {
	if fragSize <= 0 || len(msg) <= fragSize {
		return f.frame(true, rsv, op, msg)
	}
	b := make([]byte, 0, len(msg)+(len(msg)/fragSize+1)*14)
	for i := 0; i < len(msg); i += fragSize {
		end := min(i+fragSize, len(msg))
		b = f.appendFrame(b, end == len(msg), rsv, op, msg[i:end])
		op, rsv = opCont, 0
	}
	return b
}

// --- reading -------------------------------------------------------------------------

// readLoop decodes the implementation's frames until TCP ends, checking each against RFC
// 6455 (and RFC 7692 when negotiated), and records messages, pings, pongs and the close.
func (f *fuzzer) readLoop() {
	defer close(f.readerDone)
	var msg []byte
	var msgOp byte
	inMsg, compressed := false, false
	for {
		fr, err := readFrame(f.br)
		if err != nil {
			if errors.Is(err, errViolation) {
				f.violate("%v", err)
			}
			f.end() // EOF, reset, or our own Close
			return
		}
		if v := f.check(fr, inMsg); v != "" {
			f.violate("%s", v)
			continue
		}
		switch fr.op {
		case opText, opBinary, opCont:
			if fr.op != opCont {
				msg, msgOp, inMsg, compressed = fr.payload, fr.op, true, fr.rsv&4 != 0
			} else {
				msg = append(msg, fr.payload...)
			}
			if !fr.fin {
				continue
			}
			inMsg = false
			if compressed {
				if msg, err = f.pmd.decompress(msg); err != nil {
					f.violate("undecodable compressed message: %v", err)
					continue
				}
			}
			if msgOp == opText && !utf8.Valid(msg) {
				f.violate("text message of %d bytes is not valid UTF-8", len(msg))
				continue
			}
			f.record(event{kind: "message", op: msgOp, data: msg})
			msg = nil
		case opPing:
			f.record(event{kind: "ping", data: fr.payload})
		case opPong:
			f.record(event{kind: "pong", data: fr.payload})
		case opClose:
			ci, v := parseClose(fr.payload)
			if v != "" {
				f.violate("%s", v)
				continue
			}
			f.mu.Lock()
			f.peerClose = &ci
			f.closedByMe = f.sentClose
			f.notifyLocked()
			f.mu.Unlock()
		}
	}
}

// check returns what is wrong with a frame from the implementation, or "".
func (f *fuzzer) check(fr frame, inMsg bool) string {
	f.mu.Lock()
	closed := f.peerClose != nil
	f.mu.Unlock()
	switch {
	case closed:
		return fmt.Sprintf("%s frame after the close frame", opName(fr.op))
	case f.client && fr.masked:
		return fmt.Sprintf("masked %s frame from the server", opName(fr.op))
	case !f.client && !fr.masked:
		return fmt.Sprintf("unmasked %s frame from the client", opName(fr.op))
	case fr.rsv&3 != 0:
		return fmt.Sprintf("RSV2/RSV3 set on a %s frame", opName(fr.op))
	case fr.rsv&4 != 0 && (f.pmd == nil || (fr.op != opText && fr.op != opBinary)):
		return fmt.Sprintf("RSV1 set on a %s frame without permessage-deflate for it", opName(fr.op))
	case fr.op >= 3 && fr.op <= 7 || fr.op >= 0xB:
		return fmt.Sprintf("reserved opcode %d", fr.op)
	case fr.op >= opClose && (!fr.fin || len(fr.payload) > 125):
		return fmt.Sprintf("%s frame fragmented or over 125 bytes", opName(fr.op))
	case fr.op == opCont && !inMsg:
		return "continuation frame outside a message"
	case (fr.op == opText || fr.op == opBinary) && inMsg:
		return "new data message inside a fragmented one"
	}
	return ""
}

// --- state -----------------------------------------------------------------------------

func (f *fuzzer) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fuzzer) record(e event) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fuzzer) violate(format string, args ...any) {
	f.mu.Lock()
	if f.violation == "" {
		f.violation = fmt.Sprintf(format, args...)
	}
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fuzzer) end() {
	f.mu.Lock()
	f.ended = true
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fuzzer) note(format string, args ...any) {
	f.mu.Lock()
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// state is a snapshot of what the fuzzer saw.
type state struct {
	events    []event
	peerClose *closeInfo
	ended     bool
	violation string
}

// settled reports whether nothing more can happen: the implementation closed, the
// connection ended or broke the protocol.
func (s state) settled() bool { return s.peerClose != nil || s.ended || s.violation != "" }

func (s state) count(kind string) int {
	n := 0
	for _, e := range s.events {
		if e.kind == kind {
			n++
		}
	}
	return n
}

func (f *fuzzer) snapshot() state {
	f.mu.Lock()
	defer f.mu.Unlock()
	return state{events: f.events, peerClose: f.peerClose, ended: f.ended, violation: f.violation}
}

// waitFor waits until cond holds, at most d, and reports whether it held. cond sees a
// snapshot; it is evaluated again after every change.
func (f *fuzzer) waitFor(d time.Duration, cond func(s state) bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		f.mu.Lock()
		s := state{events: f.events, peerClose: f.peerClose, ended: f.ended, violation: f.violation}
		ch := f.changed
		f.mu.Unlock()
		if cond(s) {
			return true
		}
		if s.ended {
			return false // nothing will change any more
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

// quiet waits d for the implementation to react and reports whether it stayed quiet: no
// close, no end and no violation. Autobahn's fail-fast cases observe exactly this.
func (f *fuzzer) quiet(d time.Duration) bool {
	return !f.waitFor(d, state.settled)
}

// mark records a "timeout" event, as Autobahn's continueLater does when the connection is
// still open after a pause.
func (f *fuzzer) mark(label string) bool {
	if f.snapshot().settled() {
		return false
	}
	f.record(event{kind: "timeout", data: []byte(label)})
	return true
}

// finish carries out the end of the connection as Autobahn does, once the script is done:
// it answers the implementation's Close frame; as a client it waits for the server to
// close TCP (and closes it itself if the server does not), as a server it waits for the
// answer to its own Close frame and closes TCP. It returns once the reader has stopped.
func (f *fuzzer) finish() {
	s := f.snapshot()
	if s.peerClose != nil && !f.sentCloseNow() {
		code := uint16(0)
		if s.peerClose.hasCode {
			code = s.peerClose.code
		}
		f.sendClose(code, "")
	}
	if f.client {
		if !f.waitFor(f.timeout, func(s state) bool { return s.ended }) {
			f.mu.Lock()
			f.droppedByMe = true
			f.mu.Unlock()
		}
	} else if f.sentCloseNow() {
		f.waitFor(f.timeout, func(s state) bool { return s.peerClose != nil || s.ended })
	}
	_ = f.conn.Close()
	<-f.readerDone
}

func (f *fuzzer) sentCloseNow() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sentClose
}
