package e2e_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/firmware-config/cli"
	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/doctor"
	"github.com/atmguard/kiosk/internal/clock"
)

func kc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }, ConfigPath: filepath.Join(t.TempDir(), "unused.toml"),
	})
	return code, out.String(), errb.String()
}

func TestEnrollAndDoctorAgainstCentral(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	tok, _, err := a.Enroll.CreateToken(ctx, a.Admin(t), central.EnrollTokenRequest{Branch: "tokyo-shinjuku-001", Pref: "13"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	draft := filepath.Join(dir, "draft.toml")
	os.WriteFile(draft, []byte(`[device]
id = "atm-13-0500"
branch = "tokyo-shinjuku-001"
prefecture = "13"

[display]
rotation = 90

[cache]
path = "`+filepath.Join(dir, "cache.db")+`"
`), 0o600)
	out := filepath.Join(dir, "etc", "device.toml")
	os.MkdirAll(filepath.Dir(out), 0o755)

	code, stdout, stderr := kc(t, "enroll", "-central", a.URL(), "-token", tok, "-out", out, draft)
	if code != cli.ExitOK {
		t.Fatalf("enroll against central: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := kc(t, "verify", out); code != cli.ExitOK {
		t.Fatalf("verify installed config: %d %s", code, stderr)
	}
	keys, err := config.ReadPublicKeyFile(filepath.Join(dir, "etc", "provisioning.pub"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadSigned(out, config.SigPath(out), keys)
	if err != nil {
		t.Fatal(err)
	}
	if c.Broker.URL != a.BrokerURL() || c.Broker.Username != "atm-13-0500" || c.Broker.Password == "" || c.Display.Rotation != 90 {
		t.Errorf("enrolled config: broker %s user %s rotation %d", c.Broker.URL, c.Broker.Username, c.Display.Rotation)
	}
	if _, err := c.KeyRing(); err != nil {
		t.Errorf("central's signing keys: %v", err)
	}

	// The token is one-time; a refused enrollment changes nothing.
	before, _ := os.ReadFile(out)
	code, _, stderr = kc(t, "enroll", "-central", a.URL(), "-token", tok, "-out", out, "-force", draft)
	if code != cli.ExitInvalid || !strings.Contains(stderr, "token") {
		t.Errorf("reused token: exit %d %s", code, stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("refused enrollment changed the installed config")
	}
	// A token bound to another branch.
	tok2, _, _ := a.Enroll.CreateToken(ctx, a.Admin(t), central.EnrollTokenRequest{Branch: "osaka-umeda"})
	code, _, stderr = kc(t, "enroll", "-central", a.URL(), "-token", tok2, "-out", filepath.Join(dir, "other.toml"), draft)
	if code != cli.ExitInvalid || !strings.Contains(stderr, "osaka-umeda") {
		t.Errorf("token for another branch: exit %d %s", code, stderr)
	}

	// doctor against this central and its broker, with the device's
	// enrolled credentials.
	os.MkdirAll(filepath.Join(dir, "x11"), 0o755)
	os.WriteFile(filepath.Join(dir, "x11", "X0"), nil, 0o644)
	fake := clock.NewFake(time.Now())
	opts := doctor.Options{
		ConfigPath: out, Clock: fake, Timeout: 10 * time.Second,
		Getenv:     func(k string) string { return map[string]string{"DISPLAY": ":0"}[k] },
		XSocketDir: filepath.Join(dir, "x11"),
		FreeBytes:  func(string) (uint64, error) { return 8 << 30, nil },
	}
	rs := doctor.Run(ctx, opts)
	for _, r := range rs {
		want := doctor.OK
		if r.Name == "cache" {
			want = doctor.Warn // the agent has not created it yet
		}
		if r.Status != want {
			t.Errorf("%s = %s %s (fix: %s)", r.Name, r.Status, r.Detail, r.Fix)
		}
	}
	// One check made to fail on purpose: the device clock 5 minutes ahead.
	fake.SetWall(time.Now().Add(5 * time.Minute))
	rs = doctor.Run(ctx, opts)
	for _, r := range rs {
		if r.Name == "clock" && (r.Status != doctor.Fail || !strings.Contains(r.Detail, "ahead of central") || !strings.Contains(r.Fix, "timedatectl")) {
			t.Errorf("clock 5 min ahead: %+v", r)
		}
	}
	if !doctor.Failed(rs) {
		t.Error("doctor did not fail with the clock 5 minutes off")
	}
}
