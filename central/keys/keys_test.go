package keys_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/internal/wire"
)

func now() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) }

func TestFirstStartReloadRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	r, created, err := keys.Load(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 {
		t.Fatalf("created %v, want signing and provisioning", created)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	sig := r.Signer(keys.Signing)
	env, err := sig.Seal([]byte(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}

	r2, created, err := keys.Load(dir, now)
	if err != nil || len(created) != 0 {
		t.Fatalf("reload: %v, created %v", err, created)
	}
	if r2.Signer(keys.Signing).KeyID() != sig.KeyID() {
		t.Fatal("reload changed the signing key")
	}
	if r2.Signer(keys.Provisioning).KeyID() == sig.KeyID() {
		t.Fatal("provisioning and signing key are the same")
	}

	newKid, err := r2.Rotate(keys.Signing)
	if err != nil {
		t.Fatal(err)
	}
	if newKid == sig.KeyID() || r2.Signer(keys.Signing).KeyID() != newKid {
		t.Fatal("rotate did not change the active key")
	}
	pubs := r2.PublicKeys(keys.Signing)
	if len(pubs) != 2 || wire.KeyID(pubs[0]) != newKid {
		t.Fatalf("after rotate: %d public keys, first %s", len(pubs), wire.KeyID(pubs[0]))
	}
	// Something signed with the old key still verifies against the listed keys.
	if _, _, err := wire.Open(env, r2.KeyRing(keys.Signing)); err != nil {
		t.Fatalf("old signature after rotation: %v", err)
	}
	if err := r2.Remove(keys.Signing, newKid); err == nil {
		t.Fatal("removed the active key")
	}
	if err := r2.Remove(keys.Signing, sig.KeyID()); err != nil {
		t.Fatal(err)
	}
	r3, _, err := keys.Load(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := wire.Open(env, r3.KeyRing(keys.Signing)); err == nil {
		t.Fatal("removed key still verifies")
	}
}

func TestAddThenActivate(t *testing.T) {
	r, _, err := keys.Load(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	old := r.Signer(keys.Signing).KeyID()
	kid, err := r.Add(keys.Signing)
	if err != nil {
		t.Fatal(err)
	}
	if r.Signer(keys.Signing).KeyID() != old || len(r.PublicKeys(keys.Signing)) != 2 || wire.KeyID(r.PublicKeys(keys.Signing)[0]) != old {
		t.Fatal("Add changed the active key or did not list the new one")
	}
	if err := r.Activate(keys.Signing, "0000000000000000"); err == nil {
		t.Fatal("activated an unlisted key")
	}
	if err := r.Activate(keys.Provisioning, kid); err == nil {
		t.Fatal("activated a signing key as provisioning key")
	}
	if err := r.Activate(keys.Signing, kid); err != nil {
		t.Fatal(err)
	}
	if r.Signer(keys.Signing).KeyID() != kid || wire.KeyID(r.PublicKeys(keys.Signing)[0]) != kid {
		t.Fatal("activate did not switch")
	}
}

func TestRefusesReadableKeyFile(t *testing.T) {
	dir := t.TempDir()
	r, _, err := keys.Load(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, r.Keys(keys.Signing)[0].File)
	os.Chmod(f, 0o644)
	if _, _, err := keys.Load(dir, now); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("load with 0644 key: %v", err)
	}
	os.Chmod(f, 0o600)
	os.WriteFile(filepath.Join(dir, "keys.json"), []byte("{"), 0o600)
	if _, _, err := keys.Load(dir, now); err == nil || !strings.Contains(err.Error(), "keys.json") {
		t.Fatalf("load with broken index: %v", err)
	}
}
