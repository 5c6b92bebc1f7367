package agent

import (
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/internal/wire"
)

// brokerAgent runs an agent with a real clock against url.
func brokerAgent(t *testing.T, sg *wire.Signer, url string, mod func(*Options)) *Agent {
	t.Helper()
	o := baseOptions(t, keyRing(t, sg))
	o.BrokerURL = url
	if mod != nil {
		mod(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	waitFor(t, a, "connected", func() bool { return a.Stats().Connects > 0 })
	return a
}

// A signed snapshot on state/all reaches the agent, is persisted and shown;
// a cancel (a newer snapshot without the alert) removes it. Status and
// events go back to central over the same broker.
func TestEndToEnd(t *testing.T) {
	testbroker.Each(t, func(t *testing.T, b *testbroker.Broker) {
		sg := testSigner(t, 1)
		central := mqttClient(t, b.URL, "central-"+b.Kind)
		events := subscribeEvents(t, central, testDevice)
		statuses := make(chan wire.Status, 64)
		central.Subscribe(wire.StatusTopic(testDevice), 1, func(_ mqtt.Client, m mqtt.Message) {
			if st, err := wire.DecodeStatus(m.Payload()); err == nil {
				statuses <- *st
			}
		}).Wait()
		a := brokerAgent(t, sg, b.URL, nil)

		now := time.Now().UTC()
		publish(t, central, stateAll, sealSnap(t, sg, wire.All, 1, now,
			withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour)))), true)
		waitFor(t, a, "alert shown", screenIs(a, "alert:a-0110"))
		if got := a.Cache().Seq(wire.All); got != 1 {
			t.Fatalf("persisted seq %d, want 1", got)
		}
		if s := a.Cache().Snapshots()[wire.All]; s == nil || len(s.Alerts) != 1 {
			t.Fatalf("snapshot not persisted: %+v", s)
		}
		events.waitEvent(t, "received", func(e wire.Event) bool { return e.Kind == wire.EventReceived && e.Scope == "all" && e.Seq == 1 })
		_, frame := a.Current()
		ev := events.waitEvent(t, "displayed", func(e wire.Event) bool { return e.Kind == wire.EventDisplayed && e.AlertID == "a-0110" })
		if ev.FrameHash != frame || ev.Screen != "alert:a-0110" {
			t.Errorf("displayed event %+v, current frame %s", ev, frame)
		}
		waitStatus(t, statuses, func(st wire.Status) bool {
			return st.State == wire.StateOnline && st.Screen == "alert:a-0110" && st.Seqs["all"] == 1
		})

		publish(t, central, stateAll, sealSnap(t, sg, wire.All, 2, time.Now().UTC()), true)
		waitFor(t, a, "cancel removes the alert", screenIs(a, "standing"))
		waitStatus(t, statuses, func(st wire.Status) bool { return st.Screen == "standing" })

		// closing publishes "offline" (a clean disconnect suppresses the Will)
		a.Close()
		waitStatus(t, statuses, func(st wire.Status) bool { return st.State == wire.StateOffline })
	})
}

func waitStatus(t *testing.T, ch chan wire.Status, f func(wire.Status) bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	var last wire.Status
	for {
		select {
		case st := <-ch:
			if f(st) {
				return
			}
			last = st
		case <-deadline.C:
			t.Fatalf("timed out waiting for status; last %+v", last)
		}
	}
}

// Offline for a while, then reconnect: the agent converges to the current
// retained state; an alert cancelled while it was offline is gone.
func TestOfflineReconnectConverges(t *testing.T) {
	testbroker.Each(t, func(t *testing.T, b *testbroker.Broker) {
		sg := testSigner(t, 1)
		central := mqttClient(t, b.URL, "central-"+b.Kind)
		proxy := testbroker.NewProxy(t, b.Addr)
		a := brokerAgent(t, sg, proxy.URL, nil)
		now := time.Now().UTC()
		branch, _ := wire.BranchScope(testBranch)
		publish(t, central, stateAll, sealSnap(t, sg, wire.All, 1, now,
			withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour)))), true)
		publish(t, central, wire.StateTopic(branch), sealSnap(t, sg, branch, 1, now,
			withAlerts(alert("b-local", 60, time.Time{}, now.Add(time.Hour)))), true)
		waitFor(t, a, "a-0110 shown", screenIs(a, "alert:a-0110"))
		waitFor(t, a, "branch snapshot stored", func() bool { return a.Cache().Seq(branch) == 1 })

		proxy.Cut()
		waitFor(t, a, "disconnected", func() bool { return !a.connected.Load() })
		// while offline: cancel a-0110, and bump the branch twice
		publish(t, central, stateAll, sealSnap(t, sg, wire.All, 2, now), true)
		publish(t, central, wire.StateTopic(branch), sealSnap(t, sg, branch, 2, now,
			withAlerts(alert("b-local", 60, time.Time{}, now.Add(time.Hour)))), true)
		publish(t, central, wire.StateTopic(branch), sealSnap(t, sg, branch, 3, now,
			withAlerts(alert("b-local2", 70, time.Time{}, now.Add(time.Hour)))), true)
		if sc, _ := a.Current(); sc.ID() != "alert:a-0110" {
			t.Fatalf("offline agent must keep its last verified state, shows %s", sc.ID())
		}
		proxy.Restore()
		waitFor(t, a, "converged after reconnect", func() bool {
			sc, _ := a.Current()
			return sc.ID() == "alert:b-local2" && a.Cache().Seq(wire.All) == 2 && a.Cache().Seq(branch) == 3
		})
		if s := a.Cache().Snapshots()[wire.All]; len(s.Alerts) != 0 {
			t.Fatalf("cancelled alert still stored: %+v", s.Alerts)
		}
		// (with mosquitto the session's queued messages can converge the
		// state before the on-connect handler has finished subscribing)
		waitFor(t, a, "reconnect counted", func() bool { return a.Stats().Connects >= 2 })
	})
}

// Images: fetched by sha256 from central, verified, shown only when all of an
// item's images are there; unreferenced blobs are garbage-collected.
func TestBlobsFetchedVerifiedAndCollected(t *testing.T) {
	b := testbroker.Mochi(t)
	sg := testSigner(t, 1)
	cs := newContentServer(t)
	img1, img2 := []byte("png-bytes-one"), []byte("png-bytes-two-longer")
	r1, r2 := blobRef(img1), blobRef(img2)
	cs.put(r1.SHA256, img1)
	central := mqttClient(t, b.URL, "central")
	events := subscribeEvents(t, central, testDevice)
	a := brokerAgent(t, sg, b.URL, func(o *Options) { o.CentralURL = cs.URL })
	now := time.Now().UTC()
	publish(t, central, stateAll, sealSnap(t, sg, wire.All, 1, now,
		withItems(item("stop-phone", 60, time.Time{}, now.Add(time.Hour), r1, r2))), true)
	waitFor(t, a, "first blob fetched", func() bool { return a.Cache().HasBlob(r1.SHA256) })
	barrier(t, a)
	if sc, _ := a.Current(); sc.ID() != "standing" {
		t.Fatalf("item shown with a missing image: %s", sc.ID())
	}
	cs.put(r2.SHA256, img2)
	if err := a.Identify(t.Context(), time.Millisecond); err != nil { // any loop input; reload retries fetches at once
		t.Fatal(err)
	}
	a.do(t.Context(), func() { a.reload() })
	waitFor(t, a, "item shown with both images", screenIs(a, "campaign:stop-phone"))
	sc, _ := a.Current()
	if string(sc.Images[r1.SHA256]) != string(img1) || string(sc.Images[r2.SHA256]) != string(img2) {
		t.Fatalf("screen images: %d", len(sc.Images))
	}
	events.waitEvent(t, "displayed item", func(e wire.Event) bool { return e.Kind == wire.EventDisplayed && e.ItemID == "stop-phone" })

	publish(t, central, stateAll, sealSnap(t, sg, wire.All, 2, now,
		withItems(item("stop-phone", 60, time.Time{}, now.Add(time.Hour), r2))), true)
	waitFor(t, a, "img1 collected", func() bool { return !a.Cache().HasBlob(r1.SHA256) && a.Cache().Seq(wire.All) == 2 })
	if n, size := a.Cache().BlobStats(); n != 1 || size != int64(len(img2)) {
		t.Fatalf("blob stats after GC: %d blobs, %d bytes", n, size)
	}
}

// The attack table: each forged, replayed, stale or malformed input is
// refused with its reason (published as a "rejected" event) and changes
// nothing: the verified alert stays on screen and the seq stays.
func TestAttackTable(t *testing.T) {
	b := testbroker.Mochi(t)
	sg := testSigner(t, 1)
	other := testSigner(t, 2)
	cs := newContentServer(t)
	central := mqttClient(t, b.URL, "central")
	events := subscribeEvents(t, central, testDevice)
	a := brokerAgent(t, sg, b.URL, func(o *Options) { o.CentralURL = cs.URL })
	now := time.Now().UTC()
	good := sealSnap(t, sg, wire.All, 5, now, withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour))))
	publish(t, central, stateAll, good, true)
	waitFor(t, a, "good alert", screenIs(a, "alert:a-0110"))
	devScope, _ := wire.DeviceScope(testDevice)
	otherDev, _ := wire.DeviceScope("atm-99-0001")
	forged := alert("fake", 100, time.Time{}, now.Add(time.Hour))
	forged.Texts[0].Headline = "Call 03-XXXX to protect your account"

	badSig := sealSnap(t, sg, wire.All, 6, now, withAlerts(forged))
	{ // flip one signature byte, keeping valid base64 and length
		i := strings.Index(string(badSig), `"sig":"`) + 7
		c := badSig[i]
		if c == 'A' {
			badSig[i] = 'B'
		} else {
			badSig[i] = 'A'
		}
	}
	huge := make([]byte, wire.MaxEnvelopeBytes+1)
	for i := range huge {
		huge[i] = ' '
	}
	evil := []byte("this is not the image the signature names")
	evilRef := blobRef([]byte("the real image"))
	cs.put(evilRef.SHA256, evil[:len("the real image")])

	cases := []struct {
		name   string
		topic  string
		msg    []byte
		reason string
		inject bool // delivered as a hostile broker would, to a topic we did not subscribe
	}{
		{"bad signature", stateAll, badSig, wire.ReasonBadSignature, false},
		{"unknown key", stateAll, sealSnap(t, other, wire.All, 6, now, withAlerts(forged)), wire.ReasonUnknownKey, false},
		{"replayed older seq", stateAll, sealSnap(t, sg, wire.All, 4, now, withAlerts(forged)), wire.ReasonReplay, false},
		{"replayed equal seq", stateAll, sealSnap(t, sg, wire.All, 5, now, withAlerts(forged)), wire.ReasonReplay, false},
		{"expired", stateAll, sealSnap(t, sg, wire.All, 6, now.Add(-2*time.Hour), withWindow(now.Add(-2*time.Hour), now.Add(-time.Hour)), withAlerts(forged)), wire.ReasonExpired, false},
		{"issued in the future", stateAll, sealSnap(t, sg, wire.All, 6, now.Add(time.Hour), withAlerts(forged)), wire.ReasonNotYetValid, false},
		{"oversized", stateAll, huge, wire.ReasonLimit, false},
		{"malformed JSON", stateAll, []byte(`{"v":1,"kid":`), wire.ReasonMalformed, false},
		{"snapshot for another scope on our topic", wire.StateTopic(devScope), sealSnap(t, sg, otherDev, 6, now, withAlerts(forged)), wire.ReasonWrongScope, false},
		{"topic for another device", wire.StateTopic(otherDev), sealSnap(t, sg, otherDev, 6, now, withAlerts(forged)), wire.ReasonWrongDevice, true},
		{"command for another device", wire.CmdTopic(testDevice), sealCmd(t, sg, "c-x", "atm-99-0001", wire.CmdIdentify, now, nil), wire.ReasonWrongDevice, false},
		{"blob whose bytes do not match its hash", stateAll, sealSnap(t, sg, wire.All, 6, now, withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour))),
			withItems(item("evil-img", 10, time.Time{}, now.Add(time.Hour), evilRef))), wire.ReasonContentHash, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := a.Stats().Rejected[tc.reason]
			if tc.inject {
				inject(t, a, tc.topic, tc.msg)
			} else {
				publish(t, central, tc.topic, tc.msg, false)
			}
			waitFor(t, a, "rejection "+tc.reason, func() bool { return a.Stats().Rejected[tc.reason] > before })
			events.waitEvent(t, "rejected "+tc.reason, func(e wire.Event) bool { return e.Kind == wire.EventRejected && e.Reason == tc.reason })
			barrier(t, a)
			sc, _ := a.Current()
			if sc.ID() != "alert:a-0110" || sc.Alert.Texts[0].Headline != "0110 a-0110 ja" && sc.Alert.Texts[0].Headline != "0110 a-0110 en" {
				t.Fatalf("screen changed to %s %+v", sc.ID(), sc.Alert)
			}
			if snap := a.Cache().Snapshots()[wire.All]; snap == nil || snap.Seq > 6 || len(snap.Alerts) != 1 || snap.Alerts[0].ID != "a-0110" {
				t.Fatalf("stored state changed: %+v", snap)
			}
			if a.Cache().HasBlob(evilRef.SHA256) {
				t.Fatal("unverified blob stored")
			}
		})
	}
}

// Status heartbeat carries uptime, seqs and the screen; "displayed" is sent
// once per alert while it stays active, however often the rotation and the
// language steps bring it back (central counts displays per alert).
func TestHeartbeatAndDisplayedOnce(t *testing.T) {
	b := testbroker.Mochi(t)
	sg := testSigner(t, 1)
	central := mqttClient(t, b.URL, "central")
	events := subscribeEvents(t, central, testDevice)
	statuses := make(chan wire.Status, 256)
	central.Subscribe(wire.StatusTopic(testDevice), 1, func(_ mqtt.Client, m mqtt.Message) {
		if st, err := wire.DecodeStatus(m.Payload()); err == nil {
			statuses <- *st
		}
	}).Wait()
	a, fc, _ := fakeAgent(t, sg, t0, func(o *Options) { o.BrokerURL = b.URL })
	waitFor(t, a, "connected", func() bool { return a.Stats().Connects > 0 })
	inject(t, a, stateAll, sealSnap(t, sg, wire.All, 3, t0, withAlerts(
		alert("info-1", 10, time.Time{}, t0.Add(time.Hour)), alert("info-2", 20, time.Time{}, t0.Add(time.Hour)))))
	waitFor(t, a, "first alert", screenIs(a, "alert:info-2"))
	for i := 0; i < 61; i++ { // 4 rotations of 15 s, with language steps
		fc.Advance(time.Second)
		barrier(t, a)
	}
	waitStatus(t, statuses, func(st wire.Status) bool {
		return st.State == wire.StateOnline && st.UptimeSec >= 60 && st.Seqs["all"] == 3 && st.Screen != ""
	})
	// a marker: the phone screen's displayed event comes after the others
	if err := a.Trigger(t.Context(), EventPhoneDetected); err != nil {
		t.Fatal(err)
	}
	events.waitEvent(t, "phone displayed", func(e wire.Event) bool { return e.Kind == wire.EventDisplayed && e.Screen == "phone" })
	count := map[string]int{}
	events.mu.Lock()
	for _, e := range events.events {
		if e.Kind == wire.EventDisplayed && e.AlertID != "" {
			count[e.AlertID]++
		}
	}
	events.mu.Unlock()
	if count["info-1"] != 1 || count["info-2"] != 1 {
		t.Fatalf("displayed events per alert: %v (want 1 each after 4 rotations)", count)
	}
	if st := a.Stats(); st.Shown < 8 {
		t.Fatalf("rotation did not run: %+v", st)
	}
}

// The persistent session (clean session off, stable client id): a signed
// command published while the display was offline is delivered when it
// reconnects, and executed once.
func TestCommandQueuedWhileOffline(t *testing.T) {
	testbroker.Each(t, func(t *testing.T, b *testbroker.Broker) {
		sg := testSigner(t, 1)
		central := mqttClient(t, b.URL, "central-"+b.Kind)
		proxy := testbroker.NewProxy(t, b.Addr)
		a := brokerAgent(t, sg, proxy.URL, nil)
		proxy.Cut()
		waitFor(t, a, "disconnected", func() bool { return !a.connected.Load() })
		cmd := sealCmd(t, sg, "cmd-offline-1", testDevice, wire.CmdIdentify, time.Now().UTC(), map[string]string{"seconds": "120"})
		publish(t, central, wire.CmdTopic(testDevice), cmd, false)
		proxy.Restore()
		waitFor(t, a, "queued identify command executed after reconnect", screenIs(a, "identify"))
		sc, _ := a.Current()
		if sc.Identify == nil || sc.Identify.DeviceID != testDevice {
			t.Fatalf("identify info %+v", sc.Identify)
		}
		// the same command again (a replaying broker) is refused
		publish(t, central, wire.CmdTopic(testDevice), cmd, false)
		waitFor(t, a, "replayed command refused", func() bool { return a.Stats().Rejected[wire.ReasonReplay] == 1 })
		if a.Stats().Commands != 1 {
			t.Fatalf("commands executed: %d", a.Stats().Commands)
		}
	})
}
