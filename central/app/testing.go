package app

import (
	"context"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/auth"
	"github.com/atmguard/kiosk/central/store"
)

// NewTest starts a central for a test: embedded broker on 127.0.0.1:0,
// HTTP on 127.0.0.1:0, a temp data dir, fast password hashing, quiet logs.
// opts may adjust the config before start. It is closed at the end of the
// test. Users: NewTestUser creates more.
func NewTest(tb testing.TB, opts ...func(*Config)) *App {
	tb.Helper()
	cfg := Config{
		DataDir: tb.TempDir(), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		Logger:        QuietLogger(),
		Auth:          auth.Options{Hash: auth.HashParams{Time: 1, Memory: 8 * 1024, Threads: 1}},
		FlushInterval: 20 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("start central: %v", err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

// Admin is the bootstrap admin's actor (for tests calling services directly).
func (a *App) Admin(tb testing.TB) central.Actor {
	tb.Helper()
	users, err := a.Users.ListUsers(context.Background(), central.System)
	if err != nil {
		tb.Fatal(err)
	}
	for _, u := range users {
		if u.Role == central.RoleAdmin {
			return u.Actor()
		}
	}
	tb.Fatal("no admin user")
	return central.Actor{}
}

// NewTestUser creates a user with role and returns its actor and password.
func (a *App) NewTestUser(tb testing.TB, name string, role central.Role) (central.Actor, string) {
	tb.Helper()
	pw := "test-password-" + name + "-0123456789"
	u, err := a.Users.CreateUser(context.Background(), a.Admin(tb), central.NewUser{Name: name, Role: role, Password: pw})
	if err != nil {
		tb.Fatalf("create user %s: %v", name, err)
	}
	return u.Actor(), pw
}

// RegisterDevice creates broker credentials for a device as enrollment
// would (without a device config) and returns its password.
func (a *App) RegisterDevice(id, branch, pref string) (string, error) {
	var pw string
	err := a.DB.Update(func(tx *store.Tx) error {
		var err error
		pw, err = a.Registry.Register(tx, id, branch, pref)
		return err
	})
	if err != nil {
		return "", err
	}
	return pw, a.Registry.Registered(id, a.DB)
}
