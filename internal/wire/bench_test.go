package wire

import (
	"encoding/json"
	"testing"
)

// BenchmarkOpenDecodeSnapshot is what an agent pays per received snapshot
// before touching its cache: verify the ~2 KB sample, then decode and validate.
func BenchmarkOpenDecodeSnapshot(b *testing.B) {
	signer := testSigner("central-2026")
	keys, _ := NewKeyRing(signer.PublicKey())
	env, err := signer.SealJSON(sampleSnapshot())
	if err != nil {
		b.Fatal(err)
	}
	all := Scope{Kind: ScopePref, ID: "13"}
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenSnapshot(env, keys, all); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealSnapshot is central's cost to sign one scope snapshot.
func BenchmarkSealSnapshot(b *testing.B) {
	signer := testSigner("central-2026")
	p, _ := json.Marshal(sampleSnapshot())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := signer.Seal(p); err != nil {
			b.Fatal(err)
		}
	}
}
