package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// FitChecker checks that an alert fits the screen in every language and
// orientation (display's renderer). Each error should be a *central.FieldError
// naming the text field that overflows.
type FitChecker func(a wire.Alert) []error

// Renderer renders an alert preview PNG (display's renderer).
type Renderer func(a wire.Alert, lang string, o central.Orientation) ([]byte, error)

// TargetCounter counts the known devices a target reaches (the registry).
type TargetCounter interface {
	CountTarget(t central.Target) (total, online int)
}

// Config wires a Service.
type Config struct {
	DB        *store.DB
	Audit     *store.AuditLog
	Signer    func() *wire.Signer // the active signing key
	Publisher Publisher
	Clock     clock.Clock
	Logger    *slog.Logger
	Notify    func(central.Change) // push to consoles; may be nil

	Fit      FitChecker    // nil: no fit check (display renderer not wired)
	Render   Renderer      // nil: Preview returns ErrUnavailable
	Counter  TargetCounter // nil: TargetCount returns 0
	MaxTTL   time.Duration // longest alert lifetime (default 30 days)
	Issuer   string        // default issuer shown when an alert names none
	Snapshot SnapshotConfig

	// OnSigned, if set, learns which alerts each signed snapshot carries
	// (delivery tracking maps "received scope/seq" events back to alerts).
	OnSigned func(scope string, seq uint64, alertIDs []string)

	// AfterCommit, if set, runs after a change is committed and before it
	// is published (tests crash the process here).
	AfterCommit func()
}

// SnapshotConfig is about the signed snapshots.
type SnapshotConfig struct {
	TTL            time.Duration // snapshot lifetime (default 6h)
	ReissueAfter   time.Duration // re-sign when this old (default TTL/2)
	RetryInterval  time.Duration // retry unacknowledged publishes (default 10s)
	PublishTimeout time.Duration // wait for one broker ack (default 10s)
}

type config struct {
	Config
	SnapshotTTL, ReissueAfter, RetryInterval, PublishTimeout time.Duration
}

// Service implements central.AlertService, CampaignService and GuardService.
type Service struct {
	cfg    config
	log    *slog.Logger
	pubMu  sync.Mutex // held across commit + publish: per-scope seq order on the broker
	kickCh chan struct{}

	metrics struct {
		published, publishErrors atomic.Int64
	}
}

// New checks cfg and returns a Service. Call Run to start the re-issuer.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Signer == nil || cfg.Publisher == nil || cfg.Clock == nil {
		return nil, errors.New("alerts: DB, Audit, Signer, Publisher and Clock are required")
	}
	c := config{Config: cfg}
	c.SnapshotTTL = or(cfg.Snapshot.TTL, 6*time.Hour)
	c.ReissueAfter = or(cfg.Snapshot.ReissueAfter, c.SnapshotTTL/2)
	c.RetryInterval = or(cfg.Snapshot.RetryInterval, 10*time.Second)
	c.PublishTimeout = or(cfg.Snapshot.PublishTimeout, 10*time.Second)
	if c.ReissueAfter >= c.SnapshotTTL {
		return nil, fmt.Errorf("alerts: ReissueAfter %s must be less than TTL %s", c.ReissueAfter, c.SnapshotTTL)
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = 30 * 24 * time.Hour
	}
	if c.Issuer == "" {
		c.Issuer = "警察"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: c, log: log.With("component", "alerts"), kickCh: make(chan struct{}, 1)}, nil
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Published and PublishErrors count snapshot publishes (metrics).
func (s *Service) Published() int64     { return s.metrics.published.Load() }
func (s *Service) PublishErrors() int64 { return s.metrics.publishErrors.Load() }

func (s *Service) notify(c central.Change) {
	if s.cfg.Notify != nil {
		c.Time = s.cfg.Clock.Now()
		s.cfg.Notify(c)
	}
}

// ---- validation

func (s *Service) guard() (*Guard, error) {
	l, err := s.allowList()
	if err != nil {
		return nil, err
	}
	return NewGuard(l), nil
}

func (s *Service) allowList() (central.AllowList, error) {
	var l central.AllowList
	err := s.cfg.DB.View(func(tx *store.Tx) error { return tx.Setting("allow_list", &l) })
	if errors.Is(err, central.ErrNotFound) {
		return central.DefaultAllowList(), nil
	}
	return l, err
}

// fieldOf maps a wire validation message to the input field it is about.
func fieldOf(err error) string {
	msg := err.Error()
	for _, k := range []string{"headline", "body", "instruction"} {
		if strings.Contains(msg, ") "+k) {
			return "texts." + k
		}
	}
	switch {
	case strings.Contains(msg, "priority"):
		return "priority"
	case strings.Contains(msg, "issuer"):
		return "issuer"
	case strings.Contains(msg, "qr"):
		return "qr"
	case strings.Contains(msg, "language"), strings.Contains(msg, "no texts"):
		return "texts"
	case strings.Contains(msg, "expires"), strings.Contains(msg, "effective"):
		return "expires"
	}
	return ""
}

// check returns every problem with in; now is for the schedule checks.
func (s *Service) check(in central.AlertInput, now time.Time, g *Guard) []error {
	var errs []error
	if err := in.Target.Validate(); err != nil {
		errs = append(errs, err)
	}
	if in.Expires.IsZero() {
		errs = append(errs, central.Invalid("expires", "an expiry time is required"))
	} else {
		if !in.Expires.After(now) {
			errs = append(errs, central.Invalid("expires", "expiry %s is in the past", in.Expires.UTC().Format(time.RFC3339)))
		}
		start := in.Effective
		if start.IsZero() || start.Before(now) {
			start = now
		}
		if in.Expires.Sub(start) > s.cfg.MaxTTL {
			errs = append(errs, central.Invalid("expires", "an alert may run at most %s", s.cfg.MaxTTL))
		}
	}
	if len(in.Texts) > 0 && in.Texts[0].Lang != "ja" {
		errs = append(errs, central.Invalid("texts[0].lang", "the first text must be Japanese (ja); it is %q", in.Texts[0].Lang))
	}
	w := wire.Alert{ID: "preview", Version: 1, Priority: in.Priority, Issuer: in.Issuer, Texts: in.Texts, QR: in.QR,
		Effective: in.Effective, Expires: in.Expires}
	if w.Issuer == "" {
		w.Issuer = s.cfg.Issuer
	}
	if err := w.Validate(); err != nil {
		errs = append(errs, &central.FieldError{Kind: central.ErrInvalid, Field: fieldOf(err), Message: err.Error()})
	}
	if err := g.CheckText("issuer", in.Issuer); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, g.CheckTexts("", in.Texts, in.QR)...)
	if s.cfg.Fit != nil && len(errs) == 0 {
		errs = append(errs, s.cfg.Fit(w)...)
	}
	return errs
}

// validate returns the first problem with in. g is loaded before any write
// transaction starts (no read transaction nested in a write one).
func (s *Service) validate(in central.AlertInput, now time.Time, g *Guard) error {
	if errs := s.check(in, now, g); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// Check implements central.AlertService.
func (s *Service) Check(ctx context.Context, actor central.Actor, in central.AlertInput) []error {
	if !actor.Can(central.PermEditContent) {
		return []error{central.Forbidden(actor, "compose alerts")}
	}
	g, err := s.guard()
	if err != nil {
		return []error{err}
	}
	return s.check(in, s.cfg.Clock.Now(), g)
}

// ---- lifecycle

// prepare is what creating and editing an alert share: the role check, the
// full check against the current allow-list, and the default issuer.
func (s *Service) prepare(actor central.Actor, what string, in central.AlertInput) (central.AlertInput, error) {
	if !actor.Can(central.PermEditContent) {
		return in, central.Forbidden(actor, what)
	}
	g, err := s.guard()
	if err != nil {
		return in, err
	}
	if err := s.validate(in, s.cfg.Clock.Now(), g); err != nil {
		return in, err
	}
	if in.Issuer == "" {
		in.Issuer = s.cfg.Issuer
	}
	return in, nil
}

func (s *Service) CreateDraft(ctx context.Context, actor central.Actor, in central.AlertInput) (*central.Alert, error) {
	in, err := s.prepare(actor, "create alerts", in)
	if err != nil {
		return nil, err
	}
	var a *central.Alert
	err = s.commit(ctx, func(tx *store.Tx, now time.Time) ([]wire.Scope, func(*store.Tx) (*central.AuditEntry, error), error) {
		n, err := tx.NextID("alert")
		if err != nil {
			return nil, nil, err
		}
		a = &central.Alert{ID: fmt.Sprintf("a-%s-%04d", now.UTC().Format("20060102"), n), Version: 1, State: central.StateDraft,
			AlertInput: in, CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now}
		if err := tx.PutAlert(a); err != nil {
			return nil, nil, err
		}
		return nil, s.auditFn(actor, "alert.create", a, nil), nil
	})
	if err != nil {
		return nil, err
	}
	s.notify(central.Change{Kind: central.ChangeAlert, Alert: a})
	return a, nil
}

func (s *Service) auditFn(actor central.Actor, action string, a *central.Alert, extra map[string]any) func(*store.Tx) (*central.AuditEntry, error) {
	return func(tx *store.Tx) (*central.AuditEntry, error) {
		d := map[string]any{"version": a.Version, "state": a.State}
		if strings.HasSuffix(action, ".create") || strings.HasSuffix(action, ".update") {
			d["content"] = a.AlertInput
		}
		for k, v := range extra {
			d[k] = v
		}
		return s.cfg.Audit.RecordTx(tx, actor, action, "alert/"+a.ID, d)
	}
}

// transition loads alert id at version (-1: any), checks it, applies fn and
// stores it; scopes returned by fn are re-signed and published.
func (s *Service) transition(ctx context.Context, actor central.Actor, action, id string, version int,
	fn func(a *central.Alert, now time.Time) (live bool, extra map[string]any, err error)) (*central.Alert, error) {
	var out *central.Alert
	err := s.commit(ctx, func(tx *store.Tx, now time.Time) ([]wire.Scope, func(*store.Tx) (*central.AuditEntry, error), error) {
		a, err := tx.Alert(id)
		if err != nil {
			return nil, nil, err
		}
		if version >= 0 && a.Version != version {
			return nil, nil, fmt.Errorf("%w: alert %s is at version %d, you had version %d: reload it", central.ErrConflict, id, a.Version, version)
		}
		live, extra, err := fn(a, now)
		if err != nil {
			return nil, nil, err
		}
		a.UpdatedAt = now
		if err := tx.PutAlert(a); err != nil {
			return nil, nil, err
		}
		out = a
		var scopes []wire.Scope
		if live {
			scopes = a.Target.Scopes()
		}
		return scopes, s.auditFn(actor, action, a, extra), nil
	})
	if out != nil && (err == nil || errors.Is(err, central.ErrUnavailable)) {
		s.notify(central.Change{Kind: central.ChangeAlert, Alert: out})
	}
	if err != nil {
		if errors.Is(err, central.ErrUnavailable) {
			return out, err
		}
		return nil, err
	}
	return out, nil
}

func (s *Service) Update(ctx context.Context, actor central.Actor, id string, version int, in central.AlertInput) (*central.Alert, error) {
	in, err := s.prepare(actor, "edit alerts", in)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, actor, "alert.update", id, version, func(a *central.Alert, now time.Time) (bool, map[string]any, error) {
		if a.State != central.StateDraft {
			return false, nil, fmt.Errorf("%w: alert %s is %s; only drafts can be edited (cancel it and create a new one)", central.ErrConflict, a.ID, a.State)
		}
		a.AlertInput = in
		a.Version++
		return false, nil, nil
	})
}

func (s *Service) SubmitForApproval(ctx context.Context, actor central.Actor, id string, version int) (*central.Alert, error) {
	if !actor.Can(central.PermEditContent) {
		return nil, central.Forbidden(actor, "submit alerts")
	}
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, actor, "alert.submit", id, version, func(a *central.Alert, now time.Time) (bool, map[string]any, error) {
		if a.State != central.StateDraft {
			return false, nil, fmt.Errorf("%w: alert %s is %s, not a draft", central.ErrConflict, a.ID, a.State)
		}
		if err := s.validate(a.AlertInput, now, g); err != nil {
			return false, nil, err
		}
		a.State = central.StatePending
		a.SubmittedBy, a.SubmittedAt = actor.UserID, now
		a.RejectedBy, a.RejectReason = "", ""
		return false, nil, nil
	})
}

// twoPerson enforces the two-person rule for an approval.
func twoPerson(actor central.Actor, creator, submitter string) error {
	if actor.Role != central.RoleApprover {
		return &central.FieldError{Kind: central.ErrTwoPersonRule, Message: fmt.Sprintf("only a user with the approver role can approve (you are %s)", actor.Role)}
	}
	if actor.UserID == creator || actor.UserID == submitter {
		return &central.FieldError{Kind: central.ErrTwoPersonRule, Message: "a second person must approve: you created or submitted this"}
	}
	return nil
}

func (s *Service) Approve(ctx context.Context, actor central.Actor, id string, version int) (*central.Alert, error) {
	if actor.Role != central.RoleApprover && !actor.Can(central.PermApprove) {
		return nil, central.Forbidden(actor, "approve alerts")
	}
	// the allow-list may have shrunk since the alert was submitted
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, actor, "alert.approve", id, version, func(a *central.Alert, now time.Time) (bool, map[string]any, error) {
		if err := twoPerson(actor, a.CreatedBy, a.SubmittedBy); err != nil {
			return false, nil, err
		}
		if a.State != central.StatePending {
			return false, nil, fmt.Errorf("%w: alert %s is %s, not pending approval", central.ErrConflict, a.ID, a.State)
		}
		if !now.Before(a.Expires) {
			return false, nil, central.Invalid("expires", "alert %s expired at %s before it was approved", a.ID, a.Expires.UTC().Format(time.RFC3339))
		}
		if err := s.validate(a.AlertInput, now, g); err != nil {
			return false, nil, err
		}
		a.State = central.StatePublished
		a.ApprovedBy, a.ApprovedAt = actor.UserID, now
		a.PublishedBy, a.PublishedAt = actor.UserID, now
		return true, map[string]any{"scopes": scopeStrings(a.Target)}, nil
	})
}

func (s *Service) Reject(ctx context.Context, actor central.Actor, id string, version int, reason string) (*central.Alert, error) {
	if !actor.Can(central.PermApprove) {
		return nil, central.Forbidden(actor, "reject alerts")
	}
	if strings.TrimSpace(reason) == "" || len([]rune(reason)) > 500 {
		return nil, central.Invalid("reason", "give a reason (1..500 characters) so the author knows what to change")
	}
	return s.transition(ctx, actor, "alert.reject", id, version, func(a *central.Alert, now time.Time) (bool, map[string]any, error) {
		if a.State != central.StatePending {
			return false, nil, fmt.Errorf("%w: alert %s is %s, not pending approval", central.ErrConflict, a.ID, a.State)
		}
		if actor.UserID == a.CreatedBy || actor.UserID == a.SubmittedBy {
			return false, nil, &central.FieldError{Kind: central.ErrTwoPersonRule, Message: "a second person must review: you created or submitted this"}
		}
		a.State = central.StateDraft
		a.RejectedBy, a.RejectReason = actor.UserID, reason
		a.Version++
		return false, map[string]any{"reason": reason}, nil
	})
}

func (s *Service) Publish(ctx context.Context, actor central.Actor, id string, version int) (*central.Alert, error) {
	if !actor.Can(central.PermPublish) {
		return nil, central.Forbidden(actor, "publish alerts")
	}
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, actor, "alert.publish", id, version, func(a *central.Alert, now time.Time) (bool, map[string]any, error) {
		if a.State != central.StateDraft {
			return false, nil, fmt.Errorf("%w: alert %s is %s, not a draft", central.ErrConflict, a.ID, a.State)
		}
		if s.needsApproval(a.Target) {
			return false, nil, &central.FieldError{Kind: central.ErrTwoPersonRule, Field: "target",
				Message: fmt.Sprintf("alerts to all displays, whole prefectures, more than %d branches, more than %d devices or more than %d known displays need a second person's approval: submit it for approval",
					central.MaxDirectBranches, central.MaxDirectDevices, central.MaxDirectReach)}
		}
		if err := s.validate(a.AlertInput, now, g); err != nil {
			return false, nil, err
		}
		a.State = central.StatePublished
		a.PublishedBy, a.PublishedAt = actor.UserID, now
		return true, map[string]any{"scopes": scopeStrings(a.Target)}, nil
	})
}

func (s *Service) Cancel(ctx context.Context, actor central.Actor, id, reason string) (*central.Alert, error) {
	if !actor.Can(central.PermCancel) {
		return nil, central.Forbidden(actor, "cancel alerts")
	}
	return s.transition(ctx, actor, "alert.cancel", id, -1, func(a *central.Alert, now time.Time) (bool, map[string]any, error) {
		switch a.State {
		case central.StateDraft, central.StatePending, central.StatePublished:
		default:
			return false, nil, fmt.Errorf("%w: alert %s is already %s", central.ErrConflict, a.ID, a.State)
		}
		live := a.State.Live()
		a.State = central.StateCancelled
		a.CancelledBy, a.CancelledAt = actor.UserID, now
		return live, map[string]any{"reason": reason}, nil
	})
}

func (s *Service) Get(ctx context.Context, actor central.Actor, id string) (*central.Alert, error) {
	if !actor.Can(central.PermViewContent) {
		return nil, central.Forbidden(actor, "view alerts")
	}
	var a *central.Alert
	err := s.cfg.DB.View(func(tx *store.Tx) error {
		var err error
		a, err = tx.Alert(id)
		return err
	})
	return a, err
}

func (s *Service) List(ctx context.Context, actor central.Actor, f central.AlertFilter) (*central.AlertPage, error) {
	if !actor.Can(central.PermViewContent) {
		return nil, central.Forbidden(actor, "view alerts")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	want := map[central.AlertState]bool{}
	for _, st := range f.States {
		want[st] = true
	}
	var all []central.Alert
	err := s.cfg.DB.View(func(tx *store.Tx) error {
		return tx.Alerts(func(a *central.Alert) error {
			if len(want) == 0 || want[a.State] {
				all = append(all, *a)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// Newest first: ids embed the date and a global counter, so sort by creation.
	sortAlerts(all)
	page := &central.AlertPage{Total: len(all), Alerts: []central.Alert{}}
	if f.Offset < len(all) {
		end := min(f.Offset+limit, len(all))
		page.Alerts = all[f.Offset:end]
	}
	return page, nil
}

func (s *Service) TargetCount(ctx context.Context, actor central.Actor, t central.Target) (*central.TargetCount, error) {
	if !actor.Can(central.PermViewContent) && !actor.Can(central.PermViewFleet) {
		return nil, central.Forbidden(actor, "count targets")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	tc := &central.TargetCount{}
	if s.cfg.Counter != nil {
		tc.Devices, tc.Online = s.cfg.Counter.CountTarget(t)
	}
	tc.NeedsApproval = t.Wide() || tc.Devices > central.MaxDirectReach
	return tc, nil
}

// needsApproval is the two-person rule for a target: Wide, or reaching more
// than MaxDirectReach known displays.
func (s *Service) needsApproval(t central.Target) bool {
	if t.Wide() {
		return true
	}
	if s.cfg.Counter != nil {
		n, _ := s.cfg.Counter.CountTarget(t)
		return n > central.MaxDirectReach
	}
	return false
}

func (s *Service) Preview(ctx context.Context, actor central.Actor, req central.PreviewRequest) ([]byte, error) {
	if !actor.Can(central.PermViewContent) {
		return nil, central.Forbidden(actor, "preview alerts")
	}
	if s.cfg.Render == nil {
		return nil, fmt.Errorf("%w: the preview renderer is not available", central.ErrUnavailable)
	}
	var w wire.Alert
	switch {
	case req.AlertID != "":
		a, err := s.Get(ctx, actor, req.AlertID)
		if err != nil {
			return nil, err
		}
		w = a.Wire()
	case req.Input != nil:
		in := *req.Input
		if in.Issuer == "" {
			in.Issuer = s.cfg.Issuer
		}
		w = wire.Alert{ID: "preview", Version: 1, Priority: in.Priority, Issuer: in.Issuer, Texts: in.Texts, QR: in.QR,
			Effective: in.Effective, Expires: in.Expires}
		if w.Priority == 0 {
			w.Priority = wire.PriorityUrgent
		}
		if len(w.Texts) == 0 {
			return nil, central.Invalid("texts", "write a headline to see a preview")
		}
	default:
		return nil, central.Invalid("", "preview needs alert_id or input")
	}
	o := req.Orientation
	if o == "" {
		o = central.Landscape
	}
	if o != central.Landscape && o != central.Portrait {
		return nil, central.Invalid("orientation", "orientation must be landscape or portrait")
	}
	return s.cfg.Render(w, req.Lang, o)
}

// ---- allow-list

func (s *Service) AllowList(ctx context.Context, actor central.Actor) (central.AllowList, error) {
	if !actor.Can(central.PermViewContent) && !actor.Can(central.PermManageGuard) {
		return central.AllowList{}, central.Forbidden(actor, "view the allow-list")
	}
	return s.allowList()
}

func (s *Service) SetAllowList(ctx context.Context, actor central.Actor, l central.AllowList) (central.AllowList, error) {
	if !actor.Can(central.PermManageGuard) {
		return central.AllowList{}, central.Forbidden(actor, "edit the allow-list")
	}
	l, err := ValidateAllowList(l)
	if err != nil {
		return l, err
	}
	err = s.commit(ctx, func(tx *store.Tx, now time.Time) ([]wire.Scope, func(*store.Tx) (*central.AuditEntry, error), error) {
		l.UpdatedBy, l.UpdatedAt = actor.UserID, now
		if err := tx.PutSetting("allow_list", l); err != nil {
			return nil, nil, err
		}
		return nil, func(tx *store.Tx) (*central.AuditEntry, error) {
			return s.cfg.Audit.RecordTx(tx, actor, "guard.set_allow_list", "settings/allow_list", l)
		}, nil
	})
	return l, err
}

func scopeStrings(t central.Target) []string {
	var out []string
	for _, sc := range t.Scopes() {
		out = append(out, sc.String())
	}
	return out
}

var (
	_ central.AlertService = (*Service)(nil)
	_ central.GuardService = (*Service)(nil)
)
