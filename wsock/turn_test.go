package wsock

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Tests of the read turn (turn.go): on a TCP connection a Receive reads in its own
// goroutine, and the reader task runs only while nobody receives.

// serveOn starts a server with h as a task of n, over loopback TCP or a pipe listener,
// and returns a function that opens a raw connection to it.
func serveOn(t *testing.T, n *nursery.Nursery, tcp bool, h Handler, opts *ServerOptions) (dial func() net.Conn) {
	t.Helper()
	if !tcp {
		_, dopts := servePipes(t, n, h, opts)
		return func() net.Conn {
			nc, err := dopts.DialContext(context.Background(), "tcp", "pipe")
			require.NoError(t, err)
			return nc
		}
	}
	srv, err := Listen("127.0.0.1:0", opts)
	require.NoError(t, err)
	n.GoNamed("test server", func(ctx context.Context) error {
		err := srv.Serve(ctx, h)
		if ctx.Err() != nil {
			return nil // drained because the test is over
		}
		return err
	})
	return func() net.Conn {
		nc, err := net.Dial("tcp", srv.Addr().String())
		require.NoError(t, err)
		return nc
	}
}

// rawClient is a hand-played client over nc, past its opening handshake.
type rawClient struct {
	t  *testing.T
	nc net.Conn
}

func newRawClient(t *testing.T, nc net.Conn) *rawClient {
	t.Helper()
	resp := upgradeRaw(t, nc, "/")
	require.Equal(t, 101, resp.StatusCode)
	return &rawClient{t: t, nc: nc}
}

// send writes a final frame.
func (rc *rawClient) send(op proto.Opcode, payload string) {
	rc.t.Helper()
	require.NoError(rc.t, writePeerFrame(rc.nc, op, []byte(payload), true))
}

// write writes raw frames, made by frame.
func (rc *rawClient) write(b []byte) {
	rc.t.Helper()
	_, err := rc.nc.Write(b)
	require.NoError(rc.t, err)
}

// frame returns a masked frame.
func frame(final bool, op proto.Opcode, payload string) []byte {
	return proto.AppendFrame(nil, final, op, false, []byte(payload), true, [4]byte{1, 2, 3, 4})
}

// expect reads the next frame, which must be op with payload.
func (rc *rawClient) expect(op proto.Opcode, payload string) {
	rc.t.Helper()
	f, err := readPeerFrame(rc.nc)
	require.NoError(rc.t, err)
	assert.Equal(rc.t, op, f.op)
	assert.Equal(rc.t, payload, string(f.payload))
}

// ping sends a ping and waits for its pong: everything sent before it has been read.
func (rc *rawClient) ping(payload string) {
	rc.t.Helper()
	rc.send(proto.OpPing, payload)
	rc.expect(proto.OpPong, payload)
}

// taskGoroutines counts the goroutines whose task label contains s.
func taskGoroutines(t *testing.T, s string) int {
	t.Helper()
	var profile bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&profile, 1))
	count, n := 0, 0
	sc := bufio.NewScanner(&profile)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, _, ok := strings.Cut(line, " @ "); ok && !strings.HasPrefix(line, "#") {
			n, _ = strconv.Atoi(k)
			continue
		}
		if strings.HasPrefix(line, "# labels: ") && strings.Contains(line, s) {
			count += n
		}
	}
	return count
}

// waitUntil waits for cond, which the code under test makes true without the test's
// help, failing the test if it has not become true within 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// readerGone waits until c has no reader task: a Receive holds the turn.
func readerGone(t *testing.T, c *Conn) {
	t.Helper()
	waitUntil(t, c.String()+"'s reader task has returned", func() bool {
		return taskGoroutines(t, c.String()+" reader") == 0
	})
}

// serveRaw serves body on loopback TCP in n (see accepted) and opens a raw client to
// it; it returns the client and the server's side of the connection once the handler
// has it. The caller closes rc.nc.
func serveRaw(t *testing.T, n *nursery.Nursery, body func(ctx context.Context, c *Conn) error) (*rawClient, *Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	dial := serveOn(t, n, true, accepted(conns, body), nil)
	rc := newRawClient(t, dial())
	return rc, <-conns
}

// accepted is a handler that accepts, hands the connection to conns, and runs body.
func accepted(conns chan<- *Conn, body func(ctx context.Context, c *Conn) error) Handler {
	return func(ctx context.Context, r *Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		//gotrio:connescape the test drives the connection from outside while its handler runs body, which it outlives not
		conns <- c
		return body(ctx, c)
	}
}

func TestIdleConnectionWaitingInReceiveIsOneGoroutine(t *testing.T) {
	got := make(chan string, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, c := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			m, err := c.Receive(ctx)
			if err == nil {
				got <- string(m.Data)
			}
			return err
		})
		defer rc.nc.Close()
		readerGone(t, c)
		// The handler's goroutine, reading in Receive, is all the connection has
		// once the short-lived ones have ended: the task Accept ran in may still
		// be on its way out, and a runtime callback (time.AfterFunc,
		// context.AfterFunc) inherits the labels of the goroutine that started it.
		oneGoroutine := func() bool { return taskGoroutines(t, "wsock conn "+rc.nc.LocalAddr().String()) == 1 }
		waitUntil(t, "the connection has one goroutine", oneGoroutine)
		rc.ping("still one")
		waitUntil(t, "the connection has one goroutine after a ping", oneGoroutine)
		rc.send(proto.OpText, "hello")
		assert.Equal(t, "hello", <-got)
		rc.expect(proto.OpClose, string([]byte{0x03, 0xe8}))
		return nil
	})
	require.NoError(t, err)
}

func TestPingIsAnsweredWhileTheHandlerIsBusyPastTheGracePeriod(t *testing.T) {
	busy, release := make(chan string), make(chan struct{})
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, _ := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			m, err := c.Receive(ctx)
			if err != nil {
				return err
			}
			busy <- string(m.Data)
			<-release // busy elsewhere: nobody receives
			return nil
		})
		defer rc.nc.Close()
		rc.send(proto.OpText, "work")
		assert.Equal(t, "work", <-busy)
		// Nobody receives: the reader task starts again after the grace period and answers.
		rc.ping("are you there")
		close(release)
		rc.expect(proto.OpClose, string([]byte{0x03, 0xe8}))
		return nil
	})
	require.NoError(t, err)
}

func TestAConnectionWhoseHandlerNeverReceivesAnswersPingsAndTheClose(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan *CloseReason, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, _ := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			<-release // never receives: the connection starts with nobody reading
			closed <- c.CloseReason()
			return nil
		})
		defer rc.nc.Close()
		rc.ping("anyone")
		rc.send(proto.OpClose, string([]byte{0x03, 0xe8}))
		rc.expect(proto.OpClose, string([]byte{0x03, 0xe8}))
		close(release)
		return nil
	})
	require.NoError(t, err)
	r := <-closed
	require.NotNil(t, r, "the peer's Close was carried out while the handler waited")
	assert.Equal(t, NormalClosure, r.Code)
}

func TestCancelledReceiveLosesNoMessageReadInPart(t *testing.T) {
	cancels := make(chan context.CancelFunc, 1)
	results := make(chan string, 2)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, c := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			rctx, cancel := context.WithCancel(ctx)
			cancels <- cancel
			_, err := c.Receive(rctx)
			results <- fmt.Sprint(err)
			m, err := c.Receive(ctx)
			if err != nil {
				results <- err.Error()
				return err
			}
			results <- string(m.Data)
			return nil
		})
		defer rc.nc.Close()
		cancel := <-cancels
		readerGone(t, c)
		// The first fragment, read by the Receive (the pong says so), then the start of
		// the second, which it may have read too when it is cancelled.
		second := frame(true, proto.OpContinuation, strings.Repeat("b", 3000))
		rc.write(frame(false, proto.OpText, strings.Repeat("a", 3000)))
		rc.ping("1")
		rc.write(second[:1500])
		cancel()
		assert.Equal(t, context.Canceled.Error(), <-results)
		rc.write(second[1500:])
		assert.Equal(t, strings.Repeat("a", 3000)+strings.Repeat("b", 3000), <-results)
		return nil
	})
	require.NoError(t, err)
}

func TestCloseFromAnotherGoroutineEndsTheReceiveThatReads(t *testing.T) {
	results := make(chan error, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, c := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			_, err := c.Receive(ctx)
			results <- err
			return nil
		})
		defer rc.nc.Close()
		readerGone(t, c)
		closed := make(chan error, 1)
		n.Go(func(context.Context) error {
			closed <- c.Close(4000, "from elsewhere")
			return nil
		})
		var ce *ClosedError
		require.ErrorAs(t, <-results, &ce)
		assert.Equal(t, StatusCode(4000), ce.Reason.Code)
		rc.expect(proto.OpClose, "\x0f\xa0from elsewhere")
		rc.send(proto.OpClose, "\x0f\xa0from elsewhere")
		assert.NoError(t, <-closed)
		assert.Equal(t, StatusCode(4000), c.CloseReason().Code)
		return nil
	})
	require.NoError(t, err)
}

// endSeen is what a handler waiting in Receive saw of the end of its connection.
type endSeen struct {
	receiveErr string
	reason     CloseReason
	answer     peerFrame // the frame the client got, if any
	answerErr  bool      // the client got none
}

// endSeenByReceive plays the client on a connection whose handler waits in Receive:
// end ends the connection; it returns what the handler and the client saw.
func endSeenByReceive(t *testing.T, tcp bool, end func(rc *rawClient)) endSeen {
	conns := make(chan *Conn, 1)
	results := make(chan error, 1)
	var seen endSeen
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		dial := serveOn(t, n, tcp, accepted(conns, func(ctx context.Context, c *Conn) error {
			_, err := c.Receive(ctx)
			results <- err
			return nil
		}), nil)
		nc := dial()
		defer nc.Close()
		rc := newRawClient(t, nc)
		c := <-conns
		if tcp {
			readerGone(t, c)
		}
		end(rc)
		seen.receiveErr = fmt.Sprint(<-results)
		f, err := readPeerFrame(nc)
		seen.answer, seen.answerErr = f, err != nil
		nc.Close()
		<-c.done()
		seen.reason = *c.CloseReason()
		return nil
	})
	require.NoError(t, err)
	return seen
}

func TestTheEndOfTheConnectionSeenByAReceiveIsReportedAsByTheReaderTask(t *testing.T) {
	cases := []struct {
		name string
		end  func(rc *rawClient)
		code StatusCode
	}{
		{"peer Close", func(rc *rawClient) { rc.send(proto.OpClose, "\x03\xe9bye") }, GoingAway},
		{"EOF", func(rc *rawClient) { rc.nc.(interface{ CloseWrite() error }).CloseWrite() }, AbnormalClosure},
		{"protocol violation", func(rc *rawClient) {
			rc.write(proto.AppendFrame(nil, true, proto.OpText, false, []byte("unmasked"), false, [4]byte{}))
		}, ProtocolError},
		{"invalid UTF-8", func(rc *rawClient) { rc.send(proto.OpText, "\xff") }, InvalidPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			overTCP := endSeenByReceive(t, true, tc.end)
			assert.Equal(t, tc.code, overTCP.reason.Code)
			assert.Contains(t, overTCP.receiveErr, strconv.Itoa(int(tc.code)))
			if tc.name == "EOF" {
				return // a pipe has no half close
			}
			overPipe := endSeenByReceive(t, false, tc.end)
			assert.Equal(t, overPipe, overTCP, "the Receive that reads (TCP) and the reader task (pipe) agree")
		})
	}
}

func TestConcurrentReceivesEachGetDistinctMessages(t *testing.T) {
	const receivers, each = 4, 50
	var mu sync.Mutex
	got := map[string]int{}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, _ := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			return nursery.Run(ctx, func(ctx context.Context, rn *nursery.Nursery) error {
				for range receivers {
					rn.Go(func(ctx context.Context) error {
						for range each {
							m, err := c.Receive(ctx)
							if err != nil {
								return err
							}
							mu.Lock()
							got[string(m.Data)]++
							mu.Unlock()
						}
						return nil
					})
				}
				return nil
			})
		})
		defer rc.nc.Close()
		for i := range receivers * each {
			rc.send(proto.OpText, strconv.Itoa(i))
		}
		rc.expect(proto.OpClose, string([]byte{0x03, 0xe8}))
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, got, receivers*each)
	for m, k := range got {
		assert.Equal(t, 1, k, "message %s", m)
	}
}

func TestMessagesQueuedWhileNobodyReceivesComeFirstAndInOrder(t *testing.T) {
	for _, queue := range []int{Rendezvous, 1, 8} {
		t.Run(fmt.Sprintf("queue=%d", queue), func(t *testing.T) {
			conns := make(chan *Conn, 1)
			busy, release := make(chan struct{}), make(chan struct{})
			var got []string
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				defer n.Scope().Cancel("test over")
				dial := serveOn(t, n, true, accepted(conns, func(ctx context.Context, c *Conn) error {
					m, err := c.Receive(ctx)
					if err != nil {
						return err
					}
					got = append(got, string(m.Data))
					close(busy)
					<-release
					for range 20 {
						m, err := c.Receive(ctx)
						if err != nil {
							return err
						}
						got = append(got, string(m.Data))
					}
					return nil
				}), &ServerOptions{MessageQueueSize: queue})
				nc := dial()
				defer nc.Close()
				rc := newRawClient(t, nc)
				<-conns
				rc.send(proto.OpText, "0")
				<-busy
				for i := 1; i <= 10; i++ {
					rc.send(proto.OpText, strconv.Itoa(i))
				}
				if queue >= 10 {
					rc.ping("all queued") // the reader task, started after the grace period, queued them
				}
				close(release)
				for i := 11; i <= 20; i++ {
					rc.send(proto.OpText, strconv.Itoa(i))
				}
				rc.expect(proto.OpClose, string([]byte{0x03, 0xe8}))
				return nil
			})
			require.NoError(t, err)
			want := make([]string, 21)
			for i := range want {
				want[i] = strconv.Itoa(i)
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestOwnerCancellationEndsTheReceiveThatReadsWithGoingAway(t *testing.T) {
	results := make(chan error, 1)
	var rc *rawClient
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		var c *Conn
		rc, c = serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			_, err := c.Receive(ctx)
			results <- err
			return nil
		})
		defer rc.nc.Close()
		readerGone(t, c)
		n.Scope().Cancel("shutting down") // drains the server
		rerr := <-results
		assert.True(t, errors.Is(rerr, context.Canceled) || CloseStatus(rerr) == GoingAway, "Receive: %v", rerr)
		f, err := readPeerFrame(rc.nc)
		require.NoError(t, err)
		assert.Equal(t, proto.OpClose, f.op)
		assert.Equal(t, []byte{0x03, 0xe9}, f.payload[:2])
		rc.send(proto.OpClose, "\x03\xe9")
		return nil
	})
	require.NoError(t, err)
}

// stackWaiting reports whether a goroutine's stack holds both fn and wait.
func stackWaiting(t *testing.T, fn, wait string) bool {
	t.Helper()
	var profile bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&profile, 1))
	for _, rec := range strings.Split(profile.String(), "\n\n") {
		if strings.Contains(rec, fn) && strings.Contains(rec, wait) {
			return true
		}
	}
	return false
}

func TestReceiveAndSendUnderDifferentCtxsAreEachInterruptedByTheirOwn(t *testing.T) {
	conns := make(chan *Conn, 1)
	cancels := make(chan [2]context.CancelFunc, 1)
	received, sent := make(chan error, 1), make(chan error, 1)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		dial := serveOn(t, n, true, accepted(conns, func(ctx context.Context, c *Conn) error {
			rctx, rcancel := context.WithCancel(ctx)
			sctx, scancel := context.WithCancel(ctx)
			cancels <- [2]context.CancelFunc{rcancel, scancel}
			return nursery.Run(ctx, func(ctx context.Context, hn *nursery.Nursery) error {
				hn.Go(func(context.Context) error {
					_, err := c.Receive(rctx)
					received <- err
					return nil
				})
				hn.Go(func(context.Context) error {
					// Far more than the socket buffers hold: the client reads nothing.
					sent <- c.Send(sctx, BinaryMessage, make([]byte, 64<<20))
					return nil
				})
				return nil
			})
		}), nil)
		nc := dial()
		defer nc.Close()
		newRawClient(t, nc)
		c := <-conns
		cs := <-cancels
		readerGone(t, c)
		waitUntil(t, "the Send is blocked writing", func() bool {
			return stackWaiting(t, "wsock.(*Conn).Send", "waitWrite")
		})
		cs[0]()
		assert.ErrorIs(t, <-received, context.Canceled, "the Receive's ctx interrupts its read")
		cs[1]()
		assert.ErrorIs(t, <-sent, context.Canceled, "the Send's ctx interrupts its write")
		return nil
	})
	require.NoError(t, err)
}

func TestOpenWhoseBodyWaitsInReceiveReportsThePeersCloseAsTheReaderTaskDid(t *testing.T) {
	logger, _ := captureLogger() // the failing handler's log
	sopts := &ServerOptions{Logger: logger}
	run := func(t *testing.T, tcp bool, h Handler) (bodyErr, openErr string) {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			defer n.Scope().Cancel("test over")
			var url string
			var opts *DialOptions
			if tcp {
				srv, err := Listen("127.0.0.1:0", sopts)
				require.NoError(t, err)
				n.Go(func(ctx context.Context) error { _ = srv.Serve(ctx, h); return nil })
				url = "ws://" + srv.Addr().String() + "/"
			} else {
				_, opts = servePipes(t, n, h, sopts)
				url = "ws://pipe/"
			}
			err := Open(ctx, url, opts, func(ctx context.Context, c *Conn) error {
				_, err := c.Receive(ctx)
				bodyErr = fmt.Sprint(err)
				return err
			})
			openErr = fmt.Sprint(err)
			return nil
		})
		require.NoError(t, err)
		return bodyErr, openErr
	}
	cases := map[string]Handler{
		"handler closes with 4000": func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			return c.Close(4000, "go away")
		},
		"handler fails": func(ctx context.Context, r *Request) error {
			if _, err := r.Accept(ctx, nil); err != nil {
				return err
			}
			return errors.New("handler failed")
		},
		"handler sends bad UTF-8": func(ctx context.Context, r *Request) error {
			c, err := r.Accept(ctx, nil)
			if err != nil {
				return err
			}
			_ = c.Send(ctx, TextMessage, []byte("\xff"))
			_, err = c.Receive(ctx)
			return err
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			tcpBody, tcpOpen := run(t, true, h)
			pipeBody, pipeOpen := run(t, false, h)
			assert.Equal(t, pipeBody, tcpBody, "the body's Receive")
			assert.Equal(t, pipeOpen, tcpOpen, "Open's result")
		})
	}
}

// turnState is a snapshot of c's grace timer: whether it is pending, and for how many
// more messages it is stopped when a Receive takes the turn.
func turnState(c *Conn) (holder turnHolder, armed bool, slow uint8) {
	c.turn.mu.Lock()
	defer c.turn.mu.Unlock()
	return c.turn.holder, c.turn.armed, c.turn.slow
}

// setReaderGrace makes every grace of the read turn last d until restore is called: the
// test ends graces itself, with endGrace.
func setReaderGrace(d time.Duration) (restore func()) {
	graceExtra.Store(int64(d - readerGrace))
	return func() { graceExtra.Store(0) }
}

// endGrace does what c's grace timer does when it runs, now: the timer must be pending.
func endGrace(t *testing.T, c *Conn) {
	t.Helper()
	c.turn.mu.Lock()
	pending := c.turn.timer != nil && c.turn.timer.Stop()
	c.turn.mu.Unlock()
	require.True(t, pending, "the grace timer is pending")
	c.graceOver()
}

func TestGraceTimerIsStoppedWhileMessagesComeSlowerThanTheGraceAndStillStartsTheTask(t *testing.T) {
	defer setReaderGrace(time.Hour)() // the test ends each grace
	got, release := make(chan string), make(chan struct{})
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer n.Scope().Cancel("test over")
		rc, c := serveRaw(t, n, func(ctx context.Context, c *Conn) error {
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return err
				}
				got <- string(m.Data)
				if string(m.Data) == "last" {
					<-release // busy elsewhere: nobody receives
					return nil
				}
			}
		})
		defer rc.nc.Close()
		inReceive := func() bool { h, _, _ := turnState(c); return h == turnCaller }
		waitUntil(t, "the handler waits in Receive", inReceive)

		// The grace ends while the handler waits in Receive, having given the turn
		// back once since the timer was armed (the open counts as that): the timer ran
		// for nothing, and messages come slowly.
		endGrace(t, c)
		_, _, slow := turnState(c)
		require.Equal(t, slowProbe, int(slow))

		// From then on the timer is stopped when a Receive takes the turn back, for
		// slowProbe messages; then it is left pending again.
		for k := slowProbe - 1; k >= 0; k-- {
			rc.send(proto.OpText, "slow")
			assert.Equal(t, "slow", <-got)
			waitUntil(t, "the handler receives again", inReceive)
			_, armed, slow := turnState(c)
			if !assert.False(t, armed, "the grace timer is pending while a Receive reads, %d messages before the probe", k) {
				break
			}
			assert.Equal(t, k, int(slow))
		}
		rc.send(proto.OpText, "probe")
		assert.Equal(t, "probe", <-got)
		waitUntil(t, "the handler receives again", inReceive)
		_, armed, _ := turnState(c)
		assert.True(t, armed, "after slowProbe messages the grace timer is left pending")
		endGrace(t, c)
		_, _, slow = turnState(c)
		assert.Equal(t, slowProbe, int(slow), "the timer that ran for nothing again sets the count afresh")
		assert.Zero(t, taskGoroutines(t, c.String()+" reader"), "the reader task started while a Receive read")

		// A handler that stops receiving still has its pings answered: giving the turn
		// back armed the timer (endGrace checks it is pending), whose end starts the task.
		rc.send(proto.OpText, "last")
		assert.Equal(t, "last", <-got)
		rc.write(frame(true, proto.OpPing, "are you there"))
		endGrace(t, c)
		rc.expect(proto.OpPong, "are you there")
		close(release)
		rc.expect(proto.OpClose, string([]byte{0x03, 0xe8}))
		return nil
	})
	require.NoError(t, err)
}
