package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// minimal is the smallest complete config: the device and what enroll
// fills in. Everything else takes its default.
const minimal = `version = 1

[device]
id = "atm-13-0001"
branch = "tokyo-001"
prefecture = "13"

[broker]
url = "mqtts://broker.example.jp:8883"
username = "atm-13-0001"
password = "s3cret"

[central]
content_url = "https://central.example.jp"
api_url = "https://central.example.jp"

[signing]
keys = ["6uHIeTtVl8Sz9JDnasMRcsQ5aQ+O4UFCu4UaYfmknw4="]
`

func exported(c *Config) Config {
	cp := *c
	cp.file, cp.lines, cp.loc = "", nil, nil
	return cp
}

func TestMinimalTakesDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), "min.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Default()
	want.Device = Device{ID: "atm-13-0001", Branch: "tokyo-001", Prefecture: "13"}
	want.Broker = Broker{URL: "mqtts://broker.example.jp:8883", Username: "atm-13-0001", Password: "s3cret"}
	want.Central = Central{ContentURL: "https://central.example.jp", APIURL: "https://central.example.jp"}
	want.Signing.Keys = []string{"6uHIeTtVl8Sz9JDnasMRcsQ5aQ+O4UFCu4UaYfmknw4="}
	if got := exported(c); !reflect.DeepEqual(got, exported(want)) {
		t.Errorf("got  %+v\nwant %+v", got, exported(want))
	}
	if c.ClientID() != "kiosk-atm-13-0001" {
		t.Errorf("ClientID = %q", c.ClientID())
	}
	if tr, ok := c.Trigger("phone-detected"); !ok || tr.Screen != ScreenPhone || tr.Duration() != 20*time.Second {
		t.Errorf("Trigger(phone-detected) = %+v, %v", tr, ok)
	}
	if c.Line("device.branch") != 5 || c.Line("signing.keys[0]") != 18 || c.Line("display.width") != 0 {
		t.Errorf("lines: branch %d keys[0] %d width %d", c.Line("device.branch"), c.Line("signing.keys[0]"), c.Line("display.width"))
	}
}

func TestExampleGolden(t *testing.T) {
	got := Example().Marshal()
	path := filepath.Join("testdata", "example.toml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Example().Marshal() differs from %s (run go test -update and review the diff)", path)
	}
	c, err := Parse(want, path)
	if err != nil {
		t.Fatalf("example does not parse: %v", err)
	}
	if !reflect.DeepEqual(exported(c), exported(Example())) {
		t.Errorf("example round trip:\n got %+v\nwant %+v", exported(c), exported(Example()))
	}
}

// The full example in docs/CONFIG.md is the same file, byte for byte.
func TestDocEmbedsExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(filepath.Join("testdata", "example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- example.toml begin -->\n```toml\n", "```\n<!-- example.toml end -->"
	_, rest, ok := strings.Cut(string(doc), begin)
	if !ok {
		t.Fatalf("docs/CONFIG.md lacks %q", begin)
	}
	body, _, ok := strings.Cut(rest, end)
	if !ok {
		t.Fatalf("docs/CONFIG.md lacks %q", end)
	}
	if body != string(ex) {
		t.Errorf("docs/CONFIG.md example differs from testdata/example.toml: copy the file into the doc")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	c := Example()
	c.Broker.Password = "quote\" back\\slash \u00e9 tab\t"
	c.Broker.InsecurePlaintext = true
	c.Broker.URL = "tcp://10.0.0.5:1883"
	c.Broker.CAFile = ""
	c.Triggers = nil
	c.Schedule.Hours = nil
	back, err := Parse(c.Marshal(), "rt.toml")
	if err != nil {
		t.Fatalf("Parse(Marshal): %v\n%s", err, c.Marshal())
	}
	c.Triggers = []Trigger{} // "trigger = []" is present-and-empty
	if got := exported(back); !reflect.DeepEqual(got, exported(c)) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, exported(c))
	}
}

// Each broken config is checked against its .want file: the exact list of
// messages, with file and line. Review a .want diff like code.
func TestValidateBroken(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "broken", "*.toml"))
	if err != nil || len(files) < 6 {
		t.Fatalf("broken configs: %v %d", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.ToSlash(f)
			c, err := Parse(data, name)
			if err == nil {
				t.Fatalf("Parse accepted a broken config: %+v", c)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors", err)
			}
			got := err.Error() + "\n"
			wantPath := strings.TrimSuffix(f, ".toml") + ".want"
			if *update {
				os.WriteFile(wantPath, []byte(got), 0o644)
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run go test -update once and review it)", err)
			}
			if got != string(want) {
				t.Errorf("messages differ from %s\n got:\n%s\nwant:\n%s", wantPath, got, want)
			}
			for _, e := range es {
				if e.File != name {
					t.Errorf("error without file name: %+v", e)
				}
			}
		})
	}
}

// A few cases spelled out in the test itself, so the line numbers and the
// "expected" wording are asserted here and not only in golden files.
func TestValidateMessages(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"types", "types.toml", "testdata/broken/types.toml:6: device.prefecture: expected a string in quotes, got an integer"},
		{"types all at once", "types.toml", "testdata/broken/types.toml:23: display.burn_in_protection: expected true or false, got a string"},
		{"unknown with hint", "unknown.toml", `testdata/broken/unknown.toml:25: display.widht: unknown field "widht" (did you mean "width"?)`},
		{"unknown table", "unknown.toml", `testdata/broken/unknown.toml:9: brokr: unknown field "brokr" (did you mean "broker"?)`},
		{"trigger in array table", "unknown.toml", `testdata/broken/unknown.toml:30: trigger[0].secs: unknown field "secs"`},
		{"loopback", "values.toml", `testdata/broken/values.toml:55: local_api.listen: "0.0.0.0" is not a loopback address`},
		{"rotation", "values.toml", "testdata/broken/values.toml:24: display.rotation: expected 0, 90, 180 or 270"},
		{"missing day", "values.toml", "testdata/broken/values.toml:46: schedule.hours.sun: missing"},
		{"syntax", "syntax.toml", "testdata/broken/syntax.toml:4: TOML syntax:"},
		{"required", "missing.toml", "testdata/broken/missing.toml: device.id: required"},
		{"tcp remote", "security.toml", "testdata/broken/security.toml:9: broker.url: tcp:// to broker.example.jp would send the broker password in clear"},
		{"duplicate key", "security.toml", "testdata/broken/security.toml:23: signing.keys[3]: same key as signing.keys[2]"},
		{"url list mixed tls", "urls.toml", `testdata/broken/urls.toml:11: broker.urls[1]: "tcp://mqtt2.example.jp:1883" mixes TLS and plain tcp://`},
		{"url list duplicate", "urls.toml", "testdata/broken/urls.toml:12: broker.urls[2]: same URL as broker.urls[0]"},
		{"url list entry scheme", "urls.toml", `testdata/broken/urls.toml:13: broker.urls[3]: scheme "http" not supported`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "broken", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data, "testdata/broken/"+tc.file)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, tc.want) {
					return
				}
			}
			t.Errorf("no message starting with\n  %s\nin\n%s", tc.want, err)
		})
	}
}

func TestDraft(t *testing.T) {
	draft := "[device]\nid = \"atm-13-0002\"\nbranch = \"tokyo-001\"\nprefecture = \"13\"\n"
	if _, err := Parse([]byte(draft), "d.toml"); err == nil {
		t.Fatal("Parse accepted a draft without broker, central and keys")
	}
	c, err := ParseDraft([]byte(draft), "d.toml")
	if err != nil {
		t.Fatalf("ParseDraft: %v", err)
	}
	if c.Device.ID != "atm-13-0002" {
		t.Errorf("device id %q", c.Device.ID)
	}
	// Present fields are still checked in a draft.
	if _, err := ParseDraft([]byte(draft+"[display]\nrotation = 45\n"), "d.toml"); err == nil || !strings.Contains(err.Error(), "display.rotation") {
		t.Errorf("ParseDraft with bad rotation: %v", err)
	}
}

func TestValidateInCode(t *testing.T) {
	c := Example()
	if err := c.Validate(); err != nil {
		t.Fatalf("Example invalid: %v", err)
	}
	c.LocalAPI.Listen = "192.168.1.10:8765"
	c.Triggers = append(c.Triggers, Trigger{Event: "phone-detected", Screen: ScreenPhone, Seconds: 5})
	err := c.Validate()
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if es[0].Line != 0 || es[0].File != "" {
		t.Errorf("code-built config has no file position: %+v", es[0])
	}
}

func TestKeyRingAndScopes(t *testing.T) {
	c := Example()
	kr, err := c.KeyRing()
	if err != nil || len(kr) != 2 {
		t.Fatalf("KeyRing: %v %d", err, len(kr))
	}
	for kid, pub := range kr {
		if wire.KeyID(pub) != kid {
			t.Errorf("kid %s for key with id %s", kid, wire.KeyID(pub))
		}
	}
	sc, err := c.Scopes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sc {
		got = append(got, s.String())
	}
	if want := "all pref/13 branch/tokyo-shinjuku-001 device/atm-13-0001"; strings.Join(got, " ") != want {
		t.Errorf("Scopes = %v, want %s", got, want)
	}
	c.Signing.Keys = []string{"AAAA"}
	if _, err := c.KeyRing(); err == nil {
		t.Error("KeyRing accepted a short key")
	}
}

func TestSchedule(t *testing.T) {
	c := Example()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	jst := time.FixedZone("JST", 9*3600)
	at := func(day, hh, mm int) time.Time { return time.Date(2026, 11, day, hh, mm, 0, 0, jst) } // 2026-11-16 is a Monday
	cases := []struct {
		t           time.Time
		open, quiet bool
		brightness  int
	}{
		{at(16, 10, 0), true, false, 100}, // Monday morning, open
		{at(16, 7, 30), false, true, 30},  // Monday before opening: closed -> quiet
		{at(16, 20, 30), true, false, 70}, // Monday evening, open, dimmer schedule
		{at(16, 22, 30), false, true, 30}, // quiet window crossing midnight
		{at(17, 6, 30), false, true, 30},  // Tuesday morning, window started Monday
		{at(21, 10, 0), true, false, 100}, // Saturday 10:00: open, after the sat/sun 06:00-09:00 window
		{at(21, 12, 30), false, true, 30}, // Saturday lunch break: closed
		{at(22, 11, 0), false, true, 30},  // Sunday: closed all day
	}
	for _, tc := range cases {
		if got := c.Open(tc.t); got != tc.open {
			t.Errorf("%v Open = %v, want %v", tc.t, got, tc.open)
		}
		if got := c.Quiet(tc.t); got != tc.quiet {
			t.Errorf("%v Quiet = %v, want %v", tc.t, got, tc.quiet)
		}
		if got := c.BrightnessAt(tc.t); got != tc.brightness {
			t.Errorf("%v BrightnessAt = %d, want %d", tc.t, got, tc.brightness)
		}
	}
	// Saturday 08:30 is inside the sat/sun 06:00-09:00 window and before opening.
	if !c.InQuietWindow(at(21, 8, 30)) || c.InQuietWindow(at(20, 8, 30)) {
		t.Error("day-limited quiet window wrong")
	}
	// The same instant in UTC is judged in the config's time zone.
	if !c.Open(at(16, 10, 0).UTC()) {
		t.Error("Open must convert to schedule.timezone")
	}
	if !c.ShowsDuringQuiet(50) || c.ShowsDuringQuiet(49) {
		t.Error("ShowsDuringQuiet threshold")
	}
	c.Schedule.Hours = nil
	c.Schedule.Quiet = nil
	if !c.Open(at(22, 3, 0)) || c.Quiet(at(22, 3, 0)) {
		t.Error("without hours the branch is always open")
	}
}

func TestOversizeAndUTF8(t *testing.T) {
	big := bytes.Repeat([]byte("# padding\n"), MaxConfigBytes/10+1)
	if _, err := Parse(big, "big.toml"); err == nil || !strings.Contains(err.Error(), "max 65536") {
		t.Errorf("oversized: %v", err)
	}
}

// Field techs edit on Windows laptops: CRLF line ends and a UTF-8 BOM must
// parse, with the same line numbers.
func TestWindowsEditors(t *testing.T) {
	crlf := strings.ReplaceAll(minimal, "\n", "\r\n")
	for name, data := range map[string]string{"crlf": crlf, "bom": "\xef\xbb\xbf" + minimal, "bom+crlf": "\xef\xbb\xbf" + crlf} {
		c, err := Parse([]byte(data), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Line("device.branch") != 5 {
			t.Errorf("%s: branch on line %d", name, c.Line("device.branch"))
		}
	}
	bad := strings.Replace(crlf, `prefecture = "13"`, `prefecture = "99"`, 1)
	_, err := Parse([]byte("\xef\xbb\xbf"+bad), "w.toml")
	if err == nil || !strings.HasPrefix(err.Error(), "w.toml:6: device.prefecture:") {
		t.Errorf("error position with BOM+CRLF: %v", err)
	}
}

// A cluster config: broker.urls instead of url. It parses, lists its
// nodes in order, round-trips through Marshal, and may not also give url.
func TestBrokerURLs(t *testing.T) {
	cluster := strings.Replace(minimal, `url = "mqtts://broker.example.jp:8883"`,
		`urls = ["mqtts://mqtt1.example.jp:8883", "ssl://mqtt2.example.jp:8883"]`, 1)
	c, err := Parse([]byte(cluster), "cluster.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []string{"mqtts://mqtt1.example.jp:8883", "ssl://mqtt2.example.jp:8883"}
	if got := c.BrokerURLs(); !reflect.DeepEqual(got, want) {
		t.Errorf("BrokerURLs = %q, want %q", got, want)
	}
	if tc, err := c.TLSConfig(); err != nil || tc == nil {
		t.Errorf("TLSConfig = %v, %v; want a TLS config for a TLS cluster", tc, err)
	}
	back, err := Parse(c.Marshal(), "rt.toml")
	if err != nil {
		t.Fatalf("Parse(Marshal): %v\n%s", err, c.Marshal())
	}
	if !reflect.DeepEqual(exported(back), exported(c)) {
		t.Errorf("round trip:\n got %+v\nwant %+v", exported(back), exported(c))
	}

	old, err := Parse([]byte(minimal), "min.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := old.BrokerURLs(); !reflect.DeepEqual(got, []string{"mqtts://broker.example.jp:8883"}) {
		t.Errorf("BrokerURLs of a url config = %q", got)
	}

	both := strings.Replace(cluster, "[broker]\n", "[broker]\nurl = \"mqtts://broker.example.jp:8883\"\n", 1)
	_, err = Parse([]byte(both), "both.toml")
	if err == nil || !strings.Contains(err.Error(), "both.toml:10: broker.urls: broker.url is set too") {
		t.Errorf("url and urls together: err = %v", err)
	}
}
