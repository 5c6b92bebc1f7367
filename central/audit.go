package central

import (
	"encoding/json"
	"time"
)

// AuditEntry is one line of the append-only audit log. Hash is the SHA-256
// (hex) of the entry's canonical encoding including Prev, the previous
// entry's Hash, so changing, removing or reordering any entry breaks the
// chain from that point on (AuditService.Verify).
type AuditEntry struct {
	Seq    uint64          `json:"seq"` // 1, 2, 3, ...
	Time   time.Time       `json:"time"`
	Actor  Actor           `json:"actor"`
	Action string          `json:"action"`           // e.g. "alert.publish", "user.create", "login.fail"
	Object string          `json:"object,omitempty"` // e.g. "alert/a-0110", "user/u-2"
	Detail json.RawMessage `json:"detail,omitempty"` // what changed
	Prev   string          `json:"prev"`
	Hash   string          `json:"hash"`
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	UserID string    `json:"user_id,omitempty"`
	Action string    `json:"action,omitempty"` // exact, or a prefix ending in "." ("alert.")
	Object string    `json:"object,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	Until  time.Time `json:"until,omitzero"`
	Before uint64    `json:"before,omitempty"` // only entries with Seq < Before (paging)
	Offset int       `json:"offset,omitempty"`
	Limit  int       `json:"limit,omitempty"` // default 100, max 1000
}

// AuditVerify is the result of checking the whole chain.
type AuditVerify struct {
	Entries  uint64 `json:"entries"`
	OK       bool   `json:"ok"`
	BrokenAt uint64 `json:"broken_at,omitempty"` // first entry that does not verify
	Problem  string `json:"problem,omitempty"`
	Head     string `json:"head,omitempty"` // hash of the last entry
}

// EnrollToken is a one-time token a field tech uses to enroll a device. Only
// a hash of the secret is stored.
type EnrollToken struct {
	ID     string `json:"id"`
	Branch string `json:"branch,omitempty"` // if set, the device must be in this branch
	Pref   string `json:"pref,omitempty"`   // if set, the device must be in this prefecture
	// Reenroll names the one already enrolled device this token may enroll
	// again (new credentials, replacing the old ones). Without it a token
	// only enrolls ids central does not know yet.
	Reenroll  string    `json:"reenroll,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Expires   time.Time `json:"expires"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	UsedBy    string    `json:"used_by,omitempty"` // device id
	Revoked   bool      `json:"revoked,omitempty"`
}

// EnrollTokenRequest is the input to EnrollService.CreateToken.
type EnrollTokenRequest struct {
	Branch string        `json:"branch,omitempty"`
	Pref   string        `json:"pref,omitempty"`
	TTL    time.Duration `json:"ttl,omitempty"` // default 24h, max 30 days
	// Reenroll: the enrolled device id this token may replace (see EnrollToken).
	Reenroll string `json:"reenroll,omitempty"`
}

// EnrollRequest is the body of POST /api/v1/enroll.
type EnrollRequest struct {
	Token  string `json:"token"`
	Config string `json:"config"` // draft device config TOML
}

// EnrollResponse is the answer to a successful enrollment.
type EnrollResponse struct {
	Config          string `json:"config"`           // final TOML
	Signature       string `json:"signature"`        // detached signature file contents
	ProvisioningKey string `json:"provisioning_key"` // base64 ed25519 public key
}
