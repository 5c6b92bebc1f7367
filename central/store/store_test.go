package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
	bolt "go.etcd.io/bbolt"
)

// MustOpen opens a fresh store in a temp dir and checks its consistency at
// the end of the test.
func MustOpen(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "central.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Bolt().View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			tb.Errorf("consistency check: %v", err)
		}
		db.Close()
	})
	return db
}

func TestMigrateFromEmptyAndRefuseNewer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	// A schema-1 file as an older central wrote it: meta says 1, no screenshots bucket.
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket([]byte("meta"))
		for _, b := range []string{"users", "user_names", "alerts", "campaign", "devices", "scopes", "blobs", "enroll", "audit", "settings"} {
			tx.CreateBucket([]byte(b))
		}
		return m.Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 1})
	}); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := db.Schema(); v != store.SchemaVersion {
		t.Fatalf("schema %d after open, want %d", v, store.SchemaVersion)
	}
	// The migrated bucket is usable.
	if err := db.Update(func(tx *store.Tx) error {
		return tx.PutScreenshot(&central.Screenshot{Device: "d1", PNG: []byte("x")})
	}); err != nil {
		t.Fatalf("put screenshot after migration: %v", err)
	}
	if err := db.Bolt().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := store.Open(path); !errors.Is(err, store.ErrNewerSchema) {
		t.Fatalf("open newer schema: %v, want ErrNewerSchema", err)
	}
}

func TestMigrateBackfillsVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	// A schema-2 file with one alert at version 3.
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket([]byte("meta"))
		for _, b := range []string{"users", "user_names", "alerts", "campaign", "devices", "scopes", "blobs", "enroll", "audit", "settings", "screenshots", "delivery"} {
			tx.CreateBucket([]byte(b))
		}
		b, _ := json.Marshal(central.Alert{ID: "a-1", Version: 3, State: central.StatePublished})
		tx.Bucket([]byte("alerts")).Put([]byte("a-1"), b)
		return m.Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 2})
	})
	raw.Close()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *store.Tx) error {
		a, err := tx.Alert("a-1")
		if err != nil {
			return err
		}
		a.Version, a.State = 4, central.StateCancelled
		if err := tx.PutAlert(a); err != nil {
			return err
		}
		a.CancelledBy = "x" // same version: the first stored copy is kept
		return tx.PutAlert(a)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *store.Tx) error {
		vs, err := tx.AlertVersions("a-1")
		if err != nil || len(vs) != 2 || vs[0].Version != 3 || vs[1].Version != 4 || vs[1].CancelledBy != "" {
			t.Fatalf("versions %v %+v", err, vs)
		}
		return nil
	})
}

func TestScopeSeqNeverGoesBack(t *testing.T) {
	db := MustOpen(t)
	put := func(seq uint64) error {
		return db.Update(func(tx *store.Tx) error { return tx.PutScope(&store.ScopeState{Scope: "all", Seq: seq}) })
	}
	if err := put(5); err != nil {
		t.Fatal(err)
	}
	if err := put(4); err == nil {
		t.Fatal("seq 4 after 5 accepted")
	}
	if err := put(6); err != nil {
		t.Fatal(err)
	}
}

func TestUserNamesUnique(t *testing.T) {
	db := MustOpen(t)
	err := db.Update(func(tx *store.Tx) error {
		if err := tx.PutUser(&store.UserRecord{User: central.User{ID: "u1", Name: "sato"}}); err != nil {
			return err
		}
		return tx.PutUser(&store.UserRecord{User: central.User{ID: "u2", Name: "sato"}})
	})
	if !errors.Is(err, central.ErrConflict) {
		t.Fatalf("duplicate name: %v, want ErrConflict", err)
	}
	// Renaming frees the old name.
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.PutUser(&store.UserRecord{User: central.User{ID: "u1", Name: "sato"}}); err != nil {
			return err
		}
		if err := tx.PutUser(&store.UserRecord{User: central.User{ID: "u1", Name: "sato2"}}); err != nil {
			return err
		}
		return tx.PutUser(&store.UserRecord{User: central.User{ID: "u2", Name: "sato"}})
	}); err != nil {
		t.Fatal(err)
	}
}

func fillAudit(t *testing.T, db *store.DB, n int) *store.AuditLog {
	t.Helper()
	l := &store.AuditLog{DB: db, Clock: clock.NewFake(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))}
	actor := central.Actor{UserID: "u1", Name: "sato", Role: central.RoleAdmin}
	for i := 0; i < n; i++ {
		if err := l.Record(context.Background(), actor, "alert.create", "alert/a-"+string(rune('a'+i)), map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestAuditChainTamperDetected(t *testing.T) {
	admin := central.Actor{UserID: "u1", Role: central.RoleAdmin}
	tests := []struct {
		name   string
		tamper func(tx *store.Tx) error
		broken uint64
	}{
		{"untouched", func(*store.Tx) error { return nil }, 0},
		{"detail edited", func(tx *store.Tx) error {
			var buf bytes.Buffer
			tx.ExportAudit(&buf)
			line := strings.Split(buf.String(), "\n")[2] // seq 3
			return tx.RawAuditPut(3, []byte(strings.Replace(line, `{"i":2}`, `{"i":7}`, 1)))
		}, 3},
		{"actor changed and rehashed without relinking", func(tx *store.Tx) error {
			var buf bytes.Buffer
			tx.ExportAudit(&buf)
			var e central.AuditEntry
			json.Unmarshal([]byte(strings.Split(buf.String(), "\n")[1]), &e) // seq 2
			e.Actor.UserID = "mallory"
			e.Hash = ""
			b, _ := json.Marshal(e)
			return tx.RawAuditPut(2, b)
		}, 2},
		{"entry removed", func(tx *store.Tx) error { return tx.RawAuditDelete(4) }, 5},
		{"garbage", func(tx *store.Tx) error { return tx.RawAuditPut(1, []byte("{")) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpen(t)
			l := fillAudit(t, db, 6)
			if err := db.Update(tt.tamper); err != nil {
				t.Fatal(err)
			}
			res, err := l.Verify(context.Background(), admin)
			if err != nil {
				t.Fatal(err)
			}
			if tt.broken == 0 {
				if !res.OK || res.Entries != 6 || res.Head == "" {
					t.Fatalf("untouched chain: %+v", res)
				}
				return
			}
			if res.OK || res.BrokenAt != tt.broken {
				t.Fatalf("got %+v, want broken at %d", res, tt.broken)
			}
		})
	}
}

func TestAuditListExportAndPermissions(t *testing.T) {
	db := MustOpen(t)
	l := fillAudit(t, db, 5)
	ctx := context.Background()
	viewer := central.Actor{UserID: "v", Role: central.RoleViewer}
	if _, err := l.List(ctx, viewer, central.AuditFilter{}); !errors.Is(err, central.ErrForbidden) {
		t.Fatalf("viewer list: %v", err)
	}
	approver := central.Actor{UserID: "a", Role: central.RoleApprover}
	got, err := l.List(ctx, approver, central.AuditFilter{Limit: 2})
	if err != nil || len(got) != 2 || got[0].Seq != 5 || got[1].Seq != 4 {
		t.Fatalf("list newest 2: %v %+v", err, got)
	}
	got, _ = l.List(ctx, approver, central.AuditFilter{Before: 4, Limit: 10})
	if len(got) != 3 || got[0].Seq != 3 {
		t.Fatalf("list before 4: %+v", got)
	}
	got, _ = l.List(ctx, approver, central.AuditFilter{Object: "alert/a-b"})
	if len(got) != 1 || got[0].Seq != 2 {
		t.Fatalf("filter by object: %+v", got)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, approver, &buf); !errors.Is(err, central.ErrForbidden) {
		t.Fatalf("approver export: %v", err)
	}
	admin := central.Actor{UserID: "u1", Role: central.RoleAdmin}
	if err := l.Export(ctx, admin, &buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 5 {
		t.Fatalf("export has %d lines, want 5", n)
	}
	// The export itself is audited.
	if res, _ := l.Verify(ctx, admin); !res.OK || res.Entries != 6 {
		t.Fatalf("after export: %+v", res)
	}
}

// TestAuditTailTruncationDetected: cutting entries off the end leaves a
// chain that still links; the head file next to the database catches it,
// also after central appended new entries to the shortened log, and across
// a reopen.
func TestAuditTailTruncationDetected(t *testing.T) {
	admin := central.Actor{UserID: "admin", Role: central.RoleAdmin}
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		appendAfter int
	}{{"cut", 0}, {"cut then new entries", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "central.db")
			db, err := store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			l := fillAudit(t, db, 6)
			if res, _ := l.Verify(ctx, admin); !res.OK || res.Entries != 6 {
				t.Fatalf("untouched: %+v", res)
			}
			if err := db.Update(func(tx *store.Tx) error {
				if err := tx.RawAuditDelete(6); err != nil {
					return err
				}
				return tx.RawAuditDelete(5)
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if db, err = store.Open(path); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			l = &store.AuditLog{DB: db, Clock: l.Clock}
			for i := 0; i < tc.appendAfter; i++ {
				if err := l.Record(ctx, admin, "user.login", "user/admin", nil); err != nil {
					t.Fatal(err)
				}
			}
			res, err := l.Verify(ctx, admin)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK {
				t.Fatalf("truncated log verifies: %+v", res)
			}
			t.Log(res.Problem)
		})
	}
}
