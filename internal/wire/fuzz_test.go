package wire

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to Open and the decoders. It must never
// panic, and it must never accept a payload that the test key did not sign:
// any mutation of a signed envelope either fails or yields exactly one of
// the signed payloads (re-spacing the envelope JSON is harmless; changing
// what was signed is not).
func FuzzOpen(f *testing.F) {
	signer := testSigner("central-2026")
	keys, _ := NewKeyRing(signer.PublicKey(), testSigner("other-known").PublicKey())
	var signed [][]byte
	for _, m := range []any{sampleSnapshot(), sampleCommand()} {
		p, _ := json.Marshal(m)
		env, err := signer.Seal(p)
		if err != nil {
			f.Fatal(err)
		}
		signed = append(signed, p)
		f.Add(env)
	}
	f.Add([]byte(`{"v":1,"kid":"","payload":"","sig":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, _, err := Open(data, keys)
		if err != nil {
			if payload != nil {
				t.Fatal("payload returned with error")
			}
			return
		}
		ok := false
		for _, s := range signed {
			if bytes.Equal(payload, s) {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("accepted a payload nobody signed: %q", payload)
		}
		// Decoders must not panic on what Open accepts.
		_, _ = DecodeSnapshot(payload)
		_, _ = DecodeCommand(payload)
	})
}

// FuzzDecode feeds arbitrary payloads to the decoders and the topic parser:
// they run on bytes from devices (status, events) that nobody signed.
func FuzzDecode(f *testing.F) {
	p, _ := json.Marshal(sampleSnapshot())
	f.Add(p)
	f.Add([]byte(`{"type":"status","device":"atm-1","state":"online","time":"2026-11-22T09:00:00Z"}`))
	f.Add([]byte(`{"type":"event","device":"atm-1","kind":"rejected","time":"2026-11-22T09:00:00Z","reason":"replay"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := DecodeSnapshot(data); err == nil {
			if err := s.Validate(); err != nil {
				t.Fatalf("decoded snapshot fails Validate: %v", err)
			}
		}
		_, _ = DecodeStatus(data)
		_, _ = DecodeEvent(data)
		_, _ = DecodeCommand(data)
		_, _ = ParseTopic(string(data))
	})
}
