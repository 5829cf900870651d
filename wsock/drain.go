package wsock

import (
	"context"
	"sync"
)

// connSet is the set of connections a server serves, and its graceful drain:
// the native Server and HTTPHandler share it, so that both shut down the same
// way. A connection is added when serving it begins (before its opening
// handshake is read, or, behind net/http, before the connection is taken
// over) and removed once its task (the Server's, or the ServeHTTP call) has
// joined everything it started: the handler, the reader and the keep-alive.
type connSet struct {
	mu       sync.Mutex
	draining bool
	live     map[*Request]struct{}
	idle     chan struct{} // closed once draining and live is empty
}

func newConnSet() *connSet {
	return &connSet{live: make(map[*Request]struct{}), idle: make(chan struct{})}
}

// add records r as being served. It reports false, adding nothing, once the
// set is draining: the caller then refuses the connection.
func (s *connSet) add(r *Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.live[r] = struct{}{}
	return true
}

// remove records that serving r is over: everything it started has returned.
func (s *connSet) remove(r *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, r)
	s.idleLocked()
}

// drain refuses new connections and shuts every live one down (see
// Request.shutdown): handlers are cancelled, and the connections' readers
// close them with 1001 (GoingAway) and carry out the closing handshakes,
// each bounded by DisconnectTimeout. It does not wait; wait does. Calling it
// again does nothing.
func (s *connSet) drain() {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return
	}
	s.draining = true
	live := make([]*Request, 0, len(s.live))
	for r := range s.live {
		live = append(live, r)
	}
	s.idleLocked()
	s.mu.Unlock()
	for _, r := range live {
		r.shutdown()
	}
}

func (s *connSet) idleLocked() {
	if s.draining && len(s.live) == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
}

// wait waits, after drain, until no connection is left, or until ctx is
// done (its error).
func (s *connSet) wait(ctx context.Context) error {
	select {
	case <-s.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
