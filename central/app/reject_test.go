package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/internal/wire"
)

// TestForgedSnapshotCountsAsRejected: a real agent that refuses a snapshot
// signed by an unknown key reports it with seq 0 (it cannot trust the seq
// inside) and the scope of the topic; central counts the rejection against
// the alerts of the snapshot it last published on that scope.
func TestForgedSnapshotCountsAsRejected(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	changes := a.Registry.Subscribe(ctx)
	startFleet(t, a, a.BrokerURL(), 1, true) // atm-13-0000 in br-0, pref 13
	admin := a.Admin(t)
	pub, _ := a.NewTestUser(t, "pub", central.RolePublisher)
	al, err := a.Alerts.CreateDraft(ctx, pub, alertInput(central.Target{Branches: []string{"br-0"}}, "支店の画面に注意"))
	if err != nil {
		t.Fatal(err)
	}
	if al, err = a.Alerts.Publish(ctx, pub, al.ID, al.Version); err != nil {
		t.Fatal(err)
	}
	waitChange(t, "alert displayed", changes, func() bool {
		st, err := a.Registry.Stats(ctx, admin, al.ID)
		return err == nil && st.Displayed == 1
	})

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	forger, _ := wire.NewSigner(priv)
	env, err := forger.SealJSON(map[string]any{"type": "snapshot", "scope": "branch/br-0", "seq": 999999})
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := wire.BranchScope("br-0")
	if err := a.MQTT.Publish(ctx, wire.StateTopic(sc), env, true); err != nil {
		t.Fatal(err)
	}
	waitChange(t, "forged snapshot counted as rejected", changes, func() bool {
		st, err := a.Registry.Stats(ctx, admin, al.ID)
		return err == nil && st.Rejected == 1 && st.RejectReasons[wire.ReasonUnknownKey] == 1
	})
}
