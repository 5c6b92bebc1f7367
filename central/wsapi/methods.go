package wsapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"time"

	"github.com/atmguard/kiosk/central"
)

const (
	slogInfo  = slog.LevelInfo
	slogError = slog.LevelError
)

type idParams struct {
	ID string `json:"id"`
}

type versionParams struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

type reasonParams struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Reason  string `json:"reason"`
}

func (cl *call) id() (string, error) {
	var p idParams
	if err := cl.decode(&p); err != nil {
		return "", err
	}
	if p.ID == "" {
		return "", central.Invalid("id", "is required")
	}
	return p.ID, nil
}

func (cl *call) version() (versionParams, error) {
	var p versionParams
	if err := cl.decode(&p); err != nil {
		return p, err
	}
	if p.ID == "" {
		return p, central.Invalid("id", "is required")
	}
	if p.Version < 1 {
		return p, central.Invalid("version", "is required (the version you saw)")
	}
	return p, nil
}

// ---- session

type sessionResult struct {
	Token   string       `json:"token,omitempty"`
	Expires time.Time    `json:"expires,omitzero"`
	User    central.User `json:"user"`
}

func hLogin(cl *call) (any, error) {
	var p struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	if p.Name == "" {
		return nil, central.Invalid("name", "is required")
	}
	sess, err := cl.c.s.svc.Users.Login(cl.ctx, p.Name, p.Password, cl.c.remote)
	if err != nil {
		return nil, err
	}
	actor := sess.User.Actor()
	cl.actor = actor
	cl.c.setSession(sess.Token, actor, sess)
	return sessionResult{Token: sess.Token, Expires: sess.Expires, User: sess.User}, nil
}

func hResume(cl *call) (any, error) {
	var p struct {
		Token string `json:"token"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	actor, err := cl.c.s.svc.Users.Authenticate(cl.ctx, p.Token)
	if err != nil {
		return nil, err
	}
	sess, err := cl.c.s.userOf(cl.ctx, p.Token, actor)
	if err != nil {
		return nil, err
	}
	cl.actor = actor
	cl.c.setSession(p.Token, actor, sess)
	return sessionResult{Expires: sess.Expires, User: sess.User}, nil
}

func hLogout(cl *call) (any, error) {
	cl.c.clearSession()
	if err := cl.c.s.svc.Users.Logout(cl.ctx, cl.token); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func hWhoami(cl *call) (any, error) {
	sess, err := cl.c.s.userOf(cl.ctx, cl.token, cl.actor)
	if err != nil {
		return nil, err
	}
	return sessionResult{Expires: sess.Expires, User: sess.User}, nil
}

func hChangePassword(cl *call) (any, error) {
	var p struct {
		Old string `json:"old_password"`
		New string `json:"new_password"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	users := cl.c.s.svc.Users
	var err error
	if pc, ok := users.(sessionPasswordChanger); ok {
		err = pc.ChangePasswordSession(cl.ctx, cl.token, p.Old, p.New)
	} else {
		err = users.ChangePassword(cl.ctx, cl.actor, p.Old, p.New)
	}
	if err != nil {
		return nil, err
	}
	cl.c.mu.Lock()
	cl.c.mustChange = false
	cl.c.mu.Unlock()
	u, err := users.GetUser(cl.ctx, cl.actor, cl.actor.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"user": u}, nil
}

// ---- fleet

func hFleetSummary(cl *call) (any, error) {
	var q central.FleetQuery
	if err := cl.decode(&q); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Devices.Fleet(cl.ctx, cl.actor, q)
}

func hDevicesList(cl *call) (any, error) {
	var q central.DeviceQuery
	if err := cl.decode(&q); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Devices.List(cl.ctx, cl.actor, q)
}

func hDevicesGet(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Devices.Get(cl.ctx, cl.actor, id)
}

func hDevicesScreenshot(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	shot, err := cl.c.s.svc.Devices.Screenshot(cl.ctx, cl.actor, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"device": shot.Device, "time": shot.Time, "image": dataURL("image/png", shot.PNG)}, nil
}

func hDevicesCommand(cl *call) (any, error) {
	var p struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Devices.SendCommand(cl.ctx, cl.actor, p.ID, p.Name)
}

func dataURL(mediaType string, b []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// ---- alerts

// userNames maps the user ids in ids to display names (login name when
// there is no display name), so the console can show who did what to a
// reader who may not list users. Unknown ids are left out.
func (cl *call) userNames(ids ...string) map[string]string {
	out := map[string]string{}
	if cl.c.s.svc.Users == nil {
		return out
	}
	want := map[string]bool{}
	for _, id := range ids {
		if id != "" {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return out
	}
	users, err := cl.c.s.svc.Users.ListUsers(cl.ctx, central.System)
	if err != nil {
		return out
	}
	for _, u := range users {
		if want[u.ID] {
			out[u.ID] = u.Name
			if u.DisplayName != "" {
				out[u.ID] = u.DisplayName
			}
		}
	}
	return out
}

func alertUserIDs(a *central.Alert) []string {
	return []string{a.CreatedBy, a.SubmittedBy, a.ApprovedBy, a.RejectedBy, a.PublishedBy, a.CancelledBy}
}

func itemUserIDs(c *central.CampaignItem) []string {
	return []string{c.CreatedBy, c.SubmittedBy, c.ApprovedBy, c.RejectedBy, c.PublishedBy, c.CancelledBy}
}

func hAlertsList(cl *call) (any, error) {
	var f central.AlertFilter
	if err := cl.decode(&f); err != nil {
		return nil, err
	}
	page, err := cl.c.s.svc.Alerts.List(cl.ctx, cl.actor, f)
	if err != nil {
		return nil, err
	}
	var ids []string
	for i := range page.Alerts {
		ids = append(ids, alertUserIDs(&page.Alerts[i])...)
	}
	return struct {
		*central.AlertPage
		Names map[string]string `json:"names"`
	}{page, cl.userNames(ids...)}, nil
}

func hAlertsGet(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	a, err := cl.c.s.svc.Alerts.Get(cl.ctx, cl.actor, id)
	if err != nil {
		return nil, err
	}
	return struct {
		*central.Alert
		Names map[string]string `json:"names"`
	}{a, cl.userNames(alertUserIDs(a)...)}, nil
}

func hTargetsCount(cl *call) (any, error) {
	var p struct {
		Target central.Target `json:"target"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.TargetCount(cl.ctx, cl.actor, p.Target)
}

// Problem is one finding of alerts.check.
type Problem struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text,omitempty"`
}

func (s *Server) problems(method string, errs []error) []Problem {
	out := []Problem{}
	for _, err := range errs {
		e := s.toError(method, err)
		out = append(out, Problem{Code: e.Code, Field: e.Field, Message: e.Message, Text: e.Text})
	}
	return out
}

func hAlertsCheck(cl *call) (any, error) {
	var in central.AlertInput
	if err := cl.decode(&in); err != nil {
		return nil, err
	}
	errs := cl.c.s.svc.Alerts.Check(cl.ctx, cl.actor, in)
	return map[string]any{"problems": cl.c.s.problems("alerts.check", errs)}, nil
}

func hAlertsPreview(cl *call) (any, error) {
	var req central.PreviewRequest
	if err := cl.decode(&req); err != nil {
		return nil, err
	}
	if req.Orientation == "" {
		req.Orientation = central.Landscape
	}
	if req.Orientation != central.Landscape && req.Orientation != central.Portrait {
		return nil, central.Invalid("orientation", "must be landscape or portrait")
	}
	if (req.AlertID == "") == (req.Input == nil) {
		return nil, central.Invalid("input", "give either input (an unsaved draft) or alert_id")
	}
	problems := []Problem{}
	if req.Input != nil {
		problems = cl.c.s.problems("alerts.preview", cl.c.s.svc.Alerts.Check(cl.ctx, cl.actor, *req.Input))
	}
	png, err := cl.c.s.svc.Alerts.Preview(cl.ctx, cl.actor, req)
	var fe *central.FieldError
	if err != nil && req.Input != nil && errors.As(err, &fe) {
		// The draft cannot be drawn (a text does not fit, a glyph is
		// missing): while typing that is a problem to show next to its
		// field, not a failed request.
		p := cl.c.s.problems("alerts.preview", []error{err})[0]
		dup := false
		for _, q := range problems {
			dup = dup || (q.Field == p.Field && q.Code == p.Code)
		}
		if !dup {
			problems = append(problems, p)
		}
		return map[string]any{"image": "", "problems": problems}, nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"image": dataURL("image/png", png), "problems": problems}, nil
}

func hAlertsCreate(cl *call) (any, error) {
	var in central.AlertInput
	if err := cl.decode(&in); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.CreateDraft(cl.ctx, cl.actor, in)
}

type updateAlertParams struct {
	ID      string             `json:"id"`
	Version int                `json:"version"`
	Input   central.AlertInput `json:"input"`
}

func hAlertsUpdate(cl *call) (any, error) {
	var p updateAlertParams
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.Update(cl.ctx, cl.actor, p.ID, p.Version, p.Input)
}

func hAlertsSubmit(cl *call) (any, error) {
	p, err := cl.version()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.SubmitForApproval(cl.ctx, cl.actor, p.ID, p.Version)
}

func hAlertsPublish(cl *call) (any, error) {
	p, err := cl.version()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.Publish(cl.ctx, cl.actor, p.ID, p.Version)
}

func hAlertsApprove(cl *call) (any, error) {
	p, err := cl.version()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.Approve(cl.ctx, cl.actor, p.ID, p.Version)
}

func hAlertsReject(cl *call) (any, error) {
	var p reasonParams
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.Reject(cl.ctx, cl.actor, p.ID, p.Version, p.Reason)
}

func hAlertsCancel(cl *call) (any, error) {
	var p struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Alerts.Cancel(cl.ctx, cl.actor, p.ID, p.Reason)
}

func hAlertsDelivery(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Delivery.Stats(cl.ctx, cl.actor, id)
}

// ---- campaign

func hCampaignsList(cl *call) (any, error) {
	if err := cl.decode(&struct{}{}); err != nil {
		return nil, err
	}
	items, err := cl.c.s.svc.Campaigns.ListItems(cl.ctx, cl.actor)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []central.CampaignItem{}
	}
	var ids []string
	for i := range items {
		ids = append(ids, itemUserIDs(&items[i])...)
	}
	return map[string]any{"items": items, "names": cl.userNames(ids...)}, nil
}

func hCampaignsGet(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	c, err := cl.c.s.svc.Campaigns.GetItem(cl.ctx, cl.actor, id)
	if err != nil {
		return nil, err
	}
	return struct {
		*central.CampaignItem
		Names map[string]string `json:"names"`
	}{c, cl.userNames(itemUserIDs(c)...)}, nil
}

func hCampaignsCreate(cl *call) (any, error) {
	var in central.CampaignInput
	if err := cl.decode(&in); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Campaigns.CreateItem(cl.ctx, cl.actor, in)
}

func hCampaignsUpdate(cl *call) (any, error) {
	var p struct {
		ID      string                `json:"id"`
		Version int                   `json:"version"`
		Input   central.CampaignInput `json:"input"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Campaigns.UpdateItem(cl.ctx, cl.actor, p.ID, p.Version, p.Input)
}

func hCampaignsSubmit(cl *call) (any, error) {
	p, err := cl.version()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Campaigns.SubmitItem(cl.ctx, cl.actor, p.ID, p.Version)
}

func hCampaignsPublish(cl *call) (any, error) {
	p, err := cl.version()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Campaigns.PublishItem(cl.ctx, cl.actor, p.ID, p.Version)
}

func hCampaignsApprove(cl *call) (any, error) {
	p, err := cl.version()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Campaigns.ApproveItem(cl.ctx, cl.actor, p.ID, p.Version)
}

func hCampaignsReject(cl *call) (any, error) {
	var p reasonParams
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Campaigns.RejectItem(cl.ctx, cl.actor, p.ID, p.Version, p.Reason)
}

func hCampaignsCancel(cl *call) (any, error) {
	var p struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Campaigns.CancelItem(cl.ctx, cl.actor, p.ID, p.Reason)
}

func hCampaignsReorder(cl *call) (any, error) {
	var p struct {
		IDs []string `json:"ids"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	items, err := cl.c.s.svc.Campaigns.Reorder(cl.ctx, cl.actor, p.IDs)
	if err != nil {
		return nil, err
	}
	return map[string]any{"items": items}, nil
}

func hCampaignsUpload(cl *call) (any, error) {
	var p struct {
		Data string `json:"data"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	data, err := base64.StdEncoding.DecodeString(p.Data)
	if err != nil {
		return nil, central.Invalid("data", "is not standard base64: %v", err)
	}
	if len(data) == 0 {
		return nil, central.Invalid("data", "is empty")
	}
	return cl.c.s.svc.Campaigns.UploadImage(cl.ctx, cl.actor, data)
}

// ---- guard

func hGuardGet(cl *call) (any, error) {
	return cl.c.s.svc.Guard.AllowList(cl.ctx, cl.actor)
}

func hGuardSet(cl *call) (any, error) {
	var l central.AllowList
	if err := cl.decode(&l); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Guard.SetAllowList(cl.ctx, cl.actor, l)
}

// ---- audit

func hAuditList(cl *call) (any, error) {
	var f central.AuditFilter
	if err := cl.decode(&f); err != nil {
		return nil, err
	}
	entries, err := cl.c.s.svc.Audit.List(cl.ctx, cl.actor, f)
	if err != nil {
		return nil, err
	}
	if entries == nil {
		entries = []central.AuditEntry{}
	}
	return map[string]any{"entries": entries}, nil
}

func hAuditVerify(cl *call) (any, error) {
	return cl.c.s.svc.Audit.Verify(cl.ctx, cl.actor)
}

func hAuditExport(cl *call) (any, error) {
	var buf bytes.Buffer
	if err := cl.c.s.svc.Audit.Export(cl.ctx, cl.actor, &buf); err != nil {
		return nil, err
	}
	return map[string]string{"jsonl": buf.String()}, nil
}

// ---- users

func hUsersList(cl *call) (any, error) {
	users, err := cl.c.s.svc.Users.ListUsers(cl.ctx, cl.actor)
	if err != nil {
		return nil, err
	}
	if users == nil {
		users = []central.User{}
	}
	return map[string]any{"users": users}, nil
}

func hUsersGet(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	return cl.c.s.svc.Users.GetUser(cl.ctx, cl.actor, id)
}

func hUsersCreate(cl *call) (any, error) {
	var p struct {
		Name        string       `json:"name"`
		DisplayName string       `json:"display_name"`
		Role        central.Role `json:"role"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	pw, err := cl.c.s.opt.NewPassword()
	if err != nil {
		return nil, err
	}
	u, err := cl.c.s.svc.Users.CreateUser(cl.ctx, cl.actor, central.NewUser{Name: p.Name, DisplayName: p.DisplayName, Role: p.Role, Password: pw})
	if err != nil {
		return nil, err
	}
	return map[string]any{"user": u, "initial_password": pw}, nil
}

func hUsersUpdate(cl *call) (any, error) {
	var p struct {
		ID string `json:"id"`
		central.UserUpdate
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	return cl.c.s.svc.Users.UpdateUser(cl.ctx, cl.actor, p.ID, p.UserUpdate)
}

func hUsersReset(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	pw, err := cl.c.s.opt.NewPassword()
	if err != nil {
		return nil, err
	}
	if err := cl.c.s.svc.Users.ResetPassword(cl.ctx, cl.actor, id, pw); err != nil {
		return nil, err
	}
	return map[string]string{"initial_password": pw}, nil
}

// ---- enrollment

func hEnrollCreate(cl *call) (any, error) {
	var p struct {
		Branch   string `json:"branch"`
		Pref     string `json:"pref"`
		TTLSec   int    `json:"ttl_sec"`
		Reenroll string `json:"reenroll"`
	}
	if err := cl.decode(&p); err != nil {
		return nil, err
	}
	if p.TTLSec < 0 {
		return nil, central.Invalid("ttl_sec", "must not be negative")
	}
	tok, rec, err := cl.c.s.svc.Enroll.CreateToken(cl.ctx, cl.actor, central.EnrollTokenRequest{
		Branch: p.Branch, Pref: p.Pref, TTL: time.Duration(p.TTLSec) * time.Second, Reenroll: p.Reenroll})
	if err != nil {
		return nil, err
	}
	return map[string]any{"token": tok, "record": rec}, nil
}

func hEnrollList(cl *call) (any, error) {
	toks, err := cl.c.s.svc.Enroll.ListTokens(cl.ctx, cl.actor)
	if err != nil {
		return nil, err
	}
	if toks == nil {
		toks = []central.EnrollToken{}
	}
	return map[string]any{"tokens": toks}, nil
}

func hEnrollRevoke(cl *call) (any, error) {
	id, err := cl.id()
	if err != nil {
		return nil, err
	}
	return struct{}{}, cl.c.s.svc.Enroll.RevokeToken(cl.ctx, cl.actor, id)
}
