package wsock

import (
	"context"
	"errors"
	"sync"
	"time"
)

// RoomOptions tune a Room; nil means defaults.
type RoomOptions struct {
	// MaxBacklog bounds the messages posted and not yet taken by the room's task: Post
	// waits while that many are. Default 1024.
	MaxBacklog int
	// SendTimeout bounds each member's send of a round, as BroadcastOptions.SendTimeout:
	// a member that does not take the round within it is removed from the room. Default
	// 0: bounded by Run's ctx alone.
	SendTimeout time.Duration
}

// DefaultRoomBacklog is RoomOptions.MaxBacklog's default.
const DefaultRoomBacklog = 1024

// Room is a set of connections, its members, and the messages posted to them: a chat
// room. Post queues a message and returns; Run, the room's task (run it in a nursery),
// sends in rounds: each round takes everything posted since the last one and broadcasts
// it to every member as one PreparedBatch (see BroadcastBatch), so that a busy room costs
// each server connection one write per round, however many messages the round holds.
//
// Every member receives the room's messages in the order they were posted. A member whose
// send fails (it closed, or SendTimeout passed) is removed from the room; its handler
// sees its connection fail or close as with any other send. Members join and leave at
// any time; a message posted after Join returns reaches the new member. A Room is safe for
// concurrent use; Run must not be called twice at once.
type Room struct {
	maxBacklog int
	timeout    time.Duration

	mu      sync.Mutex
	members map[*Conn]struct{}
	list    []*Conn // members, as a slice for the next round; nil: to rebuild
	backlog []*PreparedMessage
	taken   chan struct{} // closed when a round takes the backlog; made by a waiting Post
	ready   chan struct{} // 1-slot: the backlog is not empty
	running bool
	rounds  int // rounds sent, for tests
}

// NewRoom returns an empty room.
func NewRoom(opts *RoomOptions) *Room {
	r := &Room{maxBacklog: DefaultRoomBacklog, members: make(map[*Conn]struct{}), ready: make(chan struct{}, 1)}
	if opts != nil {
		if opts.MaxBacklog > 0 {
			r.maxBacklog = opts.MaxBacklog
		}
		r.timeout = opts.SendTimeout
	}
	return r
}

// Join makes c a member of the room. It panics if c is nil.
func (r *Room) Join(c *Conn) {
	if c == nil {
		panic("wsock: Room.Join with a nil *Conn")
	}
	r.mu.Lock()
	if _, ok := r.members[c]; !ok {
		r.members[c] = struct{}{}
		r.list = nil
	}
	r.mu.Unlock()
}

// Leave removes c from the room, if it is a member. A round already under way may still
// send to it.
func (r *Room) Leave(c *Conn) {
	r.mu.Lock()
	if _, ok := r.members[c]; ok {
		delete(r.members, c)
		r.list = nil
	}
	r.mu.Unlock()
}

// Len returns the number of members.
func (r *Room) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// Post queues pm for every member and returns; the room's task sends it in its next
// round. While MaxBacklog messages wait to be taken, Post waits until a round takes them
// or ctx is done, and then returns ctx's error. It panics if pm is nil.
func (r *Room) Post(ctx context.Context, pm *PreparedMessage) error {
	if pm == nil {
		panic("wsock: Room.Post with a nil *PreparedMessage")
	}
	for {
		r.mu.Lock()
		if len(r.backlog) < r.maxBacklog {
			r.backlog = append(r.backlog, pm)
			r.mu.Unlock()
			select {
			case r.ready <- struct{}{}:
			default: // the task is told already
			}
			return nil
		}
		if r.taken == nil {
			r.taken = make(chan struct{})
		}
		taken := r.taken
		r.mu.Unlock()
		select {
		case <-taken:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Run is the room's task: it sends the posted messages in rounds until ctx is done, and
// then returns ctx's error; messages posted and not yet sent are dropped. A round sends
// to the members with Broadcast (one message) or BroadcastBatch (several), whose workers
// it joins before the next round, and removes the members it could not send to. It
// panics if another Run of the room is running.
func (r *Room) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		panic("wsock: Room.Run called twice at once")
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()
	opts := &BroadcastOptions{SendTimeout: r.timeout}
	for {
		select {
		case <-r.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		pms, members := r.take()
		if len(pms) == 0 {
			continue
		}
		var err error
		if len(pms) == 1 {
			err = Broadcast(ctx, pms[0], members, opts)
		} else {
			err = BroadcastBatch(ctx, &PreparedBatch{msgs: pms}, members, opts)
		}
		var berr *BroadcastError
		if errors.As(err, &berr) {
			for _, f := range berr.Failed {
				r.Leave(f.Conn)
			}
		}
		r.mu.Lock()
		r.rounds++
		r.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// take returns the backlog, which it empties, and the members, for a round.
func (r *Room) take() ([]*PreparedMessage, []*Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pms := r.backlog
	r.backlog = nil
	if r.taken != nil {
		close(r.taken)
		r.taken = nil
	}
	if r.list == nil {
		r.list = make([]*Conn, 0, len(r.members))
		for c := range r.members {
			r.list = append(r.list, c)
		}
	}
	return pms, r.list
}
