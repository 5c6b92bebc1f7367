package config

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atmguard/kiosk/internal/wire"
)

func testSigner(t testing.TB, label string) *wire.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte(label))
	s, err := wire.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ring(t testing.TB, ss ...*wire.Signer) wire.KeyRing {
	t.Helper()
	var keys []ed25519.PublicKey
	for _, s := range ss {
		keys = append(keys, s.PublicKey())
	}
	kr, err := wire.NewKeyRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSignVerify(t *testing.T) {
	prov, other := testSigner(t, "provisioning"), testSigner(t, "someone else")
	data := []byte(minimal)
	sig, err := Sign(data, prov)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sig, []byte(`"kid":"`+prov.KeyID()+`"`)) {
		t.Errorf("sig file lacks kid: %s", sig)
	}
	if err := Verify(data, sig, ring(t, prov)); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	// Two pinned keys (rotation): either verifies.
	if err := Verify(data, sig, ring(t, other, prov)); err != nil {
		t.Fatalf("rotation ring: %v", err)
	}

	flip := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		return c
	}
	otherSig, _ := Sign(data, other)
	sigField := bytes.Index(sig, []byte(`"sig":"`)) + len(`"sig":"`)
	cases := []struct {
		name      string
		data, sig []byte
		keys      wire.KeyRing
		want      error
	}{
		{"flipped byte in config", flip(data, 20), sig, ring(t, prov), wire.ErrBadSignature},
		{"flipped last byte in config", flip(data, len(data)-1), sig, ring(t, prov), wire.ErrBadSignature},
		{"appended comment", append(append([]byte(nil), data...), "# x\n"...), sig, ring(t, prov), wire.ErrBadSignature},
		{"flipped byte in sig", data, flip(sig, sigField+3), ring(t, prov), wire.ErrBadSignature},
		{"signed by other key", data, otherSig, ring(t, prov), wire.ErrUnknownKey},
		{"kid swapped to pinned key", data, bytes.Replace(otherSig, []byte(other.KeyID()), []byte(prov.KeyID()), 1), ring(t, prov), wire.ErrBadSignature},
		{"missing sig", data, nil, ring(t, prov), ErrUnsigned},
		{"not json", data, []byte("hello"), ring(t, prov), wire.ErrMalformed},
		{"unknown field", data, bytes.Replace(sig, []byte(`{"v":1`), []byte(`{"x":1,"v":1`), 1), ring(t, prov), wire.ErrMalformed},
		{"version 2", data, bytes.Replace(sig, []byte(`"v":1`), []byte(`"v":2`), 1), ring(t, prov), wire.ErrVersion},
		{"short sig", data, []byte(`{"v":1,"kid":"` + prov.KeyID() + `","sig":"AAAA"}`), ring(t, prov), wire.ErrMalformed},
		{"trailing data", data, append(append([]byte(nil), sig...), "{}"...), ring(t, prov), wire.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.data, tc.sig, tc.keys)
			if !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLoadSigned(t *testing.T) {
	dir := t.TempDir()
	prov, other := testSigner(t, "provisioning"), testSigner(t, "other")
	cfgPath := filepath.Join(dir, "device.toml")
	write := func(p string, b []byte) {
		t.Helper()
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(cfgPath, []byte(minimal))
	sig, _ := Sign([]byte(minimal), prov)
	write(SigPath(cfgPath), sig)

	c, err := LoadSigned(cfgPath, SigPath(cfgPath), ring(t, prov))
	if err != nil {
		t.Fatalf("LoadSigned: %v", err)
	}
	if c.Device.ID != "atm-13-0001" || c.File() != cfgPath {
		t.Errorf("loaded %+v from %q", c.Device, c.File())
	}

	if _, err := LoadSigned(cfgPath, SigPath(cfgPath), ring(t, other)); !errors.Is(err, wire.ErrUnknownKey) {
		t.Errorf("other key: %v", err)
	}
	if _, err := LoadSigned(cfgPath, filepath.Join(dir, "nope.sig"), ring(t, prov)); !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), "nope.sig") {
		t.Errorf("missing sig: %v", err)
	}
	if _, err := LoadSigned(cfgPath, SigPath(cfgPath), nil); err == nil {
		t.Error("no pinned keys accepted")
	}
	write(cfgPath, []byte(strings.Replace(minimal, "tokyo-001", "tokyo-002", 1)))
	if _, err := LoadSigned(cfgPath, SigPath(cfgPath), ring(t, prov)); !errors.Is(err, wire.ErrBadSignature) {
		t.Errorf("tampered: %v", err)
	}
	// Signed but invalid: the signature is not a pass for bad values.
	bad := strings.Replace(minimal, `prefecture = "13"`, `prefecture = "99"`, 1)
	write(cfgPath, []byte(bad))
	sig, _ = Sign([]byte(bad), prov)
	write(SigPath(cfgPath), sig)
	_, err = LoadSigned(cfgPath, SigPath(cfgPath), ring(t, prov))
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Field != "device.prefecture" || es[0].Line != 6 {
		t.Errorf("signed invalid config: %v", err)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	priv, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "prov.key")
	if err := WriteFileAtomic(keyPath, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(keyPath)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %o", st.Mode().Perm())
	}
	s, err := ReadPrivateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !s.PublicKey().Equal(priv.Public()) {
		t.Error("private key round trip changed the key")
	}
	os.Chmod(keyPath, 0o644)
	if _, err := ReadPrivateKeyFile(keyPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}

	pubPath := filepath.Join(dir, "provisioning.pub")
	other := testSigner(t, "second")
	content := "# provisioning keys\n" + string(MarshalPublicKey(s.PublicKey())) + "\n" + string(MarshalPublicKey(other.PublicKey()))
	os.WriteFile(pubPath, []byte(content), 0o644)
	kr, err := ReadPublicKeyFile(pubPath)
	if err != nil || len(kr) != 2 || kr[s.KeyID()] == nil || kr[other.KeyID()] == nil {
		t.Errorf("ReadPublicKeyFile: %v %v", kr, err)
	}
	os.WriteFile(pubPath, []byte("AAAA\n"), 0o644)
	if _, err := ReadPublicKeyFile(pubPath); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad pub file: %v", err)
	}
}
