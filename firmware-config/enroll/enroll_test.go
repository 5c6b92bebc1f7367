package enroll_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/enroll"
	"github.com/atmguard/kiosk/firmware-config/internal/fakecentral"
	"github.com/atmguard/kiosk/internal/wire"
)

const draft = `[device]
id = "atm-13-0007"
branch = "tokyo-shinjuku-001"
prefecture = "13"

[display]
rotation = 90
`

func TestEnrollInstall(t *testing.T) {
	fc := fakecentral.New(t, "tcp://127.0.0.1:1883")
	fc.AddToken("tok-1")
	ctx := context.Background()
	res, err := enroll.Enroll(ctx, nil, fc.URL, "tok-1", []byte(draft), enroll.Options{})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if res.Config.Device.ID != "atm-13-0007" || res.Config.Display.Rotation != 90 || res.Config.Broker.URL != "tcp://127.0.0.1:1883" {
		t.Errorf("final config: %+v", res.Config)
	}
	pw, ok := fc.Password("atm-13-0007")
	if !ok || res.Config.Broker.Password != pw || len(pw) < 16 {
		t.Errorf("broker password %q, central generated %q", res.Config.Broker.Password, pw)
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "etc", "kiosk", "device.toml") // directory created by Install
	pubPath := enroll.DefaultPubPath(cfgPath)
	if err := enroll.Install(res, cfgPath, pubPath); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(cfgPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("config mode: %v %v", st.Mode(), err)
	}
	// What the agent does at start: pinned key file + LoadSigned.
	keys, err := config.ReadPublicKeyFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := keys[fc.Provision.KeyID()]; !ok {
		t.Errorf("provisioning.pub does not hold central's provisioning key")
	}
	got, err := config.LoadSigned(cfgPath, config.SigPath(cfgPath), keys)
	if err != nil {
		t.Fatalf("installed config does not load: %v", err)
	}
	if got.Device.ID != "atm-13-0007" {
		t.Errorf("installed device %q", got.Device.ID)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "etc", "kiosk", ".*tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// The token is one-time.
	_, err = enroll.Enroll(ctx, nil, fc.URL, "tok-1", []byte(draft), enroll.Options{})
	var re *enroll.RefusedError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Field != "token" {
		t.Errorf("reused token: %v", err)
	}
}

func TestEnrollFailures(t *testing.T) {
	ctx := context.Background()
	other, _ := wire.NewKeyRing(make([]byte, 32))
	cases := []struct {
		name    string
		draft   string
		token   string
		opt     enroll.Options
		tamper  func(*enroll.Response)
		health  int
		want    error
		wantMsg string
		calls   int // requests that must reach central
	}{
		{name: "invalid draft is not sent", draft: strings.Replace(draft, `"13"`, `"48"`, 1), token: "t", want: config.Errors{}, wantMsg: "device.prefecture", calls: 0},
		{name: "unknown token", draft: draft, token: "nope", want: &enroll.RefusedError{}, wantMsg: "HTTP 403", calls: 1},
		{name: "pinned key differs", draft: draft, token: "t", opt: enroll.Options{PinnedKeys: other}, want: enroll.ErrBadAnswer, wantMsg: "not one of the pinned keys", calls: 1},
		{name: "config changed after signing", draft: draft, token: "t", tamper: func(r *enroll.Response) {
			r.Config = strings.Replace(r.Config, "tokyo-shinjuku-001", "tokyo-shinjuku-002", 1)
		}, want: enroll.ErrBadAnswer, wantMsg: "bad signature", calls: 1},
		{name: "signature missing", draft: draft, token: "t", tamper: func(r *enroll.Response) { r.Signature = "" }, want: enroll.ErrBadAnswer, wantMsg: "not signed", calls: 1},
		{name: "bad provisioning key", draft: draft, token: "t", tamper: func(r *enroll.Response) { r.ProvisioningKey = "AAAA" }, want: enroll.ErrBadAnswer, wantMsg: "provisioning_key", calls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := fakecentral.New(t, "tcp://127.0.0.1:1883")
			fc.AddToken("t")
			fc.SetTamper(tc.tamper)
			_, err := enroll.Enroll(ctx, nil, fc.URL, tc.token, []byte(tc.draft), tc.opt)
			if err == nil {
				t.Fatal("accepted")
			}
			switch w := tc.want.(type) {
			case config.Errors:
				var es config.Errors
				if !errors.As(err, &es) {
					t.Errorf("want config.Errors, got %v", err)
				}
			case *enroll.RefusedError:
				var re *enroll.RefusedError
				if !errors.As(err, &re) {
					t.Errorf("want RefusedError, got %v", err)
				}
			default:
				if !errors.Is(err, w) {
					t.Errorf("want %v, got %v", w, err)
				}
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q lacks %q", err, tc.wantMsg)
			}
			if got := fc.EnrollCalls(); got != tc.calls {
				t.Errorf("central saw %d requests, want %d", got, tc.calls)
			}
		})
	}
}

func TestEnrollRemoteErrors(t *testing.T) {
	ctx := context.Background()
	// 5xx: central failing, try again.
	h := http.NewServeMux()
	h.HandleFunc("/api/v1/enroll", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "db locked", 503) })
	ts := newServer(t, h)
	if _, err := enroll.Enroll(ctx, nil, ts, "t", []byte(draft), enroll.Options{}); !errors.Is(err, enroll.ErrRemote) || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: %v", err)
	}
	// Nothing listening.
	closed := newServer(t, h)
	closeServer(closed)
	if _, err := enroll.Enroll(ctx, nil, closed, "t", []byte(draft), enroll.Options{}); !errors.Is(err, enroll.ErrRemote) {
		t.Errorf("closed: %v", err)
	}
	// http:// to a remote host is refused before anything is sent.
	if _, err := enroll.Enroll(ctx, nil, "http://central.example.jp", "t", []byte(draft), enroll.Options{}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("plain http: %v", err)
	}
}
