package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/doctor"
	"github.com/atmguard/kiosk/firmware-config/internal/fakecentral"
	"github.com/atmguard/kiosk/firmware-config/internal/testmqtt"
	"github.com/atmguard/kiosk/internal/clock"
)

type run struct {
	code           int
	stdout, stderr string
}

func kc(t *testing.T, env Env, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.ConfigPath == "" {
		env.ConfigPath = filepath.Join(t.TempDir(), "device.toml")
	}
	code := Run(context.Background(), args, env)
	return run{code, out.String(), errb.String()}
}

func TestHelpHasExample(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			r := kc(t, Env{}, c.name, "-h")
			_, example, _ := strings.Cut(r.stdout, "Example:\n")
			if r.code != ExitOK || !strings.Contains(example, "kiosk-config "+c.name+" ") || !strings.Contains(r.stdout, "Exit codes:") {
				t.Errorf("exit %d, help:\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
	if r := kc(t, Env{}, "frobnicate"); r.code != ExitUsage || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %+v", r)
	}
	if r := kc(t, Env{}, "validate", "-nope"); r.code != ExitUsage || !strings.Contains(r.stderr, "flag provided but not defined") {
		t.Errorf("bad flag: %+v", r)
	}
	if r := kc(t, Env{}); r.code != ExitUsage || !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("no args: %+v", r)
	}
}

func TestValidateCommand(t *testing.T) {
	broken := filepath.Join("..", "config", "testdata", "broken", "values.toml")
	r := kc(t, Env{}, "validate", broken)
	if r.code != ExitInvalid || r.stdout != "" {
		t.Fatalf("broken: exit %d stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{
		broken + ":24: display.rotation: expected 0, 90, 180 or 270",
		broken + ":55: local_api.listen:",
		"32 problem(s) in " + broken,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	r = kc(t, Env{}, "validate", "-json", broken)
	var rep Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != ExitInvalid {
		t.Fatalf("json: %v exit %d\n%s", err, r.code, r.stdout)
	}
	if rep.Valid || len(rep.Errors) != 32 || rep.Errors[0].Line != 1 || rep.Errors[0].Field != "version" {
		t.Errorf("json report: %+v", rep.Errors[0])
	}

	example := filepath.Join("..", "config", "testdata", "example.toml")
	if r := kc(t, Env{}, "validate", example); r.code != ExitOK || !strings.Contains(r.stdout, "OK") {
		t.Errorf("example: %+v", r)
	}
	if r := kc(t, Env{}, "validate", "/nonexistent/device.toml"); r.code != ExitIO || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: %+v", r)
	}
	if r := kc(t, Env{}, "validate", "a.toml", "b.toml"); r.code != ExitUsage {
		t.Errorf("two files: %+v", r)
	}
}

func TestInitCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "draft.toml")
	r := kc(t, Env{}, "init", "-device", "atm-13-0100", "-branch", "b1", "-pref", "13", "-rotation", "270", "-out", out)
	if r.code != ExitOK || !strings.Contains(r.stdout, "wrote draft") {
		t.Fatalf("init: %+v", r)
	}
	data, _ := os.ReadFile(out)
	c, err := config.ParseDraft(data, out)
	if err != nil || c.Device.ID != "atm-13-0100" || c.Display.Rotation != 270 || c.LocalAPI.Listen != config.DefaultListen {
		t.Errorf("written draft: %v %+v", err, c)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", st.Mode().Perm())
	}
	if r := kc(t, Env{}, "init", "-device", "x", "-branch", "b", "-pref", "13", "-out", out); r.code != ExitIO || !strings.Contains(r.stderr, "exists") {
		t.Errorf("overwrite: %+v", r)
	}
	bad := filepath.Join(dir, "bad.toml")
	r = kc(t, Env{}, "init", "-device", "atm/1", "-branch", "b", "-pref", "99", "-out", bad)
	if r.code != ExitInvalid || !strings.Contains(r.stderr, "device.prefecture (-pref):") || !strings.Contains(r.stderr, "device.id (-device):") {
		t.Errorf("bad values: %+v", r)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("invalid config was written")
	}
}

func TestInitInteractive(t *testing.T) {
	out := filepath.Join(t.TempDir(), "draft.toml")
	// id, branch, pref (99 is refused, then 27), width default, height default, rotation 90, timezone default
	in := "atm-27-0001\nosaka-umeda\n99\n27\n\n\n90\n\n"
	r := kc(t, Env{Stdin: strings.NewReader(in)}, "init", "-i", "-out", out)
	if r.code != ExitOK {
		t.Fatalf("interactive: %+v", r)
	}
	if !strings.Contains(r.stderr, `got "99"`) || strings.Count(r.stdout, "Prefecture") != 2 {
		t.Errorf("invalid answer was not re-asked:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	c, err := config.ParseDraft(mustRead(t, out), out)
	if err != nil || c.Device.Prefecture != "27" || c.Device.Branch != "osaka-umeda" || c.Display.Rotation != 90 || c.Display.Width != config.DefaultWidth {
		t.Errorf("answers not applied: %v %+v", err, c)
	}
	// Input ends early: usage error, nothing written.
	out2 := filepath.Join(t.TempDir(), "d.toml")
	if r := kc(t, Env{Stdin: strings.NewReader("atm-1\n")}, "init", "-i", "-out", out2); r.code != ExitUsage || fileExists(out2) {
		t.Errorf("short input: %+v", r)
	}
}

func TestKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "prov.key")
	if r := kc(t, Env{}, "keygen", "-key", key); r.code != ExitOK {
		t.Fatalf("keygen: %+v", r)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o", st.Mode().Perm())
	}
	if r := kc(t, Env{}, "keygen", "-key", key); r.code != ExitIO {
		t.Errorf("keygen overwrote: %+v", r)
	}
	cfg := filepath.Join(dir, "device.toml")
	os.WriteFile(cfg, mustRead(t, filepath.Join("..", "config", "testdata", "example.toml")), 0o600)
	pub := key + ".pub"

	if r := kc(t, Env{}, "verify", "-pub", pub, cfg); r.code != ExitInvalid || !strings.Contains(r.stderr, "not signed") {
		t.Errorf("verify unsigned: %+v", r)
	}
	// Flags after the file work too.
	if r := kc(t, Env{}, "sign", cfg, "-key", key); r.code != ExitOK || !fileExists(cfg+".sig") {
		t.Fatalf("sign: %+v", r)
	}
	if r := kc(t, Env{}, "verify", "-pub", pub, cfg); r.code != ExitOK || !strings.Contains(r.stdout, "signature OK") {
		t.Errorf("verify: %+v", r)
	}
	// Default provisioning.pub location next to the config.
	os.WriteFile(filepath.Join(dir, "provisioning.pub"), mustRead(t, pub), 0o644)
	if r := kc(t, Env{}, "verify", cfg); r.code != ExitOK {
		t.Errorf("verify with default pub: %+v", r)
	}

	data := mustRead(t, cfg)
	os.WriteFile(cfg, bytes.Replace(data, []byte(`rotation = 0`), []byte(`rotation = 90`), 1), 0o600)
	if r := kc(t, Env{}, "verify", "-pub", pub, cfg); r.code != ExitInvalid || !strings.Contains(r.stderr, "bad signature") {
		t.Errorf("verify tampered: %+v", r)
	}
	// Refuses to sign an invalid config.
	os.WriteFile(cfg, bytes.Replace(data, []byte(`rotation = 0`), []byte(`rotation = 45`), 1), 0o600)
	if r := kc(t, Env{}, "sign", "-key", key, cfg); r.code != ExitInvalid || !strings.Contains(r.stderr, "display.rotation") {
		t.Errorf("sign invalid: %+v", r)
	}
	os.Chmod(key, 0o644)
	os.WriteFile(cfg, data, 0o600)
	if r := kc(t, Env{}, "sign", "-key", key, cfg); r.code == ExitOK || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("sign with readable key: %+v", r)
	}
}

func TestEnrollCommand(t *testing.T) {
	fc := fakecentral.New(t, "mqtts://broker.example.jp:8883")
	fc.AddToken("secret-token")
	dir := t.TempDir()
	draft := filepath.Join(dir, "draft.toml")
	if r := kc(t, Env{}, "init", "-device", "atm-13-0200", "-branch", "b2", "-pref", "13", "-out", draft); r.code != ExitOK {
		t.Fatal(r)
	}
	out := filepath.Join(dir, "etc", "device.toml")
	os.MkdirAll(filepath.Dir(out), 0o755)
	env := Env{Getenv: func(k string) string { return map[string]string{"KIOSK_ENROLL_TOKEN": "secret-token"}[k] }}
	r := kc(t, env, "enroll", "-central", fc.URL, "-out", out, draft)
	if r.code != ExitOK || !strings.Contains(r.stdout, "enrolled atm-13-0200") {
		t.Fatalf("enroll: %+v", r)
	}
	pw, _ := fc.Password("atm-13-0200")
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Error("enroll printed the broker password")
	}
	// The installed files verify with the installed provisioning.pub.
	if r := kc(t, Env{}, "verify", out); r.code != ExitOK {
		t.Errorf("verify installed: %+v", r)
	}
	if r := kc(t, env, "enroll", "-central", fc.URL, "-out", out, draft); r.code != ExitIO || !strings.Contains(r.stderr, "-force") {
		t.Errorf("re-enroll without -force: %+v", r)
	}
	before := mustRead(t, out)
	r = kc(t, env, "enroll", "-central", fc.URL, "-out", out, "-force", draft)
	if r.code != ExitInvalid || !strings.Contains(r.stderr, "HTTP 403") || !strings.Contains(r.stderr, "field token") {
		t.Errorf("used token: %+v", r)
	}
	if !bytes.Equal(before, mustRead(t, out)) {
		t.Error("a refused enrollment changed the installed config")
	}
	if r := kc(t, Env{}, "enroll", "-central", fc.URL, "-out", filepath.Join(dir, "x.toml"), draft); r.code != ExitUsage || !strings.Contains(r.stderr, "no token") {
		t.Errorf("no token: %+v", r)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	if r := kc(t, Env{}, "enroll", "-central", down.URL, "-token", "t", "-out", filepath.Join(dir, "y.toml"), draft); r.code != ExitRemote {
		t.Errorf("central down: %+v", r)
	}
}

func TestDoctorCommand(t *testing.T) {
	var fc *fakecentral.Central
	broker := testmqtt.Start(t, func(u, p string) bool { pw, ok := fc.Password(u); return ok && p == pw })
	fc = fakecentral.New(t, broker.URL)
	now := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	fc.SetNow(func() time.Time { return now })
	fc.AddToken("tok")
	dir := t.TempDir()
	draft := filepath.Join(dir, "draft.toml")
	os.WriteFile(draft, []byte("[device]\nid = \"atm-13-0300\"\nbranch = \"b3\"\nprefecture = \"13\"\n[cache]\npath = \""+filepath.Join(dir, "cache.db")+"\"\n"), 0o600)
	out := filepath.Join(dir, "device.toml")
	if r := kc(t, Env{}, "enroll", "-central", fc.URL, "-token", "tok", "-out", out, draft); r.code != ExitOK {
		t.Fatal(r)
	}
	env := Env{
		Clock:  clock.NewFake(now),
		Getenv: func(string) string { return "" },
		doctor: func(o *doctor.Options) {
			o.DRMDir = dir // holds a fake DRM node
			o.FreeBytes = func(string) (uint64, error) { return 5 << 30, nil }
		},
	}
	os.WriteFile(filepath.Join(dir, "card0"), nil, 0o644)
	r := kc(t, env, "doctor", out)
	if r.code != ExitOK || !strings.Contains(r.stdout, "OK   broker") {
		t.Fatalf("doctor: %+v", r)
	}
	// Wrong password: FAIL with the fix, exit 1.
	c, _ := config.Load(out)
	c.Broker.Password = "nope"
	data := c.Marshal()
	sig, _ := config.Sign(data, fc.Provision)
	os.WriteFile(out, data, 0o600)
	os.WriteFile(out+".sig", sig, 0o644)
	r = kc(t, env, "doctor", out)
	if r.code != ExitInvalid || !strings.Contains(r.stdout, "FAIL broker") || !strings.Contains(r.stdout, "fix: the broker refused the credentials") {
		t.Errorf("doctor wrong password: %+v", r)
	}
	r = kc(t, env, "doctor", "-json", out)
	var rs []doctor.Result
	if err := json.Unmarshal([]byte(r.stdout), &rs); err != nil || len(rs) != 8 || rs[1].Status != doctor.Fail {
		t.Errorf("doctor -json: %v %+v", err, rs)
	}
}

func TestIdentifyCommand(t *testing.T) {
	var hits atomic.Int32
	status := atomic.Int32{}
	status.Store(200)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/identify" {
			http.Error(w, "wrong route", 404)
			return
		}
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer agent.Close()
	if r := kc(t, Env{}, "identify", "-agent", agent.URL); r.code != ExitOK || hits.Load() != 1 {
		t.Errorf("identify: %+v hits %d", r, hits.Load())
	}
	// The agent address comes from the config's local_api.listen.
	cfg := filepath.Join(t.TempDir(), "device.toml")
	c := config.Example()
	c.LocalAPI.Listen = strings.TrimPrefix(agent.URL, "http://")
	os.WriteFile(cfg, c.Marshal(), 0o600)
	if r := kc(t, Env{}, "identify", cfg); r.code != ExitOK || hits.Load() != 2 {
		t.Errorf("identify via config: %+v hits %d", r, hits.Load())
	}
	status.Store(503)
	if r := kc(t, Env{}, "identify", "-agent", agent.URL); r.code != ExitInvalid || !strings.Contains(r.stderr, "HTTP 503") {
		t.Errorf("identify 503: %+v", r)
	}
	agent.Close()
	if r := kc(t, Env{}, "identify", "-agent", agent.URL); r.code != ExitRemote || !strings.Contains(r.stderr, "is the agent running") {
		t.Errorf("identify down: %+v", r)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
