package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/wire"
)

// Register creates broker credentials in central for every device, in
// batches of one bbolt transaction each (as a bulk enrollment would), and
// fills in the passwords.
func Register(a *app.App, devs []Device) error {
	const batch = 5000
	for lo := 0; lo < len(devs); lo += batch {
		hi := min(lo+batch, len(devs))
		err := a.DB.Update(func(tx *store.Tx) error {
			for i := lo; i < hi; i++ {
				pw, err := a.Registry.Register(tx, devs[i].ID, devs[i].Branch, devs[i].Pref)
				if err != nil {
					return fmt.Errorf("register %s: %w", devs[i].ID, err)
				}
				devs[i].Password = pw
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := lo; i < hi; i++ {
			if err := a.Registry.Registered(devs[i].ID, a.DB); err != nil {
				return err
			}
		}
	}
	return nil
}

// Staff are the two people the two-person rule needs for an alert to all
// displays.
type Staff struct{ Publisher, Approver central.Actor }

// NewStaff creates a publisher and an approver.
func NewStaff(ctx context.Context, a *app.App, admin central.Actor) (Staff, error) {
	var s Staff
	for _, u := range []struct {
		name string
		role central.Role
		into *central.Actor
	}{{"sim-publisher", central.RolePublisher, &s.Publisher}, {"sim-approver", central.RoleApprover, &s.Approver}} {
		usr, err := a.Users.CreateUser(ctx, admin, central.NewUser{Name: u.name, Role: u.role, Password: "fleetsim-" + u.name + "-pw-0123456789"})
		if err != nil {
			return s, fmt.Errorf("create %s: %w", u.name, err)
		}
		*u.into = usr.Actor()
	}
	return s, nil
}

// Admin returns central's first admin.
func Admin(ctx context.Context, a *app.App) (central.Actor, error) {
	users, err := a.Users.ListUsers(ctx, central.System)
	if err != nil {
		return central.Actor{}, err
	}
	for _, u := range users {
		if u.Role == central.RoleAdmin {
			return u.Actor(), nil
		}
	}
	return central.Actor{}, fmt.Errorf("central has no admin user")
}

// AlertInput is the benchmark's alert: the spoofed-police-number warning in
// Japanese and English with a QR link, as campaign staff would send it.
func AlertInput(headline string) central.AlertInput {
	return central.AlertInput{Priority: 80, Issuer: "警視庁", Target: central.Target{All: true},
		Texts: []wire.Text{
			{Lang: "ja", Headline: headline, Body: "警察署の番号(末尾0110)からの電話でも、ATMの操作を求める警察官はいません。", Instruction: "電話を切り、#9110 に相談してください。"},
			{Lang: "en", Headline: "Police never ask you to use an ATM", Body: "Calls showing a police number ending in 0110 can be fake.", Instruction: "Hang up. Call #9110."},
		},
		QR:      &wire.Link{URL: "https://www.npa.go.jp/bureau/criminal/souni/tokusyusagi/", Label: "警察庁 特殊詐欺対策"},
		Expires: time.Now().Add(2 * time.Hour)}
}

// PublishAlert drafts and submits an alert to all displays and has the
// approver approve it, which signs and publishes the snapshot. It returns
// the alert and the wall time just before the approval call: the start of
// every publish-to-displayed latency.
func PublishAlert(ctx context.Context, a *app.App, s Staff, headline string) (*central.Alert, time.Time, error) {
	al, err := a.Alerts.CreateDraft(ctx, s.Publisher, AlertInput(headline))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("draft: %w", err)
	}
	if al, err = a.Alerts.SubmitForApproval(ctx, s.Publisher, al.ID, al.Version); err != nil {
		return nil, time.Time{}, fmt.Errorf("submit: %w", err)
	}
	t0 := time.Now()
	approved, err := a.Alerts.Approve(ctx, s.Approver, al.ID, al.Version)
	if err != nil && !(errors.Is(err, central.ErrUnavailable) && approved != nil) {
		return nil, time.Time{}, fmt.Errorf("approve: %w", err)
	}
	// ErrUnavailable: approved and saved, but the broker did not acknowledge
	// the snapshot within central's deadline; central publishes it again.
	// The latency clock keeps running from t0 either way.
	return approved, t0, err
}

// Latency summarises durations.
type Latency struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarise computes p50/p99/max (nearest-rank).
func Summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p int) time.Duration {
		k := (len(s)*p + 99) / 100
		return s[max(k-1, 0)]
	}
	return Latency{N: len(s), P50: rank(50), P99: rank(99), Max: s[len(s)-1]}
}

func (l Latency) String() string {
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", l.N, ms(l.P50), ms(l.P99), ms(l.Max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func centralFleetQuery() central.FleetQuery { return central.FleetQuery{} }
