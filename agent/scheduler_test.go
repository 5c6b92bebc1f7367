package agent

import (
	"testing"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

func testSchedule() Schedule {
	return Schedule{Location: time.UTC, LangInterval: 8 * time.Second, AlertSlide: 15 * time.Second, QuietMinPriority: 50}
}

func snapOf(sc wire.Scope, seq uint64, alerts []wire.Alert, items []wire.CampaignItem) *wire.Snapshot {
	return &wire.Snapshot{Type: wire.TypeSnapshot, Scope: sc, Seq: seq, Issued: t0, Expires: t0.Add(2 * time.Hour), Alerts: alerts, Campaign: items}
}

func scopes(t *testing.T) []wire.Scope {
	s, err := wire.DeviceScopes(testDevice, testBranch, testPref)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// step drives the scheduler like the agent loop does: decide, then jump to
// the next decision point, recording what was shown when.
type step struct {
	at     time.Duration
	screen string
	lang   string
}

func run(s *Scheduler, snaps map[wire.Scope]*wire.Snapshot, sc []wire.Scope, until time.Duration) []step {
	var out []step
	mono := time.Duration(0)
	for mono <= until {
		now := t0.Add(mono)
		scr, wait := s.Decide(now, mono, Merge(sc, snaps, now, nil))
		if len(out) == 0 || out[len(out)-1].screen != scr.ID() || out[len(out)-1].lang != scr.Lang {
			out = append(out, step{mono, scr.ID(), scr.Lang})
		}
		mono += wait
	}
	return out
}

func TestRotationByDurationAndLanguage(t *testing.T) {
	sc := scopes(t)
	snaps := map[wire.Scope]*wire.Snapshot{
		sc[0]: snapOf(sc[0], 1, nil, []wire.CampaignItem{item("stop-phone", 16, time.Time{}, t0.Add(time.Hour)), item("refund", 8, time.Time{}, t0.Add(time.Hour))}),
	}
	got := run(NewScheduler(testSchedule()), snaps, sc, 40*time.Second)
	want := []step{
		{0, "campaign:stop-phone", "ja"},
		{8 * time.Second, "campaign:stop-phone", "en"},
		{16 * time.Second, "campaign:refund", "ja"},
		{24 * time.Second, "campaign:stop-phone", "ja"},
		{32 * time.Second, "campaign:stop-phone", "en"},
		{40 * time.Second, "campaign:refund", "ja"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestUrgentAlertInterruptsAndExpires(t *testing.T) {
	sc := scopes(t)
	urgent := alert("a-0110", 80, t0.Add(10*time.Second), t0.Add(30*time.Second))
	lower := alert("a-low-urgent", 60, time.Time{}, t0.Add(20*time.Second))
	info := alert("a-info", 10, time.Time{}, t0.Add(time.Hour), "ja")
	snaps := map[wire.Scope]*wire.Snapshot{
		sc[0]: snapOf(sc[0], 1, []wire.Alert{info}, []wire.CampaignItem{item("stop-phone", 20, time.Time{}, t0.Add(time.Hour))}),
		sc[2]: snapOf(sc[2], 1, []wire.Alert{urgent, lower}, nil),
	}
	got := run(NewScheduler(testSchedule()), snaps, sc, 60*time.Second)
	want := []step{
		{0, "alert:a-low-urgent", "ja"}, // urgent (60) beats rotation at once
		{8 * time.Second, "alert:a-low-urgent", "en"},
		{10 * time.Second, "alert:a-0110", "ja"}, // higher priority becomes effective: interrupts
		{18 * time.Second, "alert:a-0110", "en"},
		{26 * time.Second, "alert:a-0110", "ja"},
		{30 * time.Second, "alert:a-info", "ja"}, // a-0110 expired (a-low-urgent at 20 s); rotation resumes
		{45 * time.Second, "campaign:stop-phone", "ja"},
		{53 * time.Second, "campaign:stop-phone", "en"},
	}
	if len(got) < len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMergeScopesAndExpiry(t *testing.T) {
	sc := scopes(t)
	a1 := alert("dup", 70, time.Time{}, t0.Add(time.Hour))
	a2 := a1
	a2.Version = 2
	a2.Texts = []wire.Text{{Lang: "ja", Headline: "v2"}}
	expiredSnap := snapOf(sc[1], 3, []wire.Alert{alert("pref-only", 90, time.Time{}, t0.Add(time.Hour))}, nil)
	expiredSnap.Expires = t0.Add(-time.Second)
	snaps := map[wire.Scope]*wire.Snapshot{
		sc[0]: snapOf(sc[0], 1, []wire.Alert{a1}, nil),
		sc[1]: expiredSnap,
		sc[3]: snapOf(sc[3], 1, []wire.Alert{a2}, nil),
	}
	c := Merge(sc, snaps, t0, nil)
	if len(c.Alerts) != 1 || c.Alerts[0].Version != 2 {
		t.Fatalf("merge: want only dup v2 (pref snapshot expired), got %+v", c.Alerts)
	}
	// items whose images are not all cached are held back
	it := item("img", 10, time.Time{}, t0.Add(time.Hour), blobRef([]byte("x")))
	snaps[sc[0]] = snapOf(sc[0], 2, nil, []wire.CampaignItem{it})
	c = Merge(sc, snaps, t0, func(*wire.CampaignItem) bool { return false })
	if len(c.Items) != 0 {
		t.Fatalf("item with missing image must be held back, got %+v", c.Items)
	}
}

func TestStandingFallbackAndHours(t *testing.T) {
	sc := scopes(t)
	s := NewScheduler(testSchedule())
	scr, _ := s.Decide(t0, 0, Merge(sc, nil, t0, nil))
	if scr.Kind != display.KindStanding {
		t.Fatalf("empty cache: want standing, got %s", scr.ID())
	}
	sched := testSchedule()
	sched.Open = []Window{{Start: 9 * time.Hour, End: 21 * time.Hour}}
	sched.Quiet = []Window{{Start: 12 * time.Hour, End: 13 * time.Hour}}
	snaps := map[wire.Scope]*wire.Snapshot{sc[0]: snapOf(sc[0], 1, []wire.Alert{alert("info", 10, time.Time{}, t0.Add(48*time.Hour))}, nil)}
	snaps[sc[0]].Expires = t0.Add(48 * time.Hour)
	s = NewScheduler(sched)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), "alert:info"},
		{time.Date(2026, 11, 22, 12, 30, 0, 0, time.UTC), "standing"}, // quiet
		{time.Date(2026, 11, 22, 22, 0, 0, 0, time.UTC), "standing"},  // closed
	} {
		scr, _ := s.Decide(tc.at, 0, Merge(sc, snaps, tc.at, nil))
		if scr.ID() != tc.want {
			t.Errorf("%s: got %s, want %s", tc.at.Format("15:04"), scr.ID(), tc.want)
		}
	}
	// an urgent alert is shown even when closed
	snaps[sc[0]].Alerts = append(snaps[sc[0]].Alerts, alert("urgent", 90, time.Time{}, t0.Add(48*time.Hour)))
	night := time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)
	if scr, _ := s.Decide(night, 0, Merge(sc, snaps, night, nil)); scr.ID() != "alert:urgent" {
		t.Errorf("closed hours: urgent alert must show, got %s", scr.ID())
	}
	sched.QuietMinPriority = 95 // only the most urgent break through quiet hours
	s = NewScheduler(sched)
	if scr, _ := s.Decide(night, 0, Merge(sc, snaps, night, nil)); scr.ID() != "standing" {
		t.Errorf("quiet_min_priority 95: priority 90 must wait, got %s", scr.ID())
	}
	s.Trigger(DefaultTriggers()[EventPhoneDetected], 0)
	if scr, _ := s.Decide(night, 0, Merge(sc, snaps, night, nil)); scr.ID() != "phone" {
		t.Errorf("local triggers work in quiet hours, got %s", scr.ID())
	}
}

func TestWindowWrapsMidnight(t *testing.T) {
	w := Window{Days: []time.Weekday{time.Friday}, Start: 22 * time.Hour, End: 6 * time.Hour}
	fri := time.Date(2026, 11, 20, 23, 0, 0, 0, time.UTC) // a Friday
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{fri, true},
		{fri.Add(6 * time.Hour), true},    // Saturday 05:00, started Friday
		{fri.Add(8 * time.Hour), false},   // Saturday 07:00
		{fri.Add(-2 * time.Hour), false},  // Friday 21:00
		{fri.Add(24 * time.Hour), false},  // Saturday 23:00 (not a window day)
		{fri.Add(-18 * time.Hour), false}, // Friday 05:00: that window started Thursday
	} {
		if got := w.Contains(tc.t); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.t.Format("Mon 15:04"), got, tc.want)
		}
	}
}

func TestTriggerAndIdentifyOverride(t *testing.T) {
	sc := scopes(t)
	snaps := map[wire.Scope]*wire.Snapshot{sc[0]: snapOf(sc[0], 1, []wire.Alert{alert("urgent", 90, time.Time{}, t0.Add(time.Hour))}, nil)}
	s := NewScheduler(testSchedule())
	c := Merge(sc, snaps, t0, nil)
	s.Trigger(DefaultTriggers()[EventPhoneDetected], 0)
	if scr, wait := s.Decide(t0, 0, c); scr.Kind != display.KindPhone || wait != 20*time.Second {
		t.Fatalf("phone trigger: got %s wait %s", scr.ID(), wait)
	}
	s.Identify(display.IdentifyInfo{DeviceID: testDevice}, time.Second, 10*time.Second)
	if scr, _ := s.Decide(t0, time.Second, c); scr.Kind != display.KindIdentify || scr.Identify.DeviceID != testDevice {
		t.Fatalf("identify: got %s", scr.ID())
	}
	if scr, _ := s.Decide(t0, 12*time.Second, c); scr.Kind != display.KindPhone {
		t.Fatalf("after identify: phone again, got %s", scr.ID())
	}
	s.Trigger(DefaultTriggers()[EventTransactionEnd], 13*time.Second)
	if scr, _ := s.Decide(t0, 13*time.Second, c); scr.ID() != "alert:urgent" {
		t.Fatalf("after clear: got %s", scr.ID())
	}
}
