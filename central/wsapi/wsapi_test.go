package wsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/wsapi"
	"github.com/atmguard/kiosk/central/wsclient"
)

func wantCode(t *testing.T, err error, code string) *wsclient.Error {
	t.Helper()
	var e *wsclient.Error
	if err == nil {
		t.Fatalf("got success, want error %s", code)
	}
	if !errorsAs(err, &e) || e.Code != code {
		t.Fatalf("got %v, want error %s", err, code)
	}
	return e
}

func errorsAs(err error, e **wsclient.Error) bool {
	x, ok := err.(*wsclient.Error)
	if ok {
		*e = x
	}
	return ok
}

func TestOriginCheck(t *testing.T) {
	e := newEnv(t, wsapi.Options{AllowedOrigins: []string{"https://console.example.jp"}})
	host := strings.TrimPrefix(e.http.URL, "http://")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"http://" + host, true},
		{"https://console.example.jp", true},
		{"https://CONSOLE.example.jp/", true},
		{"http://evil.example", false},
		{"http://" + host + ".evil.example", false},
		{"null", false},
		{"https://console.example.jp:8443", false},
	} {
		c, resp, err := wsclient.Dial(ctx(t), e.url, wsclient.Options{Origin: tc.origin})
		if tc.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", tc.origin, err)
				continue
			}
			c.Close()
			continue
		}
		if err == nil {
			c.Close()
			t.Errorf("origin %q accepted", tc.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %v; want HTTP 403 before upgrade", tc.origin, err)
		}
	}
}

func TestBearerToken(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	_, resp, err := wsclient.Dial(ctx(t), e.url, wsclient.Options{Token: "forged-token"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v %v; want 401", resp, err)
	}
	s, err := e.users.Login(context.Background(), "view1", e.pw["view1"], "test")
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial(wsclient.Options{Token: s.Token})
	var sum central.FleetSummary
	if err := c.Call(ctx(t), "fleet.summary", nil, &sum); err != nil {
		t.Fatalf("with bearer token: %v", err)
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, wsapi.Options{AuthTimeout: 30 * time.Second})
	base := e.clk.Waiters()
	c := e.dial(wsclient.Options{})
	for _, m := range []string{"fleet.summary", "alerts.list", "users.list", "alerts.create", "streams.subscribe", "auth.logout", "auth.whoami"} {
		wantCode(t, c.Call(ctx(t), m, nil, nil), "unauthorized")
	}
	wantCode(t, c.Call(ctx(t), "auth.resume", map[string]string{"token": "nope"}, nil), "unauthorized")
	// No login within the deadline: the server closes the connection.
	if !e.clk.BlockUntil(base+2, ctx(t).Done()) { // ping ticker + auth timer
		t.Fatal("timers not armed")
	}
	e.clk.Advance(30 * time.Second)
	select {
	case <-c.Done():
	case <-ctx(t).Done():
		t.Fatal("unauthenticated connection not closed after the auth timeout")
	}
	if !websocket.IsCloseError(c.Err(), websocket.ClosePolicyViolation) {
		t.Fatalf("closed with %v; want 1008", c.Err())
	}
}

func TestLoginAndFirstRun(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	admin := e.login("admin")
	var created struct {
		User            central.User `json:"user"`
		InitialPassword string       `json:"initial_password"`
	}
	if err := admin.Call(ctx(t), "users.create", map[string]string{"name": "tanaka", "role": "approver"}, &created); err != nil {
		t.Fatal(err)
	}
	if len(created.InitialPassword) != 20 || !created.User.MustChangePassword {
		t.Fatalf("created %+v", created)
	}

	c := e.dial(wsclient.Options{})
	wantCode(t, c.Call(ctx(t), "auth.login", map[string]string{"name": "tanaka", "password": "wrong"}, nil), "bad_credentials")
	r, err := c.Login(ctx(t), "tanaka", created.InitialPassword)
	if err != nil || !r.User.MustChangePassword || len(r.Token) != 43 {
		t.Fatalf("login %+v %v", r, err)
	}
	wantCode(t, c.Call(ctx(t), "alerts.list", nil, nil), "password_change_required")
	e1 := wantCode(t, c.ChangePassword(ctx(t), created.InitialPassword, "short"), "invalid")
	if e1.Field != "new_password" {
		t.Fatalf("field %q", e1.Field)
	}
	e2 := wantCode(t, c.ChangePassword(ctx(t), "not the old one", "a long new password"), "bad_credentials")
	if e2.Field != "old_password" {
		t.Fatalf("field %q", e2.Field)
	}
	if err := c.ChangePassword(ctx(t), created.InitialPassword, "a long new password"); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx(t), "alerts.list", nil, nil); err != nil {
		t.Fatalf("after password change: %v", err)
	}
	var who struct {
		User central.User `json:"user"`
	}
	if err := c.Call(ctx(t), "auth.whoami", nil, &who); err != nil || who.User.Name != "tanaka" || who.User.MustChangePassword {
		t.Fatalf("whoami %+v %v", who, err)
	}
}

func TestLoginRateLimited(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	c := e.dial(wsclient.Options{})
	for range 5 {
		wantCode(t, c.Call(ctx(t), "auth.login", map[string]string{"name": "pub1", "password": "guess"}, nil), "bad_credentials")
	}
	err := wantCode(t, c.Call(ctx(t), "auth.login", map[string]string{"name": "pub1", "password": e.pw["pub1"]}, nil), "rate_limited")
	if err.RetryAfterSec != 1 {
		t.Fatalf("retry_after_sec %d", err.RetryAfterSec)
	}
	e.clk.Advance(time.Second)
	if _, err := c.Login(ctx(t), "pub1", e.pw["pub1"]); err != nil {
		t.Fatalf("after backoff: %v", err)
	}
}

// TestRoles: each role is limited to its actions.
func TestRoles(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	conns := map[string]*wsclient.Client{}
	for _, u := range []string{"admin", "pub1", "appr1", "view1", "tech1"} {
		conns[u] = e.login(u)
	}
	in := e.wideInput()
	in.Target = central.Target{Branches: []string{"tokyo-001"}}
	for _, tc := range []struct {
		user, method string
		params       any
		allowed      bool
	}{
		{"view1", "alerts.list", nil, true},
		{"view1", "fleet.summary", nil, true},
		{"view1", "alerts.create", in, false},
		{"view1", "devices.command", map[string]string{"id": "atm-1", "name": "identify"}, false},
		{"view1", "audit.list", nil, false},
		{"view1", "users.list", nil, false},
		{"view1", "streams.subscribe", map[string]string{"stream": "audit"}, false},
		{"pub1", "alerts.create", in, true},
		{"pub1", "alerts.approve", map[string]any{"id": "a-1", "version": 1}, false},
		{"pub1", "audit.list", nil, false},
		{"pub1", "users.create", map[string]string{"name": "evil", "role": "admin"}, false},
		{"pub1", "guard.set", central.AllowList{Phones: []string{"09012345678"}}, false},
		{"pub1", "enroll.create_token", map[string]any{"ttl_sec": 60}, false},
		{"appr1", "alerts.create", in, false},
		{"appr1", "audit.list", nil, true},
		{"appr1", "audit.export", nil, false},
		{"appr1", "users.list", nil, false},
		{"tech1", "alerts.list", nil, false},
		{"tech1", "alerts.create", in, false},
		{"tech1", "fleet.summary", nil, true},
		{"tech1", "users.list", nil, false},
		{"admin", "users.list", nil, true},
		{"admin", "audit.export", nil, true},
		{"admin", "guard.get", nil, true},
	} {
		err := conns[tc.user].Call(ctx(t), tc.method, tc.params, nil)
		switch {
		case tc.allowed && err != nil:
			t.Errorf("%s %s: %v; want allowed", tc.user, tc.method, err)
		case !tc.allowed && wsclient.Code(err) != "forbidden":
			t.Errorf("%s %s: %v; want forbidden", tc.user, tc.method, err)
		}
	}
}

// TestTwoPersonRule: a wide alert needs a second person, whatever the roles.
func TestTwoPersonRule(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	pub, appr, admin := e.login("pub1"), e.login("appr1"), e.login("admin")
	var a central.Alert
	if err := pub.Call(ctx(t), "alerts.create", e.wideInput(), &a); err != nil {
		t.Fatal(err)
	}
	// A wide target cannot be published directly.
	wantCode(t, pub.Call(ctx(t), "alerts.publish", map[string]any{"id": a.ID, "version": a.Version}, nil), "two_person_rule")
	if err := pub.Call(ctx(t), "alerts.submit", map[string]any{"id": a.ID, "version": a.Version}, &a); err != nil {
		t.Fatal(err)
	}
	if a.State != central.StatePending {
		t.Fatalf("state %s", a.State)
	}
	wantCode(t, pub.Call(ctx(t), "alerts.approve", map[string]any{"id": a.ID, "version": a.Version}, nil), "forbidden")

	// Admins may compose but not approve.
	var own central.Alert
	if err := admin.Call(ctx(t), "alerts.create", e.wideInput(), &own); err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(ctx(t), "alerts.submit", map[string]any{"id": own.ID, "version": own.Version}, &own); err != nil {
		t.Fatal(err)
	}
	wantCode(t, admin.Call(ctx(t), "alerts.approve", map[string]any{"id": own.ID, "version": own.Version}, nil), "forbidden")

	// The same person cannot approve their own submission after getting
	// the approver role either.
	pub2 := e.login("pub2")
	var mine central.Alert
	if err := pub2.Call(ctx(t), "alerts.create", e.wideInput(), &mine); err != nil {
		t.Fatal(err)
	}
	if err := pub2.Call(ctx(t), "alerts.submit", map[string]any{"id": mine.ID, "version": mine.Version}, &mine); err != nil {
		t.Fatal(err)
	}
	var users struct{ Users []central.User }
	if err := admin.Call(ctx(t), "users.list", nil, &users); err != nil {
		t.Fatal(err)
	}
	var pub2ID string
	for _, u := range users.Users {
		if u.Name == "pub2" {
			pub2ID = u.ID
		}
	}
	if err := admin.Call(ctx(t), "users.update", map[string]any{"id": pub2ID, "role": "approver"}, nil); err != nil {
		t.Fatal(err)
	}
	// The role change ended pub2's session.
	wantCode(t, pub2.Call(ctx(t), "alerts.list", nil, nil), "unauthorized")
	if _, err := pub2.Login(ctx(t), "pub2", e.pw["pub2"]); err != nil {
		t.Fatal(err)
	}
	wantCode(t, pub2.Call(ctx(t), "alerts.approve", map[string]any{"id": mine.ID, "version": mine.Version}, nil), "two_person_rule")

	// A stale version is a conflict; the right one publishes.
	wantCode(t, appr.Call(ctx(t), "alerts.approve", map[string]any{"id": a.ID, "version": a.Version + 5}, nil), "conflict")
	if err := appr.Call(ctx(t), "alerts.approve", map[string]any{"id": a.ID, "version": a.Version}, &a); err != nil {
		t.Fatal(err)
	}
	if a.State != central.StatePublished || a.ApprovedBy == "" || a.ApprovedBy == a.CreatedBy {
		t.Fatalf("approved %+v", a)
	}
	// The approval queue still holds the two refused ones.
	var page central.AlertPage
	if err := appr.Call(ctx(t), "alerts.list", map[string]any{"states": []string{"pending_approval"}}, &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != 2 {
		t.Fatalf("queue %+v", page)
	}
}

func TestContentGuard(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	pub := e.login("pub1")
	bad := e.wideInput()
	bad.Texts[0].Body = "至急 090-1234-5678 に電話してください"
	err := wantCode(t, pub.Call(ctx(t), "alerts.create", bad, nil), "content_guard")
	if err.Field != "texts[0].body" || !strings.Contains(err.Text+err.Message, "090-1234-5678") {
		t.Fatalf("guard error %+v", err)
	}
	badURL := e.wideInput()
	badURL.Texts[1].Instruction = "Visit https://police-refund.example.com now"
	err = wantCode(t, pub.Call(ctx(t), "alerts.create", badURL, nil), "content_guard")
	if err.Field != "texts[1].instruction" {
		t.Fatalf("guard error %+v", err)
	}
	// alerts.check lists problems without storing anything.
	var chk struct {
		Problems []wsapi.Problem `json:"problems"`
	}
	if err := pub.Call(ctx(t), "alerts.check", bad, &chk); err != nil {
		t.Fatal(err)
	}
	if len(chk.Problems) == 0 || chk.Problems[0].Code != "content_guard" || chk.Problems[0].Field != "texts[0].body" {
		t.Fatalf("check %+v", chk)
	}
	if err := pub.Call(ctx(t), "alerts.check", e.wideInput(), &chk); err != nil || len(chk.Problems) != 0 {
		t.Fatalf("clean input: %+v %v", chk, err)
	}
	var page central.AlertPage
	pub.Call(ctx(t), "alerts.list", nil, &page)
	if page.Total != 0 {
		t.Fatalf("refused alerts were stored: %+v", page)
	}
	// An allowed number is fine.
	ok := e.wideInput()
	ok.Texts[0].Instruction = "#9110 に相談してください"
	if err := pub.Call(ctx(t), "alerts.create", ok, nil); err != nil {
		t.Fatalf("allowed #9110: %v", err)
	}
}

// TestBadFrames: malformed and oversized frames get typed errors, and
// neither that connection's other work nor other sessions are affected.
func TestBadFrames(t *testing.T) {
	e := newEnv(t, wsapi.Options{MaxMessageBytes: 64 << 10, HardLimitBytes: 1 << 20})
	a, b := e.login("pub1"), e.login("view1")
	orphan := func(c *wsclient.Client, code string) {
		t.Helper()
		select {
		case got := <-c.Orphans():
			if got.Code != code {
				t.Fatalf("orphan error %+v; want %s", got, code)
			}
		case <-ctx(t).Done():
			t.Fatalf("no %s error", code)
		}
	}
	for _, raw := range []string{"not json", "[1,2]", `{"id":"1","method":"x"} trailing`, `{"id": 7, "method": "auth.whoami"}`, `{"method":"auth.whoami"}`} {
		if err := a.WriteRaw(websocket.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		orphan(a, "bad_request")
	}
	if err := a.WriteRaw(websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	orphan(a, "bad_request")
	// Before login only small frames are read.
	pre := e.dial(wsclient.Options{})
	if err := pre.WriteRaw(websocket.TextMessage, []byte(`{"id":"1","method":"auth.login","params":{"name":"`+strings.Repeat("n", 65<<10)+`"}}`)); err != nil {
		t.Fatal(err)
	}
	orphan(pre, "too_large")
	if _, err := pre.Login(ctx(t), "pub2", e.pw["pub2"]); err != nil {
		t.Fatalf("login after a too-large frame: %v", err)
	}
	// Typed errors that can be tied to a request carry its id.
	wantCode(t, a.Call(ctx(t), "no.such.method", nil, nil), "unknown_method")
	er := wantCode(t, a.Call(ctx(t), "alerts.get", map[string]any{"id": 12}, nil), "bad_request")
	if er.Field != "id" {
		t.Fatalf("field %q", er.Field)
	}
	er = wantCode(t, a.Call(ctx(t), "alerts.get", map[string]any{"idd": "a-1"}, nil), "bad_request")
	if er.Field != "idd" {
		t.Fatalf("field %q", er.Field)
	}
	// Over the soft limit: too_large, frame skipped, connection alive.
	big := `{"id":"big","method":"alerts.check","params":{"issuer":"` + strings.Repeat("x", 100<<10) + `"}}`
	if err := a.WriteRaw(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	orphan(a, "too_large")
	if err := a.Call(ctx(t), "auth.whoami", nil, nil); err != nil {
		t.Fatalf("after too_large: %v", err)
	}
	if err := b.Call(ctx(t), "auth.whoami", nil, nil); err != nil {
		t.Fatalf("other session: %v", err)
	}
	// Over the hard limit: that connection closes; the other lives on.
	huge := bytes.Repeat([]byte("x"), 2<<20)
	_ = a.WriteRaw(websocket.TextMessage, huge)
	select {
	case <-a.Done():
	case <-ctx(t).Done():
		t.Fatal("connection not closed after a frame over the hard limit")
	}
	if !websocket.IsCloseError(a.Err(), websocket.CloseMessageTooBig) {
		t.Logf("closed with %v", a.Err())
	}
	if err := b.Call(ctx(t), "fleet.summary", nil, nil); err != nil {
		t.Fatalf("other session after a hard-limit close: %v", err)
	}
}

// TestSessionEnds: logout on one connection ends the session on every
// connection that uses it; they are told, and then refused.
func TestSessionEnds(t *testing.T) {
	// Pings would close the (in fake time) silent client during the jump;
	// liveness is tested in TestPingTimeout.
	e := newEnv(t, wsapi.Options{PingInterval: 24 * time.Hour, AuthTimeout: 30 * time.Second})
	a := e.dial(wsclient.Options{})
	r, err := a.Login(ctx(t), "pub1", e.pw["pub1"])
	if err != nil {
		t.Fatal(err)
	}
	b := e.dial(wsclient.Options{})
	if err := b.Call(ctx(t), "auth.resume", map[string]string{"token": r.Token}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Call(ctx(t), "auth.logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	p, err := b.WaitPush(ctx(t), "session", nil)
	if err != nil || !strings.Contains(string(p.Event), `"logged_out"`) {
		t.Fatalf("session push %s %v", p.Event, err)
	}
	wantCode(t, b.Call(ctx(t), "alerts.list", nil, nil), "unauthorized")
	wantCode(t, a.Call(ctx(t), "alerts.list", nil, nil), "unauthorized")
	// Without a session again, both get the authentication deadline again
	// (their timers were armed at connect and are re-armed, not added).
	e.clk.Advance(30 * time.Second)
	for _, x := range []*wsclient.Client{a, b} {
		select {
		case <-x.Done():
		case <-ctx(t).Done():
			t.Fatal("logged-out connection not closed after the auth timeout")
		}
	}

	// Idle expiry on the injected clock.
	c := e.login("view1")
	e.clk.Advance(31 * time.Minute)
	p, err = c.WaitPush(ctx(t), "session", nil)
	if err != nil || !strings.Contains(string(p.Event), `"expired"`) {
		t.Fatalf("expiry push %s %v", p.Event, err)
	}
	// Refused; or, if the clock jump also passed the re-armed
	// authentication deadline, already closed for lack of a session.
	if err := c.Call(ctx(t), "fleet.summary", nil, nil); wsclient.Code(err) != "unauthorized" &&
		!websocket.IsCloseError(c.Err(), websocket.ClosePolicyViolation) {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestStreams(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	pub, appr := e.login("pub1"), e.login("appr1")
	if err := appr.Subscribe(ctx(t), "alerts", ""); err != nil {
		t.Fatal(err)
	}
	if err := appr.Subscribe(ctx(t), "audit", ""); err != nil {
		t.Fatal(err)
	}
	wantCode(t, appr.Call(ctx(t), "streams.subscribe", map[string]string{"stream": "gossip"}, nil), "invalid")
	var a central.Alert
	if err := pub.Call(ctx(t), "alerts.create", e.wideInput(), &a); err != nil {
		t.Fatal(err)
	}
	var sawAlert, sawAudit bool
	for !sawAlert || !sawAudit {
		select {
		case p := <-appr.Pushes():
			c, err := p.Change()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case p.Stream == "alerts" && c.Kind == central.ChangeAlert && c.Alert != nil && c.Alert.ID == a.ID:
				sawAlert = true
			case p.Stream == "audit" && c.Kind == central.ChangeAudit && c.Audit != nil && c.Audit.Object == "alert/"+a.ID:
				sawAudit = true
			}
		case <-ctx(t).Done():
			t.Fatalf("pushes: alert %v audit %v", sawAlert, sawAudit)
		}
	}
	// A viewer may not watch the audit log.
	view := e.login("view1")
	wantCode(t, view.Call(ctx(t), "streams.subscribe", map[string]string{"stream": "audit"}, nil), "forbidden")
	if pub.Dropped() != 0 || appr.Dropped() != 0 {
		t.Fatal("client dropped pushes")
	}
}

func TestPreviewAndCount(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	pub := e.login("pub1")
	in := e.wideInput()
	var pv struct {
		Image    string          `json:"image"`
		Problems []wsapi.Problem `json:"problems"`
	}
	if err := pub.Call(ctx(t), "alerts.preview", map[string]any{"input": in, "orientation": "portrait", "lang": "en"}, &pv); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pv.Image, "data:image/png;base64,") || len(pv.Problems) != 0 {
		t.Fatalf("preview %+v", pv)
	}
	wantCode(t, pub.Call(ctx(t), "alerts.preview", map[string]any{"input": in, "orientation": "diagonal"}, nil), "invalid")
	// A draft that cannot be drawn: no image, the problem next to its field.
	long := e.wideInput()
	long.Texts[0].Headline = "TOO LONG 警察を名乗る電話に注意"
	if err := pub.Call(ctx(t), "alerts.preview", map[string]any{"input": long, "orientation": "landscape"}, &pv); err != nil {
		t.Fatal(err)
	}
	if pv.Image != "" || len(pv.Problems) != 1 || pv.Problems[0].Field != "texts[0].headline" || pv.Problems[0].Code != "invalid" {
		t.Fatalf("unfit preview %+v", pv)
	}
	var cnt central.TargetCount
	if err := pub.Call(ctx(t), "targets.count", map[string]any{"target": central.Target{Prefs: []string{"13"}}}, &cnt); err != nil {
		t.Fatal(err)
	}
	if !cnt.NeedsApproval {
		t.Fatalf("count %+v", cnt)
	}
	er := wantCode(t, pub.Call(ctx(t), "targets.count", map[string]any{"target": central.Target{Prefs: []string{"48"}}}, nil), "invalid")
	if er.Field != "target.prefs[0]" {
		t.Fatalf("field %q", er.Field)
	}
}

func TestCAPOverAPI(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	pub := e.login("pub1")
	alertXML := readFile(t, "../cap/testdata/mpd-0110-alert.xml")
	// The sample's expiry is relative to 2026-11-22 10:00 JST = the env clock.
	var res struct {
		Alert      central.Alert `json:"alert"`
		MsgType    string        `json:"msg_type"`
		References []string      `json:"references"`
	}
	if err := pub.Call(ctx(t), "alerts.import_cap", map[string]string{"xml": alertXML}, &res); err != nil {
		t.Fatal(err)
	}
	if res.MsgType != "Alert" || res.Alert.State != central.StateDraft || len(res.Alert.Texts) != 2 || res.Alert.Texts[0].Lang != "ja" {
		t.Fatalf("import %+v", res)
	}
	// An Update from the same sender becomes a new draft that names the
	// alert it replaces.
	upd := strings.Replace(alertXML, "<msgType>Alert</msgType>", "<msgType>Update</msgType>", 1)
	upd = strings.Replace(upd, "<identifier>JP-MPD-FRAUD-2026-1122-001</identifier>", "<identifier>JP-MPD-FRAUD-2026-1122-001-U1</identifier>", 1)
	upd = strings.Replace(upd, "<scope>Public</scope>", "<scope>Public</scope>\n  <references>fraud-alerts@keishicho.metro.tokyo.lg.jp,JP-MPD-FRAUD-2026-1122-001,2026-11-22T10:00:00+09:00</references>", 1)
	upd = strings.Replace(upd, "<headline>新宿警察署を名乗る詐欺電話に注意</headline>", "<headline>新宿・渋谷の警察署を名乗る詐欺電話に注意</headline>", 1)
	var u struct {
		Alert      central.Alert `json:"alert"`
		MsgType    string        `json:"msg_type"`
		References []string      `json:"references"`
	}
	if err := pub.Call(ctx(t), "alerts.import_cap", map[string]string{"xml": upd}, &u); err != nil {
		t.Fatal(err)
	}
	if u.MsgType != "Update" || u.Alert.ID == res.Alert.ID || u.Alert.State != central.StateDraft ||
		len(u.References) != 1 || u.References[0] != res.Alert.ID || !strings.Contains(u.Alert.Texts[0].Headline, "渋谷") {
		t.Fatalf("update import %+v (original %s)", u, res.Alert.ID)
	}
	// A later Cancel from the same sender finds the imported alert.
	var c struct {
		Alert      central.Alert `json:"alert"`
		MsgType    string        `json:"msg_type"`
		References []string      `json:"references"`
	}
	if err := pub.Call(ctx(t), "alerts.import_cap", map[string]string{"xml": readFile(t, "../cap/testdata/mpd-0110-cancel.xml")}, &c); err != nil {
		t.Fatal(err)
	}
	if c.MsgType != "Cancel" || c.Alert.ID != res.Alert.ID || c.Alert.State != central.StateDraft {
		t.Fatalf("cancel import %+v (want alert %s proposed, unchanged)", c, res.Alert.ID)
	}
	// Export, then re-import our own Cancel after cancelling.
	if err := pub.Call(ctx(t), "alerts.cancel", map[string]string{"id": res.Alert.ID, "reason": "test"}, nil); err != nil {
		t.Fatal(err)
	}
	var x struct{ XML string }
	if err := pub.Call(ctx(t), "alerts.export_cap", map[string]string{"id": res.Alert.ID}, &x); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(x.XML, "<msgType>Cancel</msgType>") {
		t.Fatalf("export of a cancelled alert:\n%s", x.XML)
	}
	if err := pub.Call(ctx(t), "alerts.import_cap", map[string]string{"xml": x.XML}, &c); err != nil || c.Alert.ID != res.Alert.ID {
		t.Fatalf("re-import own cancel: %+v %v", c, err)
	}
	er := wantCode(t, pub.Call(ctx(t), "alerts.import_cap", map[string]string{"xml": "<alert/>"}, nil), "invalid")
	if er.Field != "xml" {
		t.Fatalf("field %q", er.Field)
	}
	unknown := strings.Replace(readFile(t, "../cap/testdata/mpd-0110-cancel.xml"), "JP-MPD-FRAUD-2026-1122-001,", "JP-OTHER-1,", 1)
	wantCode(t, pub.Call(ctx(t), "alerts.import_cap", map[string]string{"xml": unknown}, nil), "not_found")
}

func TestCloseWaits(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	cs := []*wsclient.Client{e.login("pub1"), e.login("view1"), e.dial(wsclient.Options{})}
	cs[0].Subscribe(ctx(t), "alerts", "")
	// An answer proves the server tracks the connection.
	cs[2].Call(ctx(t), "auth.resume", map[string]string{"token": "x"}, nil)
	if e.srv.Conns() != 3 {
		t.Fatalf("conns %d", e.srv.Conns())
	}
	e.srv.Close()
	for _, c := range cs {
		select {
		case <-c.Done():
		case <-ctx(t).Done():
			t.Fatal("client not disconnected by Close")
		}
	}
	if e.srv.Conns() != 0 {
		t.Fatalf("conns after Close %d", e.srv.Conns())
	}
	_, resp, err := wsclient.Dial(ctx(t), e.url, wsclient.Options{})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v", err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := osReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPingTimeout: a logged-in client that answers nothing for two ping
// intervals is disconnected.
func TestPingTimeout(t *testing.T) {
	e := newEnv(t, wsapi.Options{PingInterval: 30 * time.Second})
	s, err := e.users.Login(context.Background(), "view1", e.pw["view1"], "test")
	if err != nil {
		t.Fatal(err)
	}
	base := e.clk.Waiters()
	hdr := http.Header{"Authorization": {"Bearer " + s.Token}}
	silent, _, err := websocket.DefaultDialer.Dial(e.url, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	pings := make(chan struct{}, 8)
	silent.SetPingHandler(func(string) error { pings <- struct{}{}; return nil }) // never pong
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := silent.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	if !e.clk.BlockUntil(base+1, ctx(t).Done()) { // its ping ticker
		t.Fatal("ping ticker not armed")
	}
	e.clk.Advance(30 * time.Second)
	select {
	case <-pings: // first interval: pinged
	case <-ctx(t).Done():
		t.Fatal("no ping after one interval")
	}
	e.clk.Advance(30 * time.Second)
	select {
	case err := <-done:
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("closed with %v; want 1001", err)
		}
	case <-ctx(t).Done():
		t.Fatal("silent connection not closed after two intervals")
	}
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestActionLog: who did what is logged (slog), refusals included.
func TestActionLog(t *testing.T) {
	var buf syncBuf
	e := newEnv(t, wsapi.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	pub, view := e.login("pub1"), e.login("view1")
	var a central.Alert
	if err := pub.Call(ctx(t), "alerts.create", e.wideInput(), &a); err != nil {
		t.Fatal(err)
	}
	view.Call(ctx(t), "alerts.cancel", map[string]string{"id": a.ID}, nil)
	type line struct {
		Msg, User, Method, Object, Result, Remote string
		Role                                      central.Role
	}
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var x line
		if err := json.Unmarshal([]byte(l), &x); err == nil {
			lines = append(lines, x)
		}
	}
	want := []line{
		{Msg: "admin action", User: "pub1", Role: "publisher", Method: "alerts.create", Object: a.ID, Result: "ok"},
		{Msg: "admin action refused", User: "view1", Role: "viewer", Method: "alerts.cancel"},
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l.Msg == w.Msg && l.User == w.User && l.Role == w.Role && l.Method == w.Method && (w.Result == "" || l.Result == w.Result) && (w.Object == "" || l.Object == w.Object) && l.Remote != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("no log line like %+v in:\n%s", w, buf.String())
		}
	}
}

// TestConcurrentCalls: many requests in flight on one connection are each
// answered once, matched by id, though out of order.
func TestConcurrentCalls(t *testing.T) {
	e := newEnv(t, wsapi.Options{MaxInFlight: 4})
	c := e.login("pub1")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r struct {
				User central.User `json:"user"`
			}
			if i%2 == 0 {
				if err := c.Call(ctx(t), "auth.whoami", nil, &r); err != nil || r.User.Name != "pub1" {
					errs <- fmt.Errorf("whoami %d: %+v %v", i, r, err)
				}
				return
			}
			var cnt central.TargetCount
			if err := c.Call(ctx(t), "targets.count", map[string]any{"target": central.Target{Branches: []string{fmt.Sprintf("b-%d", i)}}}, &cnt); err != nil || cnt.NeedsApproval {
				errs <- fmt.Errorf("count %d: %+v %v", i, cnt, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestUserNamesInContent: alerts and slides name their users by id; the
// responses carry a names map so a reader who may not list users (a
// viewer) still sees who created or approved what.
func TestUserNamesInContent(t *testing.T) {
	e := newEnv(t, wsapi.Options{})
	pub, view := e.login("pub1"), e.login("view1")
	in := e.wideInput()
	in.Target = central.Target{Branches: []string{"tokyo-001"}}
	var a central.Alert
	if err := pub.Call(ctx(t), "alerts.create", in, &a); err != nil {
		t.Fatal(err)
	}
	var got struct {
		central.Alert
		Names map[string]string `json:"names"`
	}
	if err := view.Call(ctx(t), "alerts.get", map[string]string{"id": a.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.CreatedBy == "" || got.Names[got.CreatedBy] != "pub1" {
		t.Fatalf("alerts.get: %+v names %v", got.Alert, got.Names)
	}
	var page struct {
		Alerts []central.Alert   `json:"alerts"`
		Total  int               `json:"total"`
		Names  map[string]string `json:"names"`
	}
	if err := view.Call(ctx(t), "alerts.list", nil, &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 || len(page.Alerts) != 1 || page.Names[a.CreatedBy] != "pub1" {
		t.Fatalf("alerts.list: %+v", page)
	}
	var c central.CampaignItem
	if err := pub.Call(ctx(t), "campaigns.create", central.CampaignInput{Target: in.Target, Texts: in.Texts, Expires: in.Expires}, &c); err != nil {
		t.Fatal(err)
	}
	var items struct {
		Items []central.CampaignItem `json:"items"`
		Names map[string]string      `json:"names"`
	}
	if err := view.Call(ctx(t), "campaigns.list", nil, &items); err != nil {
		t.Fatal(err)
	}
	if len(items.Items) != 1 || items.Names[c.CreatedBy] != "pub1" {
		t.Fatalf("campaigns.list: %+v", items)
	}
}
