package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// The agent's loop must never wait for the network: paho's Publish can
// block for the whole write timeout when its outbound queue is full, which
// would delay expiry and local triggers. Statuses and events therefore go
// through a bounded outbox that one goroutine (sendLoop, owned by Run)
// hands to paho.
const outboxMax = 64

// rejectWindow: at most one rejected event and one log line per (reason,
// scope) per window; further rejections are counted and reported in one
// summary event when the window ends, so a broker flooding forged
// messages cannot make the agent spam.
const rejectWindow = time.Minute

// rejectKeysMax bounds the per-(reason, scope) table; a flood of invented
// scopes shares one entry per reason beyond it.
const rejectKeysMax = 128

type outMsg struct {
	topic    string
	retained bool
	payload  []byte
}

type rejKey struct{ reason, scope string }

type rejState struct {
	sent    time.Duration // clock.Mono of the last report for this key
	pending int           // rejections since, not reported yet
	last    wire.Event    // the newest of them
	topic   string
	err     string
}

type outbox struct {
	mu      sync.Mutex
	q       []outMsg
	dropped int
	sig     chan struct{}
	rej     map[rejKey]*rejState
}

func (a *Agent) enqueue(topic string, retained bool, payload []byte) {
	a.out.mu.Lock()
	if len(a.out.q) >= outboxMax {
		a.out.q = a.out.q[1:]
		a.out.dropped++
	}
	a.out.q = append(a.out.q, outMsg{topic: topic, retained: retained, payload: payload})
	a.out.mu.Unlock()
	signal(a.out.sig)
}

func (a *Agent) pop() (outMsg, int, bool) {
	a.out.mu.Lock()
	defer a.out.mu.Unlock()
	d := a.out.dropped
	a.out.dropped = 0
	if len(a.out.q) == 0 {
		return outMsg{}, d, false
	}
	m := a.out.q[0]
	a.out.q = a.out.q[1:]
	return m, d, true
}

// sendLoop publishes what the outbox holds and the rejection summaries as
// they fall due, until ctx ends.
func (a *Agent) sendLoop(ctx context.Context) {
	var t clock.Timer
	var tc <-chan time.Time
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		for {
			m, dropped, ok := a.pop()
			if dropped > 0 {
				a.log.Warn("outbox full; dropped older statuses/events", "dropped", dropped)
			}
			if !ok {
				break
			}
			if a.client != nil && a.client.IsConnectionOpen() {
				a.client.Publish(m.topic, 1, m.retained, m.payload)
			}
		}
		wait := a.flushRejections()
		switch {
		case wait > 0 && t == nil:
			t = a.clk.NewTimer(wait)
			tc = t.C()
		case wait > 0:
			t.Reset(wait)
			tc = t.C()
		case t != nil:
			t.Stop()
			tc = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-a.out.sig:
		case <-tc:
		}
	}
}

// flushRejections reports the summaries whose window is over and returns
// how long until the next one is due (0: none pending).
func (a *Agent) flushRejections() time.Duration {
	now := a.clk.Mono()
	type due struct {
		st    rejState
		count int
	}
	var out []due
	var next time.Duration
	a.out.mu.Lock()
	for k, st := range a.out.rej {
		age := now - st.sent
		switch {
		case st.pending > 0 && age >= rejectWindow:
			out = append(out, due{st: *st, count: st.pending})
			st.sent, st.pending = now, 0
		case st.pending > 0:
			if w := rejectWindow - age; next == 0 || w < next {
				next = w
			}
		case age >= rejectWindow:
			delete(a.out.rej, k)
		}
	}
	a.out.mu.Unlock()
	for _, d := range out {
		a.reportRejection(d.st.topic, d.st.last, d.st.err, d.count)
	}
	return next
}

// reject counts a refused message; it is logged and published as a
// "rejected" event at most once per (reason, scope) per rejectWindow, the
// rest in a summary carrying their count. Safe from any goroutine.
func (a *Agent) reject(topic string, sc string, seq uint64, err error) {
	a.bump(func(s *Stats) { s.Rejected[wire.Reason(err)]++ })
	a.reportLimited(topic, sc, seq, err)
}

// reportLimited logs and publishes a rejection already counted, within the
// per-(reason, scope) rate limit.
func (a *Agent) reportLimited(topic string, sc string, seq uint64, err error) {
	reason := wire.Reason(err)
	ev := wire.Event{Kind: wire.EventRejected, Scope: sc, Seq: seq, Reason: reason}
	now := a.clk.Mono()
	k := rejKey{reason, sc}
	a.out.mu.Lock()
	st, ok := a.out.rej[k]
	if !ok && len(a.out.rej) >= rejectKeysMax {
		k.scope = "*"
		st, ok = a.out.rej[k]
	}
	if ok && now-st.sent < rejectWindow {
		st.pending++
		st.last, st.topic, st.err = ev, topic, err.Error()
		a.out.mu.Unlock()
		signal(a.out.sig) // sendLoop arms the summary timer
		return
	}
	count := 1
	if ok {
		count += st.pending
	} else {
		st = &rejState{}
		a.out.rej[k] = st
	}
	st.sent, st.pending = now, 0
	a.out.mu.Unlock()
	a.reportRejection(topic, ev, err.Error(), count)
}

func (a *Agent) reportRejection(topic string, ev wire.Event, detail string, count int) {
	if count > 1 {
		detail = fmt.Sprintf("%d rejected since the last report; last: %s", count, detail)
	}
	a.log.Warn("rejected", "topic", topic, "reason", ev.Reason, "scope", ev.Scope, "count", count, "err", detail)
	ev.Detail = detail
	a.publishEvent(ev)
}

// publishEvent queues an event if connected. Events are not kept while
// offline (a week offline would pile up thousands); the status published
// on reconnect carries the current screen and seqs.
func (a *Agent) publishEvent(ev wire.Event) {
	ev.Type, ev.Device, ev.Time = wire.TypeEvent, a.o.DeviceID, a.clk.Now().UTC()
	if r := []rune(ev.Detail); len(r) > wire.MaxReasonRunes {
		ev.Detail = string(r[:wire.MaxReasonRunes-3]) + "..."
	}
	if a.client == nil || !a.client.IsConnectionOpen() {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	a.enqueue(wire.EventTopic(a.o.DeviceID), false, b)
}
