package app_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/enroll"
	"github.com/atmguard/kiosk/internal/wire"
)

func TestLifecycleRules(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	pub, _ := a.NewTestUser(t, "pub", central.RolePublisher)
	pub2, _ := a.NewTestUser(t, "pub2", central.RolePublisher)
	appr, _ := a.NewTestUser(t, "appr", central.RoleApprover)
	viewer, _ := a.NewTestUser(t, "viewer", central.RoleViewer)
	tech, _ := a.NewTestUser(t, "tech", central.RoleFieldTech)
	admin := a.Admin(t)

	wide := alertInput(central.Target{Prefs: []string{"13"}}, "新宿署の番号を悪用した詐欺電話")
	t.Run("roles", func(t *testing.T) {
		for _, actor := range []central.Actor{viewer, tech, appr} {
			if _, err := a.Alerts.CreateDraft(ctx, actor, wide); !errors.Is(err, central.ErrForbidden) {
				t.Errorf("%s created a draft: %v", actor.Role, err)
			}
		}
		if _, err := a.Registry.SendCommand(ctx, pub, "nope", wire.CmdIdentify); !errors.Is(err, central.ErrForbidden) {
			t.Errorf("publisher sent a command: %v", err)
		}
		if _, err := a.Alerts.SetAllowList(ctx, pub, central.DefaultAllowList()); !errors.Is(err, central.ErrForbidden) {
			t.Errorf("publisher edited the allow-list: %v", err)
		}
	})

	t.Run("two-person rule", func(t *testing.T) {
		al, err := a.Alerts.CreateDraft(ctx, pub, wide)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Alerts.Publish(ctx, pub, al.ID, al.Version); !errors.Is(err, central.ErrTwoPersonRule) {
			t.Fatalf("direct publish of a prefecture alert: %v", err)
		}
		if _, err := a.Alerts.Publish(ctx, admin, al.ID, al.Version); !errors.Is(err, central.ErrTwoPersonRule) {
			t.Fatalf("admin direct publish of a prefecture alert: %v", err)
		}
		al, err = a.Alerts.SubmitForApproval(ctx, pub, al.ID, al.Version)
		if err != nil {
			t.Fatal(err)
		}
		// Neither the creator, another publisher nor an admin may approve.
		for _, actor := range []central.Actor{pub, pub2, admin} {
			if _, err := a.Alerts.Approve(ctx, actor, al.ID, al.Version); err == nil {
				t.Fatalf("%s (%s) approved", actor.Name, actor.Role)
			}
		}
		// An approver who submitted it himself cannot approve it either.
		creatorApprover := central.Actor{UserID: pub.UserID, Name: pub.Name, Role: central.RoleApprover}
		if _, err := a.Alerts.Approve(ctx, creatorApprover, al.ID, al.Version); !errors.Is(err, central.ErrTwoPersonRule) {
			t.Fatalf("creator with approver role: %v", err)
		}
		// A stale version is a conflict, not an approval of something else.
		if _, err := a.Alerts.Approve(ctx, appr, al.ID, al.Version-1); !errors.Is(err, central.ErrConflict) {
			t.Fatalf("stale version: %v", err)
		}
		if _, err := a.Alerts.Update(ctx, pub, al.ID, al.Version, wide); !errors.Is(err, central.ErrConflict) {
			t.Fatalf("edit while pending: %v", err)
		}
		got, err := a.Alerts.Approve(ctx, appr, al.ID, al.Version)
		if err != nil || got.State != central.StatePublished || got.ApprovedBy != appr.UserID {
			t.Fatalf("approve: %v %+v", err, got)
		}
		entries, err := a.AuditLog.List(ctx, admin, central.AuditFilter{Object: "alert/" + al.ID})
		if err != nil || len(entries) != 3 || entries[0].Action != "alert.approve" || entries[0].Actor.UserID != appr.UserID {
			t.Fatalf("audit of the alert: %v %+v", err, entries)
		}
	})

	t.Run("narrow target publishes without approval", func(t *testing.T) {
		al, err := a.Alerts.CreateDraft(ctx, pub, alertInput(central.Target{Branches: []string{"br-1"}}, "支店からのお知らせ"))
		if err != nil {
			t.Fatal(err)
		}
		if al, err = a.Alerts.Publish(ctx, pub, al.ID, al.Version); err != nil || al.State != central.StatePublished {
			t.Fatalf("publish: %v", err)
		}
	})

	t.Run("content guard", func(t *testing.T) {
		for _, tc := range []struct {
			mutate func(in *central.AlertInput)
			field  string
			naming string
		}{
			{func(in *central.AlertInput) { in.Texts[0].Body = "至急 03-1234-5678 へ電話してください" }, "texts[0].body", "03-1234-5678"},
			{func(in *central.AlertInput) { in.Texts[1].Instruction = "Call +81 90 1234 5678" }, "texts[1].instruction", "+81 90 1234 5678"},
			{func(in *central.AlertInput) { in.QR.URL = "https://npa-refund.example.com/" }, "qr.url", "https://npa-refund.example.com/"},
			{func(in *central.AlertInput) { in.Texts[0].Headline = "返金は refund-help.jp へ" }, "texts[0].headline", "refund-help.jp"},
		} {
			in := alertInput(central.Target{Branches: []string{"br-1"}}, "注意")
			in.Texts = append([]wire.Text(nil), in.Texts...)
			qr := *in.QR
			in.QR = &qr
			tc.mutate(&in)
			_, err := a.Alerts.CreateDraft(ctx, pub, in)
			var fe *central.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, central.ErrContentGuard) || fe.Field != tc.field || fe.Text != tc.naming {
				t.Errorf("want guard refusal of %q in %s, got %v", tc.naming, tc.field, err)
			}
		}
		// An admin adds the bank's number; now it is allowed.
		if _, err := a.Alerts.SetAllowList(ctx, admin, central.AllowList{Phones: []string{"110", "#9110", "03-1234-5678"},
			URLPrefixes: central.DefaultAllowList().URLPrefixes}); err != nil {
			t.Fatal(err)
		}
		in := alertInput(central.Target{Branches: []string{"br-1"}}, "注意")
		in.Texts = append([]wire.Text(nil), in.Texts...)
		in.Texts[0].Body = "支店の番号 03-1234-5678 以外からの電話に注意"
		if _, err := a.Alerts.CreateDraft(ctx, pub, in); err != nil {
			t.Fatalf("after allow-listing: %v", err)
		}
	})

	t.Run("fit check names the field", func(t *testing.T) {
		in := alertInput(central.Target{Branches: []string{"br-1"}}, "注意")
		in.Texts = append([]wire.Text(nil), in.Texts...)
		in.Texts[0].Body = strings.Repeat("詐欺に注意してください。", 33) // 396 runes: within the wire limit
		_, err := a.Alerts.CreateDraft(ctx, pub, in)
		if central.ErrorCode(err) != central.CodeInvalid || !strings.HasPrefix(central.ErrorField(err), "texts[0]") {
			t.Fatalf("overlong body: %v (field %q)", err, central.ErrorField(err))
		}
	})

	t.Run("audit chain verifies", func(t *testing.T) {
		res, err := a.AuditLog.Verify(ctx, admin)
		if err != nil || !res.OK || res.Entries < 5 {
			t.Fatalf("verify: %v %+v", err, res)
		}
	})
}

// TestEnrollThenConnect enrolls a device over HTTP with the field tool's
// client, then runs an agent core from the signed config it got: it
// connects to the embedded broker with the generated credentials.
func TestEnrollThenConnect(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	tech, _ := a.NewTestUser(t, "tech", central.RoleFieldTech)
	tok, _, err := a.Enroll.CreateToken(ctx, tech, central.EnrollTokenRequest{Branch: "br-9", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	draft := config.Default()
	draft.Device = config.Device{ID: "atm-13-0900", Branch: "br-9", Prefecture: "13"}
	draft.Cache.Path = filepath.Join(t.TempDir(), "cache.db")
	res, err := enroll.Enroll(ctx, http.DefaultClient, a.URL(), tok, draft.Marshal(), enroll.Options{})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if _, err := enroll.Enroll(ctx, http.DefaultClient, a.URL(), tok, draft.Marshal(), enroll.Options{}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("token reuse: %v", err)
	}
	other := *draft
	other.Device.Branch = "br-8"
	tok2, _, _ := a.Enroll.CreateToken(ctx, tech, central.EnrollTokenRequest{Branch: "br-9"})
	if _, err := enroll.Enroll(ctx, http.DefaultClient, a.URL(), tok2, other.Marshal(), enroll.Options{}); err == nil || !strings.Contains(err.Error(), "br-9") {
		t.Fatalf("branch-bound token for another branch: %v", err)
	}

	opts, err := agent.OptionsFromConfig(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = app.QuietLogger()
	// The enrolled config names the default local API port; a test must not
	// depend on it being free (a running kiosk or demo holds it).
	opts.LocalAPIAddr = "127.0.0.1:0"
	ag, err := agent.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	changes := a.Registry.Subscribe(ctx)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ag.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	admin := a.Admin(t)
	waitChange(t, "enrolled device online", changes, func() bool {
		d, err := a.Registry.Get(ctx, admin, "atm-13-0900")
		return err == nil && d.Online && d.Branch == "br-9"
	})
	entries, _ := a.AuditLog.List(ctx, admin, central.AuditFilter{Action: "device.enroll"})
	if len(entries) != 1 || entries[0].Object != "device/atm-13-0900" {
		t.Fatalf("enroll audit: %+v", entries)
	}
}

// TestEnrollDoesNotTakeOverDevices: a plain token cannot enroll an id
// central already knows (that would hand the device's identity to the token
// holder); a re-enrollment token names the one id it may replace, and is
// audited as device.reenroll. "central" is never a device id.
func TestEnrollDoesNotTakeOverDevices(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	tech, _ := a.NewTestUser(t, "tech", central.RoleFieldTech)
	admin := a.Admin(t)
	draft := func(id string) []byte {
		d := config.Default()
		d.Device = config.Device{ID: id, Branch: "br-9", Prefecture: "13"}
		d.Cache.Path = filepath.Join(t.TempDir(), "cache.db")
		return d.Marshal()
	}
	token := func(req central.EnrollTokenRequest) string {
		t.Helper()
		tok, _, err := a.Enroll.CreateToken(ctx, tech, req)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	do := func(tok string, id string) error {
		_, err := enroll.Enroll(ctx, http.DefaultClient, a.URL(), tok, draft(id), enroll.Options{})
		return err
	}
	if err := do(token(central.EnrollTokenRequest{}), "atm-13-0901"); err != nil {
		t.Fatalf("first enrollment: %v", err)
	}
	if err := do(token(central.EnrollTokenRequest{}), "atm-13-0901"); err == nil || !strings.Contains(err.Error(), "already enrolled") {
		t.Fatalf("plain token took over an enrolled device: %v", err)
	}
	if err := do(token(central.EnrollTokenRequest{Reenroll: "atm-13-0999"}), "atm-13-0901"); err == nil || !strings.Contains(err.Error(), "atm-13-0999") {
		t.Fatalf("re-enroll token for another id: %v", err)
	}
	for _, id := range []string{"central", "Central"} {
		if err := do(token(central.EnrollTokenRequest{}), id); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Fatalf("enrolled %q: %v", id, err)
		}
	}
	if err := do(token(central.EnrollTokenRequest{Reenroll: "atm-13-0901"}), "atm-13-0901"); err != nil {
		t.Fatalf("re-enrollment with a token for that id: %v", err)
	}
	entries, _ := a.AuditLog.List(ctx, admin, central.AuditFilter{Action: "device.reenroll"})
	if len(entries) != 1 || entries[0].Object != "device/atm-13-0901" {
		t.Fatalf("re-enroll audit: %+v", entries)
	}
	entries, _ = a.AuditLog.List(ctx, admin, central.AuditFilter{Action: "device.enroll"})
	if len(entries) != 1 {
		t.Fatalf("enroll audit: %+v", entries)
	}
}
