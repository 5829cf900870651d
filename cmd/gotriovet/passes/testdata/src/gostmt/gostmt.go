package gostmt

import (
	"context"

	"github.com/gotrio/gotrio/nursery"
)

func work() {}

func bare() {
	go work()   // want `go statement outside a nursery`
	go func() { // want `go statement outside a nursery`
		work()
	}()
}

func inNursery(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error { work(); return nil })
		go work() // want `go statement outside a nursery`
		return nil
	})
}

func optedOut() {
	go work() //gotrio:go the reason on the same line

	//gotrio:go the reason on the line above
	go work()

	//gotrio:go	a tab also separates the reason
	go work()
}

func bareOptOut() {
	//gotrio:go
	go work() // want `//gotrio:go needs a reason`
}

func strayOptOut() {
	//gotrio:go annotates nothing // want `//gotrio:go allows nothing here`
	work()

	//gotrio:go two lines above is too far // want `//gotrio:go allows nothing here`

	go work() // want `go statement outside a nursery`
}

func notTheDirective() {
	//gotrio:gone is another word
	go work() // want `go statement outside a nursery`
}
