package agent

import (
	"sync"
	"time"

	"github.com/atmguard/kiosk/internal/clock"
)

// centralClock estimates central's current time without trusting the
// display's wall clock: the issued time of the newest accepted snapshot plus
// the monotonic time elapsed since it was received. The estimate never runs
// backwards (a retained snapshot issued minutes ago does not pull it back).
//
// Before any snapshot was ever accepted there is no reference and the wall
// clock is all there is (see verifyFresh for how that case is handled).
// After a restart the reference is the persisted estimate: time spent powered
// off is not counted, so content can outlive its expiry by at most the
// downtime, until the retained snapshots of the reconnect replace it.
type centralClock struct {
	clk clock.Clock

	mu       sync.Mutex
	base     time.Time
	baseMono time.Duration
	ok       bool
	live     bool // set by a snapshot received in this run (not only persisted)
}

func (c *centralClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *centralClock) nowLocked() time.Time {
	if !c.ok {
		return c.clk.Now()
	}
	return c.base.Add(c.clk.Mono() - c.baseMono)
}

// hasReference reports whether a snapshot (or a persisted estimate) has set
// the clock.
func (c *centralClock) hasReference() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok
}

// observe moves the estimate to t (central's time now, from a snapshot
// accepted in this run) if that is later.
func (c *centralClock) observe(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() {
		return
	}
	c.live = true
	if c.ok && !t.After(c.nowLocked()) {
		return
	}
	c.base, c.baseMono, c.ok = t, c.clk.Mono(), true
}

// observePersisted starts from the estimate saved before a restart. It is a
// lower bound only (downtime is not counted), so it is not "live": a newer
// signed issued time is not refused as being in the future.
func (c *centralClock) observePersisted(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() || c.ok {
		return
	}
	c.base, c.baseMono, c.ok = t, c.clk.Mono(), true
}

// isLive reports whether a snapshot accepted in this run set the estimate.
func (c *centralClock) isLive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// skew is wall clock minus the estimate (0 without a reference).
func (c *centralClock) skew() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok {
		return 0
	}
	return c.clk.Now().Sub(c.nowLocked())
}
