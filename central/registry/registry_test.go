package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/hub"
	"github.com/atmguard/kiosk/central/registry"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// newRegistry accepts devices it did not enroll (the ingest tests feed
// statuses of made-up ids); TestUnenrolledAndMismatch covers the default.
func newRegistry(tb testing.TB) (*registry.Registry, *store.DB, *hub.Hub) {
	return newRegistryOpt(tb, true)
}

func newRegistryOpt(tb testing.TB, acceptUnenrolled bool) (*registry.Registry, *store.DB, *hub.Hub) {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "c.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	h := &hub.Hub{}
	r, err := registry.New(registry.Config{DB: db, Audit: &store.AuditLog{DB: db, Clock: clk}, Clock: clk, Hub: h,
		AcceptUnenrolled: acceptUnenrolled,
		AlertTargets: func(id string) (central.Target, central.AlertState, bool) {
			return central.Target{All: true}, central.StatePublished, true
		}})
	if err != nil {
		tb.Fatal(err)
	}
	return r, db, h
}

func status(dev, branch, pref, state, screen string) []byte {
	b, _ := json.Marshal(wire.Status{Type: wire.TypeStatus, Device: dev, State: state, Time: time.Now().UTC(), Branch: branch, Pref: pref, Screen: screen, AgentVersion: "1.0"})
	return b
}

func event(dev, kind, alert, scope string, seq uint64, reason string) []byte {
	b, _ := json.Marshal(wire.Event{Type: wire.TypeEvent, Device: dev, Kind: kind, Time: time.Now().UTC(), AlertID: alert, Scope: scope, Seq: seq, Reason: reason})
	return b
}

func TestFleetAndDelivery(t *testing.T) {
	r, db, _ := newRegistry(t)
	ctx := context.Background()
	viewer := central.Actor{UserID: "v", Role: central.RoleViewer}
	for i := 0; i < 30; i++ {
		id := fmt.Sprintf("atm-%03d", i)
		pref := []string{"13", "14", "27"}[i%3]
		state := wire.StateOnline
		if i%5 == 0 {
			state = wire.StateOffline
		}
		r.Handle(wire.StatusTopic(id), status(id, "br-"+pref+fmt.Sprint(i%2), pref, state, "standing"))
	}
	// Forged: the payload names another device than the topic.
	r.Handle(wire.StatusTopic("atm-000"), status("atm-001", "x", "13", wire.StateOffline, ""))
	r.Handle("kiosk/v1/device/atm-000/status", []byte("{not json"))
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, _, bad := r.IngestStats(); bad != 2 {
		t.Fatalf("bad messages counted %d, want 2", bad)
	}
	f, _ := r.Fleet(ctx, viewer, central.FleetQuery{Pref: "13"})
	if f.Total != 30 || f.Online != 24 || len(f.ByPref) != 3 || f.ByPref[0].Key != "13" || f.ByPref[0].Total != 10 || len(f.ByBranch) != 2 {
		t.Fatalf("fleet %+v", f)
	}
	on := true
	p, _ := r.List(ctx, viewer, central.DeviceQuery{Pref: "14", Online: &on, Limit: 3, Offset: 1})
	if p.Total != 8 || len(p.Devices) != 3 || p.Devices[0].ID != "atm-004" {
		t.Fatalf("page %+v", p)
	}
	p, _ = r.List(ctx, viewer, central.DeviceQuery{Search: "ATM-02"})
	if p.Total != 10 {
		t.Fatalf("search total %d", p.Total)
	}

	// Delivery: the alert went out in snapshot all/7.
	r.NoteSnapshot("all", 7, []string{"a-1"})
	for i := 1; i < 11; i++ {
		id := fmt.Sprintf("atm-%03d", i)
		r.Handle(wire.EventTopic(id), event(id, wire.EventReceived, "", "all", 7, ""))
		if i <= 6 {
			r.Handle(wire.EventTopic(id), event(id, wire.EventDisplayed, "a-1", "", 0, ""))
			r.Handle(wire.StatusTopic(id), status(id, "b", "13", wire.StateOnline, "alert:a-1"))
		}
	}
	id := "atm-020"
	r.Handle(wire.EventTopic(id), event(id, wire.EventRejected, "", "all", 7, wire.ReasonExpired))
	r.Handle(wire.EventTopic(id), event(id, wire.EventRejected, "", "all", 7, wire.ReasonReplay)) // ignored
	r.Sync()
	st, err := r.Stats(ctx, viewer, "a-1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Targeted != 30 || st.Received != 10 || st.Displayed != 6 || st.Rejected != 1 || st.RejectReasons[wire.ReasonExpired] != 1 || st.StillDisplayed != 6 {
		t.Fatalf("stats %+v", st)
	}
	// Going offline removes a device from "still displayed".
	r.Handle(wire.StatusTopic("atm-001"), status("atm-001", "b", "13", wire.StateOffline, ""))
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if f, _ := r.Fleet(ctx, viewer, central.FleetQuery{}); f.Online != 24 { // atm-005 came online in the delivery part, atm-001 went offline
		t.Fatalf("online %d after atm-001 went offline", f.Online)
	}
	if st, _ = r.Stats(ctx, viewer, "a-1"); st.StillDisplayed != 5 {
		t.Fatalf("still displayed %d, want 5", st.StillDisplayed)
	}

	// Everything was persisted in batches: a new registry on the same file
	// has the same fleet and delivery.
	r2, err := registry.New(registry.Config{DB: db, Audit: &store.AuditLog{DB: db, Clock: clock.Real{}}, Clock: clock.Real{}, Hub: &hub.Hub{},
		AlertTargets: func(string) (central.Target, central.AlertState, bool) {
			return central.Target{All: true}, central.StatePublished, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := r2.Fleet(ctx, viewer, central.FleetQuery{})
	st2, _ := r2.Stats(ctx, viewer, "a-1")
	if f2.Total != 30 || f2.Online != 24 || st2.Displayed != 6 || st2.Received != 10 || st2.StillDisplayed != 5 {
		t.Fatalf("after reload: fleet %+v stats %+v", f2, st2)
	}
}

func TestSubscribeGetsDeliveryChanges(t *testing.T) {
	r, _, _ := newRegistry(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := r.Subscribe(ctx)
	r.NoteSnapshot("all", 1, []string{"a-9"})
	r.Handle(wire.StatusTopic("d1"), status("d1", "b", "13", wire.StateOnline, ""))
	r.Handle(wire.EventTopic("d1"), event("d1", wire.EventDisplayed, "a-9", "", 0, ""))
	r.Sync()
	kinds := map[central.ChangeKind]bool{}
	for len(ch) > 0 {
		c := <-ch
		kinds[c.Kind] = true
		if c.Kind == central.ChangeDelivery && (c.Delivery.AlertID != "a-9" || c.Delivery.Displayed != 1) {
			t.Fatalf("delivery change %+v", c.Delivery)
		}
	}
	for _, k := range []central.ChangeKind{central.ChangeDevice, central.ChangeFleet, central.ChangeDelivery} {
		if !kinds[k] {
			t.Errorf("no %s change", k)
		}
	}
}

// BenchmarkIngest is status/event ingest into the registry with batched
// bbolt writes (one transaction per flush): b.N messages from 10,000
// devices, then a final flush.
func BenchmarkIngest(b *testing.B) {
	for _, kind := range []string{"status", "event"} {
		b.Run(kind, func(b *testing.B) {
			r, _, _ := newRegistry(b)
			const devices = 10000
			msgs := make([][]byte, devices)
			topics := make([]string, devices)
			for i := range msgs {
				id := fmt.Sprintf("atm-%05d", i)
				if kind == "status" {
					topics[i], msgs[i] = wire.StatusTopic(id), status(id, fmt.Sprintf("br-%d", i%500), fmt.Sprintf("%02d", 1+i%47), wire.StateOnline, "standing")
				} else {
					topics[i], msgs[i] = wire.EventTopic(id), event(id, wire.EventDisplayed, "a-1", "", 0, "")
				}
			}
			r.NoteSnapshot("all", 1, []string{"a-1"})
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				r.Handle(topics[i%devices], msgs[i%devices])
				if (i+1)%8192 == 0 { // a flush per 8192 messages, as Run does every 200 ms at ~40k msg/s
					if err := r.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := r.Sync(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			if ing, drop, bad := r.IngestStats(); drop != 0 || bad != 0 || ing != int64(b.N) {
				b.Fatalf("ingested %d dropped %d bad %d of %d", ing, drop, bad, b.N)
			}
		})
	}
}

// BenchmarkFleet100k is what the console asks of a 100,000-device fleet:
// the summary with one prefecture's branches, a filtered page deep in the
// list, and a search.
func BenchmarkFleet100k(b *testing.B) {
	r, _, _ := newRegistry(b)
	for i := 0; i < 100000; i++ {
		id := fmt.Sprintf("atm-%06d", i)
		state := wire.StateOnline
		if i%7 == 0 {
			state = wire.StateOffline
		}
		r.Handle(wire.StatusTopic(id), status(id, fmt.Sprintf("br-%04d", i%2000), fmt.Sprintf("%02d", 1+i%47), state, "standing"))
		if i%8192 == 0 {
			r.Sync()
		}
	}
	if err := r.Sync(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	viewer := central.Actor{UserID: "v", Role: central.RoleViewer}
	on := false
	b.Run("summary", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			f, _ := r.Fleet(ctx, viewer, central.FleetQuery{Pref: "13"})
			if f.Total != 100000 {
				b.Fatal(f.Total)
			}
		}
	})
	b.Run("page", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p, _ := r.List(ctx, viewer, central.DeviceQuery{Pref: "13", Online: &on, Offset: 200, Limit: 50})
			if len(p.Devices) != 50 {
				b.Fatal(len(p.Devices))
			}
		}
	})
	b.Run("search", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p, _ := r.List(ctx, viewer, central.DeviceQuery{Search: "br-0042", Limit: 50})
			if p.Total != 50 {
				b.Fatal(p.Total)
			}
		}
	})
	b.Run("count-target", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if n, _ := r.CountTarget(central.Target{Prefs: []string{"13", "14"}}); n == 0 {
				b.Fatal(n)
			}
		}
	})
}

func TestListSortedAfterArrivalsInAnyOrder(t *testing.T) {
	r, _, _ := newRegistry(t)
	ctx := context.Background()
	viewer := central.Actor{UserID: "v", Role: central.RoleViewer}
	perm := []int{7, 3, 9, 0, 5, 1, 8, 2, 6, 4}
	for round := 0; round < 2; round++ { // second round: updates of known devices keep their place
		for _, i := range perm {
			id := fmt.Sprintf("d-%d", i)
			r.Handle(wire.StatusTopic(id), status(id, "b", "13", wire.StateOnline, fmt.Sprint("s", round)))
		}
		r.Sync()
		p, _ := r.List(ctx, viewer, central.DeviceQuery{Limit: 4, Offset: 3})
		if len(p.Devices) != 4 || p.Total != 10 {
			t.Fatalf("page %+v", p)
		}
		for k, d := range p.Devices {
			if want := fmt.Sprintf("d-%d", 3+k); d.ID != want || d.Screen != fmt.Sprint("s", round) {
				t.Fatalf("round %d row %d: %s %s, want %s", round, k, d.ID, d.Screen, want)
			}
		}
	}
}

// TestUnenrolledAndMismatch: central keeps the branch and prefecture it
// enrolled a device with (they decide targeting), flags a status claiming
// others, and ignores devices it never enrolled.
func TestUnenrolledAndMismatch(t *testing.T) {
	r, db, _ := newRegistryOpt(t, false)
	ctx := context.Background()
	viewer := central.Actor{UserID: "v", Role: central.RoleViewer}
	if err := db.Update(func(tx *store.Tx) error { _, err := r.Register(tx, "d1", "br-1", "13"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := r.Registered("d1", db); err != nil {
		t.Fatal(err)
	}
	r.Handle(wire.StatusTopic("d1"), status("d1", "br-evil", "27", wire.StateOnline, "alert:a-1"))
	r.Handle(wire.StatusTopic("ghost"), status("ghost", "br-1", "13", wire.StateOnline, "alert:a-1"))
	r.NoteSnapshot("all", 3, []string{"a-1"})
	r.Handle(wire.EventTopic("ghost"), event("ghost", wire.EventDisplayed, "a-1", "", 0, ""))
	r.Handle(wire.EventTopic("ghost"), event("ghost", wire.EventRejected, "", "all", 3, wire.ReasonBadSignature))
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	d, err := r.Get(ctx, viewer, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Branch != "br-1" || d.Pref != "13" || !d.Online || d.Mismatch == "" {
		t.Fatalf("enrolled device after a status claiming another branch: %+v", d)
	}
	if _, err := r.Get(ctx, viewer, "ghost"); err == nil {
		t.Fatal("a never enrolled device got into the fleet")
	}
	if f, _ := r.Fleet(ctx, viewer, central.FleetQuery{Pref: "27"}); f.Total != 1 || len(f.ByPref) != 1 || f.ByPref[0].Key != "13" {
		t.Fatalf("fleet %+v", f)
	}
	if st, _ := r.Stats(ctx, viewer, "a-1"); st.Displayed != 0 || st.Rejected != 0 {
		t.Fatalf("delivery counted a never enrolled device: %+v", st)
	}
	if n := r.Unenrolled(); n != 3 {
		t.Fatalf("unenrolled messages counted %d, want 3", n)
	}
	// an honest status clears the flag
	r.Handle(wire.StatusTopic("d1"), status("d1", "br-1", "13", wire.StateOnline, "standing"))
	r.Sync()
	if d, _ := r.Get(ctx, viewer, "d1"); d.Mismatch != "" {
		t.Fatalf("mismatch not cleared: %+v", d)
	}
}
