package wsock

import (
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// MessageType is the type of a data message: text (UTF-8) or binary.
type MessageType int

// The two message types, with the values of their RFC 6455 opcodes.
const (
	TextMessage   MessageType = MessageType(proto.OpText)
	BinaryMessage MessageType = MessageType(proto.OpBinary)
)

// String returns "text", "binary" or "MessageType(N)" for other values.
func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// valid reports whether t is TextMessage or BinaryMessage.
func (t MessageType) valid() bool { return t == TextMessage || t == BinaryMessage }

// Message is a whole data message, reassembled from its fragments and decompressed.
type Message struct {
	Type MessageType
	// Data is the message's payload; it belongs to the receiver, the Conn keeps no
	// reference to it. A receiver done with it may hand it back with Release.
	Data []byte
}

// Release gives m.Data back to the connections, which reuse it for the messages they
// receive: a receiver that releases every message it is done with receives without
// allocating. It is optional; a message never released is reclaimed by the garbage
// collector as usual.
//
// After Release, neither m.Data nor any slice of it may be used, by the caller or by
// anything it handed the data to (Send has finished with it once it returns), and m must
// not be released again: its bytes will belong to another message. Release m as Receive
// returned it; data that did not come from Receive may be released too, under the same
// terms.
func (m Message) Release() {
	if !msgPoolsInUse.Load() {
		msgPoolsInUse.Store(true)
	}
	putMsgBuf(m.Data)
}

// Message buffers are pooled by size class, four classes per power of two from 16 B to
// 4 MiB, so that a buffer is at most 25 % larger than the message it holds. A buffer is
// stored as the address of its first byte: an interface holds a pointer without
// allocating, and the class gives the length back.
const (
	minMsgClassLog = 4  // 16 B
	maxMsgClassLog = 22 // 4 MiB
	numMsgClasses  = (maxMsgClassLog-minMsgClassLog)*4 + 1
)

var msgPools [numMsgClasses]sync.Pool

// msgPoolsInUse is set by the first Release: until then, a program that never releases
// its messages pays nothing for the pools (message buffers are allocated at their exact
// size, and looking in an empty pool is not free).
var msgPoolsInUse atomic.Bool

// msgClassSize returns the size of buffers of class i.
func msgClassSize(i int) int {
	return (1 << (minMsgClassLog + i/4)) * (4 + i%4) / 4
}

// msgClass returns the smallest class whose buffers hold n bytes; ok is false when n is
// above the largest class.
func msgClass(n int) (i int, ok bool) {
	if n <= 1<<minMsgClassLog {
		return 0, true
	}
	if n > 1<<maxMsgClassLog {
		return 0, false
	}
	k := bits.Len(uint(n-1)) - 1 // 1<<k < n <= 1<<(k+1)
	step := 1 << (k - 2)
	j := (n - 1<<k + step - 1) / step // 1..4
	return (k-minMsgClassLog)*4 + j, true
}

// getMsgBuf returns a buffer of length n for a message: from the pools, with a capacity of
// n's class size, or newly allocated (at the class size once the pools are in use).
func getMsgBuf(n int) []byte {
	if !msgPoolsInUse.Load() {
		return make([]byte, n)
	}
	i, ok := msgClass(n)
	if !ok {
		return make([]byte, n)
	}
	size := msgClassSize(i)
	if p, _ := msgPools[i].Get().(*byte); p != nil {
		return unsafe.Slice(p, size)[:n]
	}
	return make([]byte, n, size)
}

// putMsgBuf pools b's backing array if b's capacity is a class size and the pools are in
// use.
func putMsgBuf(b []byte) {
	c := cap(b)
	if c == 0 || !msgPoolsInUse.Load() {
		return
	}
	if i, ok := msgClass(c); ok && msgClassSize(i) == c {
		msgPools[i].Put(unsafe.SliceData(b[:1]))
	}
}
