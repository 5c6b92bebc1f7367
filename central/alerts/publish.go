package alerts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/wire"
)

// Publisher sends a retained QoS 1 message and waits for the broker's ack.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte, retained bool) error
}

// scopeMatches reports whether a target publishes into scope s.
func scopeMatches(t central.Target, s wire.Scope) bool {
	for _, x := range t.Scopes() {
		if x == s {
			return true
		}
	}
	return false
}

// buildSnapshot collects what is live in scope s at now, inside tx.
func (s *Service) buildSnapshot(tx *store.Tx, sc wire.Scope, now time.Time) (*wire.Snapshot, error) {
	snap := &wire.Snapshot{Type: wire.TypeSnapshot, Scope: sc, Alerts: []wire.Alert{}, Campaign: []wire.CampaignItem{}}
	var alerts []central.Alert
	if err := tx.Alerts(func(a *central.Alert) error {
		if a.State.Live() && now.Before(a.Expires) && scopeMatches(a.Target, sc) {
			alerts = append(alerts, *a)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	sort.Slice(alerts, func(i, j int) bool {
		if alerts[i].Priority != alerts[j].Priority {
			return alerts[i].Priority > alerts[j].Priority
		}
		return alerts[i].ID < alerts[j].ID
	})
	if len(alerts) > wire.MaxAlerts {
		return nil, central.Invalid("target", "scope %s would carry %d live alerts, at most %d: cancel one first", sc, len(alerts), wire.MaxAlerts)
	}
	for i := range alerts {
		snap.Alerts = append(snap.Alerts, alerts[i].Wire())
	}
	var items []central.CampaignItem
	if err := tx.CampaignItems(func(c *central.CampaignItem) error {
		if c.State.Live() && now.Before(c.Expires) && scopeMatches(c.Target, sc) {
			items = append(items, *c)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Order != items[j].Order {
			return items[i].Order < items[j].Order
		}
		return items[i].ID < items[j].ID
	})
	if len(items) > wire.MaxCampaignItems {
		return nil, central.Invalid("target", "scope %s would carry %d campaign items, at most %d", sc, len(items), wire.MaxCampaignItems)
	}
	for i := range items {
		snap.Campaign = append(snap.Campaign, items[i].Wire())
	}
	return snap, nil
}

// signScopes rebuilds, signs and stores the next snapshot of every scope in
// scopes, inside tx. It returns the states to publish after commit.
func (s *Service) signScopes(tx *store.Tx, scopes []wire.Scope, now time.Time) ([]*store.ScopeState, error) {
	var out []*store.ScopeState
	seen := map[wire.Scope]bool{}
	for _, sc := range scopes {
		if seen[sc] {
			continue
		}
		seen[sc] = true
		snap, err := s.buildSnapshot(tx, sc, now)
		if err != nil {
			return nil, err
		}
		var last uint64
		if st, err := tx.Scope(sc.String()); err == nil {
			last = st.Seq
		} else if !errors.Is(err, central.ErrNotFound) {
			return nil, err
		}
		snap.Seq = last + 1
		snap.Issued = now.UTC().Truncate(time.Second)
		snap.Expires = snap.Issued.Add(s.cfg.SnapshotTTL)
		if err := snap.Validate(); err != nil {
			return nil, central.Invalid("", "snapshot %s: %v", sc, err)
		}
		env, err := s.cfg.Signer().SealJSON(snap)
		if err != nil {
			if errors.Is(err, wire.ErrLimit) {
				return nil, central.Invalid("texts", "snapshot %s is too large: %v", sc, err)
			}
			return nil, fmt.Errorf("sign snapshot %s: %w", sc, err)
		}
		st := &store.ScopeState{Scope: sc.String(), Seq: snap.Seq, Issued: snap.Issued, Expires: snap.Expires, Envelope: env}
		if err := tx.PutScope(st); err != nil {
			return nil, err
		}
		if s.cfg.OnSigned != nil {
			ids := make([]string, len(snap.Alerts))
			for i, a := range snap.Alerts {
				ids[i] = a.ID
			}
			s.cfg.OnSigned(sc.String(), snap.Seq, ids)
		}
		out = append(out, st)
	}
	return out, nil
}

// publishScopes sends signed snapshots and records the acknowledgements.
// Caller holds s.pubMu.
func (s *Service) publishScopes(ctx context.Context, states []*store.ScopeState) error {
	var firstErr error
	var acked []*store.ScopeState
	for _, st := range states {
		sc, err := wire.ParseScope(st.Scope)
		if err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
		err = s.cfg.Publisher.Publish(pctx, wire.StateTopic(sc), st.Envelope, true)
		cancel()
		if err != nil {
			s.metrics.publishErrors.Add(1)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s.metrics.published.Add(1)
		acked = append(acked, st)
	}
	if len(acked) > 0 {
		if err := s.cfg.DB.Update(func(tx *store.Tx) error {
			for _, st := range acked {
				cur, err := tx.Scope(st.Scope)
				if err != nil {
					return err
				}
				if cur.Seq == st.Seq {
					cur.Acked = true
					if err := tx.PutScope(cur); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return fmt.Errorf("%w: the change is saved and will be published when the broker acknowledges it: %v", central.ErrUnavailable, firstErr)
	}
	return nil
}

// commit runs change in a transaction that also re-signs the scopes it
// returns, then publishes them. The whole sequence holds pubMu, so
// snapshots of a scope reach the broker in seq order.
func (s *Service) commit(ctx context.Context, change func(tx *store.Tx, now time.Time) (scopes []wire.Scope, audit func(tx *store.Tx) (*central.AuditEntry, error), err error)) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	now := s.cfg.Clock.Now()
	var states []*store.ScopeState
	var entry *central.AuditEntry
	err := s.cfg.DB.Update(func(tx *store.Tx) error {
		scopes, audit, err := change(tx, now)
		if err != nil {
			return err
		}
		if len(scopes) > 0 {
			if states, err = s.signScopes(tx, scopes, now); err != nil {
				return err
			}
		}
		if audit != nil {
			if entry, err = audit(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if entry != nil {
		s.cfg.Audit.Committed(*entry)
	}
	s.kick()
	if len(states) == 0 {
		return nil
	}
	if s.cfg.AfterCommit != nil {
		s.cfg.AfterCommit() // test hook: crash here to prove seqs are persisted first
	}
	return s.publishScopes(ctx, states)
}

// Reissue re-signs and publishes scopes: all of them when all is true
// (after a broker restart without persistence), otherwise those whose last
// snapshot was never acknowledged or is past half its lifetime, and any
// scope that carries an alert or item that has since expired.
func (s *Service) Reissue(ctx context.Context, all bool) error {
	var published int
	var expired []central.Change
	err := s.commit(ctx, func(tx *store.Tx, now time.Time) ([]wire.Scope, func(*store.Tx) (*central.AuditEntry, error), error) {
		due := map[wire.Scope]bool{}
		var err error
		if expired, err = s.expireTx(tx, now, due); err != nil {
			return nil, nil, err
		}
		if err := tx.Scopes(func(st *store.ScopeState) error {
			sc, err := wire.ParseScope(st.Scope)
			if err != nil {
				return nil // unknown scope key: leave it
			}
			if all || !st.Acked || !now.Before(st.Issued.Add(s.cfg.ReissueAfter)) {
				due[sc] = true
			}
			return nil
		}); err != nil {
			return nil, nil, err
		}
		var scopes []wire.Scope
		for sc := range due {
			scopes = append(scopes, sc)
		}
		sort.Slice(scopes, func(i, j int) bool { return scopes[i].String() < scopes[j].String() })
		published = len(scopes)
		return scopes, nil, nil
	})
	if published > 0 {
		s.log.Info("re-issued snapshots", "scopes", published, "err", err)
	}
	if err == nil || errors.Is(err, central.ErrUnavailable) {
		for _, c := range expired {
			s.notify(c)
		}
	}
	return err
}

// expireTx moves live content past its expiry to the expired state and
// marks its scopes due.
func (s *Service) expireTx(tx *store.Tx, now time.Time, due map[wire.Scope]bool) (changes []central.Change, err error) {
	var expired []*central.Alert
	if err := tx.Alerts(func(a *central.Alert) error {
		if a.State.Live() && !now.Before(a.Expires) {
			c := *a
			expired = append(expired, &c)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, a := range expired {
		a.State = central.StateExpired
		a.UpdatedAt = now
		if err := tx.PutAlert(a); err != nil {
			return nil, err
		}
		for _, sc := range a.Target.Scopes() {
			due[sc] = true
		}
		if _, err := s.cfg.Audit.RecordTx(tx, central.System, "alert.expire", "alert/"+a.ID, map[string]any{"version": a.Version}); err != nil {
			return nil, err
		}
		changes = append(changes, central.Change{Kind: central.ChangeAlert, Alert: a})
	}
	var items []*central.CampaignItem
	if err := tx.CampaignItems(func(c *central.CampaignItem) error {
		if c.State.Live() && !now.Before(c.Expires) {
			x := *c
			items = append(items, &x)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, c := range items {
		c.State = central.StateExpired
		c.UpdatedAt = now
		if err := tx.PutCampaignItem(c); err != nil {
			return nil, err
		}
		for _, sc := range c.Target.Scopes() {
			due[sc] = true
		}
		if _, err := s.cfg.Audit.RecordTx(tx, central.System, "campaign.expire", "campaign/"+c.ID, map[string]any{"version": c.Version}); err != nil {
			return nil, err
		}
		changes = append(changes, central.Change{Kind: central.ChangeCampaign, Campaign: c})
	}
	return changes, nil
}

// nextWake is when the re-issuer must next look: the earliest half-life of
// a scope snapshot or expiry of live content.
func (s *Service) nextWake() (time.Time, error) {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	err := s.cfg.DB.View(func(tx *store.Tx) error {
		if err := tx.Scopes(func(st *store.ScopeState) error {
			if !st.Acked {
				consider(s.cfg.Clock.Now().Add(s.cfg.RetryInterval))
			} else {
				consider(st.Issued.Add(s.cfg.ReissueAfter))
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Alerts(func(a *central.Alert) error {
			if a.State.Live() {
				consider(a.Expires)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.CampaignItems(func(c *central.CampaignItem) error {
			if c.State.Live() {
				consider(c.Expires)
			}
			return nil
		})
	})
	return next, err
}

func (s *Service) kick() {
	select {
	case s.kickCh <- struct{}{}:
	default:
	}
}

// Run is the re-issuer. It returns when ctx is done.
func (s *Service) Run(ctx context.Context) error {
	timer := s.cfg.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, err := s.nextWake()
		if err != nil {
			s.log.Error("re-issuer: read schedule", "err", err)
			next = s.cfg.Clock.Now().Add(s.cfg.RetryInterval)
		}
		d := time.Hour
		if !next.IsZero() {
			d = next.Sub(s.cfg.Clock.Now())
		}
		if d > time.Hour {
			d = time.Hour
		}
		if d > 0 {
			timer.Stop()
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return nil
			case <-s.kickCh:
				continue
			case <-timer.C():
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if err := s.Reissue(ctx, false); err != nil {
			s.log.Warn("re-issuer", "err", err)
		}
	}
}
