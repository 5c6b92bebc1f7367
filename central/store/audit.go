package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/atmguard/kiosk/central"
)

// auditHash is the SHA-256 of the entry's JSON with Hash empty. Prev is part
// of what is hashed, which links the chain.
func auditHash(e central.AuditEntry) (string, error) {
	e.Hash = ""
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// AppendAudit assigns the next seq, links e to the previous entry and stores
// it. It fills in e.Seq, e.Prev and e.Hash.
func (t *Tx) AppendAudit(e *central.AuditEntry) error {
	b := t.tx.Bucket(bAudit)
	headOK := t.auditHeadConsistent()
	e.Prev = ""
	e.Seq = 1
	if k, v := b.Cursor().Last(); k != nil {
		var last central.AuditEntry
		if err := json.Unmarshal(v, &last); err != nil {
			return fmt.Errorf("decode last audit entry: %w", err)
		}
		e.Seq = binary.BigEndian.Uint64(k) + 1
		e.Prev = last.Hash
	}
	e.Time = e.Time.UTC()
	if len(e.Detail) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.Detail); err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
		e.Detail = buf.Bytes()
	}
	h, err := auditHash(*e)
	if err != nil {
		return fmt.Errorf("hash audit entry: %w", err)
	}
	e.Hash = h
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := b.Put(u64(e.Seq), v); err != nil {
		return err
	}
	if headOK {
		t.onAuditAppended(e)
	} else {
		slog.Warn("audit entry appended to a log that no longer reaches its recorded head; head file left as evidence", "seq", e.Seq)
	}
	return nil
}

func matchAudit(e *central.AuditEntry, f central.AuditFilter) bool {
	if f.UserID != "" && e.Actor.UserID != f.UserID {
		return false
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			if !strings.HasPrefix(e.Action, f.Action) {
				return false
			}
		} else if e.Action != f.Action {
			return false
		}
	}
	if f.Object != "" && e.Object != f.Object {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	return true
}

// ListAudit returns matching entries, newest first.
func (t *Tx) ListAudit(f central.AuditFilter) ([]central.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	c := t.tx.Bucket(bAudit).Cursor()
	var k, v []byte
	if f.Before > 0 {
		k, v = c.Seek(u64(f.Before))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	} else {
		k, v = c.Last()
	}
	out := []central.AuditEntry{}
	skip := f.Offset
	for ; k != nil && len(out) < limit; k, v = c.Prev() {
		var e central.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("decode audit entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if f.Before > 0 && e.Seq >= f.Before {
			continue
		}
		if !matchAudit(&e, f) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// ExportAudit writes every entry as a JSON line, oldest first, exactly as stored.
func (t *Tx) ExportAudit(w io.Writer) error {
	return t.tx.Bucket(bAudit).ForEach(func(_, v []byte) error {
		if _, err := w.Write(v); err != nil {
			return err
		}
		_, err := w.Write([]byte("\n"))
		return err
	})
}

// VerifyAudit walks the chain and reports the first entry that does not
// verify: bad JSON, a seq that does not match its key or skips, a Prev that
// is not the previous Hash, or a Hash that does not match the content.
func (t *Tx) VerifyAudit() (*central.AuditVerify, error) {
	res := &central.AuditVerify{OK: true}
	prev := ""
	var want uint64 = 1
	err := t.tx.Bucket(bAudit).ForEach(func(k, v []byte) error {
		if !res.OK {
			return nil
		}
		seq := binary.BigEndian.Uint64(k)
		fail := func(format string, a ...any) {
			res.OK = false
			res.BrokenAt = seq
			res.Problem = fmt.Sprintf(format, a...)
		}
		var e central.AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			fail("entry %d is not valid JSON: %v", seq, err)
			return nil
		}
		switch {
		case seq != want:
			fail("entry %d found where %d was expected (an entry was removed)", seq, want)
		case e.Seq != seq:
			fail("entry stored at %d says seq %d", seq, e.Seq)
		case e.Prev != prev:
			fail("entry %d does not link to the previous entry's hash", seq)
		default:
			h, err := auditHash(e)
			if err != nil {
				fail("entry %d: %v", seq, err)
			} else if h != e.Hash {
				fail("entry %d content does not match its hash (modified)", seq)
			}
		}
		if res.OK {
			prev = e.Hash
			want++
			res.Entries++
		}
		return nil
	})
	if res.OK {
		res.Head = prev
	}
	if err == nil {
		t.checkAuditHead(res)
	}
	return res, err
}

// AuditHead is the hash and seq of the last entry.
func (t *Tx) AuditHead() (uint64, string) {
	k, v := t.tx.Bucket(bAudit).Cursor().Last()
	if k == nil {
		return 0, ""
	}
	var e central.AuditEntry
	_ = json.Unmarshal(v, &e)
	return e.Seq, e.Hash
}

// RawAuditPut overwrites the stored bytes of entry seq. It exists only so
// tests can prove tampering is detected.
func (t *Tx) RawAuditPut(seq uint64, v []byte) error { return t.tx.Bucket(bAudit).Put(u64(seq), v) }

// RawAuditDelete removes entry seq (tests only, as RawAuditPut).
func (t *Tx) RawAuditDelete(seq uint64) error { return t.tx.Bucket(bAudit).Delete(u64(seq)) }
