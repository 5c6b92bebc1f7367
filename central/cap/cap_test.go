package cap

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/internal/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTwoLanguages(t *testing.T) {
	m, err := Parse(read(t, "mpd-0110-alert.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if m.MsgType != MsgAlert || m.Identifier != "JP-MPD-FRAUD-2026-1122-001" || m.Sender != "fraud-alerts@keishicho.metro.tokyo.lg.jp" {
		t.Fatalf("header %+v", m)
	}
	if !m.Sent.Equal(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("sent %v", m.Sent)
	}
	in := m.Input
	if len(in.Texts) != 2 || in.Texts[0].Lang != "ja" || in.Texts[1].Lang != "en" {
		t.Fatalf("texts %+v", in.Texts)
	}
	if in.Texts[0].Headline != "新宿警察署を名乗る詐欺電話に注意" || !strings.Contains(in.Texts[1].Body, "ending in 0110") || !strings.Contains(in.Texts[0].Instruction, "#9110") {
		t.Errorf("texts %+v", in.Texts)
	}
	if in.Issuer != "警視庁" || in.Priority != 80 {
		t.Errorf("issuer %q priority %d", in.Issuer, in.Priority)
	}
	if !in.Expires.Equal(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)) || !in.Effective.Equal(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("window %v .. %v", in.Effective, in.Expires)
	}
	if !reflect.DeepEqual(in.Target, central.Target{Prefs: []string{"13"}}) {
		t.Errorf("target %+v", in.Target)
	}
	if in.QR == nil || in.QR.URL != "https://www.keishicho.metro.tokyo.lg.jp/" || in.QR.Label == "" {
		t.Errorf("qr %+v", in.QR)
	}
	// The import must be a valid wire alert once it has an id and version.
	a := central.Alert{ID: "a-1", Version: 1, AlertInput: in}
	w := a.Wire()
	if err := w.Validate(); err != nil {
		t.Errorf("imported alert is not valid on the wire: %v", err)
	}
}

// TestRoundTrip exports an imported alert, re-imports it, and then cancels
// it: published -> Alert message, cancelled -> Cancel message whose
// reference leads back to the alert.
func TestRoundTrip(t *testing.T) {
	m, err := Parse(read(t, "mpd-0110-alert.xml"))
	if err != nil {
		t.Fatal(err)
	}
	pub := time.Date(2026, 11, 22, 1, 5, 0, 0, time.UTC)
	a := &central.Alert{ID: "a-7", Version: 3, State: central.StatePublished, AlertInput: m.Input, PublishedAt: pub, CreatedAt: pub, UpdatedAt: pub}
	out, err := Export(a, "central.atmguard.example")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "a-7-export.xml", out)
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("re-import of our own export: %v\n%s", err, out)
	}
	if back.MsgType != MsgAlert || back.Identifier != Identifier("a-7") {
		t.Fatalf("re-import header %+v", back)
	}
	if !reflect.DeepEqual(back.Input, m.Input) {
		t.Fatalf("round trip changed the alert:\n got %+v\nwant %+v", back.Input, m.Input)
	}

	a.State = central.StateCancelled
	a.Version = 4
	a.CancelledAt = pub.Add(8 * time.Hour)
	out, err = Export(a, "central.atmguard.example")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "a-7-cancel.xml", out)
	c, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.MsgType != MsgCancel || len(c.References) != 1 {
		t.Fatalf("cancel %+v", c)
	}
	id, ok := AlertRef(c.References[0].Identifier)
	if !ok || id != "a-7" || !c.References[0].Sent.Equal(pub) {
		t.Fatalf("cancel references %+v -> %q %v", c.References, id, ok)
	}
}

func TestParseLaterCancel(t *testing.T) {
	c, err := Parse(read(t, "mpd-0110-cancel.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Reference{Sender: "fraud-alerts@keishicho.metro.tokyo.lg.jp", Identifier: "JP-MPD-FRAUD-2026-1122-001", Sent: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)}
	if c.MsgType != MsgCancel || len(c.References) != 1 || c.References[0] != want {
		t.Fatalf("cancel %+v", c)
	}
	if _, ok := AlertRef(want.Identifier); ok {
		t.Fatal("someone else's identifier taken for ours")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from golden (go test -update to accept):\n%s", name, got)
	}
}

func TestParseErrors(t *testing.T) {
	good := string(read(t, "mpd-0110-alert.xml"))
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not xml", "hello", "not well-formed"},
		{"wrong root", `<foo xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>`, "not a CAP 1.2 alert"},
		{"wrong namespace", strings.Replace(good, "cap:1.2", "cap:1.1", 1), "not a CAP 1.2 alert"},
		{"no expires", strings.ReplaceAll(good, "<expires>2026-11-23T10:00:00+09:00</expires>", ""), "expires"},
		{"bad time", strings.Replace(good, "2026-11-22T10:00:00+09:00</sent>", "yesterday</sent>", 1), "sent"},
		{"no japanese", strings.Replace(good, "<language>ja-JP</language>", "<language>fr-FR</language>", 1), "Japanese"},
		{"duplicate language", strings.Replace(good, "<language>en-US</language>", "<language>ja</language>", 1), "info[1]: language ja"},
		{"missing headline", strings.Replace(good, "<headline>Scam calls claiming to be Shinjuku Police Station</headline>", "", 1), "info[1].headline"},
		{"update without references", strings.Replace(good, "<msgType>Alert</msgType>", "<msgType>Update</msgType>", 1), "references"},
		{"ack", strings.Replace(good, "<msgType>Alert</msgType>", "<msgType>Ack</msgType>", 1), "msgType"},
		{"bad reference", strings.Replace(good, "<scope>", "<references>only-two,parts</references><scope>", 1), "references[0]"},
		{"unknown geocode", strings.Replace(good, "<valueName>JIS_PREF</valueName><value>13</value>", "<valueName>SAME</valueName><value>13</value>", 1), "geocode"},
		{"trailing element", good + "<alert/>", "after </alert>"},
		{"too big", good + strings.Repeat(" ", MaxBytes), "max"},
		{"identifier with space", strings.Replace(good, "JP-MPD-FRAUD-2026-1122-001", "JP MPD", 1), "identifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !errors.Is(err, central.ErrInvalid) || central.ErrorField(err) != "xml" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v; want invalid xml mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLang(t *testing.T) {
	for in, want := range map[string]string{"ja-JP": "ja", "en-US": "en", "": "en", "ZH-cn": "zh", "pt": "pt"} {
		if got := Lang(in); got != want {
			t.Errorf("Lang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExportTargets(t *testing.T) {
	exp := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, tgt := range []central.Target{{All: true}, {Prefs: []string{"13", "14"}}, {Branches: []string{"tokyo-001"}}, {Devices: []string{"atm-13-0001", "atm-13-0002"}}} {
		a := &central.Alert{ID: "a-9", Version: 1, State: central.StateDraft, CreatedAt: exp.Add(-time.Hour),
			AlertInput: central.AlertInput{Priority: 30, Issuer: "警察庁", Texts: []wire.Text{{Lang: "ja", Headline: "注意"}}, Expires: exp, Target: tgt}}
		out, err := Export(a, "central")
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Input.Target, tgt) || m.Input.Priority != 30 {
			t.Errorf("target %+v -> %+v (priority %d)", tgt, m.Input.Target, m.Input.Priority)
		}
	}
	if _, err := Export(&central.Alert{ID: "x"}, "has space"); err == nil {
		t.Error("export accepted a sender with a space")
	}
}
