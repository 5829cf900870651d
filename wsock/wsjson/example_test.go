package wsjson_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsjson"
)

// A server that adds the numbers it receives and a client that sends them, as JSON.
func Example() {
	type sum struct {
		Terms []int `json:"terms"`
		Total int   `json:"total"`
	}
	adder := func(ctx context.Context, r *wsock.Request) error {
		c, err := r.Accept(ctx, nil)
		if err != nil {
			return err
		}
		var s sum
		if err := wsjson.Receive(ctx, c, &s); err != nil {
			return err
		}
		for _, t := range s.Terms {
			s.Total += t
		}
		return wsjson.Send(ctx, c, s)
	}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		srv, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", adder, nil))
		if err != nil {
			return err
		}
		defer n.Scope().Cancel("done")
		url := "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/sum"
		return wsock.Open(ctx, url, nil, func(ctx context.Context, c *wsock.Conn) error {
			if err := wsjson.Send(ctx, c, sum{Terms: []int{1, 2, 3}}); err != nil {
				return err
			}
			var s sum
			if err := wsjson.Receive(ctx, c, &s); err != nil {
				return err
			}
			fmt.Println(s.Total)
			return nil
		})
	})
	fmt.Println("error:", err)
	// Output:
	// 6
	// error: <nil>
}
