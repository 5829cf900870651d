package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"sync"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsjson"
)

// outboxSize is how many messages may wait for a member's writer; a member that falls
// further behind is evicted rather than slowing its room down.
const outboxSize = 64

// defaultRoom is the room of a connection whose URL names none.
const defaultRoom = "lobby"

// roomName is what a room may be called: it is part of a NATS subject.
var roomName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// event is what a node sends its members, as JSON text messages: "hello" once, when the
// member has joined, and "chat" for every message of the room.
type event struct {
	Kind string `json:"kind"`           // "hello" or "chat"
	Node string `json:"node"`           // hello: this node; chat: the node the message came in on
	Room string `json:"room"`           // the member's room
	Text string `json:"text,omitempty"` // chat: what the member sent
}

// rooms are the members of every room on this node.
type rooms struct {
	node    string
	logger  *slog.Logger
	publish func(room string, data []byte) error

	mu      sync.Mutex
	members map[string]map[*member]struct{} // by room
}

func newRooms(node string, logger *slog.Logger) *rooms {
	return &rooms{node: node, logger: logger, members: make(map[string]map[*member]struct{})}
}

// member is one connection's queue of messages to send.
type member struct {
	outbox    chan *wsock.PreparedMessage
	evicted   chan struct{} // closed when the outbox overflowed
	evictOnce sync.Once
}

func (rs *rooms) join(room string) *member {
	m := &member{outbox: make(chan *wsock.PreparedMessage, outboxSize), evicted: make(chan struct{})}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.members[room] == nil {
		rs.members[room] = make(map[*member]struct{})
	}
	rs.members[room][m] = struct{}{}
	return m
}

func (rs *rooms) leave(room string, m *member) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.members[room], m)
	if len(rs.members[room]) == 0 {
		delete(rs.members, room)
	}
}

// deliver queues a message of room, as the broker delivered it, for each of the room's
// members on this node, without waiting for any of them. The event is encoded once, for
// the whole cluster, by the node the message came in on, and framed (and compressed, for
// members with permessage-deflate) once per node, by the first member's writer that
// sends it.
func (rs *rooms) deliver(room string, data []byte) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.members[room]) == 0 {
		return
	}
	pm := wsock.NewPreparedMessage(wsock.TextMessage, data)
	for m := range rs.members[room] {
		select {
		case m.outbox <- pm:
		default:
			m.evictOnce.Do(func() { close(m.evicted) })
		}
	}
}

// handle is the WebSocket handler, called once per connection. The member joins before
// the handshake completes and is greeted before anything else is sent to it, so a client
// that has read its hello receives every later message of its room.
func (rs *rooms) handle(ctx context.Context, r *wsock.Request) error {
	room := r.URL().Query().Get("room")
	if room == "" {
		room = defaultRoom
	}
	if !roomName.MatchString(room) {
		return r.Reject(ctx, http.StatusBadRequest, nil, []byte("bad room name\n"))
	}
	m := rs.join(room)
	defer rs.leave(room, m)
	c, err := r.Accept(ctx, nil)
	if err != nil {
		return err
	}
	if err := wsjson.Send(ctx, c, event{Kind: "hello", Node: rs.node, Room: room}); err != nil {
		return ignoreClosed(err)
	}
	rs.logger.Info("member joined", "conn", c.String(), "room", room, "remote", c.RemoteAddr().String())
	defer rs.logger.Info("member left", "conn", c.String(), "room", room)
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed(c.String()+" writer", func(ctx context.Context) error {
			return m.write(ctx, c)
		})
		for {
			msg, err := c.Receive(ctx)
			if errors.Is(err, wsock.ErrClosed) {
				n.Scope().Cancel("member left")
				return nil
			}
			if err != nil {
				return err
			}
			if msg.Type != wsock.TextMessage {
				continue
			}
			data, err := json.Marshal(event{Kind: "chat", Node: rs.node, Room: room, Text: string(msg.Data)})
			msg.Release()
			if err != nil {
				return err
			}
			if err := rs.publish(room, data); err != nil {
				// Core NATS is at most once: while the broker is away, messages are dropped.
				rs.logger.Warn("message dropped", "conn", c.String(), "err", err)
			}
		}
	})
}

// write sends the member's queued messages until the connection closes, the handler's
// scope ends, or the member is evicted for falling behind.
func (m *member) write(ctx context.Context, c *wsock.Conn) error {
	for {
		select {
		case pm := <-m.outbox:
			if err := c.SendPrepared(ctx, pm); err != nil {
				return ignoreClosed(err)
			}
		case <-m.evicted:
			return c.Close(wsock.PolicyViolation, "too slow to keep up")
		case <-ctx.Done():
			return nil
		}
	}
}

// ignoreClosed turns the error of a connection that closed under us into nil: the member
// left, which is no failure of the handler.
func ignoreClosed(err error) error {
	if errors.Is(err, wsock.ErrClosed) {
		return nil
	}
	return err
}
