package central

import "time"

// Role is what a user may do. A user has exactly one role.
type Role string

const (
	RoleAdmin     Role = "admin"     // users, allow-list, audit, and everything a publisher does
	RolePublisher Role = "publisher" // compose, submit, publish narrow targets, cancel
	RoleApprover  Role = "approver"  // approve or reject what another user submitted
	RoleViewer    Role = "viewer"    // read only
	RoleFieldTech Role = "fieldtech" // fleet, device commands, enrollment tokens
)

// Roles lists every role, for validation and UIs.
var Roles = []Role{RoleAdmin, RolePublisher, RoleApprover, RoleViewer, RoleFieldTech}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Permission is one class of action checked by the services.
type Permission string

const (
	PermViewContent   Permission = "content.view"    // list/get alerts and campaign, previews, delivery
	PermEditContent   Permission = "content.edit"    // create, update, submit for approval
	PermPublish       Permission = "content.publish" // publish narrow targets
	PermCancel        Permission = "content.cancel"  // withdraw published content
	PermApprove       Permission = "content.approve" // approve or reject someone else's submission
	PermViewFleet     Permission = "fleet.view"
	PermDeviceCommand Permission = "fleet.command" // identify, screenshot, reload
	PermEnroll        Permission = "fleet.enroll"  // create and revoke enrollment tokens
	PermManageUsers   Permission = "users.manage"
	PermViewAudit     Permission = "audit.view"   // list, verify
	PermExportAudit   Permission = "audit.export" // export the whole chain
	PermManageGuard   Permission = "guard.manage" // edit the content allow-list
)

var rolePerms = map[Role][]Permission{
	RoleAdmin: {PermViewContent, PermEditContent, PermPublish, PermCancel, PermViewFleet, PermDeviceCommand,
		PermEnroll, PermManageUsers, PermViewAudit, PermExportAudit, PermManageGuard},
	RolePublisher: {PermViewContent, PermEditContent, PermPublish, PermCancel, PermViewFleet},
	RoleApprover:  {PermViewContent, PermApprove, PermCancel, PermViewFleet, PermViewAudit},
	RoleViewer:    {PermViewContent, PermViewFleet},
	RoleFieldTech: {PermViewFleet, PermDeviceCommand, PermEnroll},
}

// Can reports whether role r grants p.
func (r Role) Can(p Permission) bool {
	for _, x := range rolePerms[r] {
		if x == p {
			return true
		}
	}
	return false
}

// Actor is who performs an action: an authenticated user, or the system
// itself (re-issuer, expiry, device ingest) with Role "" and UserID "system".
type Actor struct {
	UserID string `json:"user_id"`
	Name   string `json:"name,omitempty"`
	Role   Role   `json:"role"`
	Remote string `json:"remote,omitempty"` // client address, for the audit log
}

// System is the actor for actions central takes on its own.
var System = Actor{UserID: "system", Name: "central"}

// IsSystem reports whether a is central itself.
func (a Actor) IsSystem() bool { return a.UserID == System.UserID && a.Role == "" }

// Can reports whether the actor may do p. The system actor may do anything.
func (a Actor) Can(p Permission) bool { return a.IsSystem() || a.Role.Can(p) }

// User is an account of the console. Password hashes never leave the store
// and auth packages.
type User struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"` // login name
	DisplayName        string    `json:"display_name,omitempty"`
	Role               Role      `json:"role"`
	Disabled           bool      `json:"disabled,omitempty"`
	MustChangePassword bool      `json:"must_change_password,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	LastLogin          time.Time `json:"last_login,omitzero"`
}

// Actor returns the actor for u.
func (u *User) Actor() Actor { return Actor{UserID: u.ID, Name: u.Name, Role: u.Role} }

// Session is an authenticated console session.
type Session struct {
	Token   string    `json:"token"` // secret; shown to the client once
	User    User      `json:"user"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// NewUser is the input to UserService.CreateUser.
type NewUser struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	Role        Role   `json:"role"`
	Password    string `json:"password"` // initial password; the user must change it
}

// UserUpdate changes a user; nil fields are left alone.
type UserUpdate struct {
	DisplayName *string `json:"display_name,omitempty"`
	Role        *Role   `json:"role,omitempty"`
	Disabled    *bool   `json:"disabled,omitempty"`
}
