package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/internal/clock"
)

// AuditLog implements central.Auditor and central.AuditService on the store.
type AuditLog struct {
	DB    *DB
	Clock clock.Clock
	// OnAppend, if set, is called after an entry is committed (push to consoles).
	OnAppend func(e central.AuditEntry)
}

// Record appends one entry in its own transaction.
func (l *AuditLog) Record(ctx context.Context, actor central.Actor, action, object string, detail any) error {
	var e *central.AuditEntry
	err := l.DB.Update(func(tx *Tx) error {
		var err error
		e, err = l.RecordTx(tx, actor, action, object, detail)
		return err
	})
	if err != nil {
		return err
	}
	l.Committed(*e)
	return nil
}

// RecordTx appends an entry inside tx, so the entry commits or rolls back
// with the change it describes. Call Committed after the transaction.
func (l *AuditLog) RecordTx(tx *Tx, actor central.Actor, action, object string, detail any) (*central.AuditEntry, error) {
	e := &central.AuditEntry{Time: l.Clock.Now(), Actor: actor, Action: action, Object: object}
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return nil, fmt.Errorf("audit %s: encode detail: %w", action, err)
		}
		e.Detail = b
	}
	if err := tx.AppendAudit(e); err != nil {
		return nil, fmt.Errorf("audit %s: %w", action, err)
	}
	return e, nil
}

// Committed tells subscribers about an entry whose transaction committed.
func (l *AuditLog) Committed(e central.AuditEntry) {
	if l.OnAppend != nil {
		l.OnAppend(e)
	}
}

func (l *AuditLog) List(ctx context.Context, actor central.Actor, f central.AuditFilter) ([]central.AuditEntry, error) {
	if !actor.Can(central.PermViewAudit) {
		return nil, central.Forbidden(actor, "read the audit log")
	}
	var out []central.AuditEntry
	err := l.DB.View(func(tx *Tx) error {
		var err error
		out, err = tx.ListAudit(f)
		return err
	})
	return out, err
}

func (l *AuditLog) Export(ctx context.Context, actor central.Actor, w io.Writer) error {
	if !actor.Can(central.PermExportAudit) {
		return central.Forbidden(actor, "export the audit log")
	}
	if err := l.DB.View(func(tx *Tx) error { return tx.ExportAudit(w) }); err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	return l.Record(ctx, actor, "audit.export", "audit", nil)
}

func (l *AuditLog) Verify(ctx context.Context, actor central.Actor) (*central.AuditVerify, error) {
	if !actor.Can(central.PermViewAudit) {
		return nil, central.Forbidden(actor, "verify the audit log")
	}
	var res *central.AuditVerify
	err := l.DB.View(func(tx *Tx) error {
		var err error
		res, err = tx.VerifyAudit()
		return err
	})
	return res, err
}

var (
	_ central.Auditor      = (*AuditLog)(nil)
	_ central.AuditService = (*AuditLog)(nil)
)
