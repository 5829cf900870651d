package deflate

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/flate"
)

// tail is the empty stored block that ends every sync flush; RFC 7692 §7.2.1 strips it from
// each compressed message and §7.2.2 appends it again before decompression.
const tail = "\x00\x00\xff\xff"

// Compressor compresses the messages of one direction of one connection (RFC 7692 §7.2.1).
// It is not safe for concurrent use; messages must be compressed in the order they are sent.
type Compressor struct {
	level  int
	keep   bool    // keep w between messages: context takeover at an LZ77 level
	w      *writer // held between messages only when keep is set
	closed bool
}

// NewCompressor returns a compressor at the given compress/flate level (0 means DefaultLevel;
// Params.CompressionLevel picks it from the negotiated parameters). With noContextTakeover
// every message is compressed on its own, as the peer's client_no_context_takeover or
// server_no_context_takeover requires, and the compressor holds no flate state between
// messages; neither does it at flate.HuffmanOnly, whose messages never refer to earlier ones.
// It panics if level is not a valid compress/flate level.
func NewCompressor(level int, noContextTakeover bool) *Compressor {
	if level == 0 {
		level = DefaultLevel
	}
	if level < flate.HuffmanOnly || level > flate.BestCompression {
		panic(fmt.Sprintf("deflate: invalid compression level %d", level))
	}
	return &Compressor{level: level, keep: !noContextTakeover && level != flate.HuffmanOnly}
}

// Compress appends the compressed form of the whole message msg to dst, without the final
// 00 00 ff ff that RFC 7692 §7.2.1 removes, and returns the extended slice. An empty message
// compresses to the single byte 0x00 (RFC 7692 §7.2.3.6). With context takeover the output
// may refer to earlier messages, so every message compressed must be sent.
func (c *Compressor) Compress(dst, msg []byte) ([]byte, error) {
	if c.closed {
		panic("deflate: Compress called after Close")
	}
	w := c.w
	if w == nil {
		w = getWriter(c.level)
	}
	start := len(dst)
	w.out = dst
	_, err := w.fw.Write(msg)
	if err == nil {
		err = w.fw.Flush()
	}
	out := w.out
	w.out = nil // the pool must not keep the caller's buffer alive
	if !c.keep || err != nil {
		putWriter(c.level, w)
		c.w = nil
	} else {
		c.w = w
	}
	if err != nil {
		return dst, fmt.Errorf("deflate: compress message: %w", err)
	}
	if !bytes.HasSuffix(out[start:], []byte(tail)) {
		return dst, errors.New("deflate: compress message: flush did not end with an empty stored block")
	}
	return out[:len(out)-len(tail)], nil
}

// Level returns the compressor's compress/flate level.
func (c *Compressor) Level() int { return c.level }

// Reset forgets the window kept between messages (context takeover): the next message is
// compressed as the first one was, referring to nothing sent before, which every
// decompressor decodes whatever window it keeps.
func (c *Compressor) Reset() {
	if c.w != nil {
		putWriter(c.level, c.w)
		c.w = nil
	}
}

// Close releases the compressor's flate state. It is idempotent; Compress must not be called
// after it.
func (c *Compressor) Close() {
	if c.w != nil {
		putWriter(c.level, c.w)
		c.w = nil
	}
	c.closed = true
}

// writer is a flate writer with the buffer it writes to; both travel together through the
// pool so that a pooled writer never refers to a Compressor or a caller's buffer.
type writer struct {
	fw  *flate.Writer
	out []byte
}

// Write appends p to w.out; it is the flate writer's destination.
func (w *writer) Write(p []byte) (int, error) {
	w.out = append(w.out, p...)
	return len(p), nil
}

// writerPools holds idle writers, one pool per level from flate.HuffmanOnly (-2) to
// flate.BestCompression (9): a flate writer's level is fixed when it is made.
var writerPools [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

// getWriter returns a writer at level with a fresh compression state.
func getWriter(level int) *writer {
	if w, ok := writerPools[level-flate.HuffmanOnly].Get().(*writer); ok {
		w.fw.Reset(w)
		return w
	}
	w := new(writer)
	fw, err := flate.NewWriter(w, level)
	if err != nil {
		panic("deflate: " + err.Error()) // NewCompressor validated level
	}
	w.fw = fw
	return w
}

func putWriter(level int, w *writer) {
	writerPools[level-flate.HuffmanOnly].Put(w)
}
