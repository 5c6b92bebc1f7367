package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
)

// cheap keeps the tests fast; the cost parameters are stored per hash, so
// verification paths are the same as with the defaults.
var cheap = HashParams{Time: 1, Memory: 64, Threads: 1}

type harness struct {
	svc     *Service
	clk     *clock.Fake
	db      *store.DB
	audit   *store.AuditLog
	admin   central.Actor
	adminPW string
}

func newHarness(t *testing.T, opt Options) *harness {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "central.db"))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC))
	al := &store.AuditLog{DB: db, Clock: clk}
	opt.Clock = clk
	opt.Hash = cheap
	opt.Audit = al
	svc, err := New(StoreUsers{DB: db}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Close()
		db.Close()
	})
	pw, created, err := svc.Bootstrap(context.Background(), "admin")
	if err != nil || !created || len(pw) != 20 {
		t.Fatalf("bootstrap: %q %v %v", pw, created, err)
	}
	h := &harness{svc: svc, clk: clk, db: db, audit: al, adminPW: pw}
	s, err := svc.Login(context.Background(), "admin", pw, "10.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	h.admin = actorOf(s.User, "10.0.0.1:5000")
	return h
}

func (h *harness) addUser(t *testing.T, name string, role central.Role) (central.User, string) {
	t.Helper()
	pw := "initial-" + name + "-password"
	u, err := h.svc.CreateUser(context.Background(), h.admin, central.NewUser{Name: name, Role: role, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return *u, pw
}

func TestPasswordHash(t *testing.T) {
	h1, err := HashPassword("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse", cheap)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id", h1)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct hors", false}, {"Correct horse", false}, {"", false}} {
		ok, err := VerifyPassword(tc.pw, h1)
		if err != nil || ok != tc.want {
			t.Errorf("verify %q = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5"} {
		if _, err := VerifyPassword("x", bad); err == nil {
			t.Errorf("VerifyPassword accepted malformed hash %q", bad)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p, err := GeneratePassword(20)
		if err != nil || len(p) != 20 || seen[p] {
			t.Fatalf("GeneratePassword = %q, %v (dup %v)", p, err, seen[p])
		}
		if strings.ContainsAny(p, "0O1lI") {
			t.Fatalf("password %q has ambiguous characters", p)
		}
		seen[p] = true
	}
}

func TestBootstrapOnlyOnce(t *testing.T) {
	h := newHarness(t, Options{})
	pw, created, err := h.svc.Bootstrap(context.Background(), "admin")
	if err != nil || created || pw != "" {
		t.Fatalf("second bootstrap: %q %v %v", pw, created, err)
	}
	u, err := h.svc.GetUser(context.Background(), h.admin, h.admin.UserID)
	if err != nil || !u.MustChangePassword || u.Role != central.RoleAdmin {
		t.Fatalf("bootstrap admin = %+v, %v; want admin with must_change_password", u, err)
	}
}

func TestLogin(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	u, pw := h.addUser(t, "sato", central.RolePublisher)
	s, err := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Token) != 43 || s.User.ID != u.ID || !s.User.MustChangePassword {
		t.Fatalf("session %+v", s)
	}
	a, err := h.svc.Authenticate(ctx, s.Token)
	if err != nil || a.UserID != u.ID || a.Role != central.RolePublisher {
		t.Fatalf("Authenticate = %+v, %v", a, err)
	}
	for _, tc := range []struct{ name, pw string }{{"sato", "wrong"}, {"nobody", pw}, {"SATO", pw}, {"", ""}, {strings.Repeat("x", 100), pw}} {
		_, err := h.svc.Login(ctx, tc.name, tc.pw, "10.0.0.3:1")
		if !errors.Is(err, ErrBadCredentials) || central.ErrorCode(err) != central.CodeUnauthorized {
			t.Errorf("Login(%q, %q) = %v; want bad credentials", tc.name, tc.pw, err)
		}
	}
	if _, err := h.svc.Authenticate(ctx, "not-a-token"); !errors.Is(err, central.ErrUnauthorized) {
		t.Errorf("unknown token: %v", err)
	}
}

func TestLoginRateLimitPerUser(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	_, pw := h.addUser(t, "sato", central.RolePublisher)
	for i := range 5 {
		if _, err := h.svc.Login(ctx, "sato", "wrong", "10.0.0.9:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Locked now, even with the right password and from another address.
	_, err := h.svc.Login(ctx, "sato", pw, "10.0.0.10:1")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter() != time.Second || !errors.Is(err, central.ErrRateLimited) {
		t.Fatalf("after 5 failures: %v; want rate limited 1s", err)
	}
	// Other users are not affected.
	_, opw := h.addUser(t, "suzuki", central.RoleApprover)
	if _, err := h.svc.Login(ctx, "suzuki", opw, "10.0.0.10:1"); err != nil {
		t.Fatalf("other user: %v", err)
	}
	h.clk.Advance(time.Second)
	if _, err := h.svc.Login(ctx, "sato", "wrong", "10.0.0.9:1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("after backoff: %v", err)
	}
	// The 6th failure doubles the wait.
	if _, err := h.svc.Login(ctx, "sato", pw, "10.0.0.9:1"); !errors.As(err, &rl) || rl.Wait != 2*time.Second {
		t.Fatalf("after 6 failures: %v; want 2s", err)
	}
	h.clk.Advance(2 * time.Second)
	if _, err := h.svc.Login(ctx, "sato", pw, "10.0.0.9:1"); err != nil {
		t.Fatalf("after second backoff: %v", err)
	}
	// Success resets the user's count.
	if _, err := h.svc.Login(ctx, "sato", "wrong", "10.0.0.9:1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("after success: %v", err)
	}
}

func TestLoginRateLimitPerRemote(t *testing.T) {
	h := newHarness(t, Options{RemoteFailures: 4})
	ctx := context.Background()
	_, pw := h.addUser(t, "sato", central.RolePublisher)
	for i := range 4 {
		h.svc.Login(ctx, "guess"+string(rune('a'+i)), "x", "192.0.2.7:"+string(rune('1'+i)))
	}
	var rl *RateLimitError
	if _, err := h.svc.Login(ctx, "sato", pw, "192.0.2.7:999"); !errors.As(err, &rl) {
		t.Fatalf("spraying address: %v; want rate limited", err)
	}
	if _, err := h.svc.Login(ctx, "sato", pw, "192.0.2.8:1"); err != nil {
		t.Fatalf("other address: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, Options{IdleTimeout: 30 * time.Minute, MaxSessionAge: 2 * time.Hour, SweepInterval: time.Minute})
	ctx := context.Background()
	_, pw := h.addUser(t, "sato", central.RolePublisher)
	s, err := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1")
	if err != nil {
		t.Fatal(err)
	}
	done, reason, err := h.svc.Ended(s.Token)
	if err != nil {
		t.Fatal(err)
	}
	// Sliding: use it every 20 minutes, it stays alive until the absolute age.
	for i := range 5 {
		h.clk.Advance(20 * time.Minute)
		if _, err := h.svc.Authenticate(ctx, s.Token); err != nil {
			t.Fatalf("after %d min: %v", (i+1)*20, err)
		}
	}
	h.clk.Advance(21 * time.Minute) // 121 min: past the absolute age
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("sweeper did not end the session past its absolute age")
	}
	if reason() != EndExpired {
		t.Fatalf("reason %q", reason())
	}
	if _, err := h.svc.Authenticate(ctx, s.Token); !errors.Is(err, central.ErrUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}

	// Idle: no request for 30 minutes.
	s2, _ := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1")
	h.clk.Advance(30 * time.Minute)
	if _, err := h.svc.Authenticate(ctx, s2.Token); !errors.Is(err, central.ErrUnauthorized) {
		t.Fatalf("idle token: %v", err)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	_, pw := h.addUser(t, "sato", central.RoleViewer)
	s, _ := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1")
	done, reason, _ := h.svc.Ended(s.Token)
	if err := h.svc.Logout(ctx, s.Token); err != nil {
		t.Fatal(err)
	}
	<-done
	if reason() != EndLogout {
		t.Fatalf("reason %q", reason())
	}
	if _, err := h.svc.Authenticate(ctx, s.Token); err == nil {
		t.Fatal("token works after logout")
	}
	if err := h.svc.Logout(ctx, s.Token); !errors.Is(err, central.ErrUnauthorized) {
		t.Fatalf("second logout: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	_, pw := h.addUser(t, "sato", central.RolePublisher)
	s1, _ := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1")
	s2, _ := h.svc.Login(ctx, "sato", pw, "10.0.0.3:1")
	other, _, _ := h.svc.Ended(s2.Token)

	for _, tc := range []struct {
		old, new, field string
		bad             bool
	}{
		{"wrong", "a brand new password", "", true},
		{pw, "short", "new_password", false},
		{pw, pw, "new_password", false},
		{pw, "SATO", "new_password", false},
	} {
		err := h.svc.ChangePasswordSession(ctx, s1.Token, tc.old, tc.new)
		if tc.bad && !errors.Is(err, ErrBadCredentials) {
			t.Errorf("old %q: %v; want bad credentials", tc.old, err)
		}
		if !tc.bad && (central.ErrorField(err) != tc.field || !errors.Is(err, central.ErrInvalid)) {
			t.Errorf("new %q: %v; want invalid %s", tc.new, err, tc.field)
		}
	}
	if err := h.svc.ChangePasswordSession(ctx, s1.Token, pw, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	<-other // the other session was ended
	got, err := h.svc.Session(ctx, s1.Token)
	if err != nil || got.User.MustChangePassword {
		t.Fatalf("current session after change: %+v, %v", got, err)
	}
	if _, err := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	s3, err := h.svc.Login(ctx, "sato", "a brand new password", "10.0.0.2:1")
	if err != nil || s3.User.MustChangePassword {
		t.Fatalf("new password: %+v %v", s3, err)
	}
}

func TestUserManagementRoles(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	pub, pw := h.addUser(t, "sato", central.RolePublisher)
	s, _ := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1")
	pa := actorOf(s.User, "")
	if _, err := h.svc.CreateUser(ctx, pa, central.NewUser{Name: "evil", Role: central.RoleAdmin, Password: "long enough password"}); !errors.Is(err, central.ErrForbidden) {
		t.Fatalf("publisher creates user: %v", err)
	}
	if _, err := h.svc.ListUsers(ctx, pa); !errors.Is(err, central.ErrForbidden) {
		t.Fatalf("publisher lists users: %v", err)
	}
	admin := central.RoleAdmin
	if _, err := h.svc.UpdateUser(ctx, pa, pub.ID, central.UserUpdate{Role: &admin}); !errors.Is(err, central.ErrForbidden) {
		t.Fatalf("publisher promotes self: %v", err)
	}
	if _, err := h.svc.GetUser(ctx, pa, pub.ID); err != nil {
		t.Fatalf("read self: %v", err)
	}
	if _, err := h.svc.GetUser(ctx, pa, h.admin.UserID); !errors.Is(err, central.ErrForbidden) {
		t.Fatalf("read other: %v", err)
	}
	for _, tc := range []struct {
		nu    central.NewUser
		field string
	}{
		{central.NewUser{Name: "ab", Role: central.RoleViewer, Password: "long enough password"}, "name"},
		{central.NewUser{Name: "Bad/Name", Role: central.RoleViewer, Password: "long enough password"}, "name"},
		{central.NewUser{Name: "okname", Role: "root", Password: "long enough password"}, "role"},
		{central.NewUser{Name: "okname", Role: central.RoleViewer, Password: "short"}, "password"},
	} {
		if _, err := h.svc.CreateUser(ctx, h.admin, tc.nu); central.ErrorField(err) != tc.field {
			t.Errorf("create %+v: %v; want invalid %s", tc.nu, err, tc.field)
		}
	}
	if _, err := h.svc.CreateUser(ctx, h.admin, central.NewUser{Name: "sato", Role: central.RoleViewer, Password: "long enough password"}); !errors.Is(err, central.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	// Admins keep themselves admin.
	viewer := central.RoleViewer
	if _, err := h.svc.UpdateUser(ctx, h.admin, h.admin.UserID, central.UserUpdate{Role: &viewer}); !errors.Is(err, central.ErrConflict) {
		t.Fatalf("admin demotes self: %v", err)
	}
	yes := true
	if _, err := h.svc.UpdateUser(ctx, h.admin, h.admin.UserID, central.UserUpdate{Disabled: &yes}); !errors.Is(err, central.ErrConflict) {
		t.Fatalf("admin disables self: %v", err)
	}
	// A role change ends the user's sessions; the new role applies at next login.
	done, reason, _ := h.svc.Ended(s.Token)
	if _, err := h.svc.UpdateUser(ctx, h.admin, pub.ID, central.UserUpdate{Role: &viewer}); err != nil {
		t.Fatal(err)
	}
	<-done
	if reason() != EndRevoked {
		t.Fatalf("reason %q", reason())
	}
	s, _ = h.svc.Login(ctx, "sato", pw, "10.0.0.2:1")
	if s.User.Role != central.RoleViewer {
		t.Fatalf("role after change: %s", s.User.Role)
	}
	// Disabled users cannot log in; the error does not say why.
	if _, err := h.svc.UpdateUser(ctx, h.admin, pub.ID, central.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Login(ctx, "sato", pw, "10.0.0.2:1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled login: %v", err)
	}
	// Reset gives a new initial password with the first-run flag.
	no := false
	h.svc.UpdateUser(ctx, h.admin, pub.ID, central.UserUpdate{Disabled: &no})
	if err := h.svc.ResetPassword(ctx, h.admin, pub.ID, "reset password 123"); err != nil {
		t.Fatal(err)
	}
	s, err := h.svc.Login(ctx, "sato", "reset password 123", "10.0.0.2:1")
	if err != nil || !s.User.MustChangePassword {
		t.Fatalf("after reset: %+v %v", s, err)
	}
}

func TestAuditRecorded(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	h.addUser(t, "sato", central.RolePublisher)
	h.svc.Login(ctx, "sato", "wrong", "10.0.0.2:1")
	entries, err := h.audit.List(ctx, h.admin, central.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+":"+e.Actor.Name)
	}
	got := strings.Join(actions, " ")
	for _, want := range []string{"user.bootstrap:central", "login:admin", "user.create:admin", "login.fail:sato"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit %q lacks %q", got, want)
		}
	}
	v, err := h.audit.Verify(ctx, h.admin)
	if err != nil || !v.OK {
		t.Fatalf("audit chain: %+v %v", v, err)
	}
}

func TestCloseEndsSessions(t *testing.T) {
	h := newHarness(t, Options{})
	s, _ := h.svc.Login(context.Background(), "admin", h.adminPW, "10.0.0.1:1")
	done, reason, _ := h.svc.Ended(s.Token)
	h.svc.Close()
	<-done
	if reason() != EndShutdown {
		t.Fatalf("reason %q", reason())
	}
}
