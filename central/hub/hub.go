package hub

import (
	"context"
	"sync"

	"github.com/atmguard/kiosk/central"
)

// Buffer is the per-subscriber channel capacity.
const Buffer = 1024

// Hub is safe for concurrent use. The zero value is ready.
type Hub struct {
	mu   sync.Mutex
	subs map[*sub]struct{}
}

type sub struct {
	ch     chan central.Change
	lagged bool
}

// Subscribe returns a channel of changes, closed when ctx is done.
func (h *Hub) Subscribe(ctx context.Context) <-chan central.Change {
	s := &sub{ch: make(chan central.Change, Buffer)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*sub]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		delete(h.subs, s)
		close(s.ch)
		h.mu.Unlock()
	})
	return s.ch
}

// Publish delivers c to every subscriber that has room.
func (h *Hub) Publish(c central.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.lagged {
			select {
			case s.ch <- central.Change{Kind: central.ChangeResync, Time: c.Time}:
				s.lagged = false
			default:
				continue
			}
		}
		select {
		case s.ch <- c:
		default:
			s.lagged = true
		}
	}
}

// Subscribers is the number of live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
