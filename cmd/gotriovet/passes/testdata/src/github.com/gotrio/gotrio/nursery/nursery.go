// Package nursery is a stub of github.com/gotrio/gotrio/nursery with the
// real signatures, for the analyzers' tests.
package nursery

import (
	"context"

	"github.com/gotrio/gotrio/cancel"
)

type Nursery struct{ scope *cancel.Scope }

func Run(ctx context.Context, body func(ctx context.Context, n *Nursery) error) error {
	return body(ctx, &Nursery{})
}

func (n *Nursery) Scope() *cancel.Scope { return n.scope }

func (n *Nursery) Go(fn func(ctx context.Context) error) {
	go fn(context.TODO()) // the one package where go statements belong
}

func (n *Nursery) GoNamed(name string, fn func(ctx context.Context) error) { n.Go(fn) }

type TaskStatus[T any] interface{ Started(v T) }

func Start[T any](ctx context.Context, n *Nursery, fn func(ctx context.Context, ts TaskStatus[T]) error) (T, error) {
	var zero T
	return zero, fn(ctx, nil)
}
