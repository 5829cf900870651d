package wsjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsjson"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

type note struct {
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

// record hands every message it receives to got, until the connection closes.
func record(got chan<- wsock.Message) func(ctx context.Context, c *wsock.Conn) error {
	return func(ctx context.Context, c *wsock.Conn) error {
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				close(got)
				return nil
			}
			got <- m
		}
	}
}

func TestSendWritesOneTextMessageOfCompactJSON(t *testing.T) {
	got := make(chan wsock.Message, 4)
	withConns(t, record(got), func(ctx context.Context, c *wsock.Conn) error {
		require.NoError(t, wsjson.Send(ctx, c, note{Seq: 7, Text: "<hi>"}))
		m := <-got
		assert.Equal(t, wsock.TextMessage, m.Type)
		assert.Equal(t, `{"seq":7,"text":"\u003chi\u003e"}`, string(m.Data), "as json.Marshal, no trailing newline")
		return nil
	})
}

func TestSendThenReceiveRoundTripsValues(t *testing.T) {
	withConns(t, wsocktest.EchoConn, func(ctx context.Context, c *wsock.Conn) error {
		for i := range 20 {
			require.NoError(t, wsjson.Send(ctx, c, note{Seq: i, Text: "n"}))
			var n note
			require.NoError(t, wsjson.Receive(ctx, c, &n))
			assert.Equal(t, note{Seq: i, Text: "n"}, n)
		}
		return nil
	})
}

func TestSendOfUnencodableValueSendsNothingAndKeepsTheConnection(t *testing.T) {
	got := make(chan wsock.Message, 4)
	withConns(t, record(got), func(ctx context.Context, c *wsock.Conn) error {
		err := wsjson.Send(ctx, c, math.Inf(1))
		var uv *json.UnsupportedValueError
		require.ErrorAs(t, err, &uv)
		assert.ErrorContains(t, err, "wsjson: send: encode float64")
		require.NoError(t, wsjson.Send(ctx, c, 1))
		assert.Equal(t, "1", string((<-got).Data), "the failed value never went out")
		return nil
	})
}

func TestReceiveOfJSONNotFittingTheValueKeepsTheConnection(t *testing.T) {
	withConns(t, wsocktest.EchoConn, func(ctx context.Context, c *wsock.Conn) error {
		require.NoError(t, c.SendText(ctx, `{"seq":"seven"}`))
		var n note
		err := wsjson.Receive(ctx, c, &n)
		require.ErrorIs(t, err, wsjson.ErrDecode)
		var de *wsjson.DecodeError
		require.ErrorAs(t, err, &de)
		assert.False(t, de.Closed)
		var te *json.UnmarshalTypeError
		assert.ErrorAs(t, err, &te)

		require.NoError(t, wsjson.Send(ctx, c, note{Seq: 8}))
		require.NoError(t, wsjson.Receive(ctx, c, &n), "the next message decodes")
		assert.Equal(t, 8, n.Seq)
		assert.Nil(t, c.CloseReason())
		return nil
	})
}

func TestReceiveOfWhatIsNotAJSONTextMessageCloses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     wsock.MessageType
		data    string
		code    wsock.StatusCode
		jsonErr bool
	}{
		{"not JSON", wsock.TextMessage, `{"seq":`, wsock.InvalidPayload, true},
		{"binary", wsock.BinaryMessage, `{}`, wsock.UnsupportedData, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan *wsock.CloseReason, 1)
			server := func(ctx context.Context, c *wsock.Conn) error {
				if err := c.Send(ctx, tc.typ, []byte(tc.data)); err != nil {
					return err
				}
				_, err := c.Receive(ctx)
				var ce *wsock.ClosedError
				if errors.As(err, &ce) {
					closed <- ce.Reason
				}
				close(closed)
				return nil
			}
			withConns(t, server, func(ctx context.Context, c *wsock.Conn) error {
				var v map[string]any
				err := wsjson.Receive(ctx, c, &v)
				var de *wsjson.DecodeError
				require.ErrorAs(t, err, &de)
				assert.Equal(t, tc.typ, de.Type)
				assert.True(t, de.Closed)
				var se *json.SyntaxError
				assert.Equal(t, tc.jsonErr, errors.As(err, &se))
				if r := <-closed; assert.NotNil(t, r) {
					assert.Equal(t, tc.code, r.Code, "the close code the peer sees")
				}
				return nil
			})
		})
	}
}

func TestReceiveReturnsTheConnectionsErrorsAsTheyAre(t *testing.T) {
	withConns(t, wsocktest.EchoConn, func(ctx context.Context, c *wsock.Conn) error {
		cctx, stop := context.WithCancel(ctx)
		stop()
		var v any
		assert.ErrorIs(t, wsjson.Receive(cctx, c, &v), context.Canceled)
		require.NoError(t, c.Close(wsock.NormalClosure, ""))
		assert.ErrorIs(t, wsjson.Receive(ctx, c, &v), wsock.ErrClosed)
		return nil
	})
}

// drain receives and releases every message until the connection closes.
func drain(ctx context.Context, c *wsock.Conn) error {
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		m.Release()
	}
}

func TestSendDoesNotAllocateForAStruct(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	withConns(t, drain, func(ctx context.Context, c *wsock.Conn) error {
		v := note{Seq: 1, Text: "steady"}
		allocs := testing.AllocsPerRun(200, func() {
			if err := wsjson.Send(ctx, c, &v); err != nil {
				t.Error(err)
			}
		})
		assert.Zero(t, allocs, "pooled encoder and buffer; the receiver releases")
		return nil
	})
}

func BenchmarkSendReceive(b *testing.B) {
	withConns(b, wsocktest.EchoConn, func(ctx context.Context, c *wsock.Conn) error {
		v := note{Seq: 1, Text: "steady"}
		b.ReportAllocs()
		for b.Loop() {
			if err := wsjson.Send(ctx, c, &v); err != nil {
				return err
			}
			var got note
			if err := wsjson.Receive(ctx, c, &got); err != nil {
				return err
			}
		}
		return nil
	})
}
