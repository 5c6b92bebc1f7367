package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

func TestCorruptCacheMovedAsideAndRebuilt(t *testing.T) {
	sg := testSigner(t, 1)
	path := filepath.Join(t.TempDir(), "cache.db")
	if err := os.WriteFile(path, []byte("this is not a bbolt file, it was cut short by a power failure"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(path, keyRing(t, sg), t0, testLogger(t))
	if err != nil {
		t.Fatalf("corrupt cache must be moved aside, not fail: %v", err)
	}
	defer c.Close()
	m, _ := filepath.Glob(path + ".corrupt-*")
	if len(m) != 1 {
		t.Fatalf("want the corrupt file kept aside, got %v", m)
	}
	if len(c.Snapshots()) != 0 {
		t.Fatal("rebuilt cache is not empty")
	}
	// and it works
	env := sealSnap(t, sg, wire.All, 1, t0)
	s, err := wire.OpenSnapshot(env, keyRing(t, sg), wire.All)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Accept(env, s, t0); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedCacheEntryDropped(t *testing.T) {
	sg := testSigner(t, 1)
	path := filepath.Join(t.TempDir(), "cache.db")
	c, err := OpenCache(path, keyRing(t, sg), t0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	env := sealSnap(t, sg, wire.All, 3, t0, withAlerts(alert("a", 90, time.Time{}, t0.Add(time.Hour))))
	s, _ := wire.OpenSnapshot(env, keyRing(t, sg), wire.All)
	if err := c.Accept(env, s, t0); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// the key that signed it is rotated out: the entry no longer verifies,
	// is dropped, but the seq (replay protection) is kept
	c, err = OpenCache(path, keyRing(t, testSigner(t, 9)), t0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Snapshots()) != 0 {
		t.Fatal("snapshot signed by an untrusted key survived reopening")
	}
	if c.Seq(wire.All) != 3 {
		t.Fatalf("seq lost: %d", c.Seq(wire.All))
	}
}

func TestCacheLockedBySecondProcessFailsFast(t *testing.T) {
	sg := testSigner(t, 1)
	path := filepath.Join(t.TempDir(), "cache.db")
	c, err := OpenCache(path, keyRing(t, sg), t0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// bbolt's flock is per open file description, so a second open in the
	// same process behaves like a second process
	_, err = OpenCache(path, keyRing(t, sg), t0, testLogger(t))
	if !errors.Is(err, ErrCacheLocked) {
		t.Fatalf("want ErrCacheLocked, got %v", err)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Fatal("a locked cache must not be moved aside")
	}
}

func TestSeenCommandPrunesExpired(t *testing.T) {
	sg := testSigner(t, 1)
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache.db"), keyRing(t, sg), t0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, tc := range []struct {
		id   string
		exp  time.Time
		now  time.Time
		want bool
	}{
		{"c1", t0.Add(time.Minute), t0, false},
		{"c1", t0.Add(time.Minute), t0.Add(30 * time.Second), true},
		{"c1", t0.Add(3 * time.Minute), t0.Add(2 * time.Minute), false}, // forgotten after expiry
	} {
		seen, err := c.SeenCommand(tc.id, tc.exp, tc.now)
		if err != nil || seen != tc.want {
			t.Errorf("%d: seen=%v err=%v, want %v", i, seen, err, tc.want)
		}
	}
}

func TestBlobBudget(t *testing.T) {
	sg := testSigner(t, 1)
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache.db"), keyRing(t, sg), t0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b1, b2, b3 := []byte("0123456789"), []byte("abcdefghij"), []byte("ABCDEFGHIJ")
	r1, r2, r3 := blobRef(b1), blobRef(b2), blobRef(b3)
	env := sealSnap(t, sg, wire.All, 1, t0, withItems(item("i", 10, time.Time{}, t0.Add(time.Hour), r1, r2, r3)))
	s, _ := wire.OpenSnapshot(env, keyRing(t, sg), wire.All)
	if err := c.Accept(env, s, t0); err != nil {
		t.Fatal(err)
	}
	c.SetLimits(25, 0)
	if err := c.PutBlob(r1, b1); err != nil {
		t.Fatal(err)
	}
	if err := c.PutBlob(r2, b2); err != nil {
		t.Fatal(err)
	}
	if err := c.PutBlob(r3, b3); !errors.Is(err, ErrCacheFull) {
		t.Fatalf("third blob over the 25-byte budget: %v", err)
	}
	c.SetLimits(0, 2)
	if err := c.PutBlob(r3, b3); !errors.Is(err, ErrCacheFull) {
		t.Fatalf("third blob over the 2-blob budget: %v", err)
	}
	if err := c.PutBlob(r1, []byte("0123456780")); !errors.Is(err, wire.ErrContentHash) {
		t.Fatalf("wrong bytes: %v", err)
	}
}

func TestCacheDirCreatedAndUnopenableIsNotCorrupt(t *testing.T) {
	sg := testSigner(t, 1)
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "new", "sub", "cache.db"), keyRing(t, sg), t0, testLogger(t))
	if err != nil {
		t.Fatalf("missing directory must be created: %v", err)
	}
	c.Close()
	// a directory where the file should be: an error, nothing moved aside
	bad := filepath.Join(dir, "isdir")
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCache(bad, keyRing(t, sg), t0, testLogger(t)); err == nil {
		t.Fatal("opened a directory as a cache")
	}
	if m, _ := filepath.Glob(bad + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("an unopenable path was moved aside: %v", m)
	}
}
