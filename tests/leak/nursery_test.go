package leak

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

func TestFirstFailingClientCancelsItsSiblingsAndEveryoneIsJoined(t *testing.T) {
	defer goleak.VerifyNone(t)
	const clients = 6
	errFirst := errors.New("client 0 fails")
	scenario(t, func() {
		seen := make(chan wsock.StatusCode, clients)
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				c, err := r.Accept(ctx, nil)
				if err != nil {
					return err
				}
				for {
					m, err := c.Receive(ctx)
					if err != nil {
						seen <- closeCode(err)
						return nil
					}
					if err := c.Send(ctx, m.Type, m.Data); err != nil {
						seen <- closeCode(err)
						return nil
					}
				}
			}, nil)
			defer ts.Close()
			// The clients run in a nursery of their own, so that the first
			// failure cancels them and not the server.
			ready := make(chan struct{}, clients)
			clientsErr := nursery.Run(ctx, func(ctx context.Context, clientsN *nursery.Nursery) error {
				for i := range clients {
					clientsN.GoNamed("client "+strconv.Itoa(i), func(ctx context.Context) error {
						return wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, c *wsock.Conn) error {
							if err := c.SendText(ctx, "hello"); err != nil {
								return err
							}
							if _, err := c.Receive(ctx); err != nil {
								return err
							}
							if i == 0 {
								for range clients - 1 {
									<-ready
								}
								return errFirst
							}
							ready <- struct{}{}
							_, err := c.Receive(ctx) // until the nursery is cancelled
							return err
						})
					})
				}
				return nil
			})
			var group *nursery.ErrorGroup
			require.ErrorAs(t, clientsErr, &group)
			require.Len(t, group.Errs, 1, "the siblings' cancellations are stripped: %v", clientsErr)
			assert.ErrorIs(t, clientsErr, errFirst)
			codes := map[wsock.StatusCode]int{}
			for range clients {
				codes[<-seen]++
			}
			assert.Equal(t, 1, codes[wsock.InternalError], "the failed client closes with 1011: %v", codes)
			assert.Equal(t, clients-1, codes[wsock.GoingAway], "the cancelled clients close with 1001: %v", codes)
			return nil
		})
		require.NoError(t, err)
	})
}

func TestOpenCancelledFromOutsideClosesWithGoingAway(t *testing.T) {
	defer goleak.VerifyNone(t)
	const (
		rounds  = 100
		clients = 5
	)
	scenario(t, func() {
		err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			seen := make(chan wsock.StatusCode, clients)
			ts := wsocktest.NewServer(t, func(ctx context.Context, r *wsock.Request) error {
				c, err := r.Accept(ctx, nil)
				if err != nil {
					return err
				}
				_, err = c.Receive(ctx)
				seen <- closeCode(err)
				return nil
			}, nil)
			defer ts.Close()
			for round := range rounds {
				var clientReasons [clients]*wsock.CloseReason
				_ = nursery.Run(ctx, func(ctx context.Context, clientsN *nursery.Nursery) error {
					ready := make(chan struct{}, clients)
					for i := range clients {
						clientsN.Go(func(ctx context.Context) error {
							var c *wsock.Conn
							err := wsock.Open(ctx, ts.URL(), &wsock.DialOptions{Logger: quiet}, func(ctx context.Context, oc *wsock.Conn) error {
								//gotrio:connescape the test reads c.CloseReason after Open returned, to check how Open closed it
								c = oc
								if err := c.Ping(ctx, nil); err != nil {
									return err
								}
								ready <- struct{}{}
								_, err := c.Receive(ctx) // until cancelled
								return err
							})
							assert.True(t, cancel.IsCancellation(err), "Open: %v", err)
							clientReasons[i] = c.CloseReason()
							return nil
						})
					}
					for range clients {
						<-ready
					}
					clientsN.Scope().Cancel("the clients are cancelled from outside")
					return nil
				})
				for i := range clients {
					require.Equal(t, wsock.GoingAway, <-seen, "round %d: the server saw", round)
					require.Equal(t, wsock.GoingAway, clientReasons[i].Code, "round %d: client %d closed with", round, i)
				}
			}
			return nil
		})
		require.NoError(t, err)
	})
}

// receiveWithin receives one message within d: ok is false if d passed first.
func receiveWithin(ctx context.Context, c *wsock.Conn, d time.Duration) (m wsock.Message, ok bool, err error) {
	s, err := cancel.MoveOnAfter(ctx, d, func(ctx context.Context) error {
		var err error
		m, err = c.Receive(ctx)
		return err
	})
	return m, !s.CancelledCaught(), err
}

func TestTimeoutScopesAroundReceiveInNestedNurseriesKeepTheConnection(t *testing.T) {
	defer goleak.VerifyNone(t)
	scenario(t, func() {
		synctest.Test(t, func(t *testing.T) {
			const tasks = 3
			err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
				// The server's handler waits in timeouts of its own too: it
				// counts those that expire before the first message.
				ps := wsocktest.NewServer(t,
					func(ctx context.Context, r *wsock.Request) error {
						c, err := r.Accept(ctx, nil)
						if err != nil {
							return err
						}
						expired := 0
						for {
							m, ok, err := receiveWithin(ctx, c, time.Second)
							if err != nil {
								return nil // closed
							}
							if !ok {
								expired++
								continue
							}
							reply := fmt.Sprintf("%s after %d timeouts", m.Data, expired)
							if err := c.SendText(ctx, reply); err != nil {
								return nil
							}
						}
					}, &wsocktest.Options{Pipe: true, Server: &wsock.ServerOptions{Logger: quiet}})
				defer ps.Close()
				start := time.Now()
				opts := &wsock.DialOptions{DialContext: ps.DialOptions().DialContext, Logger: quiet}
				return wsock.Open(ctx, "ws://example.com/", opts, func(ctx context.Context, c *wsock.Conn) error {
					// Timeouts nested two nurseries deep, of different lengths,
					// all around Receive of the same connection.
					err := nursery.Run(ctx, func(ctx context.Context, outer *nursery.Nursery) error {
						for i := range tasks {
							outer.Go(func(ctx context.Context) error {
								return nursery.Run(ctx, func(ctx context.Context, inner *nursery.Nursery) error {
									inner.Go(func(ctx context.Context) error {
										m, ok, err := receiveWithin(ctx, c, time.Duration(i+1)*time.Second+time.Second/2)
										if ok {
											return fmt.Errorf("task %d received %q that nobody sent", i, m.Data)
										}
										return err
									})
									return nil
								})
							})
						}
						return nil
					})
					if err != nil {
						return err
					}
					assert.Equal(t, time.Duration(tasks)*time.Second+time.Second/2, time.Since(start))
					// The connection survived every timeout, on both sides.
					if err := c.SendText(ctx, "hello"); err != nil {
						return err
					}
					m, ok, err := receiveWithin(ctx, c, time.Second)
					require.NoError(t, err)
					require.True(t, ok, "no answer within a second")
					assert.Equal(t, fmt.Sprintf("hello after %d timeouts", tasks), string(m.Data))
					assert.Nil(t, c.CloseReason())
					return nil
				})
			})
			require.NoError(t, err)
			requireBubbleClean(t)
		})
	})
}
