// Package nursery has the name and the API of gotrio's nursery but another
// import path: the checks know gotrio's objects by identity, not by name.
package nursery

import "context"

type Nursery struct{}

func Run(ctx context.Context, body func(ctx context.Context, n *Nursery) error) error {
	return body(ctx, &Nursery{})
}
