// Package cancel is a stub of github.com/gotrio/gotrio/cancel with the real
// signatures, for the analyzers' tests.
package cancel

import (
	"context"
	"time"
)

type Scope struct{}

type Option func(*Scope)

func New(opts ...Option) *Scope { return &Scope{} }

func (s *Scope) Run(ctx context.Context, body func(ctx context.Context) error) error {
	return body(ctx)
}

func (s *Scope) Cancel(reason string) {}

func MoveOnAfter(ctx context.Context, d time.Duration, body func(ctx context.Context) error) (*Scope, error) {
	return &Scope{}, body(ctx)
}

func FailAfter(ctx context.Context, d time.Duration, body func(ctx context.Context) error) error {
	return body(ctx)
}

func Sleep(ctx context.Context, d time.Duration) error { return ctx.Err() }
