package wire

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// TestGoldenVectors pins the wire format: a fixed key signs fixed payloads and
// the payload and envelope bytes must match testdata/golden byte for byte. A
// change here breaks every deployed display: bump Version instead.
func TestGoldenVectors(t *testing.T) {
	signer := testSigner("central-2026")
	keys, err := NewKeyRing(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		msg    any
		decode func([]byte) (any, error)
	}{
		{"snapshot", sampleSnapshot(), func(b []byte) (any, error) { return DecodeSnapshot(b) }},
		{"command", sampleCommand(), func(b []byte) (any, error) { return DecodeCommand(b) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload, err := json.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			env, err := signer.Seal(payload)
			if err != nil {
				t.Fatal(err)
			}
			pPath := filepath.Join("testdata", "golden", tc.name+".payload.json")
			ePath := filepath.Join("testdata", "golden", tc.name+".envelope.json")
			if *update {
				writeFile(t, pPath, payload)
				writeFile(t, ePath, env)
			}
			wantPayload := readFile(t, pPath)
			wantEnv := readFile(t, ePath)
			if !bytes.Equal(payload, wantPayload) {
				t.Errorf("payload bytes drifted from %s:\n got %s\nwant %s", pPath, payload, wantPayload)
			}
			if !bytes.Equal(env, wantEnv) {
				t.Errorf("envelope bytes drifted from %s:\n got %s\nwant %s", ePath, env, wantEnv)
			}
			// The committed envelope must still open and decode to the same message.
			got, kid, err := Open(wantEnv, keys)
			if err != nil {
				t.Fatalf("open golden envelope: %v", err)
			}
			if kid != signer.KeyID() {
				t.Errorf("kid = %s, want %s", kid, signer.KeyID())
			}
			msg, err := tc.decode(got)
			if err != nil {
				t.Fatalf("decode golden payload: %v", err)
			}
			if !reflect.DeepEqual(msg, tc.msg) {
				t.Errorf("decoded message differs:\n got %+v\nwant %+v", msg, tc.msg)
			}
		})
	}
}

func TestGoldenSnapshotSize(t *testing.T) {
	// The benchmark and the issue speak of a realistic ~2 KB snapshot; keep
	// the sample honest.
	p := readFile(t, filepath.Join("testdata", "golden", "snapshot.payload.json"))
	if len(p) < 1800 || len(p) > 4096 {
		t.Fatalf("sample snapshot payload is %d bytes, want about 2 KB", len(p))
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create): %v", err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
