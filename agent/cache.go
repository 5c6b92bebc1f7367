package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/atmguard/kiosk/internal/wire"
)

// Cache is the agent's bbolt file. It holds, per scope, the raw signed
// envelope of the last accepted snapshot (re-verified on every open, so a
// cache file edited on disk cannot smuggle content in), the last accepted
// seq per scope, content blobs by sha256, command ids seen (replay), and the
// last estimate of central's time.
//
// Every accepted snapshot is one transaction: envelope + seq + the deletion
// of blobs no longer referenced by any stored snapshot. A crash leaves either
// the old or the new state on disk.
type Cache struct {
	db   *bolt.DB
	path string
	keys wire.KeyRing
	log  *slog.Logger

	maxBytes int64 // blob budget (0 = no limit)
	maxBlobs int

	mu      sync.RWMutex
	snaps   map[wire.Scope]*storedSnap
	seqs    map[wire.Scope]uint64
	blobs   map[string]int64 // sha256 -> size
	central time.Time        // persisted central-time estimate
}

type storedSnap struct {
	env  []byte
	hash [32]byte
	snap *wire.Snapshot
}

var (
	bucketSnap = []byte("snap")
	bucketSeq  = []byte("seq")
	bucketBlob = []byte("blob")
	bucketCmd  = []byte("cmd")
	bucketMeta = []byte("meta")
	keyCentral = []byte("central_time")
)

// ErrCacheLocked is returned when another process holds the cache file.
var ErrCacheLocked = errors.New("cache file is locked by another process")

// OpenCache opens (or creates) the cache at path. A file that bbolt cannot
// open or whose consistency check fails is renamed to
// <path>.corrupt-<UTC timestamp> and a fresh cache is created, so a corrupt
// file never becomes a crash loop. A file locked by another process is an
// error after a 2 s wait, not a hang.
func OpenCache(path string, keys wire.KeyRing, now time.Time, log *slog.Logger) (*Cache, error) {
	return openCacheWith(path, keys, now, log, 2*time.Second, 0)
}

// openCacheWith is OpenCache with a lock wait and a file size limit (0 =
// none; beyond it writes fail like on a full disk).
func openCacheWith(path string, keys wire.KeyRing, now time.Time, log *slog.Logger, lockWait time.Duration, maxFile int64) (*Cache, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	c, err := openCache(path, keys, log, lockWait, maxFile)
	if err == nil {
		return c, nil
	}
	var pe *fs.PathError
	if errors.Is(err, ErrCacheLocked) || errors.As(err, &pe) {
		// locked, or the file cannot be opened at all (permissions, a
		// directory in the way, a full disk): not corruption, and moving
		// it aside would not help
		return nil, err
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405.000Z"))
	log.Error("cache unusable; moving it aside and starting empty", "path", path, "moved_to", aside, "err", err)
	if rerr := os.Rename(path, aside); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return nil, fmt.Errorf("open cache %s: %v; move aside: %w", path, err, rerr)
	}
	c, err2 := openCache(path, keys, log, lockWait, maxFile)
	if err2 != nil {
		return nil, fmt.Errorf("open cache %s after moving the corrupt one aside: %w", path, err2)
	}
	return c, nil
}

func openCache(path string, keys wire.KeyRing, log *slog.Logger, lockWait time.Duration, maxFile int64) (c *Cache, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait, MaxSize: int(maxFile)})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open cache %s: %w", path, ErrCacheLocked)
		}
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	// bbolt can panic on pages it cannot make sense of; a corrupt file is
	// input, and input must not crash the agent.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("open cache %s: corrupt (panic while reading: %v)", path, r)
		}
		if err != nil {
			db.Close()
		}
	}()
	c = &Cache{db: db, path: path, keys: keys, log: log,
		snaps: map[wire.Scope]*storedSnap{}, seqs: map[wire.Scope]uint64{}, blobs: map[string]int64{}}
	if err := db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			return fmt.Errorf("consistency check: %w", cerr)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	if err := db.Update(c.load); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	return c, nil
}

// load creates the buckets and reads everything into memory, re-verifying
// each stored envelope; entries that no longer verify (tampered, or signed by
// a key that has since been rotated out) are dropped and logged.
func (c *Cache) load(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketSnap, bucketSeq, bucketBlob, bucketCmd, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	seqB := tx.Bucket(bucketSeq)
	if err := seqB.ForEach(func(k, v []byte) error {
		sc, err := wire.ParseScope(string(k))
		if err != nil || len(v) != 8 {
			return fmt.Errorf("seq bucket: bad entry %q", k)
		}
		c.seqs[sc] = binary.BigEndian.Uint64(v)
		return nil
	}); err != nil {
		return err
	}
	var drop [][]byte
	snapB := tx.Bucket(bucketSnap)
	if err := snapB.ForEach(func(k, v []byte) error {
		sc, err := wire.ParseScope(string(k))
		if err != nil {
			drop = append(drop, bytes.Clone(k))
			return nil
		}
		env := bytes.Clone(v)
		s, err := wire.OpenSnapshot(env, c.keys, sc)
		if err != nil {
			c.log.Warn("cached snapshot no longer verifies; dropping it", "scope", sc.String(), "reason", wire.Reason(err), "err", err)
			drop = append(drop, bytes.Clone(k))
			return nil
		}
		if s.Seq > c.seqs[sc] { // cannot happen with one transaction per accept; repair upward
			c.seqs[sc] = s.Seq
		}
		c.snaps[sc] = &storedSnap{env: env, hash: sha256.Sum256(env), snap: s}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range drop {
		if err := snapB.Delete(k); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketBlob).ForEach(func(k, v []byte) error {
		c.blobs[string(k)] = int64(len(v))
		return nil
	}); err != nil {
		return err
	}
	if v := tx.Bucket(bucketMeta).Get(keyCentral); v != nil {
		var t time.Time
		if err := t.UnmarshalBinary(v); err == nil {
			c.central = t
		}
	}
	for _, s := range c.snaps {
		if s.snap.Issued.After(c.central) {
			c.central = s.snap.Issued
		}
	}
	return c.gc(tx)
}

// Close closes the file.
func (c *Cache) Close() error { return c.db.Close() }

// Path is the cache file.
func (c *Cache) Path() string { return c.path }

// Seq is the last accepted seq for scope (0 if none).
func (c *Cache) Seq(sc wire.Scope) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seqs[sc]
}

// Seqs returns the last accepted seq per scope, keyed by scope string.
func (c *Cache) Seqs() map[string]uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := make(map[string]uint64, len(c.seqs))
	for k, v := range c.seqs {
		m[k.String()] = v
	}
	return m
}

// Duplicate reports whether env is byte-for-byte the stored envelope of its
// scope (a retained message delivered again on resubscribe: not an attack).
func (c *Cache) Duplicate(sc wire.Scope, env []byte) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := c.snaps[sc]
	return s != nil && s.hash == sha256.Sum256(env)
}

// Snapshots returns the stored, verified snapshots (shared; do not modify).
func (c *Cache) Snapshots() map[wire.Scope]*wire.Snapshot {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := make(map[wire.Scope]*wire.Snapshot, len(c.snaps))
	for k, v := range c.snaps {
		m[k] = v.snap
	}
	return m
}

// CentralTime is the persisted estimate of central's time (zero if none).
func (c *Cache) CentralTime() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.central
}

// Accept stores a verified snapshot and its seq in one transaction, records
// the central-time estimate and deletes blobs no longer referenced.
func (c *Cache) Accept(env []byte, s *wire.Snapshot, central time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], s.Seq)
	tb, _ := central.MarshalBinary()
	key := []byte(s.Scope.String())
	old := c.snaps[s.Scope]
	c.snaps[s.Scope] = &storedSnap{env: env, hash: sha256.Sum256(env), snap: s}
	err := c.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSnap).Put(key, env); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSeq).Put(key, seq[:]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyCentral, tb); err != nil {
			return err
		}
		return c.gc(tx)
	})
	if err != nil {
		if old == nil {
			delete(c.snaps, s.Scope)
		} else {
			c.snaps[s.Scope] = old
		}
		// the in-memory blob index may be ahead of the rolled-back file
		c.reindexBlobs()
		return fmt.Errorf("store snapshot %s seq %d: %w", s.Scope, s.Seq, err)
	}
	c.seqs[s.Scope] = s.Seq
	if central.After(c.central) {
		c.central = central
	}
	return nil
}

func (c *Cache) reindexBlobs() {
	c.blobs = map[string]int64{}
	_ = c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlob).ForEach(func(k, v []byte) error {
			c.blobs[string(k)] = int64(len(v))
			return nil
		})
	})
}

// referencedLocked is the set of blobs the stored snapshots name.
func (c *Cache) referencedLocked() map[string]wire.ContentRef {
	ref := map[string]wire.ContentRef{}
	for _, s := range c.snaps {
		for _, it := range s.snap.Campaign {
			for _, im := range it.Images {
				ref[im.SHA256] = im
			}
		}
	}
	return ref
}

// gc deletes unreferenced blobs inside tx (c.mu held or exclusive).
func (c *Cache) gc(tx *bolt.Tx) error {
	ref := c.referencedLocked()
	b := tx.Bucket(bucketBlob)
	var del [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		if _, ok := ref[string(k)]; !ok {
			del = append(del, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range del {
		if err := b.Delete(k); err != nil {
			return err
		}
		delete(c.blobs, string(k))
	}
	return nil
}

// Missing returns the blobs referenced by stored snapshots that are not in
// the cache yet, sorted by sha256.
func (c *Cache) Missing() []wire.ContentRef {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []wire.ContentRef
	for sha, r := range c.referencedLocked() {
		if _, ok := c.blobs[sha]; !ok {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SHA256 < out[j].SHA256 })
	return out
}

// HasBlob reports whether the blob is stored.
func (c *Cache) HasBlob(sha string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.blobs[sha]
	return ok
}

// ErrCacheFull is returned by PutBlob when the blob would exceed the
// configured budget (SetLimits); the item that needs it stays held back.
var ErrCacheFull = errors.New("cache blob budget exceeded")

// SetLimits sets the blob budget (cache.max_bytes, cache.max_blobs); 0 means
// no limit.
func (c *Cache) SetLimits(maxBytes int64, maxBlobs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxBytes, c.maxBlobs = maxBytes, maxBlobs
}

// PutBlob stores data under ref after checking its size and hash. A blob no
// stored snapshot references any more is not stored (it was superseded while
// being fetched).
func (c *Cache) PutBlob(ref wire.ContentRef, data []byte) error {
	if err := checkBlob(ref, data); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.referencedLocked()[ref.SHA256]; !ok {
		return nil
	}
	if _, ok := c.blobs[ref.SHA256]; !ok {
		var total int64
		for _, s := range c.blobs {
			total += s
		}
		if c.maxBlobs > 0 && len(c.blobs)+1 > c.maxBlobs {
			return fmt.Errorf("store blob %s: %w: %d blobs stored, max %d", ref.SHA256, ErrCacheFull, len(c.blobs), c.maxBlobs)
		}
		if c.maxBytes > 0 && total+int64(len(data)) > c.maxBytes {
			return fmt.Errorf("store blob %s: %w: %d + %d bytes, max %d", ref.SHA256, ErrCacheFull, total, len(data), c.maxBytes)
		}
	}
	if err := c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlob).Put([]byte(ref.SHA256), data)
	}); err != nil {
		return fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	c.blobs[ref.SHA256] = int64(len(data))
	return nil
}

func checkBlob(ref wire.ContentRef, data []byte) error {
	if int64(len(data)) != ref.Size {
		return fmt.Errorf("%w: blob %s is %d bytes, the snapshot says %d", wire.ErrContentLimit, ref.SHA256, len(data), ref.Size)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != ref.SHA256 {
		return fmt.Errorf("%w: blob %s hashes to %s", wire.ErrContentHash, ref.SHA256, got)
	}
	return nil
}

// Blob returns a stored blob after re-checking its hash; a blob that no
// longer matches (disk corruption) is deleted so it is fetched again.
func (c *Cache) Blob(ref wire.ContentRef) ([]byte, bool) {
	var data []byte
	_ = c.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketBlob).Get([]byte(ref.SHA256)); v != nil {
			data = bytes.Clone(v)
		}
		return nil
	})
	if data == nil {
		return nil, false
	}
	if err := checkBlob(ref, data); err != nil {
		c.log.Error("cached blob corrupt; deleting it", "sha256", ref.SHA256, "err", err)
		c.mu.Lock()
		_ = c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketBlob).Delete([]byte(ref.SHA256)) })
		delete(c.blobs, ref.SHA256)
		c.mu.Unlock()
		return nil, false
	}
	return data, true
}

// BlobStats is the number and total size of stored blobs.
func (c *Cache) BlobStats() (n int, size int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.blobs {
		size += s
	}
	return len(c.blobs), size
}

// SaveCentralTime persists the central-time estimate (heartbeat).
func (c *Cache) SaveCentralTime(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tb, _ := t.MarshalBinary()
	if err := c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyCentral, tb) }); err != nil {
		return fmt.Errorf("save central time: %w", err)
	}
	if t.After(c.central) {
		c.central = t
	}
	return nil
}

// SeenCommand records command id until expires and reports whether it was
// already recorded. Expired ids (before now) are pruned in the same step.
func (c *Cache) SeenCommand(id string, expires, now time.Time) (bool, error) {
	seen := false
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCmd)
		var del [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < now.UnixNano() {
				del = append(del, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range del {
			_ = b.Delete(k)
		}
		if b.Get([]byte(id)) != nil {
			seen = true
			return nil
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(expires.UnixNano()))
		return b.Put([]byte(id), v[:])
	})
	if err != nil {
		return false, fmt.Errorf("remember command %s: %w", id, err)
	}
	return seen, nil
}
