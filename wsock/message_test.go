package wsock

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestMessageBufferClassIsTheSmallestThatHoldsTheSize(t *testing.T) {
	for n := 1; n <= 1<<maxMsgClassLog; n += 1 + n/97 {
		i, ok := msgClass(n)
		require.True(t, ok, "size %d", n)
		size := msgClassSize(i)
		assert.GreaterOrEqual(t, size, n, "size %d", n)
		if i > 0 {
			assert.Less(t, msgClassSize(i-1), n, "size %d: a smaller class holds it", n)
		}
		if n > 1<<minMsgClassLog {
			assert.LessOrEqual(t, 4*size, 5*n, "size %d: class %d wastes more than 25 %%", n, size)
		}
	}
	_, ok := msgClass(1<<maxMsgClassLog + 1)
	assert.False(t, ok, "larger messages are not pooled")
}

func TestReleasedBuffersCarryLaterMessagesIntact(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		withPair(t, pairOptions{tcp: tcp}, func(ctx context.Context, p *pair) {
			sizes := []int{0, 16, 125, 126, 1000, 4 << 10, 5000, 64 << 10, 64<<10 + 3, 200 << 10}
			for round := range 3 {
				for _, size := range sizes {
					data := bytes.Repeat([]byte{byte(round), byte(size)}, size/2+1)[:size]
					//gotrio:go the send must run while the test receives; it ends with the receive or the pair's close
					go func() { assert.NoError(t, p.client.SendBinary(ctx, data)) }()
					m, err := p.server.Receive(ctx)
					require.NoError(t, err)
					require.True(t, bytes.Equal(data, m.Data), "round %d, size %d", round, size)
					m.Release()
				}
			}
		})
	}
}

func TestReleaseIgnoresDataOfNoClassSize(t *testing.T) {
	Message{Data: make([]byte, 10, 17)}.Release()
	Message{}.Release()
	b := getMsgBuf(17)
	assert.Equal(t, 17, len(b))
	assert.Equal(t, 20, cap(b), "17 bytes take the 20-byte class")
}

func TestReleasedMessageBufferServesTheNextMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	// A pool hands a goroutine what was put on the same P; with one P, that is certain.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
		var first *byte
		for i := range 3 {
			peer.frame(true, proto.OpBinary, bytes.Repeat([]byte{byte(i)}, 4<<10))
			m, err := c.Receive(ctx)
			require.NoError(t, err)
			require.Equal(t, bytes.Repeat([]byte{byte(i)}, 4<<10), m.Data)
			if first == nil {
				first = unsafe.SliceData(m.Data)
			} else {
				assert.Equal(t, first, unsafe.SliceData(m.Data), "message %d reuses the released buffer", i)
			}
			m.Release()
		}
		peer.nc.Close() // no closing handshake to wait for
	})
}
