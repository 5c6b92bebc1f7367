package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// TestReissueAndExpiry drives the re-issuer with a fake clock: snapshots are
// re-signed (new seq, new issued) at half their lifetime, and an alert whose
// expiry passed leaves the snapshot and becomes "expired".
func TestReissueAndExpiry(t *testing.T) {
	fake := clock.NewFake(time.Now())
	a := app.NewTest(t, func(c *app.Config) {
		c.Clock = fake
		c.Snapshot.TTL = time.Hour
		c.Snapshot.ReissueAfter = 30 * time.Minute
	})
	ctx := context.Background()
	pw, err := a.RegisterDevice("watch-1", "br-1", "13")
	if err != nil {
		t.Fatal(err)
	}
	snaps := watch(t, a.BrokerURL(), pw, a.Keys.KeyRing(keys.Signing))
	pub, _ := a.NewTestUser(t, "pub", central.RolePublisher)
	in := alertInput(central.Target{Branches: []string{"br-1"}}, "注意")
	in.Expires = fake.Now().Add(100 * time.Minute)
	al, err := a.Alerts.CreateDraft(ctx, pub, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Alerts.Publish(ctx, pub, al.ID, al.Version); err != nil {
		t.Fatal(err)
	}
	first := waitSnap(t, snaps, fake, 0, func(s *wire.Snapshot) bool { return len(s.Alerts) == 1 })
	if got := first.Expires.Sub(first.Issued); got != time.Hour {
		t.Fatalf("snapshot lifetime %s", got)
	}

	// Half-life: re-signed with a higher seq, same content, fresh expiry.
	second := waitSnap(t, snaps, fake, time.Minute, func(s *wire.Snapshot) bool { return s.Seq > first.Seq })
	if len(second.Alerts) != 1 || !second.Issued.After(first.Issued) {
		t.Fatalf("re-issued snapshot %+v", second)
	}
	if d := second.Issued.Sub(first.Issued); d < 30*time.Minute || d > 40*time.Minute {
		t.Fatalf("re-issued after %s, want about 30m", d)
	}
	if !fake.Now().Before(first.Expires) {
		t.Fatal("re-issued only after the old snapshot expired")
	}

	// Expiry of the alert itself.
	third := waitSnap(t, snaps, fake, time.Minute, func(s *wire.Snapshot) bool { return len(s.Alerts) == 0 })
	if third.Issued.Before(in.Expires.Truncate(time.Second)) {
		t.Fatalf("alert dropped at %s, before its expiry %s", third.Issued, in.Expires)
	}
	got, _ := a.Alerts.Get(ctx, pub, al.ID)
	if got.State != central.StateExpired {
		t.Fatalf("state after expiry: %s", got.State)
	}
}

// waitSnap advances the fake clock by step whenever no snapshot arrives
// for a moment, until one matches cond.
func waitSnap(t *testing.T, snaps <-chan snapMsg, fake *clock.Fake, step time.Duration, cond func(*wire.Snapshot) bool) *wire.Snapshot {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	idle := time.NewTicker(20 * time.Millisecond)
	defer idle.Stop()
	for time.Now().Before(deadline) {
		select {
		case m := <-snaps:
			if m.err != nil {
				t.Fatalf("snapshot refused: %v", m.err)
			}
			if cond(m.snap) {
				return m.snap
			}
		case <-idle.C:
			if step > 0 {
				fake.Advance(step)
			}
		}
	}
	t.Fatal("no matching snapshot")
	return nil
}
