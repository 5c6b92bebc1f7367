package config

import (
	"os"
	"path/filepath"
	"testing"
)

// go test -run=NONE -bench=. -benchmem ./firmware-config/config
func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "example.toml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, "example.toml"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBroken(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "broken", "types.toml"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse(data, "types.toml"); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkLoadSigned(b *testing.B) {
	dir := b.TempDir()
	data, _ := os.ReadFile(filepath.Join("testdata", "example.toml"))
	s := testSigner(b, "bench")
	sig, _ := Sign(data, s)
	p := filepath.Join(dir, "device.toml")
	os.WriteFile(p, data, 0o600)
	os.WriteFile(SigPath(p), sig, 0o644)
	keys := ring(b, s)
	for b.Loop() {
		if _, err := LoadSigned(p, SigPath(p), keys); err != nil {
			b.Fatal(err)
		}
	}
}
