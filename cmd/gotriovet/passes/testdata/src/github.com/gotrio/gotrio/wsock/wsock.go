// Package wsock is a stub of github.com/gotrio/gotrio/wsock with the real
// signatures, for the analyzers' tests.
package wsock

import (
	"context"

	"github.com/gotrio/gotrio/nursery"
)

type Conn struct{}

type MessageType int

const TextMessage MessageType = 1

type StatusCode int

const NormalClosure StatusCode = 1000

type Message struct {
	Type MessageType
	Data []byte
}

func (c *Conn) Receive(ctx context.Context) (Message, error) { return Message{}, nil }
func (c *Conn) SendText(ctx context.Context, s string) error { return nil }
func (c *Conn) Close(code StatusCode, reason string) error   { return nil }

type DialOptions struct{}

func Open(ctx context.Context, url string, opts *DialOptions, body func(ctx context.Context, c *Conn) error) error {
	return body(ctx, &Conn{})
}

func Connect(ctx context.Context, n *nursery.Nursery, url string, opts *DialOptions) (*Conn, error) {
	return &Conn{}, nil
}

type Request struct{}

type AcceptOptions struct{}

func (r *Request) Accept(ctx context.Context, opts *AcceptOptions) (*Conn, error) {
	return &Conn{}, nil
}

type Handler func(ctx context.Context, r *Request) error

type ServerOptions struct{}

func Serve(ctx context.Context, addr string, h Handler, opts *ServerOptions) error { return nil }
