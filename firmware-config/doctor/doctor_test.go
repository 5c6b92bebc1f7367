package doctor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/doctor"
	"github.com/atmguard/kiosk/firmware-config/enroll"
	"github.com/atmguard/kiosk/firmware-config/internal/fakecentral"
	"github.com/atmguard/kiosk/firmware-config/internal/testmqtt"
	"github.com/atmguard/kiosk/internal/clock"
)

// device is an enrolled device in a temp dir, with a real broker that
// authenticates against the credentials the (fake) central generated.
type device struct {
	dir, cfgPath string
	central      *fakecentral.Central
	clock        *clock.Fake
	opts         doctor.Options
}

var centralTime = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

func newDevice(t *testing.T) *device {
	t.Helper()
	var fc *fakecentral.Central
	broker := testmqtt.Start(t, func(user, pass string) bool {
		pw, ok := fc.Password(user)
		return ok && pass == pw
	})
	fc = fakecentral.New(t, broker.URL)
	fc.SetNow(func() time.Time { return centralTime })
	fc.AddToken("tok")

	dir := t.TempDir()
	font := filepath.Join(dir, "font.otf")
	os.WriteFile(font, []byte("OTTO\x00\x0b rest of a font"), 0o644)
	cache := filepath.Join(dir, "cache.db")
	db, err := bolt.Open(cache, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("snapshots"))
		return b.Put([]byte("all"), []byte("x"))
	})
	db.Close()
	os.MkdirAll(filepath.Join(dir, "x11"), 0o755)
	os.WriteFile(filepath.Join(dir, "x11", "X5"), nil, 0o644)

	draft := "[device]\nid = \"atm-13-0009\"\nbranch = \"b1\"\nprefecture = \"13\"\n[display]\nfont = \"" + font + "\"\n[cache]\npath = \"" + cache + "\"\n"
	res, err := enroll.Enroll(context.Background(), nil, fc.URL, "tok", []byte(draft), enroll.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "device.toml")
	if err := enroll.Install(res, cfgPath, enroll.DefaultPubPath(cfgPath)); err != nil {
		t.Fatal(err)
	}
	fake := clock.NewFake(centralTime.Add(3 * time.Second))
	return &device{dir: dir, cfgPath: cfgPath, central: fc, clock: fake, opts: doctor.Options{
		ConfigPath:     cfgPath,
		Clock:          fake,
		Timeout:        5 * time.Second,
		MaxClockOffset: 30 * time.Second,
		Getenv:         func(k string) string { return map[string]string{"DISPLAY": ":5"}[k] },
		XSocketDir:     filepath.Join(dir, "x11"),
		DRMDir:         filepath.Join(dir, "dri"),
		FreeBytes:      func(string) (uint64, error) { return 10 << 30, nil },
	}}
}

// resign rewrites the config with f applied and signs it with central's
// provisioning key, as an operator would.
func (d *device) resign(t *testing.T, f func(*config.Config)) {
	t.Helper()
	c, err := config.Load(d.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	f(c)
	data := c.Marshal()
	sig, err := config.Sign(data, d.central.Provision)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(d.cfgPath, data, 0o600)
	os.WriteFile(config.SigPath(d.cfgPath), sig, 0o644)
}

func byName(rs []doctor.Result) map[string]doctor.Result {
	m := map[string]doctor.Result{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

var allChecks = []string{"config", "broker", "central", "clock", "display", "fonts", "cache", "disk"}

func TestDoctorAllOK(t *testing.T) {
	d := newDevice(t)
	rs := doctor.Run(context.Background(), d.opts)
	if len(rs) != len(allChecks) {
		t.Fatalf("%d results: %+v", len(rs), rs)
	}
	for i, r := range rs {
		if r.Name != allChecks[i] || r.Status != doctor.OK {
			t.Errorf("%s: %s %s (fix: %s)", r.Name, r.Status, r.Detail, r.Fix)
		}
	}
	if doctor.Failed(rs) {
		t.Error("Failed() with all OK")
	}
	if c := byName(rs)["clock"]; !strings.Contains(c.Detail, "3s") {
		t.Errorf("clock detail %q, want the 3s offset", c.Detail)
	}
}

func TestDoctorFailures(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, d *device)
		check  string
		status doctor.Status
		detail string
		fix    string
	}{
		{"wrong broker password", func(t *testing.T, d *device) {
			d.resign(t, func(c *config.Config) { c.Broker.Password = "wrong-password" })
		}, "broker", doctor.Fail, "not Authorized", "refused the credentials"},
		{"broker down", func(t *testing.T, d *device) {
			d.resign(t, func(c *config.Config) { c.Broker.URL = "tcp://127.0.0.1:1" })
		}, "broker", doctor.Fail, "tcp://127.0.0.1:1", "not reachable"},
		{"clock ahead", func(t *testing.T, d *device) { d.clock.SetWall(centralTime.Add(2 * time.Minute)) },
			"clock", doctor.Fail, "2m0s ahead of central", "timedatectl set-ntp true"},
		{"clock behind", func(t *testing.T, d *device) { d.clock.SetWall(centralTime.Add(-time.Hour)) },
			"clock", doctor.Fail, "1h0m0s behind central", "timedatectl"},
		{"central unhealthy", func(t *testing.T, d *device) { d.central.SetHealth(503) },
			"central", doctor.Fail, "HTTP 503", "not healthy"},
		{"edited after signing", func(t *testing.T, d *device) {
			data, _ := os.ReadFile(d.cfgPath)
			os.WriteFile(d.cfgPath, append(data, "# note\n"...), 0o600)
		}, "config", doctor.Fail, "bad signature", "edited after signing"},
		{"unsigned", func(t *testing.T, d *device) { os.Remove(config.SigPath(d.cfgPath)) },
			"config", doctor.Fail, "not signed", "kiosk-config sign"},
		{"no display", func(t *testing.T, d *device) { d.opts.Getenv = func(string) string { return "" } },
			"display", doctor.Fail, "no DISPLAY and no DRM device", "graphics driver"},
		{"font missing", func(t *testing.T, d *device) { os.Remove(filepath.Join(d.dir, "font.otf")) },
			"fonts", doctor.Fail, "no such file", "fonts-noto-cjk"},
		{"cache corrupt", func(t *testing.T, d *device) {
			os.WriteFile(filepath.Join(d.dir, "cache.db"), make([]byte, 8192), 0o600)
		}, "cache", doctor.Fail, "cache.db", "mv "},
		{"disk full", func(t *testing.T, d *device) {
			d.opts.FreeBytes = func(string) (uint64, error) { return 20 << 20, nil }
		}, "disk", doctor.Fail, "20 MiB free", "vacuum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t)
			tc.mutate(t, d)
			rs := doctor.Run(context.Background(), d.opts)
			got := byName(rs)
			r := got[tc.check]
			if r.Status != tc.status || !strings.Contains(r.Detail, tc.detail) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("%s = %s %q fix %q; want %s with %q and fix %q", tc.check, r.Status, r.Detail, r.Fix, tc.status, tc.detail, tc.fix)
			}
			if !doctor.Failed(rs) {
				t.Error("Failed() = false")
			}
			// One broken item does not hide the others.
			for _, name := range allChecks {
				if o := got[name]; name != tc.check && o.Status == doctor.Fail && !(tc.check == "central" && name == "clock") {
					t.Errorf("unrelated check %s failed: %s", name, o.Detail)
				}
			}
		})
	}
}

func TestDoctorCacheLockedByAgent(t *testing.T) {
	d := newDevice(t)
	db, err := bolt.Open(filepath.Join(d.dir, "cache.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := byName(doctor.Run(context.Background(), d.opts))["cache"]
	if r.Status != doctor.Warn || !strings.Contains(r.Detail, "locked") {
		t.Errorf("cache = %s %q", r.Status, r.Detail)
	}
}

func TestDoctorInvalidConfigSkipsRest(t *testing.T) {
	d := newDevice(t)
	os.WriteFile(d.cfgPath, []byte("[device]\nid = 1\n"), 0o600)
	rs := doctor.Run(context.Background(), d.opts)
	if rs[0].Status != doctor.Fail || !strings.Contains(rs[0].Detail, "device.id: expected a string") || !strings.Contains(rs[0].Fix, "kiosk-config validate") {
		t.Errorf("config = %+v", rs[0])
	}
	for _, r := range rs[1:] {
		if r.Status != doctor.Skip {
			t.Errorf("%s = %s, want SKIP", r.Name, r.Status)
		}
	}
}

// Doctor must never connect as the agent (the broker would drop the agent)
// and must use an id central's broker accepts for the device's credentials.
func TestDoctorClientID(t *testing.T) {
	for _, cid := range []string{"", "atm-1", "kiosk-atm-1", "custom"} {
		c := config.Example()
		c.Device.ID = "atm-1"
		c.Broker.ClientID = cid
		got := doctor.DoctorClientID(c)
		if got == c.ClientID() {
			t.Errorf("client_id %q: doctor uses the agent's id %q", cid, got)
		}
		if (cid == "" || cid == "atm-1" || cid == "kiosk-atm-1") && got != "atm-1" && got != "kiosk-atm-1" {
			t.Errorf("client_id %q: doctor id %q is not one central accepts", cid, got)
		}
	}
}

// With broker.urls every node is tried: all up is OK, some down is WARN
// naming the dead ones (the display still works), all down is FAIL.
func TestDoctorBrokerURLs(t *testing.T) {
	cases := []struct {
		name   string
		urls   func(live string) []string
		status doctor.Status
		detail []string
		fix    string
	}{
		{"all up", func(live string) []string { return []string{live, strings.Replace(live, "127.0.0.1", "localhost", 1)} },
			doctor.OK, []string{"127.0.0.1", "localhost"}, ""},
		{"first down", func(live string) []string { return []string{"tcp://127.0.0.1:1", live} },
			doctor.Warn, []string{"connected as", "LIVE in ", "failed: tcp://127.0.0.1:1: "}, "no failover"},
		{"all down", func(string) []string { return []string{"tcp://127.0.0.1:1", "tcp://127.0.0.1:2"} },
			doctor.Fail, []string{"tcp://127.0.0.1:1: ", "tcp://127.0.0.1:2: "}, "port in broker.urls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t)
			var live string
			d.resign(t, func(c *config.Config) { live = c.Broker.URL; c.Broker.URLs, c.Broker.URL = tc.urls(live), "" })
			rs := doctor.Run(context.Background(), d.opts)
			r := byName(rs)["broker"]
			if r.Status != tc.status || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("broker = %s %q fix %q; want %s, fix with %q", r.Status, r.Detail, r.Fix, tc.status, tc.fix)
			}
			for _, w := range tc.detail {
				if w = strings.Replace(w, "LIVE", live, 1); !strings.Contains(r.Detail, w) {
					t.Errorf("detail %q lacks %q", r.Detail, w)
				}
			}
			if got := doctor.Failed(rs); got != (tc.status == doctor.Fail) {
				t.Errorf("Failed() = %v with broker %s", got, r.Status)
			}
		})
	}
}
