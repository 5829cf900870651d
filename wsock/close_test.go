package wsock

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestW41CloseHandshakeEndsWithPeersReason(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		name := map[bool]string{false: "pipe", true: "tcp"}[tcp]
		t.Run(name, func(t *testing.T) {
			withPair(t, pairOptions{tcp: tcp}, func(ctx context.Context, p *pair) {
				require.Nil(t, p.client.CloseReason(), "CloseReason while open")
				require.NoError(t, p.client.Close(GoingAway, "bye"))
				// The server answered with the code and reason it got (it echoes
				// them), and the client's final reason is that answer.
				assert.Equal(t, CloseReason{Code: GoingAway, Name: "GOING_AWAY", Reason: "bye"}, *p.client.CloseReason())
				assert.NoError(t, <-p.clientRun)
				assert.NoError(t, <-p.serverRun)
				<-p.server.done()
				assert.Equal(t, CloseReason{Code: GoingAway, Name: "GOING_AWAY", Reason: "bye"}, *p.server.CloseReason())
				_, err := p.server.Receive(ctx)
				assert.Equal(t, GoingAway, closedReason(t, err).Code)
			})
		})
	}
}

func TestW41FinalReasonIsThePeersNotOurs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			closed := make(chan error, 1)
			go func() { closed <- c.Close(NormalClosure, "done") }()
			code, reason := peer.expectClose()
			assert.Equal(t, proto.NormalClosure, code)
			assert.Equal(t, "done", reason)
			synctest.Wait()
			// While the handshake is in progress, the reason is ours.
			assert.Equal(t, CloseReason{Code: NormalClosure, Name: "NORMAL_CLOSURE", Reason: "done"}, *c.CloseReason())
			peer.closeFrame(4000, "server's own")
			require.NoError(t, peer.nc.Close()) // a server closes TCP after the handshake
			require.NoError(t, <-closed)
			assert.Equal(t, CloseReason{Code: 4000, Name: "PRIVATE_USE", Reason: "server's own"}, *c.CloseReason())
			assert.NoError(t, <-run)
		})
	})
}

func TestW41CloseIsIdempotent(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		var wg sync.WaitGroup
		errs := make([]error, 5)
		for i := range errs {
			wg.Go(func() { errs[i] = p.client.Close(NormalClosure, "") })
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		assert.NoError(t, p.client.Close(InternalError, "again"), "Close after close")
		assert.Equal(t, NormalClosure, p.client.CloseReason().Code)
		assert.NoError(t, p.server.Close(NormalClosure, ""), "Close of a connection the peer closed")
	})
}

func TestW41CloseMarksClosingAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			// A Writer holds the turn of data messages, so this Send waits.
			w, err := c.Writer(ctx, TextMessage)
			require.NoError(t, err)
			sent := make(chan error, 1)
			go func() { sent <- c.SendText(ctx, "late") }()
			synctest.Wait()
			closed := make(chan error, 1)
			go func() { closed <- c.Close(NormalClosure, "") }()
			// The waiting Send fails as soon as Close starts, before the handshake ends.
			err = <-sent
			assert.Equal(t, NormalClosure, closedReason(t, err).Code)
			_, err = w.Write([]byte("more"))
			closedReason(t, err)
			closedReason(t, c.SendText(ctx, "after"))
			peer.expectClose()
			peer.closeFrame(proto.NormalClosure, "")
			require.NoError(t, <-closed)
			peer.expectEOF()
			assert.ErrorIs(t, w.Close(), ErrClosed)
		})
	})
}

func TestW41DisconnectTimeoutClosesTCPAnyway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			start := time.Now()
			closed := make(chan error, 1)
			go func() { closed <- c.Close(NormalClosure, "") }()
			peer.expectClose()
			// The peer never answers.
			err := <-closed
			assert.ErrorIs(t, err, ErrDisconnectTimeout)
			assert.ErrorIs(t, err, ErrHandshake)
			assert.Equal(t, testDisconnectTimeout, time.Since(start))
			assert.Equal(t, AbnormalClosure, c.CloseReason().Code)
			peer.expectEOF()
			assert.NoError(t, <-run, "a local close is not a failure of the reader")
			assert.ErrorIs(t, c.Close(NormalClosure, ""), ErrDisconnectTimeout, "Close again")
		})
	})
}

func TestW41DisconnectTimeoutBoundsABlockedCloseFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			// The peer reads nothing: a large Send blocks in the middle of its frame, and
			// the Close frame cannot even start.
			sent := make(chan error, 1)
			go func() { sent <- c.SendBinary(ctx, make([]byte, 1<<20)) }()
			synctest.Wait()
			start := time.Now()
			assert.ErrorIs(t, c.Close(NormalClosure, ""), ErrDisconnectTimeout)
			assert.Equal(t, testDisconnectTimeout, time.Since(start))
			closedReason(t, <-sent)
			assert.Equal(t, AbnormalClosure, c.CloseReason().Code)
		})
	})
}

func TestW43ServerClosesTCPRightAfterHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.closeFrame(proto.NormalClosure, "client leaves")
			code, reason := peer.expectClose()
			assert.Equal(t, proto.NormalClosure, code, "the server echoes the code")
			assert.Equal(t, "client leaves", reason, "and the reason")
			peer.expectEOF()
			assert.NoError(t, <-run)
			assert.Equal(t, CloseReason{Code: NormalClosure, Name: "NORMAL_CLOSURE", Reason: "client leaves"}, *c.CloseReason())
		})
	})
}

func TestW43ClientWaitsForServerToCloseTCP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.closeFrame(proto.GoingAway, "")
			peer.expectClose()
			synctest.Wait()
			select {
			case <-c.done():
				t.Fatal("the client closed TCP before the server")
			default:
			}
			require.NoError(t, peer.nc.Close())
			<-c.done()
			assert.NoError(t, <-run)
			assert.Equal(t, GoingAway, c.CloseReason().Code)
		})
	})
}

func TestW43ClientWaitForTCPCloseIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Client, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			start := time.Now()
			peer.closeFrame(proto.GoingAway, "")
			peer.expectClose()
			// The server never closes TCP.
			<-c.done()
			assert.Equal(t, testDisconnectTimeout, time.Since(start))
			assert.NoError(t, <-run)
			assert.Equal(t, GoingAway, c.CloseReason().Code)
			peer.expectEOF()
		})
	})
}

func TestAnswerToThePeersCloseEchoesItsCodeAndReason(t *testing.T) {
	longest := strings.Repeat("é", proto.MaxCloseReason/2) + "!" // 123 bytes of UTF-8
	for role, name := range map[proto.Role]string{proto.Server: "server", proto.Client: "client"} {
		for _, reason := range []string{"", "bye", longest} {
			t.Run(fmt.Sprintf("%s/%d bytes", name, len(reason)), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					withRaw(t, role, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
						peer.closeFrame(4321, reason)
						code, got := peer.expectClose()
						assert.Equal(t, proto.CloseCode(4321), code)
						assert.Equal(t, reason, got)
						_ = peer.nc.Close()
						assert.NoError(t, <-run)
					})
				})
			})
		}
	}
}

func TestRemoteCloseWithoutStatusReports1005(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			peer.frame(true, proto.OpClose, nil)
			h, payload := peer.readFrame()
			assert.Equal(t, proto.OpClose, h.Op)
			assert.Empty(t, payload, "a Close without status is answered without status")
			peer.expectEOF()
			assert.Equal(t, CloseReason{Code: NoStatusReceived, Name: "NO_STATUS_RCVD"}, *c.CloseReason())
		})
	})
}

func TestCloseRejectsCodesThatMayNotBeSent(t *testing.T) {
	withPair(t, pairOptions{}, func(ctx context.Context, p *pair) {
		for _, code := range []StatusCode{NoStatusReceived, AbnormalClosure, TLSHandshake, 1004, 999, 2999, 5000} {
			assert.Error(t, p.client.Close(code, ""), "code %d", code)
		}
		assert.Error(t, p.client.Close(NormalClosure, string(make([]byte, 124))), "reason too long")
		assert.Error(t, p.client.Close(NormalClosure, "\xff"), "reason not UTF-8")
		assert.Nil(t, p.client.CloseReason(), "the connection is still open")
		require.NoError(t, p.client.SendText(ctx, "still open"))
		m, err := p.server.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, "still open", string(m.Data))
	})
}

func TestCloseWithoutCodeSendsEmptyCloseFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withRaw(t, proto.Server, nil, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
			closed := make(chan error, 1)
			go func() { closed <- c.Close(0, "") }()
			h, payload := peer.readFrame()
			assert.Equal(t, proto.OpClose, h.Op)
			assert.Empty(t, payload)
			peer.frame(true, proto.OpClose, nil)
			require.NoError(t, <-closed)
			assert.Equal(t, NoStatusReceived, c.CloseReason().Code)
		})
	})
}

func TestW48W51CloseReasonNamesFollowIANA(t *testing.T) {
	names := map[StatusCode]string{
		NormalClosure:      "NORMAL_CLOSURE",
		GoingAway:          "GOING_AWAY",
		ProtocolError:      "PROTOCOL_ERROR",
		UnsupportedData:    "UNSUPPORTED_DATA",
		NoStatusReceived:   "NO_STATUS_RCVD",
		AbnormalClosure:    "ABNORMAL_CLOSURE",
		InvalidPayload:     "INVALID_FRAME_PAYLOAD_DATA",
		PolicyViolation:    "POLICY_VIOLATION",
		MessageTooBig:      "MESSAGE_TOO_BIG",
		MandatoryExtension: "MANDATORY_EXT",
		InternalError:      "INTERNAL_ERROR",
		ServiceRestart:     "SERVICE_RESTART",
		TryAgainLater:      "TRY_AGAIN_LATER",
		BadGateway:         "BAD_GATEWAY",
		TLSHandshake:       "TLS_HANDSHAKE_FAILED",
		3000:               "REGISTERED",
		4999:               "PRIVATE_USE",
		1004:               "UNKNOWN",
	}
	for code, name := range names {
		r := newCloseReason(code, "why")
		assert.Equal(t, CloseReason{Code: code, Name: name, Reason: "why"}, *r)
	}
	assert.Equal(t, "1001 GOING_AWAY: shutting down", newCloseReason(GoingAway, "shutting down").String())
	assert.Equal(t, "1000 NORMAL_CLOSURE", newCloseReason(NormalClosure, "").String())
	assert.Equal(t, "1011 INTERNAL_ERROR", InternalError.String())
	err := error(&ClosedError{Reason: newCloseReason(MessageTooBig, "")})
	assert.Equal(t, "wsock: connection closed: 1009 MESSAGE_TOO_BIG", err.Error())
	assert.ErrorIs(t, err, ErrClosed)
}

// violation is a protocol violation a peer commits, and the code it must be failed with.
type violation struct {
	name   string
	role   proto.Role // of the Conn under test
	adjust func(*connConfig)
	frames [][]byte // what the peer sends
	code   proto.CloseCode
}

func craftFrame(fin bool, rsv byte, op proto.Opcode, payload []byte, mask bool) []byte {
	b := proto.AppendFrame(nil, fin, op, false, payload, mask, [4]byte{1, 2, 3, 4})
	b[0] |= rsv << 4
	return b
}

func TestW46ProtocolViolationsFailTheConnectionWithTheirCode(t *testing.T) {
	bigPing := make([]byte, 126)
	closeCode := func(code uint16) []byte { return []byte{byte(code >> 8), byte(code)} }
	cases := []violation{
		{name: "RSV1 without extension", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 4, proto.OpText, []byte("x"), true)}},
		{name: "RSV2", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 2, proto.OpBinary, []byte("x"), true)}},
		{name: "RSV3", role: proto.Client, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 1, proto.OpBinary, []byte("x"), false)}},
		{name: "reserved data opcode", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, 3, nil, true)}},
		{name: "reserved control opcode", role: proto.Client, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, 0xB, nil, false)}},
		{name: "unmasked client frame", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, proto.OpText, []byte("x"), false)}},
		{name: "masked server frame", role: proto.Client, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, proto.OpText, []byte("x"), true)}},
		{name: "fragmented ping", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(false, 0, proto.OpPing, nil, true)}},
		{name: "ping over 125 bytes", role: proto.Client, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, proto.OpPing, bigPing, false)}},
		{name: "continuation without a message", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, proto.OpContinuation, []byte("x"), true)}},
		{name: "new message inside a fragmented one", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{
				craftFrame(false, 0, proto.OpText, []byte("a"), true),
				craftFrame(true, 0, proto.OpText, []byte("b"), true),
			}},
		{name: "close payload of 1 byte", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, proto.OpClose, []byte{3}, true)}},
		{name: "close code 1005 on the wire", role: proto.Server, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, proto.OpClose, closeCode(1005), true)}},
		{name: "close code 999", role: proto.Client, code: proto.ProtocolError,
			frames: [][]byte{craftFrame(true, 0, proto.OpClose, closeCode(999), false)}},
		{name: "invalid UTF-8 text", role: proto.Server, code: proto.InvalidPayload,
			frames: [][]byte{craftFrame(true, 0, proto.OpText, []byte("ok\xc0\xafno"), true)}},
		{name: "invalid UTF-8 detected before the last fragment", role: proto.Server, code: proto.InvalidPayload,
			// The message never ends: the violation must be caught in its first fragment.
			frames: [][]byte{craftFrame(false, 0, proto.OpText, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), true)}},
		{name: "invalid UTF-8 close reason", role: proto.Client, code: proto.InvalidPayload,
			frames: [][]byte{craftFrame(true, 0, proto.OpClose, append(closeCode(1000), 0xff), false)}},
		{name: "message over MaxMessageSize", role: proto.Server, code: proto.MessageTooBig,
			adjust: func(cfg *connConfig) { cfg.maxMessageSize = 10 },
			frames: [][]byte{craftFrame(true, 0, proto.OpBinary, make([]byte, 11), true)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				withRaw(t, tc.role, tc.adjust, func(ctx context.Context, c *Conn, peer *rawPeer, run <-chan error) {
					received := make(chan error, 1)
					go func() {
						_, err := c.Receive(ctx)
						received <- err
					}()
					go func() {
						for _, f := range tc.frames {
							if _, err := peer.nc.Write(f); err != nil {
								return
							}
						}
					}()
					code, _ := peer.expectClose()
					assert.Equal(t, tc.code, code, "code of the Close frame sent")
					peer.expectEOF()
					runErr := <-run
					assert.Equal(t, StatusCode(tc.code), closedReason(t, runErr).Code, "reader's error: %v", runErr)
					assert.Equal(t, StatusCode(tc.code), closedReason(t, <-received).Code)
					assert.Equal(t, StatusCode(tc.code), c.CloseReason().Code)
				})
			})
		})
	}
}

// runOwned starts c's reader in a nursery of its own, as Open or a server would: cancel
// cancels that nursery, as if its owner were gone; joined receives run's result, and is
// closed once the nursery has joined.
func runOwned(c *Conn) (cancelOwner func(), joined <-chan error) {
	owner := cancel.New()
	result := make(chan error, 1)
	//gotrio:go runOwned plays an owner outside the test's nurseries; joined reports its end
	go func() {
		defer close(result)
		_ = owner.Run(context.Background(), func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				runIn(n, c, result)
				return nil
			})
		})
	}()
	return func() { owner.Cancel("owner gone") }, result
}

// ownedRaw is a Conn of role whose reader runs in a nursery of its own (runOwned), and a
// raw peer at the other end of a net.Pipe.
func ownedRaw(t *testing.T, role proto.Role) (c *Conn, peer *rawPeer, cancelOwner func(), joined <-chan error) {
	ours, theirs := net.Pipe()
	t.Cleanup(func() { theirs.Close() })
	c = newConn(testConfig(ours, role))
	peer = &rawPeer{t: t, nc: theirs, br: bufio.NewReader(theirs), masks: role == proto.Server}
	cancelOwner, joined = runOwned(c)
	return c, peer, cancelOwner, joined
}

func TestCancelledReaderClosesWithGoingAwayAndTheClosingHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cn, sn := net.Pipe()
		client, server := newConn(testConfig(cn, proto.Client)), newConn(testConfig(sn, proto.Server))
		cancelClient, clientJoined := runOwned(client)
		_, serverJoined := runOwned(server)
		received := make(chan error, 1)
		go func() {
			_, err := server.Receive(context.Background())
			received <- err
		}()
		synctest.Wait()
		start := time.Now()
		cancelClient()
		assert.Equal(t, CloseReason{Code: GoingAway, Name: "GOING_AWAY"}, closedReason(t, <-received))
		assert.NoError(t, <-clientJoined)
		assert.NoError(t, <-serverJoined)
		assert.Zero(t, time.Since(start), "the handshake waited for no timeout")
		assert.Equal(t, GoingAway, client.CloseReason().Code, "the server's answer")
		closedReason(t, client.SendText(context.Background(), "x"))
	})
}

func TestCancelledReaderWithASilentPeerAbortsAfterDisconnectTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer, cancelOwner, joined := ownedRaw(t, proto.Server)
		start := time.Now()
		cancelOwner()
		code, reason := peer.expectClose()
		assert.Equal(t, proto.GoingAway, code)
		assert.Equal(t, shutdownReason, reason)
		// No answer: the reader gives up when DisconnectTimeout passes.
		assert.NoError(t, <-joined)
		assert.Equal(t, testDisconnectTimeout, time.Since(start))
		assert.Equal(t, AbnormalClosure, c.CloseReason().Code)
		peer.expectEOF()
	})
}

func TestCloseRacingTheCancellationOfTheReaderSendsOneCloseFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer, cancelOwner, joined := ownedRaw(t, proto.Server)
		closed := make(chan error, 1)
		go func() { closed <- c.Close(NormalClosure, "") }()
		cancelOwner()
		code, _ := peer.expectClose()
		assert.Contains(t, []proto.CloseCode{proto.NormalClosure, proto.GoingAway}, code)
		peer.closeFrame(code, "")
		peer.expectEOF() // a second Close frame would be read here
		require.NoError(t, <-closed)
		assert.NoError(t, c.Close(InternalError, "again"))
		assert.NoError(t, <-joined)
		assert.Equal(t, StatusCode(code), c.CloseReason().Code)
	})
}

func TestCancelledReaderSendsItsCloseFrameAfterTheFrameBeingWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer, cancelOwner, joined := ownedRaw(t, proto.Server)
		big := make([]byte, 64<<10)
		sent := make(chan error, 1)
		go func() { sent <- c.SendBinary(context.Background(), big) }()
		synctest.Wait() // the Send is blocked on the pipe, holding the frame lock
		cancelOwner()
		synctest.Wait()
		h, payload := peer.readFrame()
		assert.Equal(t, proto.OpBinary, h.Op)
		assert.Len(t, payload, len(big))
		code, _ := peer.expectClose() // sent by the Send as it lets the frame lock go
		assert.Equal(t, proto.GoingAway, code)
		require.NoError(t, <-sent)
		peer.closeFrame(code, "")
		peer.expectEOF()
		assert.NoError(t, <-joined)
		assert.Equal(t, GoingAway, c.CloseReason().Code)
	})
}

func TestCancelledReaderBlockedOnAFullQueueDropsTheMessagesAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, peer, cancelOwner, joined := ownedRaw(t, proto.Client)
		// The queue holds one message: the reader waits with the second.
		peer.frame(true, proto.OpText, []byte("one"))
		peer.frame(true, proto.OpText, []byte("two"))
		synctest.Wait()
		cancelOwner()
		code, reason := peer.expectClose()
		assert.Equal(t, proto.GoingAway, code)
		assert.Empty(t, reason)
		peer.closeFrame(code, "")
		require.NoError(t, peer.nc.Close()) // a server closes TCP after the handshake
		assert.NoError(t, <-joined)
		_, err := c.Receive(context.Background())
		assert.Equal(t, GoingAway, closedReason(t, err).Code, "queued messages are dropped")
	})
}
