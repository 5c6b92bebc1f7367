package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/central/wsclient"
	"github.com/atmguard/kiosk/internal/wire"
)

const fleetSize = 50

func logger(t *testing.T) *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// system is central (central/app: store, keys, broker, registry, alert
// lifecycle, auth, admin API, HTTP) plus a fleet of agent cores.
type system struct {
	t      *testing.T
	ctx    context.Context
	app    *app.App
	url    string
	pw     map[string]string
	agents []*agent.Agent
}

type brokerKind int

const (
	embedded brokerKind = iota
	mosquitto
)

func start(t *testing.T, kind brokerKind, devices int) *system {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var brokerURL string
	a := app.NewTest(t, func(c *app.Config) {
		c.Logger = logger(t)
		c.FlushInterval = 50 * time.Millisecond
		if kind == mosquitto {
			b := testbroker.Mosquitto(t)
			c.BrokerURL, c.BrokerUser, c.BrokerPassword = b.URL, "central", "unused"
		}
	})
	brokerURL = a.BrokerURL()
	s := &system{t: t, ctx: ctx, app: a, pw: map[string]string{},
		url: "ws" + strings.TrimPrefix(a.URL(), "http") + "/ws"}
	s.makeUsers()

	// The fleet: real agent cores (headless presenter), enrolled with
	// per-device broker credentials (checked by the embedded broker).
	dir := t.TempDir()
	for i := range devices {
		id := fmt.Sprintf("atm-13-%04d", i)
		branch := fmt.Sprintf("tokyo-%03d", i%5)
		pw, err := a.RegisterDevice(id, branch, "13")
		if err != nil {
			t.Fatal(err)
		}
		ag, err := agent.New(agent.Options{
			DeviceID: id, Branch: branch, Pref: "13", AgentVersion: "e2e",
			BrokerURL: brokerURL, Username: id, Password: pw, Keys: a.Keys.KeyRing(keys.Signing), CentralURL: a.URL(),
			CachePath:         filepath.Join(dir, id+".db"),
			ReconnectJitter:   50 * time.Millisecond,
			StatusMinInterval: 50 * time.Millisecond,
			Logger:            logger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ag.Run(ctx); err != nil {
				t.Errorf("agent %s: %v", id, err)
			}
		}()
		s.agents = append(s.agents, ag)
	}
	return s
}

// makeUsers bootstraps the admin and creates a publisher and an approver,
// each through the first-run password change.
func (s *system) makeUsers() {
	pw := s.app.AdminPassword
	if pw == "" {
		s.t.Fatal("central did not create the first admin")
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
			s := start(t, tc.kind, fleetSize)
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
			approved := time.Now()
			if err := appr.Call(s.ctx, "alerts.approve", map[string]any{"id": a.ID, "version": a.Version}, &a); err != nil {
				t.Fatal(err)
			}
			if a.State != central.StatePublished {
				t.Fatalf("state after approve: %s", a.State)
			}
			st := waitDelivery(t, appr, a.ID, "50/50 displayed", func(d central.DeliveryStats) bool {
				return d.Displayed == fleetSize && d.StillDisplayed == fleetSize
			})
			t.Logf("%s: approve -> %d/%d displayed on the stream in %v (informational; not asserted)", tc.name, st.Displayed, st.Targeted, time.Since(approved).Round(time.Millisecond))
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

// TestAdminAPINegative runs the refusals against the assembled central (its
// HTTP stack in front of the admin API).
func TestAdminAPINegative(t *testing.T) {
	s := start(t, embedded, 0)
	// Cross-origin: 403 before any WebSocket exists.
	_, resp, err := wsclient.Dial(s.ctx, s.url, wsclient.Options{Origin: "https://evil.example"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: %v", err)
	}
	// Same origin is fine (the console's case).
	c, _, err := wsclient.Dial(s.ctx, s.url, wsclient.Options{Origin: s.app.URL()})
	if err != nil {
		t.Fatalf("same origin: %v", err)
	}
	defer c.Close()
	// Unauthenticated: bad bearer token refused at the upgrade, and no
	// method works before login.
	_, resp, err = wsclient.Dial(s.ctx, s.url, wsclient.Options{Token: "guess"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
	if err := c.Call(s.ctx, "alerts.list", nil, nil); wsclient.Code(err) != "unauthorized" {
		t.Fatalf("before login: %v", err)
	}
	// Roles, two-person rule, content guard.
	viewer, pub, appr := s.login("yamada"), s.login("sato"), s.login("suzuki")
	if err := viewer.Call(s.ctx, "alerts.create", input(), nil); wsclient.Code(err) != "forbidden" {
		t.Fatalf("viewer creates: %v", err)
	}
	bad := input()
	bad.Texts[1].Body = "Call 03-5555-0110 to protect your account"
	err = pub.Call(s.ctx, "alerts.create", bad, nil)
	var we *wsclient.Error
	if wsclient.Code(err) != "content_guard" || !errorsAs(err, &we) || we.Field != "texts[1].body" {
		t.Fatalf("guard: %v", err)
	}
	var a central.Alert
	if err := pub.Call(s.ctx, "alerts.create", input(), &a); err != nil {
		t.Fatal(err)
	}
	if err := pub.Call(s.ctx, "alerts.publish", map[string]any{"id": a.ID, "version": a.Version}, nil); wsclient.Code(err) != "two_person_rule" {
		t.Fatalf("direct publish of a wide alert: %v", err)
	}
	if err := pub.Call(s.ctx, "alerts.submit", map[string]any{"id": a.ID, "version": a.Version}, &a); err != nil {
		t.Fatal(err)
	}
	// Malformed and oversized frames: typed errors, other sessions unaffected.
	if err := pub.WriteRaw(websocket.TextMessage, []byte("{nope")); err != nil {
		t.Fatal(err)
	}
	if got := orphan(t, pub); got.Code != "bad_request" {
		t.Fatalf("malformed: %+v", got)
	}
	if err := pub.WriteRaw(websocket.TextMessage, []byte(`{"id":"x","method":"auth.whoami","params":{"pad":"`+strings.Repeat("a", 7<<20)+`"}}`)); err != nil {
		t.Fatal(err)
	}
	if got := orphan(t, pub); got.Code != "too_large" {
		t.Fatalf("oversized: %+v", got)
	}
	if err := pub.Call(s.ctx, "auth.whoami", nil, nil); err != nil {
		t.Fatalf("sender after bad frames: %v", err)
	}
	if err := appr.Call(s.ctx, "alerts.approve", map[string]any{"id": a.ID, "version": a.Version}, &a); err != nil || a.State != central.StatePublished {
		t.Fatalf("other session approves: %v (%s)", err, a.State)
	}
}

func errorsAs(err error, e **wsclient.Error) bool {
	x, ok := err.(*wsclient.Error)
	if ok {
		*e = x
	}
	return ok
}

func orphan(t *testing.T, c *wsclient.Client) wsclient.Error {
	t.Helper()
	select {
	case e := <-c.Orphans():
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no error frame for a bad frame")
		return wsclient.Error{}
	}
}
