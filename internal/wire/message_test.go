package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSnapshotValidateTable(t *testing.T) {
	cases := []struct {
		name    string
		mod     func(s *Snapshot)
		want    error
		contain string
	}{
		{"ok", func(s *Snapshot) {}, nil, ""},
		{"wrong type", func(s *Snapshot) { s.Type = TypeCommand }, ErrInvalid, "type"},
		{"seq zero", func(s *Snapshot) { s.Seq = 0 }, ErrInvalid, "seq"},
		{"expires before issued", func(s *Snapshot) { s.Expires = s.Issued.Add(-time.Second) }, ErrInvalid, "expires"},
		{"too many alerts", func(s *Snapshot) {
			for i := 0; i <= MaxAlerts; i++ {
				a := s.Alerts[0]
				a.ID = "a" + strings.Repeat("x", i)
				s.Alerts = append(s.Alerts, a)
			}
		}, ErrLimit, "alerts"},
		{"duplicate alert", func(s *Snapshot) { s.Alerts = append(s.Alerts, s.Alerts[0]) }, ErrInvalid, "twice"},
		{"headline too long", func(s *Snapshot) { s.Alerts[0].Texts[1].Headline = strings.Repeat("x", MaxHeadlineRunes+1) }, ErrLimit, "(en) headline"},
		{"body too long ja", func(s *Snapshot) { s.Alerts[0].Texts[0].Body = strings.Repeat("詐", MaxBodyRunes+1) }, ErrLimit, "(ja) body"},
		{"empty headline", func(s *Snapshot) { s.Alerts[0].Texts[0].Headline = "  " }, ErrInvalid, "headline is empty"},
		{"no texts", func(s *Snapshot) { s.Alerts[0].Texts = nil }, ErrInvalid, "no texts"},
		{"bad lang", func(s *Snapshot) { s.Alerts[0].Texts[0].Lang = "ja-JP" }, ErrInvalid, "language"},
		{"dup lang", func(s *Snapshot) { s.Alerts[0].Texts[1].Lang = "ja" }, ErrInvalid, "twice"},
		{"control char", func(s *Snapshot) { s.Alerts[0].Texts[0].Body = "a\x1bb" }, ErrInvalid, "control"},
		{"bidi override", func(s *Snapshot) { s.Alerts[0].Texts[1].Body = "call \u202e0110" }, ErrInvalid, "control"},
		{"zero-width space in number", func(s *Snapshot) { s.Alerts[0].Texts[1].Body = "call 03\u200b1234\u200b5678" }, ErrInvalid, "U+200B"},
		{"soft hyphen in number", func(s *Snapshot) { s.Alerts[0].Texts[0].Instruction = "03\u00ad1234" }, ErrInvalid, "U+00AD"},
		{"byte order mark", func(s *Snapshot) { s.Alerts[0].Texts[0].Headline = "\ufeff警告" }, ErrInvalid, "U+FEFF"},
		{"private use", func(s *Snapshot) { s.Alerts[0].Issuer = "police \ue000" }, ErrInvalid, "U+E000"},
		{"priority zero", func(s *Snapshot) { s.Alerts[0].Priority = 0 }, ErrInvalid, "priority"},
		{"qr javascript", func(s *Snapshot) { s.Alerts[0].QR.URL = "javascript:alert(1)" }, ErrInvalid, "qr url"},
		{"qr with credentials", func(s *Snapshot) { s.Alerts[0].QR.URL = "https://user:pw@example.org/" }, ErrInvalid, "qr url"},
		{"alert bad id", func(s *Snapshot) { s.Alerts[0].ID = "a/b" }, ErrInvalid, "id"},
		{"alert no expiry", func(s *Snapshot) { s.Alerts[0].Expires = time.Time{} }, ErrInvalid, "expires"},
		{"item duration zero", func(s *Snapshot) { s.Campaign[0].DurationSec = 0 }, ErrInvalid, "duration"},
		{"image bad hash", func(s *Snapshot) { s.Campaign[0].Images[0].SHA256 = "ABC" }, ErrInvalid, "sha256"},
		{"image too large", func(s *Snapshot) { s.Campaign[0].Images[0].Size = MaxBlobBytes + 1 }, ErrLimit, "blob"},
		{"image svg", func(s *Snapshot) { s.Campaign[0].Images[0].MediaType = "image/svg+xml" }, ErrInvalid, "media type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := sampleSnapshot()
			tc.mod(s)
			err := s.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid snapshot rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.contain) {
				t.Fatalf("err %q does not say %q", err, tc.contain)
			}
			var le *LimitError
			if errors.As(err, &le) && (le.Got <= le.Max || le.Limit == "") {
				t.Fatalf("LimitError does not say what was exceeded: %+v", le)
			}
		})
	}
}

func TestDecodeRejectsUnknownFieldsAndTrailing(t *testing.T) {
	p, _ := json.Marshal(sampleSnapshot())
	withExtra := strings.Replace(string(p), `"type":"snapshot"`, `"type":"snapshot","show_phone":"03-0000-0000"`, 1)
	if _, err := DecodeSnapshot([]byte(withExtra)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown field: err %v", err)
	}
	if _, err := DecodeSnapshot(append(p, []byte(" {}")...)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("trailing data: err %v", err)
	}
	if _, err := DecodeSnapshot(p); err != nil {
		t.Fatalf("good payload: %v", err)
	}
}

func TestStatusEventCommandValidate(t *testing.T) {
	st := Status{Type: TypeStatus, Device: "atm-1", State: StateOnline, Time: t0, Screen: "alert:a-1"}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	st.State = "sleeping"
	if err := st.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad state: %v", err)
	}
	ev := Event{Type: TypeEvent, Device: "atm-1", Kind: EventRejected, Time: t0, Reason: ReasonReplay, Detail: "seq 3 <= 4"}
	b, _ := json.Marshal(ev)
	if _, err := DecodeEvent(b); err != nil {
		t.Fatal(err)
	}
	ev.Kind = "hacked"
	b, _ = json.Marshal(ev)
	if _, err := DecodeEvent(b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
	c := sampleCommand()
	c.Expires = c.Issued.Add(MaxCommandLifetime + time.Second)
	if err := c.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "lifetime") {
		t.Fatalf("long-lived command: %v", err)
	}
	c = sampleCommand()
	c.Name = "format-disk"
	if err := c.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestCheckSeqAndFresh(t *testing.T) {
	if err := CheckSeq(All, 5, 6); err != nil {
		t.Fatal(err)
	}
	for _, got := range []uint64{0, 4, 5} {
		if err := CheckSeq(All, 5, got); !errors.Is(err, ErrReplay) || Reason(err) != ReasonReplay {
			t.Errorf("seq %d after 5: %v", got, err)
		}
	}
	issued, expires := t0, t0.Add(time.Hour)
	if err := CheckFresh(issued, expires, t0.Add(30*time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := CheckFresh(issued, expires, expires, time.Minute); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v", err)
	}
	if err := CheckFresh(issued, expires, t0.Add(-2*time.Minute), time.Minute); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("issued in future: %v", err)
	}
	if err := CheckFresh(issued, expires, t0.Add(-30*time.Second), time.Minute); err != nil {
		t.Errorf("within skew: %v", err)
	}
}
