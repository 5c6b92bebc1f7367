package app_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/internal/wire"
)

// fleet runs real agent cores (headless presenter) against a central.
type fleet struct {
	agents map[string]*agent.Agent
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startFleet(t *testing.T, a *app.App, brokerURL string, n int, embedded bool) *fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{agents: map[string]*agent.Agent{}, cancel: cancel}
	t.Cleanup(func() { f.cancel(); f.wg.Wait() })
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("atm-%02d-%04d", 13+i%2, i)
		branch := fmt.Sprintf("br-%d", i%5)
		pref := fmt.Sprintf("%02d", 13+i%2)
		user, pass := id, "anonymous-ok"
		// enrolled in central in both cases (central ignores devices it
		// never enrolled); the test mosquitto takes anyone
		pw, err := a.RegisterDevice(id, branch, pref)
		if err != nil {
			t.Fatal(err)
		}
		if embedded {
			pass = pw
		}
		ag, err := agent.New(agent.Options{DeviceID: id, Branch: branch, Pref: pref, AgentVersion: "test",
			BrokerURL: brokerURL, Username: user, Password: pass, Keys: a.Keys.KeyRing(keys.Signing), CentralURL: a.URL(),
			CachePath: filepath.Join(t.TempDir(), "cache.db"), Logger: app.QuietLogger(),
			StatusMinInterval: 50 * time.Millisecond, ReconnectJitter: -1, MaxReconnectInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		f.agents[id] = ag
		f.wg.Add(1)
		go func() { defer f.wg.Done(); ag.Run(ctx) }()
	}
	return f
}

// waitChange waits, on a change subscription, until cond holds.
func waitChange(t *testing.T, what string, ch <-chan central.Change, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(90 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("%s: change stream closed", what)
			}
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func alertInput(target central.Target, headline string) central.AlertInput {
	return central.AlertInput{Priority: 80, Issuer: "警視庁", Target: target,
		Texts: []wire.Text{
			{Lang: "ja", Headline: headline, Body: "警察署の番号(末尾0110)からの電話でも、ATMの操作を求める警察官はいません。", Instruction: "電話を切り、#9110 に相談してください。"},
			{Lang: "en", Headline: "Police never ask you to use an ATM", Body: "Calls showing a police number ending in 0110 can be fake.", Instruction: "Hang up. Call #9110."},
		},
		QR:      &wire.Link{URL: "https://www.npa.go.jp/bureau/criminal/souni/tokusyusagi/", Label: "警察庁 特殊詐欺対策"},
		Expires: time.Now().Add(2 * time.Hour)}
}

func TestAlertReachesFiftyAgents(t *testing.T) {
	const n = 50
	for _, kind := range []string{"embedded", "mosquitto"} {
		t.Run(kind, func(t *testing.T) {
			var a *app.App
			var brokerURL string
			if kind == "embedded" {
				a = app.NewTest(t)
				brokerURL = a.BrokerURL()
			} else {
				mq := testbroker.Mosquitto(t)
				a = app.NewTest(t, func(c *app.Config) { c.BrokerURL = mq.URL; c.MQTTAddr = "" })
				brokerURL = mq.URL
			}
			ctx := context.Background()
			changes := a.Registry.Subscribe(ctx)
			f := startFleet(t, a, brokerURL, n, kind == "embedded")
			admin := a.Admin(t)
			waitChange(t, "50 agents online", changes, func() bool {
				fl, _ := a.Registry.Fleet(ctx, admin, central.FleetQuery{})
				return fl.Online == n
			})

			pub, _ := a.NewTestUser(t, "pub", central.RolePublisher)
			appr, _ := a.NewTestUser(t, "appr", central.RoleApprover)
			al, err := a.Alerts.CreateDraft(ctx, pub, alertInput(central.Target{All: true}, "警察を名乗る電話に注意"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Alerts.Publish(ctx, pub, al.ID, al.Version); !errors.Is(err, central.ErrTwoPersonRule) {
				t.Fatalf("publish to all without approval: %v", err)
			}
			al, err = a.Alerts.SubmitForApproval(ctx, pub, al.ID, al.Version)
			if err != nil {
				t.Fatal(err)
			}
			if al, err = a.Alerts.Approve(ctx, appr, al.ID, al.Version); err != nil {
				t.Fatal(err)
			}
			if al.State != central.StatePublished {
				t.Fatalf("after approve: %s", al.State)
			}
			var st *central.DeliveryStats
			waitChange(t, "50/50 displayed", changes, func() bool {
				st, _ = a.Registry.Stats(ctx, admin, al.ID)
				return st.Displayed == n
			})
			if st.Targeted != n || st.Received != n || st.Rejected != 0 {
				t.Fatalf("delivery %+v", st)
			}
			for id, ag := range f.agents {
				if sc, _ := ag.Current(); sc.ID() != "alert:"+al.ID {
					t.Fatalf("%s shows %s", id, sc.ID())
				}
			}
			waitChange(t, "still displayed on 50", changes, func() bool {
				st, _ = a.Registry.Stats(ctx, admin, al.ID)
				return st.StillDisplayed == n
			})

			if _, err := a.Alerts.Cancel(ctx, pub, al.ID, "wave over"); err != nil {
				t.Fatal(err)
			}
			waitChange(t, "still displayed on 0", changes, func() bool {
				st, _ = a.Registry.Stats(ctx, admin, al.ID)
				return st.StillDisplayed == 0
			})
			for id, ag := range f.agents {
				if sc, _ := ag.Current(); strings.HasPrefix(sc.ID(), "alert:") {
					t.Fatalf("%s still shows %s after cancel", id, sc.ID())
				}
			}
		})
	}
}
