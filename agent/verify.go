package agent

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// inbox hands messages from paho's router to the agent loop without ever
// blocking it (a blocking handler starves paho's keepalive). It is bounded
// in count and in bytes: when full, the oldest message of the same topic is
// dropped first (a newer state snapshot supersedes it anyway), else the
// oldest message.
type inbox struct {
	mu     sync.Mutex
	msgs   []message
	bytes  int
	signal chan struct{}
}

type message struct {
	topic   string
	payload []byte
}

const (
	inboxMax      = 64
	inboxMaxBytes = 4 << 20 // 16 whole envelopes; 64 would be 16 MiB
)

// put appends m and returns how many older messages it dropped to make room.
func (b *inbox) put(m message) (dropped int) {
	b.mu.Lock()
	for len(b.msgs) > 0 && (len(b.msgs) >= inboxMax || b.bytes+len(m.payload) > inboxMaxBytes) {
		drop := 0
		for i, x := range b.msgs {
			if x.topic == m.topic {
				drop = i
				break
			}
		}
		b.bytes -= len(b.msgs[drop].payload)
		b.msgs = append(b.msgs[:drop], b.msgs[drop+1:]...)
		dropped++
	}
	b.msgs = append(b.msgs, m)
	b.bytes += len(m.payload)
	b.mu.Unlock()
	signal(b.signal)
	return dropped
}

func (b *inbox) drain() []message {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.msgs
	b.msgs, b.bytes = nil, 0
	return m
}

// handle verifies and applies one message; it reports whether the stored
// state or the schedule changed.
func (a *Agent) handle(m message) bool {
	t, err := wire.ParseTopic(m.topic)
	if err != nil {
		a.reject(m.topic, "", 0, err)
		return false
	}
	switch t.Kind {
	case wire.TopicState:
		return a.handleSnapshot(m.topic, t.Scope, m.payload)
	case wire.TopicCmd:
		if t.Device != a.o.DeviceID {
			a.reject(m.topic, "", 0, fmt.Errorf("%w: command topic of device %s", wire.ErrWrongDevice, t.Device))
			return false
		}
		return a.handleCommand(m.topic, m.payload)
	}
	a.reject(m.topic, "", 0, fmt.Errorf("%w: %s topics are not for agents", wire.ErrTopic, t.Kind))
	return false
}

func (a *Agent) ourScope(sc wire.Scope) bool {
	for _, s := range a.scopes {
		if s == sc {
			return true
		}
	}
	return false
}

// handleSnapshot: topic scope ours, signature + form (wire.OpenSnapshot),
// seq above the persisted one, fresh on the central-time estimate; then one
// transaction stores it.
func (a *Agent) handleSnapshot(topic string, sc wire.Scope, env []byte) bool {
	if !a.ourScope(sc) {
		err := fmt.Errorf("%w: scope %s is not one of this device's", wire.ErrWrongScope, sc)
		if sc.Kind == wire.ScopeDevice {
			err = fmt.Errorf("%w: state for device %s", wire.ErrWrongDevice, sc.ID)
		}
		a.reject(topic, sc.String(), 0, err)
		return false
	}
	if a.cache.Duplicate(sc, env) {
		// the retained snapshot again (resubscribe after reconnect): not news
		a.bump(func(s *Stats) { s.Duplicates++ })
		return false
	}
	s, err := wire.OpenSnapshot(env, a.o.Keys, sc)
	if err != nil {
		a.reject(topic, sc.String(), 0, err)
		return false
	}
	if err := wire.CheckSeq(sc, a.cache.Seq(sc), s.Seq); err != nil {
		a.reject(topic, sc.String(), s.Seq, err)
		return false
	}
	if err := a.checkFresh(s.Issued, s.Expires); err != nil {
		a.reject(topic, sc.String(), s.Seq, err)
		return false
	}
	central := a.cc.now()
	if s.Issued.After(central) {
		central = s.Issued
	}
	if err := a.cache.Accept(env, s, central); err != nil {
		// disk full or similar: nothing changed, the old state stays
		a.log.Error("persist snapshot", "scope", sc.String(), "seq", s.Seq, "err", err)
		a.reject(topic, sc.String(), s.Seq, err)
		return false
	}
	a.cc.observe(s.Issued)
	a.log.Info("snapshot accepted", "scope", sc.String(), "seq", s.Seq, "alerts", len(s.Alerts), "items", len(s.Campaign))
	a.bump(func(st *Stats) { st.Accepted++ })
	a.publishEvent(wire.Event{Kind: wire.EventReceived, Scope: sc.String(), Seq: s.Seq})
	return true
}

// checkFresh applies wire.CheckFresh on the central-time estimate. Two cases
// are softened because the estimate is only a lower bound there: before any
// snapshot was received in this run (no reference, or only the persisted
// one from before a restart), an issued time ahead of our clock is accepted
// (central signed it, so central's clock had reached it; our clock is
// behind, e.g. an RTC reset after a power cut). Expiry is never softened.
func (a *Agent) checkFresh(issued, expires time.Time) error {
	err := wire.CheckFresh(issued, expires, a.cc.now(), a.o.ClockSkew)
	if errors.Is(err, wire.ErrNotYetValid) && !a.cc.isLive() {
		a.log.Warn("clock warning: signed issued time is ahead of this device's clock; trusting central's time",
			"issued", issued.UTC().Format(time.RFC3339), "device_estimate", a.cc.now().UTC().Format(time.RFC3339))
		return nil
	}
	if errors.Is(err, wire.ErrExpired) && !a.cc.isLive() && issued.After(a.cc.now().Add(-24*time.Hour)) {
		// never softened (it could be a replayed old snapshot), but if
		// central re-issues daily, something issued within a day and
		// "expired" more likely means this device's clock is ahead
		a.log.Warn("clock warning: snapshot looks expired on this device's clock; if the clock is ahead, fix it (NTP)",
			"issued", issued.UTC().Format(time.RFC3339), "expires", expires.UTC().Format(time.RFC3339), "device_estimate", a.cc.now().UTC().Format(time.RFC3339))
	}
	return err
}
