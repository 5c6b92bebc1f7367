package wsapi

import (
	"encoding/json"
	"fmt"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/cap"
)

// ActionImportCAP is the audit action written for every CAP import.
const ActionImportCAP = "alert.import_cap"

func hExportCAP(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	a, err := cl.c.s.svc.Alerts.Get(cl.ctx, cl.actor, id)
	if err != nil {
		return nil, err
	}
	out, err := cap.Export(a, cl.c.s.opt.CAPSender)
	if err != nil {
		return nil, err
	}
	return map[string]string{"xml": string(out)}, nil
}

type importDetail struct {
	Identifier string `json:"identifier"`
	Sender     string `json:"sender"`
	Sent       string `json:"sent"`
	MsgType    string `json:"msg_type"`
}

type importResult struct {
	Alert      *central.Alert `json:"alert"`
	MsgType    string         `json:"msg_type"`
	References []string       `json:"references"`
}

func hImportCAP(cl *call) (any, error) {
	var p struct {
		XML string `json:"xml"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	m, err := cap.Parse([]byte(p.XML))
	if err != nil {
		return nil, err
	}
	s := cl.c.s
	res := importResult{MsgType: m.MsgType, References: []string{}}
	if m.MsgType != cap.MsgAlert {
		for _, r := range m.References {
			id, err := s.resolveCAP(cl, r)
			if err != nil {
				return nil, err
			}
			res.References = append(res.References, id)
		}
	}
	if m.MsgType == cap.MsgCancel {
		// Never cancel on import: hand the alert back for the user to confirm.
		a, err := s.svc.Alerts.Get(cl.ctx, cl.actor, res.References[0])
		if err != nil {
			return nil, err
		}
		res.Alert = a
		return res, nil
	}
	a, err := s.svc.Alerts.CreateDraft(cl.ctx, cl.actor, m.Input)
	if err != nil {
		return nil, err
	}
	res.Alert = a
	if s.svc.Auditor != nil {
		d := importDetail{Identifier: m.Identifier, Sender: m.Sender, Sent: m.Sent.Format("2006-01-02T15:04:05Z07:00"), MsgType: m.MsgType}
		if err := s.svc.Auditor.Record(cl.ctx, cl.actor, ActionImportCAP, "alert/"+a.ID, d); err != nil {
			s.log.Error("audit of CAP import failed", "alert", a.ID, "err", err)
		}
	}
	return res, nil
}

// resolveCAP finds the alert a CAP reference names: one central exported
// (urn:atmguard:alert:<id>), or one imported earlier from the same sender
// (found in the audit log).
func (s *Server) resolveCAP(cl *call, r cap.Reference) (string, error) {
	if id, ok := cap.AlertRef(r.Identifier); ok {
		if _, err := s.svc.Alerts.Get(cl.ctx, cl.actor, id); err != nil {
			return "", err
		}
		return id, nil
	}
	if s.svc.Audit != nil {
		// The lookup runs as central itself: a publisher may not read the
		// audit log, but may follow a reference.
		entries, err := s.svc.Audit.List(cl.ctx, central.System, central.AuditFilter{Action: ActionImportCAP, Limit: 1000})
		if err != nil {
			return "", fmt.Errorf("resolve CAP reference: %w", err)
		}
		for _, e := range entries {
			var d importDetail
			if json.Unmarshal(e.Detail, &d) != nil || d.Identifier != r.Identifier || d.Sender != r.Sender {
				continue
			}
			id, ok := cutPrefix(e.Object, "alert/")
			if ok {
				return id, nil
			}
		}
	}
	return "", &central.FieldError{Kind: central.ErrNotFound, Field: "xml",
		Message: fmt.Sprintf("references: no alert was imported or exported as %s from %s", r.Identifier, r.Sender)}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}
