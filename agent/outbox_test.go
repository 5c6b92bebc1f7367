package agent

import (
	"strings"
	"testing"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/internal/wire"
)

// TestRejectionsSummarised: a broker flooding forged snapshots gets one
// rejected event per (reason, scope) per minute, then a summary with the
// count; every rejection is still counted in Stats. Fake clock for the
// window, real broker for the events.
func TestRejectionsSummarised(t *testing.T) {
	b := testbroker.Mochi(t)
	sg := testSigner(t, 1)
	other := testSigner(t, 2)
	central := mqttClient(t, b.URL, "central")
	events := subscribeEvents(t, central, testDevice)
	a, fc, _ := fakeAgent(t, sg, t0, func(o *Options) { o.BrokerURL = b.URL })
	waitFor(t, a, "connected", func() bool { return a.connected.Load() })

	const flood = 30
	forged := sealSnap(t, other, wire.All, 7, t0)
	for range flood {
		inject(t, a, stateAll, forged)
	}
	// A rejection of another (reason, scope) is reported at once; events
	// are sent in order, so once it arrives every earlier one has too.
	devScope, _ := wire.DeviceScope(testDevice)
	inject(t, a, wire.StateTopic(devScope), []byte(`{"v":1,"kid":`))
	events.waitEvent(t, "marker", func(e wire.Event) bool { return e.Reason == wire.ReasonMalformed })

	unknownKey := func() []wire.Event {
		events.mu.Lock()
		defer events.mu.Unlock()
		// QoS 1 is at least once: a redelivered event (same payload) is
		// one report, not two.
		var out []wire.Event
		seen := map[wire.Event]bool{}
		for _, e := range events.events {
			if e.Kind == wire.EventRejected && e.Reason == wire.ReasonUnknownKey && !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
		return out
	}
	if got := unknownKey(); len(got) != 1 || got[0].Scope != "all" || got[0].Detail == "" {
		t.Fatalf("%d forged snapshots gave %d rejected events (%+v); want 1 with scope all", flood, len(got), got)
	}
	if n := a.Stats().Rejected[wire.ReasonUnknownKey]; n != flood {
		t.Fatalf("stats counted %d rejections, want %d", n, flood)
	}

	fc.Advance(rejectWindow)
	ev := events.waitEvent(t, "summary", func(e wire.Event) bool {
		return e.Reason == wire.ReasonUnknownKey && strings.HasPrefix(e.Detail, "29 rejected since the last report")
	})
	if ev.Scope != "all" {
		t.Fatalf("summary %+v lost the scope", ev)
	}

	// A new window: the next one is reported at once again.
	fc.Advance(rejectWindow)
	inject(t, a, stateAll, forged)
	events.waitEvent(t, "next window", func(e wire.Event) bool {
		return e.Reason == wire.ReasonUnknownKey && e.Time.Equal(t0.Add(2*rejectWindow))
	})
	if got := unknownKey(); len(got) != 3 {
		t.Fatalf("got %d rejected events, want 3 (first, summary, next window): %+v", len(got), got)
	}
}
