package central

import (
	"context"
	"io"

	"github.com/atmguard/kiosk/internal/wire"
)

// AlertService is the alert lifecycle. Every mutating method checks the
// actor's permission, writes the audit log and, when what is live changes,
// re-signs and publishes the affected scope snapshots before returning: a nil
// error means the change is stored and the broker has acknowledged the
// retained snapshots.
type AlertService interface {
	// CreateDraft validates (form, content guard, fit) and stores a new draft.
	CreateDraft(ctx context.Context, actor Actor, in AlertInput) (*Alert, error)
	// Update replaces a draft's content; version must be the current one
	// (ErrConflict otherwise). Only drafts can be edited.
	Update(ctx context.Context, actor Actor, id string, version int, in AlertInput) (*Alert, error)
	// SubmitForApproval moves a draft to pending.
	SubmitForApproval(ctx context.Context, actor Actor, id string, version int) (*Alert, error)
	// Approve publishes a pending alert. The actor must have the approver
	// role and must not be its creator or submitter (ErrTwoPersonRule).
	Approve(ctx context.Context, actor Actor, id string, version int) (*Alert, error)
	// Reject sends a pending alert back to draft with a reason.
	Reject(ctx context.Context, actor Actor, id string, version int, reason string) (*Alert, error)
	// Publish publishes a draft whose target needs no approval (branches,
	// devices); wide targets return ErrTwoPersonRule.
	Publish(ctx context.Context, actor Actor, id string, version int) (*Alert, error)
	// Cancel withdraws a published alert (or abandons a draft or pending one).
	Cancel(ctx context.Context, actor Actor, id, reason string) (*Alert, error)
	Get(ctx context.Context, actor Actor, id string) (*Alert, error)
	List(ctx context.Context, actor Actor, f AlertFilter) (*AlertPage, error)
	// Preview renders the screen as a PNG with the display renderer.
	Preview(ctx context.Context, actor Actor, req PreviewRequest) ([]byte, error)
	// Check validates an unsaved input (form, content guard, fit) and returns
	// every problem found, for live feedback while typing.
	Check(ctx context.Context, actor Actor, in AlertInput) []error
	// TargetCount is how many known devices a target reaches.
	TargetCount(ctx context.Context, actor Actor, t Target) (*TargetCount, error)
}

// CampaignService manages the standing campaign slides. Same lifecycle and
// two-person rule as alerts.
type CampaignService interface {
	CreateItem(ctx context.Context, actor Actor, in CampaignInput) (*CampaignItem, error)
	UpdateItem(ctx context.Context, actor Actor, id string, version int, in CampaignInput) (*CampaignItem, error)
	SubmitItem(ctx context.Context, actor Actor, id string, version int) (*CampaignItem, error)
	ApproveItem(ctx context.Context, actor Actor, id string, version int) (*CampaignItem, error)
	RejectItem(ctx context.Context, actor Actor, id string, version int, reason string) (*CampaignItem, error)
	PublishItem(ctx context.Context, actor Actor, id string, version int) (*CampaignItem, error)
	CancelItem(ctx context.Context, actor Actor, id, reason string) (*CampaignItem, error)
	GetItem(ctx context.Context, actor Actor, id string) (*CampaignItem, error)
	// ListItems lists items in rotation order.
	ListItems(ctx context.Context, actor Actor) ([]CampaignItem, error)
	// Reorder sets the rotation order to ids (every live or draft item once).
	Reorder(ctx context.Context, actor Actor, ids []string) ([]CampaignItem, error)
	// UploadImage stores a PNG or JPEG (type sniffed and checked, at most
	// wire.MaxBlobBytes) and returns the reference to put in Images.
	UploadImage(ctx context.Context, actor Actor, data []byte) (wire.ContentRef, error)
}

// GuardService is the content guard's allow-list.
type GuardService interface {
	AllowList(ctx context.Context, actor Actor) (AllowList, error)
	SetAllowList(ctx context.Context, actor Actor, l AllowList) (AllowList, error)
}

// DeviceService is the fleet registry.
type DeviceService interface {
	Fleet(ctx context.Context, actor Actor, q FleetQuery) (*FleetSummary, error)
	List(ctx context.Context, actor Actor, q DeviceQuery) (*DevicePage, error)
	Get(ctx context.Context, actor Actor, id string) (*Device, error)
	// SendCommand signs a wire.Command and publishes it on the device's cmd topic.
	SendCommand(ctx context.Context, actor Actor, id, name string) (*wire.Command, error)
	// Screenshot is the last screenshot the device uploaded (ErrNotFound if none).
	Screenshot(ctx context.Context, actor Actor, id string) (*Screenshot, error)
}

// DeliveryService tracks what reached the displays and streams changes.
type DeliveryService interface {
	Stats(ctx context.Context, actor Actor, alertID string) (*DeliveryStats, error)
	// Subscribe streams fleet, device, delivery, alert and audit changes
	// until ctx is done; the channel is then closed.
	Subscribe(ctx context.Context) <-chan Change
}

// UserService is accounts and sessions (implemented by central/auth).
type UserService interface {
	// Login checks a password and returns a new session. Failures are rate
	// limited per name and remote address (ErrRateLimited).
	Login(ctx context.Context, name, password, remote string) (*Session, error)
	Logout(ctx context.Context, token string) error
	// Authenticate resolves a session token to its actor (ErrUnauthorized).
	Authenticate(ctx context.Context, token string) (Actor, error)
	ChangePassword(ctx context.Context, actor Actor, oldPassword, newPassword string) error
	CreateUser(ctx context.Context, actor Actor, u NewUser) (*User, error)
	UpdateUser(ctx context.Context, actor Actor, id string, u UserUpdate) (*User, error)
	ResetPassword(ctx context.Context, actor Actor, id, newPassword string) error
	GetUser(ctx context.Context, actor Actor, id string) (*User, error)
	ListUsers(ctx context.Context, actor Actor) ([]User, error)
}

// AuditService reads and checks the audit log. Writing happens inside the
// services through Auditor.
type AuditService interface {
	List(ctx context.Context, actor Actor, f AuditFilter) ([]AuditEntry, error)
	// Export writes the whole chain as JSON lines, oldest first.
	Export(ctx context.Context, actor Actor, w io.Writer) error
	Verify(ctx context.Context, actor Actor) (*AuditVerify, error)
}

// Auditor appends to the audit log. detail is marshalled to JSON.
type Auditor interface {
	Record(ctx context.Context, actor Actor, action, object string, detail any) error
}

// EnrollService creates one-time enrollment tokens and enrolls devices.
type EnrollService interface {
	// CreateToken returns the secret token (shown once) and its record.
	CreateToken(ctx context.Context, actor Actor, req EnrollTokenRequest) (string, *EnrollToken, error)
	ListTokens(ctx context.Context, actor Actor) ([]EnrollToken, error)
	RevokeToken(ctx context.Context, actor Actor, id string) error
	// Enroll is called by a field tool with a token, not by a user.
	Enroll(ctx context.Context, req EnrollRequest, remote string) (*EnrollResponse, error)
}
