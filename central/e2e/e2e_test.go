package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/alerts"
	"github.com/atmguard/kiosk/central/auth"
	"github.com/atmguard/kiosk/central/broker"
	"github.com/atmguard/kiosk/central/hub"
	"github.com/atmguard/kiosk/central/registry"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/central/wsapi"
	"github.com/atmguard/kiosk/central/wsclient"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

const fleetSize = 50

func logger(t *testing.T) *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// system is central (store, auth, alert lifecycle, registry, admin API)
// connected to a broker, plus a fleet of agent cores.
type system struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	users  *auth.Service
	reg    *registry.Registry
	alerts *alerts.Service
	api    *wsapi.Server
	url    string
	pw     map[string]string
	agents []*agent.Agent
}

type brokerKind int

const (
	embedded brokerKind = iota
	mosquitto
)

func start(t *testing.T, kind brokerKind) *system {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	dir := t.TempDir()
	clk := clock.Real{}
	log := logger(t)
	db, err := store.Open(filepath.Join(dir, "central.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &hub.Hub{}
	al := &store.AuditLog{DB: db, Clock: clk}
	al.OnAppend = func(e central.AuditEntry) {
		h.Publish(central.Change{Kind: central.ChangeAudit, Time: e.Time, Audit: &e})
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := wire.NewSigner(priv)
	keys, _ := wire.NewKeyRing(signer.PublicKey())

	s := &system{t: t, ctx: ctx, db: db, pw: map[string]string{}}
	reg, err := registry.New(registry.Config{DB: db, Audit: al, Clock: clk, Hub: h, Logger: log,
		Signer: func() *wire.Signer { return signer }, FlushInterval: 50 * time.Millisecond,
		AlertTargets: func(id string) (central.Target, central.AlertState, bool) {
			a, err := s.alerts.Get(context.Background(), central.System, id)
			if err != nil {
				return central.Target{}, "", false
			}
			return a.Target, a.State, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.reg = reg

	// Enroll the fleet: per-device broker passwords (used by the embedded
	// broker's authentication).
	devPW := map[string]string{}
	for i := range fleetSize {
		id := fmt.Sprintf("atm-13-%04d", i)
		branch := fmt.Sprintf("tokyo-%03d", i%5)
		var pw string
		if err := db.Update(func(tx *store.Tx) error {
			var err error
			pw, err = reg.Register(tx, id, branch, "13")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := reg.Registered(id, db); err != nil {
			t.Fatal(err)
		}
		devPW[id] = pw
	}

	var brokerURL, cUser, cPass string
	switch kind {
	case embedded:
		e, err := broker.StartEmbedded(broker.Config{Addr: "127.0.0.1:0", Auth: reg, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		brokerURL = e.URL()
		cUser, cPass = e.CentralCredentials()
	case mosquitto:
		b := testbroker.Mosquitto(t)
		brokerURL, cUser, cPass = b.URL, "central", "unused"
	}
	handle := func(topic string, payload []byte) { reg.Handle(topic, payload) }
	mc, err := broker.Dial(ctx, broker.ClientConfig{URL: brokerURL, ClientID: "central", Username: cUser, Password: cPass, Logger: log,
		Subscriptions: map[string]broker.Handler{wire.AllStatusFilter: handle, wire.AllEventFilter: handle}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mc.Close)
	reg.SetPublisher(mc)

	s.alerts, err = alerts.New(alerts.Config{DB: db, Audit: al, Signer: func() *wire.Signer { return signer }, Publisher: mc,
		Clock: clk, Logger: log, Notify: h.Publish, Counter: reg, OnSigned: reg.NoteSnapshot})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() { defer wg.Done(); reg.Run(ctx) }()
	go func() { defer wg.Done(); s.alerts.Run(ctx) }()

	s.users, err = auth.New(auth.StoreUsers{DB: db}, auth.Options{Clock: clk, Hash: auth.HashParams{Time: 1, Memory: 1024, Threads: 1}, Audit: al, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.users.Close() })
	s.api = wsapi.New(wsapi.Services{Users: s.users, Alerts: s.alerts, Campaigns: s.alerts, Guard: s.alerts,
		Devices: reg, Delivery: reg, Audit: al, Auditor: al}, wsapi.Options{Clock: clk, Logger: log})
	mux := http.NewServeMux()
	mux.Handle("/ws", s.api)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { s.api.Close(); hs.Close() })
	s.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	s.makeUsers()

	// The fleet: real agent cores, headless presenter.
	for i := range fleetSize {
		id := fmt.Sprintf("atm-13-%04d", i)
		a, err := agent.New(agent.Options{
			DeviceID: id, Branch: fmt.Sprintf("tokyo-%03d", i%5), Pref: "13", AgentVersion: "e2e",
			BrokerURL: brokerURL, Username: id, Password: devPW[id], Keys: keys,
			CachePath:         filepath.Join(dir, id+".db"),
			ReconnectJitter:   50 * time.Millisecond,
			StatusMinInterval: 50 * time.Millisecond,
			Logger:            log,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(context.Background()) }()
		t.Cleanup(func() {
			a.Close()
			if err := <-done; err != nil {
				t.Errorf("agent %s: %v", id, err)
			}
		})
		s.agents = append(s.agents, a)
	}
	return s
}

// makeUsers bootstraps the admin and creates a publisher and an approver,
// each through the first-run password change.
func (s *system) makeUsers() {
	ctx := context.Background()
	pw, _, err := s.users.Bootstrap(ctx, "admin")
	if err != nil {
		s.t.Fatal(err)
	}
	admin := s.dial()
	if _, err := admin.Login(s.ctx, "admin", pw); err != nil {
		s.t.Fatal(err)
	}
	if err := admin.ChangePassword(s.ctx, pw, "admin e2e password"); err != nil {
		s.t.Fatal(err)
	}
	s.pw["admin"] = "admin e2e password"
	for _, u := range []struct{ name, role string }{{"sato", "publisher"}, {"suzuki", "approver"}, {"yamada", "viewer"}} {
		var r struct {
			InitialPassword string `json:"initial_password"`
		}
		if err := admin.Call(s.ctx, "users.create", map[string]string{"name": u.name, "role": u.role}, &r); err != nil {
			s.t.Fatal(err)
		}
		c := s.dial()
		if _, err := c.Login(s.ctx, u.name, r.InitialPassword); err != nil {
			s.t.Fatal(err)
		}
		s.pw[u.name] = "e2e password of " + u.name
		if err := c.ChangePassword(s.ctx, r.InitialPassword, s.pw[u.name]); err != nil {
			s.t.Fatal(err)
		}
		c.Close()
	}
	admin.Close()
}

func (s *system) dial() *wsclient.Client {
	s.t.Helper()
	c, _, err := wsclient.Dial(s.ctx, s.url, wsclient.Options{})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *system) login(name string) *wsclient.Client {
	s.t.Helper()
	c := s.dial()
	if _, err := c.Login(s.ctx, name, s.pw[name]); err != nil {
		s.t.Fatalf("login %s: %v", name, err)
	}
	return c
}

// waitDelivery reads the delivery stream until cond holds (a resync makes
// it re-read the stats), or fails after a generous deadline: the machine is
// small and shared, so the deadline only bounds a hung test.
func waitDelivery(t *testing.T, c *wsclient.Client, alertID, what string, cond func(central.DeliveryStats) bool) central.DeliveryStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var last central.DeliveryStats
	for {
		select {
		case p, ok := <-c.Pushes():
			if !ok {
				t.Fatalf("%s: connection closed (%v)", what, c.Err())
			}
			ch, err := p.Change()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case ch.Kind == central.ChangeResync:
				if err := c.Call(ctx, "alerts.delivery", map[string]string{"id": alertID}, &last); err != nil {
					t.Fatal(err)
				}
			case ch.Kind == central.ChangeDelivery && ch.Delivery != nil && ch.Delivery.AlertID == alertID:
				last = *ch.Delivery
			default:
				continue
			}
			if cond(last) {
				return last
			}
		case <-ctx.Done():
			t.Fatalf("%s: last delivery state %+v", what, last)
		}
	}
}

func input() central.AlertInput {
	return central.AlertInput{
		Priority: 90, Issuer: "警視庁",
		Texts: []wire.Text{
			{Lang: "ja", Headline: "新宿警察署を名乗る詐欺電話に注意", Body: "末尾が0110の番号から警察を名乗る電話がかかっています。警察がATMの操作をお願いすることはありません。", Instruction: "電話を切り、110番へ"},
			{Lang: "en", Headline: "Scam calls claiming to be Shinjuku Police", Body: "Calls from numbers ending in 0110 claim to be the police. The police never ask you to operate an ATM.", Instruction: "Hang up and call 110"},
		},
		Expires: time.Now().Add(24 * time.Hour),
		Target:  central.Target{Prefs: []string{"13"}},
	}
}

// TestAlertReachesFleet: created by a publisher and approved by an approver
// over the WebSocket API, an alert reaches 50 agent cores; the approver
// watches delivery reach 50/50 displayed, then cancels and watches "still
// displayed" fall to 0.
func TestAlertReachesFleet(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind brokerKind
	}{{"embedded", embedded}, {"mosquitto", mosquitto}} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.kind)
			pub, appr := s.login("sato"), s.login("suzuki")

			var cnt central.TargetCount
			if err := pub.Call(s.ctx, "targets.count", map[string]any{"target": central.Target{Prefs: []string{"13"}}}, &cnt); err != nil {
				t.Fatal(err)
			}
			if cnt.Devices != fleetSize || !cnt.NeedsApproval {
				t.Fatalf("target count %+v", cnt)
			}
			var a central.Alert
			if err := pub.Call(s.ctx, "alerts.create", input(), &a); err != nil {
				t.Fatal(err)
			}
			if err := pub.Call(s.ctx, "alerts.submit", map[string]any{"id": a.ID, "version": a.Version}, &a); err != nil {
				t.Fatal(err)
			}
			// The publisher cannot approve their own alert.
			if err := pub.Call(s.ctx, "alerts.approve", map[string]any{"id": a.ID, "version": a.Version}, nil); wsclient.Code(err) != "forbidden" {
				t.Fatalf("self-approval: %v", err)
			}
			if err := appr.Subscribe(s.ctx, "delivery", a.ID); err != nil {
				t.Fatal(err)
			}
			if err := appr.Call(s.ctx, "alerts.approve", map[string]any{"id": a.ID, "version": a.Version}, &a); err != nil {
				t.Fatal(err)
			}
			if a.State != central.StatePublished {
				t.Fatalf("state after approve: %s", a.State)
			}
			st := waitDelivery(t, appr, a.ID, "50/50 displayed", func(d central.DeliveryStats) bool {
				return d.Displayed == fleetSize && d.StillDisplayed == fleetSize
			})
			if st.Targeted != fleetSize || st.Rejected != 0 {
				t.Fatalf("delivery %+v", st)
			}
			// The agents really show it (verified, signed by central).
			for i, ag := range s.agents {
				if sc, _ := ag.Current(); sc.Alert == nil || sc.Alert.ID != a.ID {
					t.Errorf("agent %d shows %s, not alert %s", i, sc.Kind, a.ID)
				}
				if r := ag.Stats().Rejected; len(r) != 0 {
					t.Errorf("agent %d rejected %v", i, r)
				}
			}

			if err := pub.Call(s.ctx, "alerts.cancel", map[string]string{"id": a.ID, "reason": "wave over"}, &a); err != nil {
				t.Fatal(err)
			}
			if a.State != central.StateCancelled {
				t.Fatalf("state after cancel: %s", a.State)
			}
			st = waitDelivery(t, appr, a.ID, "still displayed 0", func(d central.DeliveryStats) bool { return d.StillDisplayed == 0 })
			for i, ag := range s.agents {
				if sc, _ := ag.Current(); sc.Alert != nil && sc.Alert.ID == a.ID {
					t.Errorf("agent %d still shows the cancelled alert", i)
				}
			}
			t.Logf("%s: final delivery %+v", tc.name, st)
		})
	}
}
