package alerts_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"image/png"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/alerts"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// broker records what reached it; down makes every publish fail. It stands
// in for the MQTT broker only: the service's own logic is what is tested.
type broker struct {
	mu       sync.Mutex
	down     bool
	retained map[string][]byte
	order    []string
}

func (b *broker) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return errors.New("connection refused")
	}
	b.retained[topic] = payload
	b.order = append(b.order, topic)
	return nil
}

func (b *broker) snapshot(t *testing.T, kr wire.KeyRing, sc wire.Scope) *wire.Snapshot {
	t.Helper()
	b.mu.Lock()
	env := b.retained[wire.StateTopic(sc)]
	b.mu.Unlock()
	if env == nil {
		t.Fatalf("nothing retained on %s", sc)
	}
	s, err := wire.OpenSnapshot(env, kr, sc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fixture struct {
	svc *alerts.Service
	db  *store.DB
	b   *broker
	kr  wire.KeyRing
	clk *clock.Fake
	sg  *wire.Signer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	sg, _ := wire.NewSigner(priv)
	kr, _ := wire.NewKeyRing(sg.PublicKey())
	clk := clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	b := &broker{retained: map[string][]byte{}}
	svc, err := alerts.New(alerts.Config{DB: db, Audit: &store.AuditLog{DB: db, Clock: clk}, Signer: func() *wire.Signer { return sg },
		Publisher: b, Clock: clk, Logger: nil})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, db: db, b: b, kr: kr, clk: clk, sg: sg}
}

var pub = central.Actor{UserID: "u-pub", Name: "pub", Role: central.RolePublisher}

func input(f *fixture, branch string, prio int, headline string) central.AlertInput {
	return central.AlertInput{Priority: prio, Target: central.Target{Branches: []string{branch}},
		Texts:   []wire.Text{{Lang: "ja", Headline: headline}},
		Expires: f.clk.Now().Add(time.Hour)}
}

func publish(t *testing.T, f *fixture, in central.AlertInput) (*central.Alert, error) {
	t.Helper()
	a, err := f.svc.CreateDraft(context.Background(), pub, in)
	if err != nil {
		t.Fatal(err)
	}
	return f.svc.Publish(context.Background(), pub, a.ID, a.Version)
}

func TestSnapshotContentAndOrder(t *testing.T) {
	f := newFixture(t)
	publish(t, f, input(f, "b1", 20, "低"))
	publish(t, f, input(f, "b1", 90, "高"))
	publish(t, f, input(f, "b2", 50, "別支店"))
	sc, _ := wire.BranchScope("b1")
	s := f.b.snapshot(t, f.kr, sc)
	if s.Seq != 2 || len(s.Alerts) != 2 || s.Alerts[0].Priority != 90 || s.Alerts[1].Priority != 20 {
		t.Fatalf("b1 snapshot %+v", s)
	}
	if s.Expires.Sub(s.Issued) != 6*time.Hour {
		t.Fatalf("lifetime %s", s.Expires.Sub(s.Issued))
	}
	// A scope carries at most wire.MaxAlerts: the 17th is refused, nothing changes.
	for i := 0; i < wire.MaxAlerts-2; i++ {
		if _, err := publish(t, f, input(f, "b1", 30, fmt.Sprint("n", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := publish(t, f, input(f, "b1", 30, "one too many")); central.ErrorCode(err) != central.CodeInvalid {
		t.Fatalf("17th alert: %v", err)
	}
	if s := f.b.snapshot(t, f.kr, sc); len(s.Alerts) != wire.MaxAlerts {
		t.Fatalf("after refusal: %d alerts", len(s.Alerts))
	}
}

func TestBrokerDownKeepsChangeAndRepublishes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, err := publish(t, f, input(f, "b1", 50, "一"))
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := wire.BranchScope("b1")
	f.b.mu.Lock()
	f.b.down = true
	f.b.mu.Unlock()
	al, err := publish(t, f, input(f, "b1", 50, "二"))
	if !errors.Is(err, central.ErrUnavailable) || al == nil || al.State != central.StatePublished {
		t.Fatalf("publish with broker down: %v %+v", err, al)
	}
	if _, err := f.svc.Cancel(ctx, pub, first.ID, "test"); !errors.Is(err, central.ErrUnavailable) {
		t.Fatalf("cancel with broker down: %v", err)
	}
	if s := f.b.snapshot(t, f.kr, sc); s.Seq != 1 {
		t.Fatalf("broker has seq %d", s.Seq)
	}
	f.b.mu.Lock()
	f.b.down = false
	f.b.mu.Unlock()
	if err := f.svc.Reissue(ctx, false); err != nil {
		t.Fatal(err)
	}
	s := f.b.snapshot(t, f.kr, sc)
	if s.Seq != 4 || len(s.Alerts) != 1 || s.Alerts[0].ID != al.ID {
		t.Fatalf("after recovery: seq %d alerts %+v (want seq 4 = two unpublished + re-issue)", s.Seq, s.Alerts)
	}
	// Acknowledged now: a second Reissue right away publishes nothing new.
	n := len(f.b.order)
	f.svc.Reissue(ctx, false)
	if len(f.b.order) != n {
		t.Fatalf("re-issued an acknowledged, fresh scope")
	}
}

func TestIssuerIsGuarded(t *testing.T) {
	f := newFixture(t)
	in := input(f, "b1", 50, "注意")
	in.Issuer = "警察 03-9999-0000"
	_, err := f.svc.CreateDraft(context.Background(), pub, in)
	if central.ErrorCode(err) != central.CodeContentGuard || central.ErrorField(err) != "issuer" {
		t.Fatalf("issuer with a phone number: %v", err)
	}
}

func TestWideTargetNeedsApprover(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := input(f, "b1", 50, "全国")
	in.Target = central.Target{All: true}
	a, _ := f.svc.CreateDraft(ctx, pub, in)
	a, _ = f.svc.SubmitForApproval(ctx, pub, a.ID, a.Version)
	if _, err := f.svc.Reject(ctx, central.Actor{UserID: "u-pub", Role: central.RoleApprover}, a.ID, a.Version, "no"); !errors.Is(err, central.ErrTwoPersonRule) {
		t.Fatalf("self-reject: %v", err)
	}
	appr := central.Actor{UserID: "u-appr", Role: central.RoleApprover}
	if _, err := f.svc.Reject(ctx, appr, a.ID, a.Version, ""); central.ErrorField(err) != "reason" {
		t.Fatalf("reject without reason: %v", err)
	}
	r, err := f.svc.Reject(ctx, appr, a.ID, a.Version, "本文を短く")
	if err != nil || r.State != central.StateDraft || r.RejectReason != "本文を短く" {
		t.Fatalf("reject: %v %+v", err, r)
	}
	if len(f.b.order) != 0 {
		t.Fatal("something was published")
	}
}

// A publisher alone may not reach the fleet by listing many branches or
// devices, nor publish a slide whose images the guard cannot read.
func TestManyTargetsNeedApprover(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := func(prefix string, n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		target central.Target
		wide   bool
	}{
		{"3 branches", central.Target{Branches: ids("b", central.MaxDirectBranches)}, false},
		{"4 branches", central.Target{Branches: ids("b", central.MaxDirectBranches+1)}, true},
		{"1000 branches", central.Target{Branches: ids("b", 1000)}, true},
		{"20 devices", central.Target{Devices: ids("d", central.MaxDirectDevices)}, false},
		{"21 devices", central.Target{Devices: ids("d", central.MaxDirectDevices+1)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(f, "x", 50, "注意")
			in.Target = tc.target
			_, err := publish(t, f, in)
			if got := errors.Is(err, central.ErrTwoPersonRule); got != tc.wide {
				t.Fatalf("publish: %v, want two-person refusal=%v", err, tc.wide)
			}
			c, err := f.svc.CreateItem(ctx, pub, central.CampaignInput{Target: tc.target, Texts: in.Texts, Expires: in.Expires})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.PublishItem(ctx, pub, c.ID, c.Version)
			if got := errors.Is(err, central.ErrTwoPersonRule); got != tc.wide {
				t.Fatalf("publish slide: %v, want two-person refusal=%v", err, tc.wide)
			}
			tcnt, err := f.svc.TargetCount(ctx, pub, tc.target)
			if err != nil || tcnt.NeedsApproval != tc.wide {
				t.Fatalf("targets.count: %+v %v", tcnt, err)
			}
		})
	}

	var buf bytes.Buffer
	png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	ref, err := f.svc.UploadImage(ctx, pub, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.CreateItem(ctx, pub, central.CampaignInput{Target: central.Target{Branches: []string{"b1"}}, Images: []wire.ContentRef{ref},
		Texts: []wire.Text{{Lang: "ja", Headline: "注意"}}, Expires: f.clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PublishItem(ctx, pub, c.ID, c.Version); !errors.Is(err, central.ErrTwoPersonRule) || central.ErrorField(err) != "images" {
		t.Fatalf("slide with an image published alone: %v", err)
	}
}

type bigCounter int

func (n bigCounter) CountTarget(central.Target) (int, int) { return int(n), int(n) }

func TestTargetReachingManyDisplaysNeedsApprover(t *testing.T) {
	f := newFixture(t)
	svc, err := alerts.New(alerts.Config{DB: f.db, Audit: &store.AuditLog{DB: f.db, Clock: f.clk}, Signer: func() *wire.Signer { return f.sg },
		Publisher: f.b, Clock: f.clk, Counter: bigCounter(central.MaxDirectReach + 1)})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	if _, err := publish(t, f, input(f, "b1", 50, "注意")); !errors.Is(err, central.ErrTwoPersonRule) {
		t.Fatalf("branch reaching %d displays published alone: %v", central.MaxDirectReach+1, err)
	}
}

// Content is checked against the allow-list as it is when it moves forward
// (submit, approve, publish), not only when it was written.
func TestGuardRecheckedWhenContentMovesForward(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := central.Actor{UserID: "u-admin", Role: central.RoleAdmin}
	appr := central.Actor{UserID: "u-appr", Role: central.RoleApprover}
	setList := func(phones ...string) {
		t.Helper()
		l := central.DefaultAllowList()
		l.Phones = append(l.Phones, phones...)
		if _, err := f.svc.SetAllowList(ctx, admin, l); err != nil {
			t.Fatal(err)
		}
	}
	const num = "0120-000-999"
	setList(num)
	wide := input(f, "b1", 50, "相談は "+num)
	wide.Target = central.Target{All: true}
	pending, err := f.svc.CreateDraft(ctx, pub, wide)
	if err != nil {
		t.Fatal(err)
	}
	if pending, err = f.svc.SubmitForApproval(ctx, pub, pending.ID, pending.Version); err != nil {
		t.Fatal(err)
	}
	in := central.CampaignInput{Target: central.Target{Branches: []string{"b1"}}, Texts: wide.Texts, Expires: wide.Expires}
	slideDraft, err := f.svc.CreateItem(ctx, pub, in)
	if err != nil {
		t.Fatal(err)
	}
	slideToSubmit, _ := f.svc.CreateItem(ctx, pub, in)
	slidePending, _ := f.svc.CreateItem(ctx, pub, in)
	if slidePending, err = f.svc.SubmitItem(ctx, pub, slidePending.ID, slidePending.Version); err != nil {
		t.Fatal(err)
	}

	setList() // the number is taken off the list
	guarded := func(what string, err error) {
		t.Helper()
		if central.ErrorCode(err) != central.CodeContentGuard {
			t.Errorf("%s after the number left the allow-list: %v", what, err)
		}
	}
	_, err = f.svc.Approve(ctx, appr, pending.ID, pending.Version)
	guarded("alert approve", err)
	_, err = f.svc.PublishItem(ctx, pub, slideDraft.ID, slideDraft.Version)
	guarded("slide publish", err)
	_, err = f.svc.SubmitItem(ctx, pub, slideToSubmit.ID, slideToSubmit.Version)
	guarded("slide submit", err)
	_, err = f.svc.ApproveItem(ctx, appr, slidePending.ID, slidePending.Version)
	guarded("slide approve", err)
	if len(f.b.order) != 0 {
		t.Fatalf("published: %v", f.b.order)
	}
}
