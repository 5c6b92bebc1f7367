package agent

import (
	"bytes"
	"strings"
	"testing"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/internal/wire"
)

// A state message the agent cannot trust (bad signature, unknown key,
// oversized, malformed) is reported with the scope parsed from its topic and
// seq 0, so central can attribute the rejection to the latest snapshot it
// published to that scope.
func TestRejectedEventCarriesTopicScope(t *testing.T) {
	b := testbroker.Mochi(t)
	sg := testSigner(t, 1)
	other := testSigner(t, 2)
	central := mqttClient(t, b.URL, "central")
	events := subscribeEvents(t, central, testDevice)
	a, _, _ := fakeAgent(t, sg, t0, func(o *Options) { o.BrokerURL = b.URL })
	waitFor(t, a, "connected", func() bool { return a.connected.Load() })

	branch, _ := wire.BranchScope(testBranch)
	pref, _ := wire.PrefScope(testPref)
	dev, _ := wire.DeviceScope(testDevice)
	badSig := func(sc wire.Scope) []byte {
		env := sealSnap(t, sg, sc, 3, t0)
		i := strings.Index(string(env), `"sig":"`) + 7
		if env[i] == 'A' {
			env[i] = 'B'
		} else {
			env[i] = 'A'
		}
		return env
	}
	cases := []struct {
		name   string
		scope  wire.Scope
		msg    []byte
		reason string
		paho   bool // through paho's handler (size check) rather than the loop
	}{
		{"bad signature", branch, badSig(branch), wire.ReasonBadSignature, false},
		{"unknown key", pref, sealSnap(t, other, pref, 3, t0), wire.ReasonUnknownKey, false},
		{"payload names another scope", dev, sealSnap(t, sg, wire.All, 3, t0), wire.ReasonWrongScope, false},
		{"malformed", wire.All, []byte(`{"v":1,`), wire.ReasonMalformed, false},
		{"oversized", dev, bytes.Repeat([]byte(" "), wire.MaxEnvelopeBytes+1), wire.ReasonLimit, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := wire.StateTopic(tc.scope)
			if tc.paho {
				a.onMessage(nil, rawMessage{topic: topic, payload: tc.msg})
			} else {
				inject(t, a, topic, tc.msg)
			}
			ev := events.waitEvent(t, tc.reason, func(e wire.Event) bool { return e.Kind == wire.EventRejected && e.Reason == tc.reason })
			if ev.Scope != tc.scope.String() || ev.Seq != 0 {
				t.Fatalf("rejected event scope %q seq %d; want scope %q (from the topic), seq 0", ev.Scope, ev.Seq, tc.scope)
			}
		})
	}
}
