package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func goldenEnvelope(t testing.TB) []byte {
	env, err := testSigner("central-2026").SealJSON(sampleSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// mutate decodes the envelope into a map, lets f change it, and re-encodes.
func mutate(t testing.TB, env []byte, f func(m map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flipB64(t testing.TB, s string, at int) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	b[at%len(b)] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

func TestOpenTamperTable(t *testing.T) {
	central := testSigner("central-2026")
	other := testSigner("other-known")
	stranger := testSigner("stranger")
	keys, err := NewKeyRing(central.PublicKey(), other.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	good := goldenEnvelope(t)
	strangerEnv, err := stranger.SealJSON(sampleSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	huge := append([]byte(`{"v":1,"kid":"x","payload":"`), bytes.Repeat([]byte("A"), MaxEnvelopeBytes)...)
	huge = append(huge, `","sig":""}`...)
	bigPayload := make([]byte, MaxPayloadBytes+1)
	for i := range bigPayload {
		bigPayload[i] = ' '
	}
	bigEnv, _ := json.Marshal(Envelope{V: 1, KeyID: central.KeyID(), Payload: bigPayload, Sig: make([]byte, 64)})

	cases := []struct {
		name string
		env  []byte
		want error
	}{
		{"flipped byte in payload", mutate(t, good, func(m map[string]any) { m["payload"] = flipB64(t, m["payload"].(string), 100) }), ErrBadSignature},
		{"flipped byte in signature", mutate(t, good, func(m map[string]any) { m["sig"] = flipB64(t, m["sig"].(string), 7) }), ErrBadSignature},
		{"wrong key id (another trusted key)", mutate(t, good, func(m map[string]any) { m["kid"] = other.KeyID() }), ErrBadSignature},
		{"unknown key", strangerEnv, ErrUnknownKey},
		{"unknown key id string", mutate(t, good, func(m map[string]any) { m["kid"] = "0000000000000000" }), ErrUnknownKey},
		{"truncated", good[:len(good)/2], ErrMalformed},
		{"truncated signature", mutate(t, good, func(m map[string]any) { s := m["sig"].(string); m["sig"] = s[:len(s)-8] }), ErrMalformed},
		{"oversized envelope", huge, ErrLimit},
		{"oversized payload", bigEnv, ErrLimit},
		{"bad base64 payload", mutate(t, good, func(m map[string]any) { m["payload"] = "!!not base64!!" }), ErrMalformed},
		{"bad base64 sig", mutate(t, good, func(m map[string]any) { m["sig"] = "@@@" }), ErrMalformed},
		{"url-safe base64 sig", mutate(t, good, func(m map[string]any) {
			b, _ := base64.StdEncoding.DecodeString(m["sig"].(string))
			m["sig"] = base64.RawURLEncoding.EncodeToString(b)
		}), ErrMalformed},
		{"wrong version", mutate(t, good, func(m map[string]any) { m["v"] = 2 }), ErrVersion},
		{"version zero", mutate(t, good, func(m map[string]any) { m["v"] = 0 }), ErrVersion},
		{"missing version", mutate(t, good, func(m map[string]any) { delete(m, "v") }), ErrMalformed},
		{"missing sig", mutate(t, good, func(m map[string]any) { delete(m, "sig") }), ErrMalformed},
		{"unknown field", mutate(t, good, func(m map[string]any) { m["alg"] = "none" }), ErrMalformed},
		{"trailing data", append(append([]byte{}, good...), []byte(`{"v":1}`)...), ErrMalformed},
		{"not json", []byte("hello"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"json null", []byte("null"), ErrMalformed},
		{"array", []byte("[]"), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload, _, err := Open(tc.env, keys)
			if err == nil {
				t.Fatalf("accepted tampered envelope; payload %q", truncate(string(payload), 60))
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %q, want one wrapping %q", err, tc.want)
			}
			if payload != nil {
				t.Fatal("payload returned with an error")
			}
		})
	}
	// The untampered envelope opens: the table is not passing because Open
	// rejects everything.
	if _, _, err := Open(good, keys); err != nil {
		t.Fatalf("good envelope rejected: %v", err)
	}
}

func TestReasonCodes(t *testing.T) {
	keys, _ := NewKeyRing(testSigner("central-2026").PublicKey())
	good := goldenEnvelope(t)
	for _, tc := range []struct {
		env  []byte
		want string
	}{
		{mutate(t, good, func(m map[string]any) { m["sig"] = flipB64(t, m["sig"].(string), 1) }), ReasonBadSignature},
		{mutate(t, good, func(m map[string]any) { m["kid"] = "ffff" }), ReasonUnknownKey},
		{mutate(t, good, func(m map[string]any) { m["v"] = 9 }), ReasonVersion},
		{[]byte("{"), ReasonMalformed},
		{bytes.Repeat([]byte(" "), MaxEnvelopeBytes+1), ReasonLimit},
	} {
		_, _, err := Open(tc.env, keys)
		if got := Reason(err); got != tc.want {
			t.Errorf("Reason(%v) = %s, want %s", err, got, tc.want)
		}
	}
	if got := Reason(errors.New("disk full")); got != ReasonInternal {
		t.Errorf("Reason(other) = %s", got)
	}
}

func TestOpenSnapshotScopeAndCommandDevice(t *testing.T) {
	s := testSigner("central-2026")
	keys, _ := NewKeyRing(s.PublicKey())
	env := goldenEnvelope(t) // scope pref/13
	if _, err := OpenSnapshot(env, keys, Scope{Kind: ScopePref, ID: "13"}); err != nil {
		t.Fatalf("snapshot on its own topic: %v", err)
	}
	if _, err := OpenSnapshot(env, keys, All); !errors.Is(err, ErrWrongScope) {
		t.Fatalf("snapshot replayed onto state/all: err %v, want ErrWrongScope", err)
	}
	cmd, _ := s.SealJSON(sampleCommand())
	if _, err := OpenCommand(cmd, keys, "atm-13-0001"); err != nil {
		t.Fatalf("command to its device: %v", err)
	}
	if _, err := OpenCommand(cmd, keys, "atm-13-0002"); !errors.Is(err, ErrWrongDevice) {
		t.Fatalf("command for another device: err %v, want ErrWrongDevice", err)
	}
	// A signed command is not a snapshot, even on a state topic.
	if _, err := OpenSnapshot(cmd, keys, All); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "decode snapshot") && !strings.Contains(err.Error(), "type") {
		t.Fatalf("command opened as snapshot: err %v", err)
	}
}

func TestSignerRejectsBadKeys(t *testing.T) {
	if _, err := NewSigner(make([]byte, 5)); err == nil {
		t.Fatal("NewSigner accepted a 5-byte key")
	}
	if _, err := NewKeyRing(make([]byte, 31)); err == nil {
		t.Fatal("NewKeyRing accepted a 31-byte key")
	}
	if _, err := testSigner("x").Seal(make([]byte, MaxPayloadBytes+1)); !errors.Is(err, ErrLimit) {
		t.Fatalf("Seal of oversized payload: %v", err)
	}
}
