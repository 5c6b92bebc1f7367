package auth

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
)

// gatedUsers holds every password check inside UserByName until the test
// opens the gate, so a burst of logins is truly concurrent however fast the
// machine hashes.
type gatedUsers struct {
	UserStore
	gate    chan struct{}
	entered chan struct{}
}

func (g *gatedUsers) UserByName(ctx context.Context, name string) (*store.UserRecord, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.UserStore.UserByName(ctx, name)
}

// TestLoginRateLimitConcurrentBurst: a burst of parallel wrong guesses must
// not all be evaluated just because none has failed yet. At most the
// threshold may reach the password check, per user and per address.
func TestLoginRateLimitConcurrentBurst(t *testing.T) {
	const burst = 40
	tests := []struct {
		name      string
		user      func(i int) string
		remote    func(i int) string
		threshold int
	}{
		{"same user, many addresses", func(int) string { return "sato" }, func(i int) string { return fmt.Sprintf("10.1.0.%d:1", i) }, 5},
		{"many users, one address", func(i int) string { return fmt.Sprintf("guess%d", i) }, func(i int) string { return fmt.Sprintf("192.0.2.7:%d", 1000+i) }, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := store.Open(filepath.Join(t.TempDir(), "central.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			g := &gatedUsers{UserStore: StoreUsers{DB: db}, gate: make(chan struct{}), entered: make(chan struct{}, burst)}
			clk := clock.NewFake(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC))
			svc, err := New(g, Options{Clock: clk, Hash: cheap, MaxConcurrent: burst})
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			if _, err := svc.createUser(context.Background(), central.NewUser{Name: "sato", Role: central.RolePublisher, Password: "sato-initial-password"}); err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			results := make(chan error, burst)
			for i := range burst {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.Login(context.Background(), tc.user(i), "wrong guess", tc.remote(i))
					results <- err
				}()
			}
			// Every login either reaches the password check (and waits at
			// the gate) or has already been refused; only then open the gate.
			var checked, refused int
			for checked+refused < burst {
				select {
				case <-g.entered:
					checked++
				case err := <-results:
					var rl *RateLimitError
					if !errors.As(err, &rl) {
						t.Errorf("login returned before its check: %v", err)
					}
					refused++
				}
			}
			close(g.gate)
			wg.Wait()
			close(results)
			bad := 0
			for err := range results {
				if !errors.Is(err, ErrBadCredentials) {
					t.Errorf("evaluated guess: %v; want bad credentials", err)
				}
				bad++
			}
			if checked > tc.threshold {
				t.Fatalf("%d of %d parallel guesses reached the password check; limit is %d", checked, burst, tc.threshold)
			}
			if bad != checked || checked+refused != burst {
				t.Fatalf("checked %d, bad %d, refused %d", checked, bad, refused)
			}
			// The burst used up the allowance: the next guess is refused.
			var rl *RateLimitError
			if _, err := svc.Login(context.Background(), tc.user(0), "wrong guess", tc.remote(0)); !errors.As(err, &rl) {
				t.Fatalf("after the burst: %v; want rate limited", err)
			}
		})
	}
}
