package central

import (
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// Device is one display as central knows it: from enrollment and from what
// it reports on its status and event topics.
type Device struct {
	ID           string            `json:"id"`
	Branch       string            `json:"branch"`
	Pref         string            `json:"pref"`
	Online       bool              `json:"online"`
	LastSeen     time.Time         `json:"last_seen,omitzero"`
	AgentVersion string            `json:"agent_version,omitempty"`
	Screen       string            `json:"screen,omitempty"` // "alert:<id>", "campaign:<id>", "standing", ...
	FrameHash    string            `json:"frame_hash,omitempty"`
	Seqs         map[string]uint64 `json:"seqs,omitempty"`
	UptimeSec    int64             `json:"uptime_sec,omitempty"`
	ClockSkewSec int64             `json:"clock_skew_sec,omitempty"`
	CacheBlobs   int               `json:"cache_blobs,omitempty"`
	CacheBytes   int64             `json:"cache_bytes,omitempty"`
	EnrolledAt   time.Time         `json:"enrolled_at,omitzero"`
	Screenshot   time.Time         `json:"screenshot_at,omitzero"` // time of the last uploaded screenshot
	// Mismatch is set when the device's status claims another branch or
	// prefecture than it was enrolled with (central keeps the enrolled
	// ones: they decide what the device is targeted with).
	Mismatch string `json:"mismatch,omitempty"`
}

// Scopes are the four snapshot scopes the device subscribes to.
func (d *Device) Scopes() ([]wire.Scope, error) { return wire.DeviceScopes(d.ID, d.Branch, d.Pref) }

// FleetCount is online/offline counts for one prefecture or branch.
type FleetCount struct {
	Key     string `json:"key"` // prefecture code or branch id
	Pref    string `json:"pref,omitempty"`
	Total   int    `json:"total"`
	Online  int    `json:"online"`
	Offline int    `json:"offline"`
}

// FleetSummary is the aggregated fleet, computed server-side.
type FleetSummary struct {
	Total    int          `json:"total"`
	Online   int          `json:"online"`
	Offline  int          `json:"offline"`
	ByPref   []FleetCount `json:"by_pref"`
	ByBranch []FleetCount `json:"by_branch,omitempty"` // only when FleetQuery.Pref is set
}

// FleetQuery narrows the summary: with Pref set, ByBranch lists that
// prefecture's branches.
type FleetQuery struct {
	Pref string `json:"pref,omitempty"`
}

// DeviceQuery pages and searches the device list.
type DeviceQuery struct {
	Search string `json:"search,omitempty"` // substring of the device or branch id
	Pref   string `json:"pref,omitempty"`
	Branch string `json:"branch,omitempty"`
	Online *bool  `json:"online,omitempty"`
	Offset int    `json:"offset,omitempty"`
	Limit  int    `json:"limit,omitempty"` // default 50, max 500
}

// DevicePage is one page of devices, sorted by id.
type DevicePage struct {
	Devices []Device `json:"devices"`
	Total   int      `json:"total"` // devices matching the query
}

// Screenshot is the last picture a device uploaded.
type Screenshot struct {
	Device string    `json:"device"`
	Time   time.Time `json:"time"`
	PNG    []byte    `json:"png"`
}

// DeliveryStats is the per-alert delivery tracking. Targeted counts the
// devices known to central in the alert's scopes; the other counts are
// devices that reported the alert's current version (or any version, for
// StillDisplayed).
type DeliveryStats struct {
	AlertID        string         `json:"alert_id"`
	Version        int            `json:"version"`
	State          AlertState     `json:"state"`
	Targeted       int            `json:"targeted"`
	Received       int            `json:"received"`
	Displayed      int            `json:"displayed"`
	Rejected       int            `json:"rejected"`
	RejectReasons  map[string]int `json:"reject_reasons,omitempty"` // wire.Reason* code -> devices
	StillDisplayed int            `json:"still_displayed"`          // devices whose status screen is alert:<id>
	UpdatedAt      time.Time      `json:"updated_at"`
}

// ChangeKind says what a Change carries.
type ChangeKind string

const (
	ChangeDevice   ChangeKind = "device"   // Device changed (online, screen, ...)
	ChangeFleet    ChangeKind = "fleet"    // Fleet totals changed
	ChangeDelivery ChangeKind = "delivery" // Delivery stats of one alert changed
	ChangeAlert    ChangeKind = "alert"    // an alert changed state or content
	ChangeCampaign ChangeKind = "campaign" // a campaign item changed
	ChangeAudit    ChangeKind = "audit"    // an audit entry was appended
	ChangeResync   ChangeKind = "resync"   // the subscriber fell behind; refetch what it shows
)

// Change is one push event for the console. Changes are coalesced: a
// subscriber gets the latest state, not every intermediate step, and a
// subscriber that falls too far behind gets ChangeResync.
type Change struct {
	Kind     ChangeKind     `json:"kind"`
	Time     time.Time      `json:"time"`
	Device   *Device        `json:"device,omitempty"`
	Fleet    *FleetSummary  `json:"fleet,omitempty"`
	Delivery *DeliveryStats `json:"delivery,omitempty"`
	Alert    *Alert         `json:"alert,omitempty"`
	Campaign *CampaignItem  `json:"campaign,omitempty"`
	Audit    *AuditEntry    `json:"audit,omitempty"`
}
