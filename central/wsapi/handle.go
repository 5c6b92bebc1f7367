package wsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/auth"
)

// call is one request being handled.
type call struct {
	c      *conn
	ctx    context.Context
	actor  central.Actor
	token  string
	params json.RawMessage
}

type handlerFunc func(*call) (any, error)

// method describes one API method.
type method struct {
	perm     central.Permission // "" = any authenticated session
	public   bool               // no session needed (auth.login, auth.resume)
	firstRun bool               // allowed while the password must be changed
	mutates  bool               // logged at Info with its result
	service  string             // which Services field it needs (for "unavailable")
	fn       handlerFunc
}

var methods map[string]method

func init() {
	methods = map[string]method{
		// session
		"auth.login":           {public: true, firstRun: true, mutates: true, fn: hLogin},
		"auth.resume":          {public: true, firstRun: true, fn: hResume},
		"auth.logout":          {firstRun: true, mutates: true, fn: hLogout},
		"auth.whoami":          {firstRun: true, fn: hWhoami},
		"auth.change_password": {firstRun: true, mutates: true, fn: hChangePassword},
		// fleet
		"fleet.summary":      {perm: central.PermViewFleet, service: "devices", fn: hFleetSummary},
		"devices.list":       {perm: central.PermViewFleet, service: "devices", fn: hDevicesList},
		"devices.get":        {perm: central.PermViewFleet, service: "devices", fn: hDevicesGet},
		"devices.screenshot": {perm: central.PermViewFleet, service: "devices", fn: hDevicesScreenshot},
		"devices.command":    {perm: central.PermDeviceCommand, mutates: true, service: "devices", fn: hDevicesCommand},
		// alerts
		"alerts.list":       {perm: central.PermViewContent, service: "alerts", fn: hAlertsList},
		"alerts.get":        {perm: central.PermViewContent, service: "alerts", fn: hAlertsGet},
		"targets.count":     {perm: central.PermViewContent, service: "alerts", fn: hTargetsCount},
		"alerts.check":      {perm: central.PermViewContent, service: "alerts", fn: hAlertsCheck},
		"alerts.preview":    {perm: central.PermViewContent, service: "alerts", fn: hAlertsPreview},
		"alerts.create":     {perm: central.PermEditContent, mutates: true, service: "alerts", fn: hAlertsCreate},
		"alerts.update":     {perm: central.PermEditContent, mutates: true, service: "alerts", fn: hAlertsUpdate},
		"alerts.submit":     {perm: central.PermEditContent, mutates: true, service: "alerts", fn: hAlertsSubmit},
		"alerts.publish":    {perm: central.PermPublish, mutates: true, service: "alerts", fn: hAlertsPublish},
		"alerts.approve":    {perm: central.PermApprove, mutates: true, service: "alerts", fn: hAlertsApprove},
		"alerts.reject":     {perm: central.PermApprove, mutates: true, service: "alerts", fn: hAlertsReject},
		"alerts.cancel":     {perm: central.PermCancel, mutates: true, service: "alerts", fn: hAlertsCancel},
		"alerts.delivery":   {perm: central.PermViewContent, service: "delivery", fn: hAlertsDelivery},
		"alerts.export_cap": {perm: central.PermViewContent, service: "alerts", fn: hExportCAP},
		"alerts.import_cap": {perm: central.PermEditContent, mutates: true, service: "alerts", fn: hImportCAP},
		// campaign
		"campaigns.list":         {perm: central.PermViewContent, service: "campaigns", fn: hCampaignsList},
		"campaigns.get":          {perm: central.PermViewContent, service: "campaigns", fn: hCampaignsGet},
		"campaigns.create":       {perm: central.PermEditContent, mutates: true, service: "campaigns", fn: hCampaignsCreate},
		"campaigns.update":       {perm: central.PermEditContent, mutates: true, service: "campaigns", fn: hCampaignsUpdate},
		"campaigns.submit":       {perm: central.PermEditContent, mutates: true, service: "campaigns", fn: hCampaignsSubmit},
		"campaigns.publish":      {perm: central.PermPublish, mutates: true, service: "campaigns", fn: hCampaignsPublish},
		"campaigns.approve":      {perm: central.PermApprove, mutates: true, service: "campaigns", fn: hCampaignsApprove},
		"campaigns.reject":       {perm: central.PermApprove, mutates: true, service: "campaigns", fn: hCampaignsReject},
		"campaigns.cancel":       {perm: central.PermCancel, mutates: true, service: "campaigns", fn: hCampaignsCancel},
		"campaigns.reorder":      {perm: central.PermEditContent, mutates: true, service: "campaigns", fn: hCampaignsReorder},
		"campaigns.upload_image": {perm: central.PermEditContent, mutates: true, service: "campaigns", fn: hCampaignsUpload},
		// guard
		"guard.get": {perm: central.PermViewContent, service: "guard", fn: hGuardGet},
		"guard.set": {perm: central.PermManageGuard, mutates: true, service: "guard", fn: hGuardSet},
		// audit
		"audit.list":   {perm: central.PermViewAudit, service: "audit", fn: hAuditList},
		"audit.verify": {perm: central.PermViewAudit, service: "audit", fn: hAuditVerify},
		"audit.export": {perm: central.PermExportAudit, service: "audit", fn: hAuditExport},
		// users
		"users.list":           {perm: central.PermManageUsers, fn: hUsersList},
		"users.get":            {fn: hUsersGet}, // self, or admin (checked by the service)
		"users.create":         {perm: central.PermManageUsers, mutates: true, fn: hUsersCreate},
		"users.update":         {perm: central.PermManageUsers, mutates: true, fn: hUsersUpdate},
		"users.reset_password": {perm: central.PermManageUsers, mutates: true, fn: hUsersReset},
		// enrollment
		"enroll.create_token": {perm: central.PermEnroll, mutates: true, service: "enroll", fn: hEnrollCreate},
		"enroll.list_tokens":  {perm: central.PermEnroll, service: "enroll", fn: hEnrollList},
		"enroll.revoke_token": {perm: central.PermEnroll, mutates: true, service: "enroll", fn: hEnrollRevoke},
		// streams
		"streams.subscribe":   {service: "delivery", fn: hSubscribe},
		"streams.unsubscribe": {fn: hUnsubscribe},
	}
}

// Methods lists the method names (for docs tests and tools).
func Methods() []string {
	out := make([]string, 0, len(methods))
	for k := range methods {
		out = append(out, k)
	}
	return out
}

func (s *Server) hasService(name string) bool {
	switch name {
	case "alerts":
		return s.svc.Alerts != nil
	case "campaigns":
		return s.svc.Campaigns != nil
	case "devices":
		return s.svc.Devices != nil
	case "delivery":
		return s.svc.Delivery != nil
	case "audit":
		return s.svc.Audit != nil
	case "guard":
		return s.svc.Guard != nil
	case "enroll":
		return s.svc.Enroll != nil
	}
	return true
}

func (c *conn) handle(req request) {
	id := req.ID
	m, ok := methods[req.Method]
	if !ok {
		c.send(&id, nil, &Error{Code: CodeUnknownMethod, Message: fmt.Sprintf("unknown method %q", truncate(req.Method, 64))})
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.opt.RequestTimeout)
	defer cancel()
	cl := &call{c: c, ctx: ctx, params: req.Params}
	if !m.public {
		token, _, authed, _ := c.session()
		if !authed {
			c.send(&id, nil, &Error{Code: central.CodeUnauthorized, Message: "log in first (auth.login or auth.resume)"})
			return
		}
		// Every request re-checks the session: it may have expired or been
		// revoked, and this slides its idle expiry.
		actor, err := c.s.svc.Users.Authenticate(ctx, token)
		if err != nil {
			c.clearSession()
			c.send(&id, nil, &Error{Code: central.CodeUnauthorized, Message: "the session has ended; log in again"})
			return
		}
		actor.Remote = c.remote
		c.mu.Lock()
		c.actor = actor
		mustChange := c.mustChange
		c.mu.Unlock()
		if mustChange && !m.firstRun {
			c.send(&id, nil, &Error{Code: CodePasswordChangeRequired, Message: "change your initial password first (auth.change_password)"})
			return
		}
		if m.perm != "" && !actor.Can(m.perm) {
			c.s.log.Warn("admin action refused", "user", actor.Name, "role", actor.Role, "method", req.Method, "remote", c.remote)
			c.send(&id, nil, &Error{Code: central.CodeForbidden, Message: fmt.Sprintf("role %s may not call %s", actor.Role, req.Method)})
			return
		}
		cl.actor, cl.token = actor, token
	}
	if !c.s.hasService(m.service) {
		c.send(&id, nil, &Error{Code: central.CodeUnavailable, Message: m.service + " service is not configured"})
		return
	}
	start := c.s.clk.Mono()
	res, err := c.call(m, cl, req.Method)
	e := c.s.toError(req.Method, err)
	if m.mutates || e != nil {
		level := slogInfo
		code := "ok"
		if e != nil {
			code = e.Code
			if e.Code == central.CodeInternal {
				level = slogError
			}
		}
		who := cl.actor.Name
		if who == "" {
			who = loginName(req)
		}
		c.s.log.Log(ctx, level, "admin action", "user", who, "role", cl.actor.Role, "method", req.Method,
			"object", objectOf(req.Params, res), "remote", c.remote, "result", code, "err", errString(err),
			"ms", (c.s.clk.Mono() - start).Milliseconds())
	}
	c.send(&id, res, e)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func loginName(req request) string {
	if req.Method != "auth.login" {
		return ""
	}
	var p struct{ Name string }
	_ = json.Unmarshal(req.Params, &p)
	return truncate(p.Name, 64)
}

// objectOf names what a call acted on: the id in its params, or the id of
// what it created.
func objectOf(params json.RawMessage, res any) string {
	switch r := res.(type) {
	case *central.Alert:
		if r != nil {
			return r.ID
		}
	case *central.CampaignItem:
		if r != nil {
			return r.ID
		}
	case *central.User:
		if r != nil {
			return r.ID
		}
	}
	var p struct {
		ID      string `json:"id"`
		AlertID string `json:"alert_id"`
	}
	_ = json.Unmarshal(params, &p)
	if p.ID != "" {
		return truncate(p.ID, 64)
	}
	return truncate(p.AlertID, 64)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// paramError is a malformed params object.
type paramError struct {
	field, msg string
}

func (e *paramError) Error() string { return e.msg }

// decode parses params strictly into v: unknown fields are refused, so a
// typo in the console is an error rather than a silently ignored field.
func (cl *call) decode(v any) error {
	p := cl.params
	if len(bytes.TrimSpace(p)) == 0 || string(bytes.TrimSpace(p)) == "null" {
		p = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			f := te.Field
			return &paramError{field: f, msg: fmt.Sprintf("params.%s: expected %s, got JSON %s", f, te.Type, te.Value)}
		case errors.As(err, &se):
			return &paramError{msg: "params: " + err.Error()}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &paramError{field: f, msg: fmt.Sprintf("params: unknown field %q", f)}
		}
		// time.Time and wire.Scope report their own parse errors.
		return &paramError{msg: "params: " + err.Error()}
	}
	return nil
}

// toError maps a service error to the wire. Internal errors are logged in
// full and answered with a generic message.
func (s *Server) toError(method string, err error) *Error {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		return we
	}
	var pe *paramError
	if errors.As(err, &pe) {
		return &Error{Code: CodeBadRequest, Field: pe.field, Message: pe.msg}
	}
	e := &Error{Code: central.ErrorCode(err), Message: err.Error(), Field: central.ErrorField(err)}
	var fe *central.FieldError
	if errors.As(err, &fe) {
		e.Text = fe.Text
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		e.RetryAfterSec = max(1, int((ra.RetryAfter()+time.Second-1)/time.Second))
	}
	switch {
	case e.Code == central.CodeUnauthorized && (method == "auth.login" || method == "auth.change_password"):
		e.Code = CodeBadCredentials
		if method == "auth.change_password" {
			e.Field = "old_password"
		}
	case e.Code == central.CodeInternal:
		if errors.Is(err, context.DeadlineExceeded) {
			e.Code, e.Message = central.CodeUnavailable, "timed out; retry"
		} else {
			e.Message = "internal error (details are in central's log)"
		}
	}
	return e
}

func generatePassword() (string, error) { return auth.GeneratePassword(20) }

// call runs a handler; a panic in it (or in a service) becomes an internal
// error for this request instead of taking central down.
func (c *conn) call(m method, cl *call, name string) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.s.log.Error("admin api: panic in handler", "method", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("panic in %s", name)
		}
	}()
	return m.fn(cl)
}
