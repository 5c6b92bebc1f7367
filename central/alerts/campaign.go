package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/wire"
)

func (s *Service) checkItem(tx *store.Tx, in central.CampaignInput, now time.Time, g *Guard) error {
	if err := in.Target.Validate(); err != nil {
		return err
	}
	if in.Expires.IsZero() || !in.Expires.After(now) {
		return central.Invalid("expires", "an expiry time in the future is required")
	}
	if len(in.Texts) > 0 && in.Texts[0].Lang != "ja" {
		return central.Invalid("texts[0].lang", "the first text must be Japanese (ja); it is %q", in.Texts[0].Lang)
	}
	w := wire.CampaignItem{ID: "check", Version: 1, DurationSec: in.DurationSec, Texts: in.Texts, Images: in.Images,
		Effective: in.Effective, Expires: in.Expires}
	if err := w.Validate(); err != nil {
		f := fieldOf(err)
		if strings.Contains(err.Error(), "duration") {
			f = "duration_sec"
		} else if strings.Contains(err.Error(), "image") {
			f = "images"
		}
		return &central.FieldError{Kind: central.ErrInvalid, Field: f, Message: err.Error()}
	}
	if errs := g.CheckTexts("", in.Texts, nil); len(errs) > 0 {
		return errs[0]
	}
	for i, img := range in.Images {
		b, err := tx.Blob(img.SHA256)
		if err != nil {
			return central.Invalid(fmt.Sprintf("images[%d]", i), "image %s was not uploaded", img.SHA256)
		}
		if int64(len(b.Data)) != img.Size || b.MediaType != img.MediaType {
			return central.Invalid(fmt.Sprintf("images[%d]", i), "image %s is %d bytes of %s, not %d bytes of %s", img.SHA256, len(b.Data), b.MediaType, img.Size, img.MediaType)
		}
	}
	return nil
}

func (s *Service) itemAudit(actor central.Actor, action string, c *central.CampaignItem, extra map[string]any) func(*store.Tx) (*central.AuditEntry, error) {
	return func(tx *store.Tx) (*central.AuditEntry, error) {
		d := map[string]any{"version": c.Version, "state": c.State}
		if strings.HasSuffix(action, ".create") || strings.HasSuffix(action, ".update") {
			d["content"] = c.CampaignInput
		}
		for k, v := range extra {
			d[k] = v
		}
		return s.cfg.Audit.RecordTx(tx, actor, action, "campaign/"+c.ID, d)
	}
}

func (s *Service) CreateItem(ctx context.Context, actor central.Actor, in central.CampaignInput) (*central.CampaignItem, error) {
	if !actor.Can(central.PermEditContent) {
		return nil, central.Forbidden(actor, "create campaign slides")
	}
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	if in.DurationSec == 0 {
		in.DurationSec = 10
	}
	var c *central.CampaignItem
	err = s.commit(ctx, func(tx *store.Tx, now time.Time) ([]wire.Scope, func(*store.Tx) (*central.AuditEntry, error), error) {
		if err := s.checkItem(tx, in, now, g); err != nil {
			return nil, nil, err
		}
		n, err := tx.NextID("campaign")
		if err != nil {
			return nil, nil, err
		}
		c = &central.CampaignItem{ID: fmt.Sprintf("c-%04d", n), Version: 1, State: central.StateDraft, CampaignInput: in,
			CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now}
		if c.Order == 0 {
			c.Order = int(n) * 10
		}
		if err := tx.PutCampaignItem(c); err != nil {
			return nil, nil, err
		}
		return nil, s.itemAudit(actor, "campaign.create", c, nil), nil
	})
	if err != nil {
		return nil, err
	}
	s.notify(central.Change{Kind: central.ChangeCampaign, Campaign: c})
	return c, nil
}

func (s *Service) itemTransition(ctx context.Context, actor central.Actor, action, id string, version int,
	fn func(tx *store.Tx, c *central.CampaignItem, now time.Time) (bool, map[string]any, error)) (*central.CampaignItem, error) {
	var out *central.CampaignItem
	err := s.commit(ctx, func(tx *store.Tx, now time.Time) ([]wire.Scope, func(*store.Tx) (*central.AuditEntry, error), error) {
		c, err := tx.CampaignItem(id)
		if err != nil {
			return nil, nil, err
		}
		if version >= 0 && c.Version != version {
			return nil, nil, fmt.Errorf("%w: slide %s is at version %d, you had version %d: reload it", central.ErrConflict, id, c.Version, version)
		}
		wasLive := c.State.Live()
		oldScopes := c.Target.Scopes()
		live, extra, err := fn(tx, c, now)
		if err != nil {
			return nil, nil, err
		}
		c.UpdatedAt = now
		if err := tx.PutCampaignItem(c); err != nil {
			return nil, nil, err
		}
		out = c
		var scopes []wire.Scope
		if live || wasLive {
			scopes = append(oldScopes, c.Target.Scopes()...)
		}
		return scopes, s.itemAudit(actor, action, c, extra), nil
	})
	if out != nil && (err == nil || errors.Is(err, central.ErrUnavailable)) {
		s.notify(central.Change{Kind: central.ChangeCampaign, Campaign: out})
		if err != nil {
			return out, err
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) UpdateItem(ctx context.Context, actor central.Actor, id string, version int, in central.CampaignInput) (*central.CampaignItem, error) {
	if !actor.Can(central.PermEditContent) {
		return nil, central.Forbidden(actor, "edit campaign slides")
	}
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	return s.itemTransition(ctx, actor, "campaign.update", id, version, func(tx *store.Tx, c *central.CampaignItem, now time.Time) (bool, map[string]any, error) {
		if c.State != central.StateDraft {
			return false, nil, fmt.Errorf("%w: slide %s is %s; only drafts can be edited", central.ErrConflict, c.ID, c.State)
		}
		if in.DurationSec == 0 {
			in.DurationSec = c.DurationSec
		}
		if in.Order == 0 {
			in.Order = c.Order
		}
		if err := s.checkItem(tx, in, now, g); err != nil {
			return false, nil, err
		}
		c.CampaignInput = in
		c.Version++
		return false, nil, nil
	})
}

func (s *Service) SubmitItem(ctx context.Context, actor central.Actor, id string, version int) (*central.CampaignItem, error) {
	if !actor.Can(central.PermEditContent) {
		return nil, central.Forbidden(actor, "submit campaign slides")
	}
	// the allow-list may have changed since the slide was written
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	return s.itemTransition(ctx, actor, "campaign.submit", id, version, func(tx *store.Tx, c *central.CampaignItem, now time.Time) (bool, map[string]any, error) {
		if c.State != central.StateDraft {
			return false, nil, fmt.Errorf("%w: slide %s is %s, not a draft", central.ErrConflict, c.ID, c.State)
		}
		if err := s.checkItem(tx, c.CampaignInput, now, g); err != nil {
			return false, nil, err
		}
		c.State = central.StatePending
		c.SubmittedBy = actor.UserID
		return false, nil, nil
	})
}

func (s *Service) ApproveItem(ctx context.Context, actor central.Actor, id string, version int) (*central.CampaignItem, error) {
	if !actor.Can(central.PermApprove) {
		return nil, central.Forbidden(actor, "approve campaign slides")
	}
	// the allow-list may have changed since the slide was written
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	return s.itemTransition(ctx, actor, "campaign.approve", id, version, func(tx *store.Tx, c *central.CampaignItem, now time.Time) (bool, map[string]any, error) {
		if err := twoPerson(actor, c.CreatedBy, c.SubmittedBy); err != nil {
			return false, nil, err
		}
		if c.State != central.StatePending {
			return false, nil, fmt.Errorf("%w: slide %s is %s, not pending approval", central.ErrConflict, c.ID, c.State)
		}
		if err := s.checkItem(tx, c.CampaignInput, now, g); err != nil {
			return false, nil, err
		}
		c.State = central.StatePublished
		c.ApprovedBy, c.PublishedBy, c.PublishedAt = actor.UserID, actor.UserID, now
		return true, nil, nil
	})
}

func (s *Service) RejectItem(ctx context.Context, actor central.Actor, id string, version int, reason string) (*central.CampaignItem, error) {
	if !actor.Can(central.PermApprove) {
		return nil, central.Forbidden(actor, "reject campaign slides")
	}
	return s.itemTransition(ctx, actor, "campaign.reject", id, version, func(tx *store.Tx, c *central.CampaignItem, now time.Time) (bool, map[string]any, error) {
		if c.State != central.StatePending {
			return false, nil, fmt.Errorf("%w: slide %s is %s, not pending approval", central.ErrConflict, c.ID, c.State)
		}
		if actor.UserID == c.CreatedBy || actor.UserID == c.SubmittedBy {
			return false, nil, &central.FieldError{Kind: central.ErrTwoPersonRule, Message: "a second person must review: you created or submitted this"}
		}
		c.State = central.StateDraft
		c.RejectedBy = actor.UserID
		c.Version++
		return false, map[string]any{"reason": reason}, nil
	})
}

func (s *Service) PublishItem(ctx context.Context, actor central.Actor, id string, version int) (*central.CampaignItem, error) {
	if !actor.Can(central.PermPublish) {
		return nil, central.Forbidden(actor, "publish campaign slides")
	}
	// the allow-list may have changed since the slide was written
	g, err := s.guard()
	if err != nil {
		return nil, err
	}
	return s.itemTransition(ctx, actor, "campaign.publish", id, version, func(tx *store.Tx, c *central.CampaignItem, now time.Time) (bool, map[string]any, error) {
		if c.State != central.StateDraft {
			return false, nil, fmt.Errorf("%w: slide %s is %s, not a draft", central.ErrConflict, c.ID, c.State)
		}
		if s.needsApproval(c.Target) {
			return false, nil, &central.FieldError{Kind: central.ErrTwoPersonRule, Field: "target",
				Message: fmt.Sprintf("slides for all displays, whole prefectures, more than %d branches, more than %d devices or more than %d known displays need a second person's approval: submit it for approval",
					central.MaxDirectBranches, central.MaxDirectDevices, central.MaxDirectReach)}
		}
		if len(c.Images) > 0 {
			// text inside an image is beyond the content guard: a person looks at it
			return false, nil, &central.FieldError{Kind: central.ErrTwoPersonRule, Field: "images",
				Message: "slides with images need a second person's approval (the content guard cannot read text in images): submit it for approval"}
		}
		if err := s.checkItem(tx, c.CampaignInput, now, g); err != nil {
			return false, nil, err
		}
		c.State = central.StatePublished
		c.PublishedBy, c.PublishedAt = actor.UserID, now
		return true, nil, nil
	})
}

func (s *Service) CancelItem(ctx context.Context, actor central.Actor, id, reason string) (*central.CampaignItem, error) {
	if !actor.Can(central.PermCancel) {
		return nil, central.Forbidden(actor, "retire campaign slides")
	}
	return s.itemTransition(ctx, actor, "campaign.cancel", id, -1, func(tx *store.Tx, c *central.CampaignItem, now time.Time) (bool, map[string]any, error) {
		switch c.State {
		case central.StateDraft, central.StatePending, central.StatePublished:
		default:
			return false, nil, fmt.Errorf("%w: slide %s is already %s", central.ErrConflict, c.ID, c.State)
		}
		c.State = central.StateCancelled
		c.CancelledBy, c.CancelledAt = actor.UserID, now
		return false, map[string]any{"reason": reason}, nil
	})
}

func (s *Service) GetItem(ctx context.Context, actor central.Actor, id string) (*central.CampaignItem, error) {
	if !actor.Can(central.PermViewContent) {
		return nil, central.Forbidden(actor, "view campaign slides")
	}
	var c *central.CampaignItem
	err := s.cfg.DB.View(func(tx *store.Tx) error {
		var err error
		c, err = tx.CampaignItem(id)
		return err
	})
	return c, err
}

func (s *Service) ListItems(ctx context.Context, actor central.Actor) ([]central.CampaignItem, error) {
	if !actor.Can(central.PermViewContent) {
		return nil, central.Forbidden(actor, "view campaign slides")
	}
	out := []central.CampaignItem{}
	err := s.cfg.DB.View(func(tx *store.Tx) error {
		return tx.CampaignItems(func(c *central.CampaignItem) error { out = append(out, *c); return nil })
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

func (s *Service) Reorder(ctx context.Context, actor central.Actor, ids []string) ([]central.CampaignItem, error) {
	if !actor.Can(central.PermEditContent) {
		return nil, central.Forbidden(actor, "reorder campaign slides")
	}
	err := s.commit(ctx, func(tx *store.Tx, now time.Time) ([]wire.Scope, func(*store.Tx) (*central.AuditEntry, error), error) {
		var scopes []wire.Scope
		seen := map[string]bool{}
		for i, id := range ids {
			if seen[id] {
				return nil, nil, central.Invalid(fmt.Sprintf("ids[%d]", i), "%s listed twice", id)
			}
			seen[id] = true
			c, err := tx.CampaignItem(id)
			if err != nil {
				return nil, nil, central.Invalid(fmt.Sprintf("ids[%d]", i), "no slide %s", id)
			}
			if c.Order != (i+1)*10 {
				c.Order = (i + 1) * 10
				c.UpdatedAt = now
				if err := tx.PutCampaignItem(c); err != nil {
					return nil, nil, err
				}
				if c.State.Live() {
					scopes = append(scopes, c.Target.Scopes()...)
				}
			}
		}
		return scopes, func(tx *store.Tx) (*central.AuditEntry, error) {
			return s.cfg.Audit.RecordTx(tx, actor, "campaign.reorder", "campaign", map[string]any{"ids": ids})
		}, nil
	})
	if err != nil && !errors.Is(err, central.ErrUnavailable) {
		return nil, err
	}
	items, lerr := s.ListItems(ctx, actor)
	if lerr != nil {
		return nil, lerr
	}
	return items, err
}

// UploadImage stores a PNG or JPEG blob by SHA-256.
func (s *Service) UploadImage(ctx context.Context, actor central.Actor, data []byte) (wire.ContentRef, error) {
	if !actor.Can(central.PermEditContent) {
		return wire.ContentRef{}, central.Forbidden(actor, "upload images")
	}
	if len(data) == 0 {
		return wire.ContentRef{}, central.Invalid("data", "the image is empty")
	}
	if len(data) > wire.MaxBlobBytes {
		return wire.ContentRef{}, central.Invalid("data", "the image is %d bytes, at most %d (4 MiB)", len(data), wire.MaxBlobBytes)
	}
	mt := http.DetectContentType(data)
	if mt != "image/png" && mt != "image/jpeg" {
		return wire.ContentRef{}, central.Invalid("data", "the file is %s; only PNG and JPEG images are accepted", mt)
	}
	sum := sha256.Sum256(data)
	ref := wire.ContentRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), MediaType: mt}
	var e *central.AuditEntry
	err := s.cfg.DB.Update(func(tx *store.Tx) error {
		if err := tx.PutBlob(ref.SHA256, &store.Blob{MediaType: mt, Data: data}); err != nil {
			return err
		}
		var err error
		e, err = s.cfg.Audit.RecordTx(tx, actor, "content.upload", "blob/"+ref.SHA256, ref)
		return err
	})
	if err != nil {
		return wire.ContentRef{}, fmt.Errorf("store image: %w", err)
	}
	s.cfg.Audit.Committed(*e)
	return ref, nil
}

var _ central.CampaignService = (*Service)(nil)
