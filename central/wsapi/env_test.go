package wsapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
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

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/alerts"
	"github.com/atmguard/kiosk/central/auth"
	"github.com/atmguard/kiosk/central/hub"
	"github.com/atmguard/kiosk/central/registry"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/central/wsapi"
	"github.com/atmguard/kiosk/central/wsclient"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// memPublisher keeps what the services published, standing in for the
// broker in the protocol tests (the broker is exercised in e2e_test.go).
type memPublisher struct {
	mu   sync.Mutex
	msgs map[string][]byte
}

func (p *memPublisher) Publish(_ context.Context, topic string, payload []byte, _ bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.msgs == nil {
		p.msgs = map[string][]byte{}
	}
	p.msgs[topic] = payload
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is central's services wired for real (bbolt store, auth, alert
// lifecycle, registry, hub) behind a wsapi server on an httptest server.
type env struct {
	t     testing.TB
	clk   *clock.Fake
	db    *store.DB
	users *auth.Service
	alert *alerts.Service
	reg   *registry.Registry
	srv   *wsapi.Server
	http  *httptest.Server
	url   string
	pw    map[string]string // user name -> password (after first-run change)
}

func newEnv(t testing.TB, opt wsapi.Options) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC))
	db, err := store.Open(filepath.Join(t.TempDir(), "central.db"))
	if err != nil {
		t.Fatal(err)
	}
	al := &store.AuditLog{DB: db, Clock: clk}
	h := &hub.Hub{}
	al.OnAppend = func(e central.AuditEntry) {
		h.Publish(central.Change{Kind: central.ChangeAudit, Time: e.Time, Audit: &e})
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := wire.NewSigner(priv)
	pub := &memPublisher{}
	users, err := auth.New(auth.StoreUsers{DB: db}, auth.Options{Clock: clk, Hash: auth.HashParams{Time: 1, Memory: 64, Threads: 1}, Audit: al, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var as *alerts.Service
	reg, err := registry.New(registry.Config{DB: db, Audit: al, Clock: clk, Hub: h, Signer: func() *wire.Signer { return signer }, Publisher: pub, Logger: quiet(),
		AlertTargets: func(id string) (central.Target, central.AlertState, bool) {
			a, err := as.Get(context.Background(), central.System, id)
			if err != nil {
				return central.Target{}, "", false
			}
			return a.Target, a.State, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	as, err = alerts.New(alerts.Config{DB: db, Audit: al, Signer: func() *wire.Signer { return signer }, Publisher: pub, Clock: clk,
		Logger: quiet(), Notify: h.Publish, Counter: reg,
		Render: func(a wire.Alert, lang string, o central.Orientation) ([]byte, error) {
			// Stands in for display's renderer, which refuses a text that
			// does not fit the screen.
			if strings.Contains(a.Texts[0].Headline, "TOO LONG") {
				return nil, &central.FieldError{Kind: central.ErrInvalid, Field: "texts[0].headline", Message: "does not fit a 1920x1080 screen"}
			}
			return []byte("\x89PNG fake " + lang + " " + string(o)), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	opt.Clock = clk
	if opt.Logger == nil {
		opt.Logger = quiet()
	}
	srv := wsapi.New(wsapi.Services{Users: users, Alerts: as, Campaigns: as, Guard: as, Devices: reg, Delivery: reg, Audit: al, Auditor: al}, opt)
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	hs := httptest.NewServer(mux)
	e := &env{t: t, clk: clk, db: db, users: users, alert: as, reg: reg, srv: srv, http: hs,
		url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", pw: map[string]string{}}
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
		users.Close()
		db.Close()
	})
	ctx := context.Background()
	pw, _, err := users.Bootstrap(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e.firstRun("admin", pw)
	s, err := users.Login(ctx, "admin", e.pw["admin"], "test")
	if err != nil {
		t.Fatal(err)
	}
	admin := s.User.Actor()
	for _, u := range []struct {
		name string
		role central.Role
	}{{"pub1", central.RolePublisher}, {"pub2", central.RolePublisher}, {"appr1", central.RoleApprover}, {"view1", central.RoleViewer}, {"tech1", central.RoleFieldTech}, {"admin2", central.RoleAdmin}} {
		initial := "initial-" + u.name + "-pw"
		if _, err := users.CreateUser(ctx, admin, central.NewUser{Name: u.name, Role: u.role, Password: initial}); err != nil {
			t.Fatal(err)
		}
		e.firstRun(u.name, initial)
	}
	users.Logout(ctx, s.Token)
	return e
}

// firstRun does the first-run password change directly on the service.
func (e *env) firstRun(name, initial string) {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.users.Login(ctx, name, initial, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	pw := "chosen password of " + name
	if err := e.users.ChangePasswordSession(ctx, s.Token, initial, pw); err != nil {
		e.t.Fatal(err)
	}
	e.users.Logout(ctx, s.Token)
	e.pw[name] = pw
}

func (e *env) dial(opt wsclient.Options) *wsclient.Client {
	e.t.Helper()
	c, _, err := wsclient.Dial(context.Background(), e.url, opt)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// login dials and logs in as name.
func (e *env) login(name string) *wsclient.Client {
	e.t.Helper()
	c := e.dial(wsclient.Options{})
	if _, err := c.Login(ctx(e.t), name, e.pw[name]); err != nil {
		e.t.Fatalf("login %s: %v", name, err)
	}
	return c
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func (e *env) wideInput() central.AlertInput {
	return central.AlertInput{
		Priority: 80, Issuer: "警視庁",
		Texts: []wire.Text{
			{Lang: "ja", Headline: "警察を名乗る電話に注意", Body: "末尾が0110の番号から警察を名乗る電話がかかっています。", Instruction: "電話を切り、110番へ"},
			{Lang: "en", Headline: "Beware of calls claiming to be police", Body: "Calls from numbers ending in 0110 are scams.", Instruction: "Hang up and call 110"},
		},
		Expires: e.clk.Now().Add(24 * time.Hour),
		Target:  central.Target{Prefs: []string{"13"}},
	}
}

var osReadFile = os.ReadFile
