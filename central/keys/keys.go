package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// Purpose is what a key signs.
type Purpose string

const (
	Signing      Purpose = "signing"
	Provisioning Purpose = "provisioning"
)

// KeyInfo describes one key in keys.json.
type KeyInfo struct {
	KeyID     string    `json:"kid"`
	PublicKey []byte    `json:"public_key"` // base64 in JSON
	File      string    `json:"file"`       // private key file, relative to the keys dir
	Created   time.Time `json:"created"`
	Retired   time.Time `json:"retired,omitzero"` // no longer signs; still listed until removed
}

type index struct {
	Active map[Purpose]string    `json:"active"`
	Keys   map[Purpose][]KeyInfo `json:"keys"`
}

// Ring is the loaded key set. It is safe for concurrent use.
type Ring struct {
	dir string
	now func() time.Time

	mu      sync.RWMutex
	idx     index
	signers map[string]*wire.Signer // by kid, every listed key with a private half
}

// Load opens the keys in dir, generating any missing signing or provisioning
// key. created lists the purposes generated now (first start).
func Load(dir string, now func() time.Time) (r *Ring, created []Purpose, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("keys dir %s: %w", dir, err)
	}
	r = &Ring{dir: dir, now: now, signers: map[string]*wire.Signer{}}
	b, err := os.ReadFile(r.indexPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.idx = index{Active: map[Purpose]string{}, Keys: map[Purpose][]KeyInfo{}}
	case err != nil:
		return nil, nil, fmt.Errorf("read %s: %w", r.indexPath(), err)
	default:
		if err := json.Unmarshal(b, &r.idx); err != nil {
			return nil, nil, fmt.Errorf("parse %s: %w", r.indexPath(), err)
		}
		if r.idx.Active == nil || r.idx.Keys == nil {
			return nil, nil, fmt.Errorf("parse %s: missing active or keys", r.indexPath())
		}
	}
	for p, list := range r.idx.Keys {
		for _, k := range list {
			s, err := r.loadPrivate(k)
			if err != nil {
				return nil, nil, err
			}
			if s.KeyID() != k.KeyID {
				return nil, nil, fmt.Errorf("key %s (%s): private key file %s has kid %s", k.KeyID, p, k.File, s.KeyID())
			}
			r.signers[k.KeyID] = s
		}
	}
	for _, p := range []Purpose{Signing, Provisioning} {
		if kid := r.idx.Active[p]; kid != "" {
			if r.signers[kid] == nil {
				return nil, nil, fmt.Errorf("active %s key %s is not listed in %s", p, kid, r.indexPath())
			}
			continue
		}
		if _, err := r.generate(p); err != nil {
			return nil, nil, err
		}
		created = append(created, p)
	}
	if len(created) > 0 {
		if err := r.save(); err != nil {
			return nil, nil, err
		}
	}
	return r, created, nil
}

func (r *Ring) indexPath() string { return filepath.Join(r.dir, "keys.json") }

// Dir is the keys directory.
func (r *Ring) Dir() string { return r.dir }

func (r *Ring) loadPrivate(k KeyInfo) (*wire.Signer, error) {
	path := filepath.Join(r.dir, filepath.Base(k.File))
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.KeyID, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o: it must not be readable by group or others (chmod 600)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.KeyID, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key file %s: not a PEM PRIVATE KEY", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key file %s: not an ed25519 key", path)
	}
	return wire.NewSigner(priv)
}

// generate makes a new key for p, writes its file and makes it active.
// Caller holds mu (or has exclusive access) and saves the index.
func (r *Ring) generate(p Purpose) (string, error) {
	kid, err := r.generateListed(p)
	if err != nil {
		return "", err
	}
	r.activateLocked(p, kid)
	return kid, nil
}

// activateLocked makes kid the active key for p and marks the previous one retired.
func (r *Ring) activateLocked(p Purpose, kid string) {
	now := r.now().UTC()
	if old := r.idx.Active[p]; old != "" && old != kid {
		for i := range r.idx.Keys[p] {
			if r.idx.Keys[p][i].KeyID == old {
				r.idx.Keys[p][i].Retired = now
			}
		}
	}
	for i := range r.idx.Keys[p] {
		if r.idx.Keys[p][i].KeyID == kid {
			r.idx.Keys[p][i].Retired = time.Time{}
		}
	}
	r.idx.Active[p] = kid
}

// generateListed makes a new key for p and lists it without activating it.
func (r *Ring) generateListed(p Purpose) (string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate %s key: %w", p, err)
	}
	s, err := wire.NewSigner(priv)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	file := fmt.Sprintf("%s-%s.key", p, s.KeyID())
	if err := writeFileAtomic(filepath.Join(r.dir, file), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", fmt.Errorf("write %s key: %w", p, err)
	}
	r.idx.Keys[p] = append(r.idx.Keys[p], KeyInfo{KeyID: s.KeyID(), PublicKey: s.PublicKey(), File: file, Created: r.now().UTC()})
	r.signers[s.KeyID()] = s
	return s.KeyID(), nil
}

func (r *Ring) save() error {
	b, err := json.MarshalIndent(r.idx, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(r.indexPath(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", r.indexPath(), err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Signer is the active key for p.
func (r *Ring) Signer(p Purpose) *wire.Signer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.signers[r.idx.Active[p]]
}

// PublicKeys lists every listed key for p (active first, then older ones
// still listed), for device configs and verification.
func (r *Ring) PublicKeys(p Purpose) []ed25519.PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	active := r.idx.Active[p]
	var out []ed25519.PublicKey
	for _, k := range r.idx.Keys[p] {
		if k.KeyID == active {
			out = append([]ed25519.PublicKey{k.PublicKey}, out...)
		} else {
			out = append(out, k.PublicKey)
		}
	}
	return out
}

// KeyRing is a wire.KeyRing of PublicKeys(p).
func (r *Ring) KeyRing(p Purpose) wire.KeyRing {
	kr, _ := wire.NewKeyRing(r.PublicKeys(p)...)
	return kr
}

// Keys describes the listed keys for p.
func (r *Ring) Keys(p Purpose) []KeyInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]KeyInfo(nil), r.idx.Keys[p]...)
}

// Add makes a new key for p and lists it without making it active: new
// device configs pin it (PublicKeys) while snapshots are still signed with
// the active key. Activate it once the fleet's configs list it.
func (r *Ring) Add(p Purpose) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kid, err := r.generateListed(p)
	if err != nil {
		return "", err
	}
	return kid, r.save()
}

// Activate makes a listed key the active one; the previous key stays listed
// (retired) so what it signed still verifies.
func (r *Ring) Activate(p Purpose, kid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.signers[kid] == nil || !r.listed(p, kid) {
		return fmt.Errorf("activate %s key %s: not listed", p, kid)
	}
	r.activateLocked(p, kid)
	return r.save()
}

func (r *Ring) listed(p Purpose, kid string) bool {
	for _, k := range r.idx.Keys[p] {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

// Rotate is Add + Activate in one step (for a key whose verifiers learn
// new keys by other means, or in an emergency); the old key stays listed.
func (r *Ring) Rotate(p Purpose) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kid, err := r.generate(p)
	if err != nil {
		return "", err
	}
	return kid, r.save()
}

// Remove drops a retired key from the list and deletes its file. The active
// key cannot be removed.
func (r *Ring) Remove(p Purpose, kid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.idx.Active[p] == kid {
		return fmt.Errorf("remove %s key %s: it is the active key; rotate first", p, kid)
	}
	list := r.idx.Keys[p]
	for i, k := range list {
		if k.KeyID == kid {
			r.idx.Keys[p] = append(list[:i:i], list[i+1:]...)
			delete(r.signers, kid)
			if err := r.save(); err != nil {
				return err
			}
			return os.Remove(filepath.Join(r.dir, filepath.Base(k.File)))
		}
	}
	return fmt.Errorf("remove %s key %s: not listed", p, kid)
}
