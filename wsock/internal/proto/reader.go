package proto

import (
	"errors"
	"io"
	"math"
	"strconv"
)

// ReaderConfig configures a [Reader].
type ReaderConfig struct {
	// Role is our side of the connection: a Server requires every frame it receives to be
	// masked, a Client forbids it. It must be Client or Server.
	Role Role
	// MaxMessageSize bounds a message's size in bytes, summed over its fragments and, for a
	// compressed message, measured after decompression. Zero or less means unlimited.
	MaxMessageSize int64
	// Inflater decompresses messages whose first frame has RSV1 set. Nil, unless
	// permessage-deflate was negotiated, makes RSV1 a protocol error. A compressed message
	// is buffered whole before decompression; with a MaxMessageSize, the buffer is bounded
	// by MaxMessageSize + MaxMessageSize/1024 + 1 KiB (deflate's worst-case expansion, with
	// room to spare), and a larger message fails with MessageTooBig on the frame header.
	Inflater Inflater
}

// Inflater decompresses permessage-deflate messages (RFC 7692).
type Inflater interface {
	// Inflate decompresses one whole compressed message (without the 00 00 ff ff tail, which
	// the implementation appends), appending to dst. It fails with *Error{Code:
	// MessageTooBig} once the output would exceed limit; the Reader fails the connection
	// with InvalidPayload on any other failure. compressed may alias the caller's buffer:
	// Inflate must not retain it.
	Inflate(dst, compressed []byte, limit int64) ([]byte, error)
}

// EventKind says what an [Event] reports.
type EventKind uint8

// Event kinds.
const (
	EventNone  EventKind = iota // nothing yet: every byte was used, more are needed
	EventData                   // a chunk of a text or binary message
	EventPing                   // a ping frame
	EventPong                   // a pong frame
	EventClose                  // a close frame; the Reader is done
)

// Event is what the [Reader] reports for the bytes it consumed.
type Event struct {
	Kind EventKind
	// Op is the message's type, OpText or OpBinary, on every EventData chunk.
	Op Opcode
	// Data is, for EventData, the next chunk of the message (possibly empty); for control
	// events, the whole payload (for EventClose, the raw close payload). It is valid only
	// until the next call to Next and until the caller reuses the buffer it passed, except
	// for a compressed message, whose single chunk is newly allocated and the caller's to keep.
	Data []byte
	// First and Final mark, on EventData, the first and the last chunk of a message.
	First, Final bool
	// Code and Reason are the close frame's status (NoStatusReceived if it had none) and
	// reason, on EventClose.
	Code   CloseCode
	Reason string
	// FrameRemaining is, on EventData, how many payload bytes of the current frame are
	// still to come after Data (0 once the frame is complete, and for compressed
	// messages). With the first chunk of a single-frame message it gives the message's
	// size, so a receiver can allocate it once.
	FrameRemaining int64
}

// maxRetained is the capacity up to which the Reader keeps its compressed-message buffer
// between messages; larger buffers go back to the garbage collector, so that an idle
// connection costs little memory.
const maxRetained = 16 << 10

// Reader is the receive state machine: bytes in, events out. It validates framing,
// fragmentation, masking, reserved bits, sizes, UTF-8 in text messages and close frames,
// and reports violations as *Error. Create one with [NewReader]; it is not safe for
// concurrent use.
type Reader struct {
	cfg ReaderConfig

	err error // sticky: the first *Error, or io.EOF after a close frame

	// Current frame. (The small fields sit where they fill the arrays' padding: a Reader is
	// allocated per connection, and 176 bytes is an allocator size class.)
	hdr       [MaxHeaderLen]byte // the part of a header split across calls
	hdrLen    uint8              // bytes in hdr; at most MaxHeaderLen
	inPayload bool               // the header is parsed; remaining payload bytes follow
	h         Header
	remaining int64
	maskPos   int
	ctrl      *[maxControlPayload]byte // a control payload split across calls, made for the first one

	// Current message.
	msgOp      Opcode // OpText or OpBinary while a message is in progress, else 0
	first      bool   // no chunk of the message reported yet
	compressed bool
	ctrlLen    int   // bytes in ctrl (the current frame's)
	size       int64 // bytes received so far (compressed bytes when compressed)
	utf8       UTF8
	zbuf       []byte // compressed message collected across frames
}

// NewReader returns a Reader for a new connection. It panics if cfg.Role is not Client or
// Server.
func NewReader(cfg ReaderConfig) *Reader {
	if cfg.Role != Client && cfg.Role != Server {
		panic("proto: ReaderConfig.Role must be Client or Server")
	}
	return &Reader{cfg: cfg}
}

// Next consumes bytes from the start of src and reports at most one event and how many bytes
// it used. EventNone with n == len(src) means every byte was used and more are needed; Next
// never reports EventNone with n < len(src) without an error. A data frame's payload is
// reported as EventData chunks as its bytes arrive; text is validated as it arrives, so a
// chunk is never reported if it makes the message invalid. A compressed message is reported
// as one chunk once complete. Payloads are unmasked in place in src.
//
// A protocol violation returns an *Error carrying the close code the connection must be
// failed with. After an error Next keeps returning it; after EventClose it returns io.EOF.
func (r *Reader) Next(src []byte) (ev Event, n int, err error) {
	if r.err != nil {
		return Event{}, 0, r.err
	}
	for {
		if !r.inPayload {
			if n == len(src) {
				return Event{}, n, nil
			}
			m, err := r.readHeader(src[n:])
			n += m
			if err != nil {
				return r.fail(n, err)
			}
			if !r.inPayload {
				return Event{}, n, nil // n == len(src): the header is incomplete
			}
		}
		if r.remaining > 0 && n == len(src) {
			return Event{}, n, nil
		}
		switch {
		case r.h.Op.IsControl():
			n, err = r.readControl(&ev, src, n)
		case r.compressed:
			n, err = r.readCompressed(&ev, src, n)
		default:
			n, err = r.readData(&ev, src, n)
		}
		if err != nil {
			return r.fail(n, err)
		}
		if ev.Kind != EventNone {
			return ev, n, nil
		}
	}
}

func (r *Reader) fail(n int, err error) (Event, int, error) {
	r.err = err
	return Event{}, n, err
}

// readHeader consumes header bytes from src, which is not empty. It returns with r.inPayload
// set once the header is complete; otherwise it has consumed all of src.
func (r *Reader) readHeader(src []byte) (int, error) {
	b := src
	if r.hdrLen > 0 {
		k := copy(r.hdr[r.hdrLen:], src)
		b = r.hdr[:int(r.hdrLen)+k]
	}
	m, err := parseHeader(&r.h, b)
	if err == nil {
		err = r.checkPrefix(b)
	}
	if err != nil {
		return len(src), err
	}
	if m == 0 {
		if r.hdrLen == 0 {
			r.hdrLen = uint8(copy(r.hdr[:], src))
		} else {
			r.hdrLen = uint8(len(b))
		}
		return len(src), nil
	}
	used := m - int(r.hdrLen)
	r.hdrLen = 0
	return used, r.startFrame()
}

// checkPrefix checks, as soon as the first one or two header bytes are in p, what depends on
// the connection's state: reserved bits, the frame's place in a message and masking.
func (r *Reader) checkPrefix(p []byte) error {
	b0 := p[0]
	op := Opcode(b0 & 0x0f)
	if b0&0x30 != 0 {
		return protocolError("reserved bits RSV2 or RSV3 set")
	}
	if b0&0x40 != 0 {
		switch {
		case r.cfg.Inflater == nil:
			return protocolError("reserved bit RSV1 set without a negotiated extension")
		case op.IsControl():
			return protocolError("RSV1 set on a control frame")
		case op == OpContinuation:
			return protocolError("RSV1 set on a continuation frame")
		}
	}
	switch {
	case op == OpContinuation && r.msgOp == 0:
		return protocolError("continuation frame without a message to continue")
	case (op == OpText || op == OpBinary) && r.msgOp != 0:
		return protocolError("new data frame before the end of a fragmented message")
	}
	if len(p) > 1 {
		masked := p[1]&0x80 != 0
		if r.cfg.Role == Server && !masked {
			return protocolError("unmasked frame from a client")
		}
		if r.cfg.Role == Client && masked {
			return protocolError("masked frame from a server")
		}
	}
	return nil
}

// startFrame sets up the state for the payload of the frame whose header, in r.h,
// checkPrefix and parseHeader accepted, and checks the message size before any payload.
func (r *Reader) startFrame() error {
	h := &r.h
	r.remaining = h.Length
	r.maskPos = 0
	r.inPayload = true
	if h.Op.IsControl() {
		r.ctrlLen = 0
		return nil
	}
	if h.Op != OpContinuation {
		r.msgOp = h.Op
		r.first = true
		r.compressed = h.Rsv1
		r.size = 0
		r.utf8.Reset()
	}
	limit := r.cfg.MaxMessageSize
	if r.compressed {
		limit = compressedLimit(limit)
	}
	// Compare against what is left instead of summing, which could overflow.
	if limit > 0 && h.Length > limit-r.size {
		return &Error{Code: MessageTooBig, Reason: "message larger than " + strconv.FormatInt(r.cfg.MaxMessageSize, 10) + " bytes"}
	}
	if limit > 0 {
		r.size += h.Length
	}
	return nil
}

// compressedLimit bounds a compressed message's size, before decompression, given the limit
// on its decompressed size: deflate expands incompressible data by 5 bytes per 64 KiB stored
// block at most, so a message that fits the limit compresses to less than this.
func compressedLimit(limit int64) int64 {
	if limit <= 0 {
		return 0
	}
	if limit > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return limit + limit/1024 + 1024
}

// take consumes up to r.remaining payload bytes from src[n:] and unmasks them in place.
func (r *Reader) take(src []byte, n int) ([]byte, int) {
	chunk := src[n:]
	if int64(len(chunk)) > r.remaining {
		chunk = chunk[:r.remaining]
	}
	r.remaining -= int64(len(chunk))
	if r.h.Masked {
		r.maskPos = Mask(r.h.Key, r.maskPos, chunk)
	}
	if r.remaining == 0 {
		r.inPayload = false
	}
	return chunk, n + len(chunk)
}

// readData streams an uncompressed data frame's payload.
func (r *Reader) readData(ev *Event, src []byte, n int) (int, error) {
	chunk, n := r.take(src, n)
	done := r.remaining == 0
	final := done && r.h.Fin
	if r.msgOp == OpText && (!r.utf8.Write(chunk) || final && !r.utf8.Complete()) {
		return n, &Error{Code: InvalidPayload, Reason: "text message is not valid UTF-8"}
	}
	if len(chunk) == 0 && !(done && (r.first || final)) {
		return n, nil
	}
	// Field by field: ev is still zero, and a composite literal would go through a temporary.
	ev.Kind, ev.Op, ev.Data, ev.First, ev.Final = EventData, r.msgOp, chunk, r.first, final
	ev.FrameRemaining = r.remaining
	r.first = false
	if final {
		r.msgOp = 0
	}
	return n, nil
}

// readCompressed collects a compressed message and reports it, decompressed, once complete.
func (r *Reader) readCompressed(ev *Event, src []byte, n int) (int, error) {
	var compressed []byte
	if len(r.zbuf) == 0 && r.h.Fin && int64(len(src)-n) >= r.remaining {
		// The whole message is in src: decompress it from there, without a copy.
		compressed, n = r.take(src, n)
	} else {
		var chunk []byte
		chunk, n = r.take(src, n)
		r.zbuf = append(r.zbuf, chunk...)
		if r.remaining > 0 || !r.h.Fin {
			return n, nil
		}
		compressed = r.zbuf
	}
	limit := r.cfg.MaxMessageSize
	if limit <= 0 {
		limit = math.MaxInt64
	}
	data, err := r.cfg.Inflater.Inflate(nil, compressed, limit)
	if cap(r.zbuf) > maxRetained {
		r.zbuf = nil
	} else {
		r.zbuf = r.zbuf[:0]
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Code == MessageTooBig || e.Code == InvalidPayload) {
			return n, e
		}
		return n, &Error{Code: InvalidPayload, Reason: "invalid compressed message", err: err}
	}
	if int64(len(data)) > limit {
		return n, &Error{Code: MessageTooBig, Reason: "message larger than " + strconv.FormatInt(limit, 10) + " bytes"}
	}
	if r.msgOp == OpText && !ValidUTF8(data) {
		return n, &Error{Code: InvalidPayload, Reason: "text message is not valid UTF-8"}
	}
	*ev = Event{Kind: EventData, Op: r.msgOp, Data: data, First: true, Final: true}
	r.msgOp = 0
	return n, nil
}

// readControl collects a control frame's payload and reports it once complete.
func (r *Reader) readControl(ev *Event, src []byte, n int) (int, error) {
	var payload []byte
	if r.ctrlLen == 0 && int64(len(src)-n) >= r.remaining {
		payload, n = r.take(src, n)
	} else {
		var chunk []byte
		chunk, n = r.take(src, n)
		if r.ctrl == nil {
			r.ctrl = new([maxControlPayload]byte)
		}
		r.ctrlLen += copy(r.ctrl[r.ctrlLen:], chunk)
		if r.remaining > 0 {
			return n, nil
		}
		payload = r.ctrl[:r.ctrlLen]
	}
	switch r.h.Op {
	case OpPing:
		*ev = Event{Kind: EventPing, Data: payload}
		return n, nil
	case OpPong:
		*ev = Event{Kind: EventPong, Data: payload}
		return n, nil
	}
	code, reason, err := ParseClose(payload)
	if err != nil {
		return n, err
	}
	r.err = io.EOF
	*ev = Event{Kind: EventClose, Data: payload, Code: code, Reason: reason}
	return n, nil
}
