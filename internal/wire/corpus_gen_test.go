package wire

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var genCorpus = flag.Bool("gen-corpus", false, "rewrite the committed fuzz seed corpus in testdata/fuzz")

// TestSeedCorpus keeps the committed seed corpus of FuzzOpen present (go test
// runs every file in testdata/fuzz/FuzzOpen as a regular test case) and can
// regenerate it with -gen-corpus.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if *genCorpus {
		good := goldenEnvelope(t)
		cmd, _ := testSigner("central-2026").SealJSON(sampleCommand())
		seeds := map[string][]byte{
			"valid-snapshot":   good,
			"valid-command":    cmd,
			"flipped-payload":  mutate(t, good, func(m map[string]any) { m["payload"] = flipB64(t, m["payload"].(string), 3) }),
			"flipped-sig":      mutate(t, good, func(m map[string]any) { m["sig"] = flipB64(t, m["sig"].(string), 3) }),
			"other-kid":        mutate(t, good, func(m map[string]any) { m["kid"] = testSigner("other-known").KeyID() }),
			"version-2":        mutate(t, good, func(m map[string]any) { m["v"] = 2 }),
			"truncated":        good[:len(good)-40],
			"nested":           []byte(`{"v":1,"kid":{"a":[1,2,{"b":null}]},"payload":"","sig":""}`),
			"duplicate-fields": []byte(`{"v":1,"v":1,"kid":"a","kid":"b","payload":"","sig":""}`),
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < 5 {
		t.Fatalf("seed corpus %s missing or small (%d files, %v): run go test -run TestSeedCorpus -gen-corpus", dir, len(entries), err)
	}
}
