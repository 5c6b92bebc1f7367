package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/atmguard/kiosk/central"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the schema this code writes.
const SchemaVersion = 3

var (
	bMeta        = []byte("meta")
	bUsers       = []byte("users")
	bUserNames   = []byte("user_names")
	bAlerts      = []byte("alerts")
	bCampaign    = []byte("campaign")
	bDevices     = []byte("devices")
	bScopes      = []byte("scopes")
	bBlobs       = []byte("blobs")
	bEnroll      = []byte("enroll")
	bAudit       = []byte("audit")
	bSettings    = []byte("settings")
	bScreenshots = []byte("screenshots")
	bDelivery    = []byte("delivery")
	bVersions    = []byte("versions") // "alert/<id>/<version %08d>" -> content of that version

	kSchema = []byte("schema_version")
)

// migrations[i] upgrades schema i to i+1.
var migrations = []func(tx *bolt.Tx) error{
	// 0 -> 1: the first schema.
	func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bUsers, bUserNames, bAlerts, bCampaign, bDevices, bScopes, bBlobs, bEnroll, bAudit, bSettings} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	// 1 -> 2: screenshots and per-alert delivery tracking.
	func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bScreenshots, bDelivery} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	// 2 -> 3: every version of every alert and campaign item is kept
	// (backfilled with the current version of existing ones).
	func(tx *bolt.Tx) error {
		vb, err := tx.CreateBucketIfNotExists(bVersions)
		if err != nil {
			return err
		}
		for _, kind := range []struct {
			bucket []byte
			prefix string
		}{{bAlerts, "alert"}, {bCampaign, "campaign"}} {
			if err := tx.Bucket(kind.bucket).ForEach(func(k, v []byte) error {
				var hdr struct {
					Version int `json:"version"`
				}
				if err := json.Unmarshal(v, &hdr); err != nil {
					return fmt.Errorf("backfill versions: decode %s %q: %w", kind.bucket, k, err)
				}
				return vb.Put(versionKey(kind.prefix, string(k), hdr.Version), v)
			}); err != nil {
				return err
			}
		}
		return nil
	},
}

func versionKey(kind, id string, version int) []byte {
	return []byte(fmt.Sprintf("%s/%s/%08d", kind, id, version))
}

// ErrNewerSchema is returned when the file was written by a newer central.
var ErrNewerSchema = errors.New("database schema is newer than this program")

// DB is the open database.
type DB struct {
	bolt *bolt.DB
	path string
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{bolt: bdb, path: path}
	if err := db.migrate(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.initAuditHead(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// Path is the file name.
func (db *DB) Path() string { return db.path }

// Bolt exposes the underlying handle (tests, consistency checks).
func (db *DB) Bolt() *bolt.DB { return db.bolt }

// Close closes the file.
func (db *DB) Close() error { return db.bolt.Close() }

// Schema returns the stored schema version.
func (db *DB) Schema() (int, error) {
	var v int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v = schemaOf(tx)
		return nil
	})
	return v, err
}

func schemaOf(tx *bolt.Tx) int {
	m := tx.Bucket(bMeta)
	if m == nil {
		return 0
	}
	b := m.Get(kSchema)
	if len(b) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(b))
}

func (db *DB) migrate() error {
	for {
		var done bool
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			v := schemaOf(tx)
			if v > SchemaVersion {
				return fmt.Errorf("%w: file has schema %d, this program knows up to %d", ErrNewerSchema, v, SchemaVersion)
			}
			if v == SchemaVersion {
				done = true
				return nil
			}
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate schema %d -> %d: %w", v, v+1, err)
			}
			m, err := tx.CreateBucketIfNotExists(bMeta)
			if err != nil {
				return err
			}
			return m.Put(kSchema, u64(uint64(v+1)))
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(tx *Tx) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, db: db}) })
}

// Update runs fn in a read-write transaction; an error rolls it back.
func (db *DB) Update(fn func(tx *Tx) error) error {
	return db.bolt.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, db: db}) })
}

// Tx is a transaction with typed accessors.
type Tx struct {
	tx *bolt.Tx
	db *DB
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func (t *Tx) get(bucket []byte, key string, v any) error {
	b := t.tx.Bucket(bucket).Get([]byte(key))
	if b == nil {
		return fmt.Errorf("%s %q: %w", bucket, key, central.ErrNotFound)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s %q: %w", bucket, key, err)
	}
	return nil
}

func (t *Tx) put(bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", bucket, key, err)
	}
	return t.tx.Bucket(bucket).Put([]byte(key), b)
}

func forEach[T any](t *Tx, bucket []byte, fn func(key string, v *T) error) error {
	return t.tx.Bucket(bucket).ForEach(func(k, b []byte) error {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("decode %s %q: %w", bucket, k, err)
		}
		return fn(string(k), &v)
	})
}

// NextID returns the next value of a named counter (1, 2, ...).
func (t *Tx) NextID(name string) (uint64, error) {
	m := t.tx.Bucket(bMeta)
	k := []byte("counter/" + name)
	var n uint64
	if b := m.Get(k); len(b) == 8 {
		n = binary.BigEndian.Uint64(b)
	}
	n++
	return n, m.Put(k, u64(n))
}

// ---- users

// UserRecord is a user with its password hash.
type UserRecord struct {
	central.User
	PasswordHash string `json:"password_hash"`
}

func (t *Tx) User(id string) (*UserRecord, error) {
	var u UserRecord
	return &u, t.get(bUsers, id, &u)
}

func (t *Tx) UserByName(name string) (*UserRecord, error) {
	id := t.tx.Bucket(bUserNames).Get([]byte(name))
	if id == nil {
		return nil, fmt.Errorf("user %q: %w", name, central.ErrNotFound)
	}
	return t.User(string(id))
}

// PutUser stores u; names are unique (ErrConflict).
func (t *Tx) PutUser(u *UserRecord) error {
	names := t.tx.Bucket(bUserNames)
	if id := names.Get([]byte(u.Name)); id != nil && string(id) != u.ID {
		return fmt.Errorf("user name %q: %w: already taken", u.Name, central.ErrConflict)
	}
	var old UserRecord
	if err := t.get(bUsers, u.ID, &old); err == nil && old.Name != u.Name {
		if err := names.Delete([]byte(old.Name)); err != nil {
			return err
		}
	}
	if err := names.Put([]byte(u.Name), []byte(u.ID)); err != nil {
		return err
	}
	return t.put(bUsers, u.ID, u)
}

func (t *Tx) Users() ([]UserRecord, error) {
	var out []UserRecord
	return out, forEach(t, bUsers, func(_ string, u *UserRecord) error { out = append(out, *u); return nil })
}

// ---- alerts and campaign

func (t *Tx) Alert(id string) (*central.Alert, error) {
	var a central.Alert
	return &a, t.get(bAlerts, id, &a)
}

// PutAlert stores a and keeps a copy of every version (the first state a
// version was stored in: its content does not change within a version).
func (t *Tx) PutAlert(a *central.Alert) error {
	if err := t.keepVersion("alert", a.ID, a.Version, a); err != nil {
		return err
	}
	return t.put(bAlerts, a.ID, a)
}

func (t *Tx) keepVersion(kind, id string, version int, v any) error {
	b := t.tx.Bucket(bVersions)
	k := versionKey(kind, id, version)
	if b.Get(k) != nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

// AlertVersions lists every stored version of an alert, oldest first.
func (t *Tx) AlertVersions(id string) ([]central.Alert, error) {
	var out []central.Alert
	prefix := []byte("alert/" + id + "/")
	c := t.tx.Bucket(bVersions).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var a central.Alert
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("decode version %s: %w", k, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Alerts calls fn for every alert in id order.
func (t *Tx) Alerts(fn func(a *central.Alert) error) error {
	return forEach(t, bAlerts, func(_ string, a *central.Alert) error { return fn(a) })
}

func (t *Tx) CampaignItem(id string) (*central.CampaignItem, error) {
	var c central.CampaignItem
	return &c, t.get(bCampaign, id, &c)
}

func (t *Tx) PutCampaignItem(c *central.CampaignItem) error {
	if err := t.keepVersion("campaign", c.ID, c.Version, c); err != nil {
		return err
	}
	return t.put(bCampaign, c.ID, c)
}

func (t *Tx) CampaignItems(fn func(c *central.CampaignItem) error) error {
	return forEach(t, bCampaign, func(_ string, c *central.CampaignItem) error { return fn(c) })
}

// ---- devices

// DeviceRecord is a device with the hash of its broker password.
type DeviceRecord struct {
	central.Device
	PasswordHash string `json:"password_hash,omitempty"`
}

func (t *Tx) Device(id string) (*DeviceRecord, error) {
	var d DeviceRecord
	return &d, t.get(bDevices, id, &d)
}

func (t *Tx) PutDevice(d *DeviceRecord) error { return t.put(bDevices, d.ID, d) }

func (t *Tx) Devices(fn func(d *DeviceRecord) error) error {
	return forEach(t, bDevices, func(_ string, d *DeviceRecord) error { return fn(d) })
}

// PutDevices merges registry state into stored devices in one transaction,
// keeping each stored password hash.
func (db *DB) PutDevices(devs []central.Device) error {
	return db.Update(func(t *Tx) error {
		for i := range devs {
			var rec DeviceRecord
			if err := t.get(bDevices, devs[i].ID, &rec); err != nil && !errors.Is(err, central.ErrNotFound) {
				return err
			}
			rec.Device = devs[i]
			if err := t.PutDevice(&rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- scopes

// ScopeState is the last snapshot central signed for a scope.
type ScopeState struct {
	Scope    string    `json:"scope"`
	Seq      uint64    `json:"seq"`
	Issued   time.Time `json:"issued"`
	Expires  time.Time `json:"expires"`
	Envelope []byte    `json:"envelope"` // the signed snapshot as published
	Acked    bool      `json:"acked"`    // the broker acknowledged this seq
}

func (t *Tx) Scope(scope string) (*ScopeState, error) {
	var s ScopeState
	return &s, t.get(bScopes, scope, &s)
}

func (t *Tx) PutScope(s *ScopeState) error {
	if old, err := t.Scope(s.Scope); err == nil && s.Seq < old.Seq {
		return fmt.Errorf("scope %s: seq %d would go back from %d", s.Scope, s.Seq, old.Seq)
	}
	return t.put(bScopes, s.Scope, s)
}

func (t *Tx) Scopes(fn func(s *ScopeState) error) error {
	return forEach(t, bScopes, func(_ string, s *ScopeState) error { return fn(s) })
}

// ---- blobs

// Blob is content stored by SHA-256.
type Blob struct {
	MediaType string `json:"type"`
	Data      []byte `json:"data"`
}

func (t *Tx) Blob(sha string) (*Blob, error) {
	var b Blob
	return &b, t.get(bBlobs, sha, &b)
}

func (t *Tx) PutBlob(sha string, b *Blob) error { return t.put(bBlobs, sha, b) }

// ---- enrollment tokens

// TokenRecord is an enrollment token with the SHA-256 of its secret.
type TokenRecord struct {
	central.EnrollToken
	SecretHash string `json:"secret_hash"`
}

func (t *Tx) Token(id string) (*TokenRecord, error) {
	var r TokenRecord
	return &r, t.get(bEnroll, id, &r)
}

func (t *Tx) PutToken(r *TokenRecord) error { return t.put(bEnroll, r.ID, r) }

func (t *Tx) Tokens(fn func(r *TokenRecord) error) error {
	return forEach(t, bEnroll, func(_ string, r *TokenRecord) error { return fn(r) })
}

// ---- settings

// Setting reads a named setting into v (ErrNotFound if unset).
func (t *Tx) Setting(name string, v any) error { return t.get(bSettings, name, v) }

func (t *Tx) PutSetting(name string, v any) error { return t.put(bSettings, name, v) }

// ---- screenshots

func (t *Tx) Screenshot(device string) (*central.Screenshot, error) {
	var s central.Screenshot
	return &s, t.get(bScreenshots, device, &s)
}

func (t *Tx) PutScreenshot(s *central.Screenshot) error { return t.put(bScreenshots, s.Device, s) }

// ---- delivery

// DeliveryRecord is what one device reported about one alert.
type DeliveryRecord struct {
	Version   int       `json:"v"`
	Received  bool      `json:"r,omitempty"`
	Displayed bool      `json:"d,omitempty"`
	Rejected  string    `json:"x,omitempty"` // reason code
	Time      time.Time `json:"t"`
}

// PutDeliveries stores delivery records keyed alertID -> deviceID in one transaction.
func (db *DB) PutDeliveries(recs map[string]map[string]DeliveryRecord) error {
	return db.Update(func(t *Tx) error {
		for alert, devs := range recs {
			b, err := t.tx.Bucket(bDelivery).CreateBucketIfNotExists([]byte(alert))
			if err != nil {
				return err
			}
			for dev, r := range devs {
				v, err := json.Marshal(r)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(dev), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Deliveries calls fn for every stored delivery record.
func (t *Tx) Deliveries(fn func(alert, device string, r DeliveryRecord) error) error {
	return t.tx.Bucket(bDelivery).ForEachBucket(func(alert []byte) error {
		return t.tx.Bucket(bDelivery).Bucket(alert).ForEach(func(dev, v []byte) error {
			var r DeliveryRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode delivery %s/%s: %w", alert, dev, err)
			}
			return fn(string(alert), string(dev), r)
		})
	})
}
