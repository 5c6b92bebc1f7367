package central

import (
	"fmt"
	"sort"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// AlertState is where an alert or campaign item is in its lifecycle:
//
//	draft --Submit--> pending --Approve--> published --Cancel--> cancelled
//	  ^                 |                      |
//	  +-----Reject------+                      +--(expires passes)--> expired
//	draft --Publish--> published   (only for targets that need no approval)
//
// Approve publishes at once: the approver's action completes the two-person
// rule, so there is no "approved but not live" state to forget about.
type AlertState string

const (
	StateDraft     AlertState = "draft"
	StatePending   AlertState = "pending_approval" // waiting for a second person's approval
	StatePublished AlertState = "published"
	StateCancelled AlertState = "cancelled"
	StateExpired   AlertState = "expired"
)

// Live reports whether content in this state is in the published snapshots.
func (s AlertState) Live() bool { return s == StatePublished }

// Target says which displays an alert or campaign item goes to. Exactly one
// of All, Prefs, Branches, Devices is set.
type Target struct {
	All      bool     `json:"all,omitempty"`
	Prefs    []string `json:"prefs,omitempty"`    // JIS codes "01".."47"
	Branches []string `json:"branches,omitempty"` // branch ids
	Devices  []string `json:"devices,omitempty"`  // device ids
}

// MaxTargetIDs bounds how many prefectures, branches or devices one target lists.
const MaxTargetIDs = 1000

// Validate checks the target and names the offending field.
func (t Target) Validate() error {
	n := 0
	if t.All {
		n++
	}
	for _, l := range [][]string{t.Prefs, t.Branches, t.Devices} {
		if len(l) > 0 {
			n++
		}
	}
	if n == 0 {
		return Invalid("target", "choose all displays, prefectures, branches or devices")
	}
	if n > 1 {
		return Invalid("target", "choose only one of all, prefectures, branches or devices")
	}
	check := func(field string, ids []string, valid func(string) error) error {
		if len(ids) > MaxTargetIDs {
			return Invalid(field, "%d entries, max %d", len(ids), MaxTargetIDs)
		}
		seen := map[string]bool{}
		for i, id := range ids {
			if err := valid(id); err != nil {
				return Invalid(fmt.Sprintf("%s[%d]", field, i), "%v", err)
			}
			if seen[id] {
				return Invalid(fmt.Sprintf("%s[%d]", field, i), "%s listed twice", id)
			}
			seen[id] = true
		}
		return nil
	}
	if err := check("target.prefs", t.Prefs, wire.ValidPref); err != nil {
		return err
	}
	if err := check("target.branches", t.Branches, wire.ValidID); err != nil {
		return err
	}
	return check("target.devices", t.Devices, wire.ValidID)
}

// Limits of what one publisher may publish alone: a target naming more
// branches or devices than this, or reaching more known devices than
// MaxDirectReach, needs a second person's approval like a fleet-wide one
// (otherwise listing 1000 branches would be "all displays" without an
// approver).
const (
	MaxDirectBranches = 3
	MaxDirectDevices  = 20
	MaxDirectReach    = 100
)

// Wide reports whether the target by itself needs the two-person rule: all
// displays, whole prefectures, more than MaxDirectBranches branches or more
// than MaxDirectDevices devices. (The service also applies MaxDirectReach
// with the registry's device count.)
func (t Target) Wide() bool {
	return t.All || len(t.Prefs) > 0 || len(t.Branches) > MaxDirectBranches || len(t.Devices) > MaxDirectDevices
}

// Scopes lists the snapshot scopes the target publishes into, sorted.
func (t Target) Scopes() []wire.Scope {
	var out []wire.Scope
	if t.All {
		out = append(out, wire.All)
	}
	for _, p := range t.Prefs {
		out = append(out, wire.Scope{Kind: wire.ScopePref, ID: p})
	}
	for _, b := range t.Branches {
		out = append(out, wire.Scope{Kind: wire.ScopeBranch, ID: b})
	}
	for _, d := range t.Devices {
		out = append(out, wire.Scope{Kind: wire.ScopeDevice, ID: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// AlertInput is what a user composes: the editable part of an alert.
type AlertInput struct {
	Priority  int         `json:"priority"` // 1..100; >= 50 interrupts the campaign
	Issuer    string      `json:"issuer"`   // issuing authority shown on screen
	Texts     []wire.Text `json:"texts"`    // first is the primary language (ja)
	QR        *wire.Link  `json:"qr,omitempty"`
	Effective time.Time   `json:"effective,omitzero"` // zero: at once
	Expires   time.Time   `json:"expires"`
	Target    Target      `json:"target"`
}

// Alert is an urgent warning with its lifecycle and who did what.
type Alert struct {
	ID      string     `json:"id"`
	Version int        `json:"version"` // grows on every change; optimistic concurrency
	State   AlertState `json:"state"`
	AlertInput

	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	SubmittedBy  string    `json:"submitted_by,omitempty"`
	SubmittedAt  time.Time `json:"submitted_at,omitzero"`
	ApprovedBy   string    `json:"approved_by,omitempty"`
	ApprovedAt   time.Time `json:"approved_at,omitzero"`
	RejectedBy   string    `json:"rejected_by,omitempty"`
	RejectReason string    `json:"reject_reason,omitempty"`
	PublishedBy  string    `json:"published_by,omitempty"`
	PublishedAt  time.Time `json:"published_at,omitzero"`
	CancelledBy  string    `json:"cancelled_by,omitempty"`
	CancelledAt  time.Time `json:"cancelled_at,omitzero"`
}

// NeedsApproval reports whether publishing needs a second person.
func (a *Alert) NeedsApproval() bool { return a.Target.Wide() }

// Wire is the alert as it goes into a signed snapshot.
func (a *Alert) Wire() wire.Alert {
	return wire.Alert{
		ID: a.ID, Version: a.Version, Priority: a.Priority, Issuer: a.Issuer,
		Texts: a.Texts, QR: a.QR, Effective: a.Effective, Expires: a.Expires,
	}
}

// AlertFilter selects alerts for List.
type AlertFilter struct {
	States []AlertState `json:"states,omitempty"` // empty: all
	Offset int          `json:"offset,omitempty"`
	Limit  int          `json:"limit,omitempty"` // default 50, max 1000
}

// AlertPage is one page of List.
type AlertPage struct {
	Alerts []Alert `json:"alerts"` // newest first
	Total  int     `json:"total"`
}

// TargetCount is how many known devices a target reaches.
type TargetCount struct {
	Devices       int  `json:"devices"`
	Online        int  `json:"online"`
	NeedsApproval bool `json:"needs_approval"`
}

// Orientation of a preview.
type Orientation string

const (
	Landscape Orientation = "landscape"
	Portrait  Orientation = "portrait"
)

// PreviewRequest asks for the PNG the displays would show. Either AlertID
// (a stored alert) or Input (an unsaved draft, as the user types) is set.
type PreviewRequest struct {
	AlertID     string      `json:"alert_id,omitempty"`
	Input       *AlertInput `json:"input,omitempty"`
	Lang        string      `json:"lang,omitempty"` // empty: the first text
	Orientation Orientation `json:"orientation,omitempty"`
}

// CampaignInput is the editable part of a campaign slide.
type CampaignInput struct {
	DurationSec int               `json:"duration_sec"`
	Texts       []wire.Text       `json:"texts"`
	Images      []wire.ContentRef `json:"images,omitempty"` // uploaded with CampaignService.UploadImage
	Effective   time.Time         `json:"effective,omitzero"`
	Expires     time.Time         `json:"expires"`
	Target      Target            `json:"target"`
	Order       int               `json:"order"` // rotation order, ascending
}

// CampaignItem is one slide of the standing campaign, with the same
// lifecycle and two-person rule as an alert.
type CampaignItem struct {
	ID      string     `json:"id"`
	Version int        `json:"version"`
	State   AlertState `json:"state"`
	CampaignInput

	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	SubmittedBy string    `json:"submitted_by,omitempty"`
	ApprovedBy  string    `json:"approved_by,omitempty"`
	RejectedBy  string    `json:"rejected_by,omitempty"`
	PublishedBy string    `json:"published_by,omitempty"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	CancelledBy string    `json:"cancelled_by,omitempty"`
	CancelledAt time.Time `json:"cancelled_at,omitzero"`
}

// Wire is the item as it goes into a signed snapshot.
func (c *CampaignItem) Wire() wire.CampaignItem {
	return wire.CampaignItem{
		ID: c.ID, Version: c.Version, DurationSec: c.DurationSec, Texts: c.Texts,
		Images: c.Images, Effective: c.Effective, Expires: c.Expires,
	}
}

// AllowList is the content guard's list: the only phone numbers and URLs an
// alert or slide may show. Phone numbers are compared digits-only (plus a
// leading '#'); a URL is allowed if it starts with one of URLPrefixes
// (scheme and host compared case-insensitively).
type AllowList struct {
	Phones      []string  `json:"phones"`
	URLPrefixes []string  `json:"url_prefixes"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// DefaultAllowList is used until an admin edits the list: the police
// emergency number, the police consultation line and official police sites.
func DefaultAllowList() AllowList {
	return AllowList{
		Phones:      []string{"110", "#9110"},
		URLPrefixes: []string{"https://www.npa.go.jp/", "https://www.keishicho.metro.tokyo.lg.jp/"},
	}
}
