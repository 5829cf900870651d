package deflate

import (
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// windowSize is the largest LZ77 window a peer may use (2^15 bytes), so the most history a
// message can refer to.
const windowSize = 1 << maxWindowBits

// inflateTail is appended to every compressed message: the stored block RFC 7692 §7.2.2 asks
// for, then an empty final stored block, so that the flate reader ends with io.EOF instead of
// io.ErrUnexpectedEOF once the message is consumed.
const inflateTail = tail + "\x01\x00\x00\xff\xff"

// minGrow is the least an output buffer grows by, so tiny messages do not grow byte by byte.
const minGrow = 512

// maxGuessRatio bounds the first allocation for a message's output, guessed from the size of
// the previous message, to this many times its compressed size: a peer cannot make a tiny
// message cost as much memory as an earlier large one (text compresses 3–10 times).
const maxGuessRatio = 16

// Decompressor decompresses the messages of one direction of one connection (RFC 7692
// §7.2.2). It implements proto.Inflater. It is not safe for concurrent use; messages must be
// inflated in the order they were received.
type Decompressor struct {
	noContextTakeover bool
	window            []byte // the last ≤ 32 KiB of output, with context takeover only
	last              int    // decompressed size of the previous message: the next one's guess
	closed            bool
}

// NewDecompressor returns a decompressor. With noContextTakeover the peer compresses every
// message on its own and the decompressor keeps no history between messages; otherwise it
// keeps the last 32 KiB of output, which the peer's next message may refer to.
func NewDecompressor(noContextTakeover bool) *Decompressor {
	return &Decompressor{noContextTakeover: noContextTakeover}
}

// Inflate decompresses one whole compressed message (as received, without the 00 00 ff ff
// tail) and appends it to dst. limit bounds the message's decompressed size (limit <= 0 means
// unlimited): once the output would exceed it, Inflate stops and fails with a *proto.Error
// with code 1009, without having allocated for the excess. Data that is not valid DEFLATE, or
// refers to history the decompressor does not have, fails with a *proto.Error with code 1007.
// On error dst is returned unchanged, and the connection must be failed: the compression
// context is lost.
//
// An empty message is accepted as the empty string, although RFC 7692 §7.2.3.6 has senders
// send a single 0x00 byte.
func (d *Decompressor) Inflate(dst, compressed []byte, limit int64) ([]byte, error) {
	if d.closed {
		panic("deflate: Inflate called after Close")
	}
	if len(compressed) == 0 {
		return dst, nil
	}
	r := getReader()
	defer putReader(r)
	r.in = input{msg: compressed}
	start := len(dst)
	// Messages of a stream tend to be alike: the output is first allocated at the size of
	// the previous message, so that a message usually costs one allocation of about its size
	// rather than a few doublings.
	guess := min(d.last, maxGuessRatio*len(compressed)+minGrow)
	out, err := r.inflate(dst, d.window, limit, guess) // no history without context takeover
	r.in = input{}
	if err != nil {
		return dst, err
	}
	d.last = len(out) - start
	if out == nil {
		out = []byte{} // an empty message is empty, not absent
	}
	if !d.noContextTakeover {
		d.remember(out[start:])
	}
	return out, nil
}

// Close releases the decompressor's history. It is idempotent; Inflate must not be called
// after it.
func (d *Decompressor) Close() {
	d.window = nil
	d.closed = true
}

// remember slides msg, a message's output, into the window.
func (d *Decompressor) remember(msg []byte) {
	if d.window == nil {
		d.window = make([]byte, 0, windowSize)
	}
	if len(msg) >= windowSize {
		d.window = append(d.window[:0], msg[len(msg)-windowSize:]...)
		return
	}
	if keep := windowSize - len(msg); len(d.window) > keep {
		n := copy(d.window, d.window[len(d.window)-keep:])
		d.window = d.window[:n]
	}
	d.window = append(d.window, msg...)
}

// reader is a flate reader with the input it reads; both travel together through the pool so
// that a pooled reader never refers to a Decompressor or a caller's buffer.
type reader struct {
	fr    io.ReadCloser // also a flate.Resetter
	in    input
	probe [1]byte
}

var readerPool sync.Pool

func getReader() *reader {
	if r, ok := readerPool.Get().(*reader); ok {
		return r
	}
	r := new(reader)
	r.fr = flate.NewReader(&r.in)
	return r
}

func putReader(r *reader) { readerPool.Put(r) }

// inflate decompresses r.in, whose stream may refer to history, appending to dst. The output
// never exceeds limit bytes (if limit > 0), not even in dst's spare capacity.
// guess is the size to allocate first when dst has no room.
func (r *reader) inflate(dst, history []byte, limit int64, guess int) ([]byte, error) {
	start := len(dst)
	out := dst
	r.reset(history)
	for {
		produced := int64(len(out) - start)
		var n int
		var err error
		switch {
		case limit > 0 && produced >= limit:
			// At the limit: one more byte, read into probe, proves the message too big
			// without growing out.
			n, err = r.fr.Read(r.probe[:])
			if n > 0 {
				return dst, tooBig(limit)
			}
		case len(out) == cap(out):
			// Full: one byte read into probe tells whether there is more, so that a buffer
			// of exactly the message's size (see guess) is not grown at its end.
			n, err = r.fr.Read(r.probe[:])
			if n > 0 {
				out = append(grow(out, start, len(r.in.msg), limit, guess), r.probe[0])
				guess = 0
			}
		default:
			buf := out[len(out):cap(out)]
			if limit > 0 && int64(len(buf)) > limit-produced {
				buf = buf[:limit-produced]
			}
			n, err = r.fr.Read(buf)
			out = out[:len(out)+n]
		}
		switch {
		case err == nil:
			continue
		case err != io.EOF:
			return dst, corrupt(err)
		case r.in.pos >= len(r.in.msg):
			// The stream ended in our tail: the message is done. A sender that ended with a
			// final block and no empty stored block (RFC 7692 §7.2.1 asks for one) gets here
			// before our tail is read.
			return out, nil
		}
		// A final block inside the message: a new stream follows (RFC 7692 §7.2.3.4 lets
		// senders flush that way), and it may refer to everything before it.
		r.reset(joinHistory(history, out[start:]))
	}
}

func (r *reader) reset(history []byte) {
	if err := r.fr.(flate.Resetter).Reset(&r.in, history); err != nil {
		panic("deflate: " + err.Error()) // flate's Reset never fails
	}
}

// joinHistory returns the last ≤ 32 KiB of history followed by msg.
func joinHistory(history, msg []byte) []byte {
	if len(msg) >= windowSize {
		return msg[len(msg)-windowSize:]
	}
	if len(history) == 0 {
		return msg
	}
	if keep := windowSize - len(msg); len(history) > keep {
		history = history[len(history)-keep:]
	}
	return append(append(make([]byte, 0, len(history)+len(msg)), history...), msg...)
}

// grow returns out with more spare capacity, but never more than the limit allows for the
// message that started at start: a decompression bomb cannot make us allocate.
func grow(out []byte, start, compressedLen int, limit int64, guess int) []byte {
	size := len(out) - start
	n := max(size, 2*compressedLen, minGrow, guess-size)
	if limit > 0 {
		n = int(min(int64(n), limit-int64(size)))
	}
	grown := make([]byte, len(out), len(out)+n)
	copy(grown, out)
	return grown
}

func tooBig(limit int64) error {
	return &proto.Error{
		Code:   proto.MessageTooBig,
		Reason: "decompressed message over " + strconv.FormatInt(limit, 10) + " bytes",
	}
}

// corrupt turns a flate reader's error into the 1007 that fails the connection. The reason
// stays short: it becomes the close frame's reason.
func corrupt(err error) error {
	reason := "invalid compressed data"
	var ce flate.CorruptInputError
	switch {
	case errors.As(err, &ce):
		reason += " at offset " + strconv.FormatInt(int64(ce), 10)
	case errors.Is(err, io.ErrUnexpectedEOF):
		reason = "truncated compressed data"
	}
	return &proto.Error{Code: proto.InvalidPayload, Reason: reason}
}

// input is the flate reader's source: a compressed message followed by inflateTail. It
// implements flate.Reader (io.ByteReader) so that the flate reader reads it directly, without a
// bufio.Reader, and never reads past the end of the current flate stream.
type input struct {
	msg []byte
	pos int // offset in msg followed by inflateTail
}

func (in *input) ReadByte() (byte, error) {
	switch {
	case in.pos < len(in.msg):
		c := in.msg[in.pos]
		in.pos++
		return c, nil
	case in.pos < len(in.msg)+len(inflateTail):
		c := inflateTail[in.pos-len(in.msg)]
		in.pos++
		return c, nil
	}
	return 0, io.EOF
}

func (in *input) Read(p []byte) (int, error) {
	n := 0
	if in.pos < len(in.msg) {
		n = copy(p, in.msg[in.pos:])
		in.pos += n
	}
	if t := in.pos - len(in.msg); t >= 0 && t < len(inflateTail) && n < len(p) {
		m := copy(p[n:], inflateTail[t:])
		in.pos += m
		n += m
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}
