package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTopic(t *testing.T) {
	good := []struct {
		topic string
		want  Topic
	}{
		{"kiosk/v1/state/all", Topic{Kind: TopicState, Scope: All}},
		{"kiosk/v1/state/pref/13", Topic{Kind: TopicState, Scope: Scope{ScopePref, "13"}}},
		{"kiosk/v1/state/pref/01", Topic{Kind: TopicState, Scope: Scope{ScopePref, "01"}}},
		{"kiosk/v1/state/branch/shinjuku-001", Topic{Kind: TopicState, Scope: Scope{ScopeBranch, "shinjuku-001"}}},
		{"kiosk/v1/state/device/atm-13-0001", Topic{Kind: TopicState, Scope: Scope{ScopeDevice, "atm-13-0001"}}},
		{"kiosk/v1/device/atm-13-0001/status", Topic{Kind: TopicStatus, Device: "atm-13-0001"}},
		{"kiosk/v1/device/atm_13-0001/event", Topic{Kind: TopicEvent, Device: "atm_13-0001"}},
		{"kiosk/v1/device/A1/cmd", Topic{Kind: TopicCmd, Device: "A1"}},
	}
	for _, tc := range good {
		got, err := ParseTopic(tc.topic)
		if err != nil {
			t.Errorf("ParseTopic(%q): %v", tc.topic, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseTopic(%q) = %+v, want %+v", tc.topic, got, tc.want)
		}
		if s := got.String(); s != tc.topic {
			t.Errorf("round trip %q -> %q", tc.topic, s)
		}
	}

	bad := []string{
		"",
		"kiosk/v2/state/all",
		"kiosk/v1/state/all/extra",
		"kiosk/v1/state/all/",
		"kiosk/v1/state/+",
		"kiosk/v1/state/#",
		"kiosk/v1/state/pref/+",
		"kiosk/v1/state/pref/00",
		"kiosk/v1/state/pref/48",
		"kiosk/v1/state/pref/1",
		"kiosk/v1/state/pref/１３", // full-width digits
		"kiosk/v1/state/branch/",
		"kiosk/v1/state/branch/a/b",
		"kiosk/v1/state/branch/#",
		"kiosk/v1/state/device/+",
		"kiosk/v1/state/region/kanto",
		"kiosk/v1/device/+/status",
		"kiosk/v1/device/#",
		"kiosk/v1/device/atm\x00x/status",
		"kiosk/v1/device/ａｔｍ/status",
		"kiosk/v1/device/-atm/status",
		"kiosk/v1/device/atm.13/status", // '.' is a subject separator on MQTT-to-NATS bridges
		"kiosk/v1/device/atm/other",
		"kiosk/v1/device/atm/status/x",
		"kiosk/v1/device/" + strings.Repeat("a", 65) + "/status",
	}
	for _, topic := range bad {
		if got, err := ParseTopic(topic); err == nil {
			t.Errorf("ParseTopic(%q) accepted: %+v", topic, got)
		} else if !errors.Is(err, ErrTopic) {
			t.Errorf("ParseTopic(%q) error %v does not wrap ErrTopic", topic, err)
		}
	}
}

func TestScopeJSONAndBuilders(t *testing.T) {
	if _, err := DeviceScope("a/b"); err == nil {
		t.Error("DeviceScope accepted a slash")
	}
	if _, err := BranchScope("x+"); err == nil {
		t.Error("BranchScope accepted a plus")
	}
	var s Scope
	if err := s.UnmarshalText([]byte("all/x")); err == nil {
		t.Error("scope all/x accepted")
	}
	if _, err := (Scope{Kind: "bogus", ID: "1"}).MarshalText(); err == nil {
		t.Error("bogus scope marshalled")
	}
	scopes, err := DeviceScopes("atm-1", "br-1", "13")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scopes {
		names = append(names, StateTopic(s))
	}
	want := "kiosk/v1/state/all kiosk/v1/state/pref/13 kiosk/v1/state/branch/br-1 kiosk/v1/state/device/atm-1"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("DeviceScopes topics = %s", got)
	}
	if _, err := DeviceScopes("atm-1", "br-1", "99"); err == nil {
		t.Error("prefecture 99 accepted")
	}
}
