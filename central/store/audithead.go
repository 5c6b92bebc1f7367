package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/atmguard/kiosk/central"
)

// The audit chain links each entry to the previous one, which detects an
// edit or a removal in the middle; it cannot see the last entries being cut
// off (the shorter chain still links). So the head (seq and hash of the
// last entry) is also kept in a small file next to the database, rewritten
// atomically when a transaction that appended audit entries commits, and
// Verify checks that the chain still reaches it. Someone who can rewrite
// both files defeats this (it is a tripwire, not a signature): copy the
// head off the machine (audit.verify shows it) to anchor it.

// AuditHeadPath is the head file of the database at dbPath.
func AuditHeadPath(dbPath string) string { return dbPath + ".audit-head" }

type auditHead struct {
	Seq  uint64
	Hash string
}

func (db *DB) writeAuditHead(h auditHead) error {
	path := AuditHeadPath(db.path)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".audit-head-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	hash := h.Hash
	if hash == "" {
		hash = "-" // empty log
	}
	if _, err := fmt.Fprintf(tmp, "%d %s\n", h.Seq, hash); err != nil {
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (db *DB) readAuditHead() (auditHead, error) {
	path := AuditHeadPath(db.path)
	b, err := os.ReadFile(path)
	if err != nil {
		return auditHead{}, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return auditHead{}, fmt.Errorf("audit head %s: want \"<seq> <hash>\", got %q", path, truncate(string(b), 80))
	}
	seq, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return auditHead{}, fmt.Errorf("audit head %s: seq: %w", path, err)
	}
	if f[1] == "-" {
		f[1] = ""
	}
	return auditHead{Seq: seq, Hash: f[1]}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// initAuditHead writes the head file if there is none (a new database, or
// one from before the head file existed: trusted as found).
func (db *DB) initAuditHead() error {
	if _, err := db.readAuditHead(); !errors.Is(err, fs.ErrNotExist) {
		return nil // present (a broken one is reported by Verify)
	}
	var h auditHead
	if err := db.View(func(tx *Tx) error { h.Seq, h.Hash = tx.AuditHead(); return nil }); err != nil {
		return err
	}
	if err := db.writeAuditHead(h); err != nil {
		return fmt.Errorf("write audit head: %w", err)
	}
	return nil
}

// auditHeadConsistent reports whether the head file still matches the
// stored chain (called before an append). If it does not, the end of the
// log was cut or replaced while central was not looking: the head file is
// then left as it is, so the new entries do not paper over the gap and
// Verify keeps reporting it.
func (t *Tx) auditHeadConsistent() bool {
	if t.db == nil {
		return false
	}
	h, err := t.db.readAuditHead()
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) // removed: start again from here (Verify reported it until now)
	}
	if h.Seq == 0 {
		k, _ := t.tx.Bucket(bAudit).Cursor().First()
		return k == nil
	}
	v := t.tx.Bucket(bAudit).Get(u64(h.Seq))
	var e central.AuditEntry
	return v != nil && json.Unmarshal(v, &e) == nil && e.Hash == h.Hash
}

// onAuditAppended arranges for the head file to be rewritten when tx
// commits. A crash between the commit and the write leaves the file one
// transaction behind, which Verify accepts (the chain passes through it).
func (t *Tx) onAuditAppended(e *central.AuditEntry) {
	if t.db == nil {
		return
	}
	h := auditHead{Seq: e.Seq, Hash: e.Hash}
	db := t.db
	t.tx.OnCommit(func() {
		if err := db.writeAuditHead(h); err != nil {
			// the entry is committed; Verify will report the lag
			slog.Error("write audit head", "path", AuditHeadPath(db.path), "err", err)
		}
	})
}

// checkAuditHead compares a verified chain with the head file.
func (t *Tx) checkAuditHead(res *central.AuditVerify) {
	if !res.OK || t.db == nil {
		return
	}
	h, err := t.db.readAuditHead()
	if err != nil {
		res.OK = false
		res.Problem = fmt.Sprintf("cannot read the audit head file (entries may have been cut off the end): %v", err)
		return
	}
	if h.Seq > res.Entries {
		res.OK = false
		res.BrokenAt = res.Entries + 1
		res.Problem = fmt.Sprintf("the log ends at entry %d but entry %d was recorded (entries were removed from the end)", res.Entries, h.Seq)
		return
	}
	if h.Seq == 0 {
		return
	}
	v := t.tx.Bucket(bAudit).Get(u64(h.Seq))
	var e central.AuditEntry
	if v == nil || json.Unmarshal(v, &e) != nil || e.Hash != h.Hash {
		res.OK = false
		res.BrokenAt = h.Seq
		res.Problem = fmt.Sprintf("entry %d is not the one recorded in the audit head file (the end of the log was replaced)", h.Seq)
	}
}
