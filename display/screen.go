package display

import "github.com/atmguard/kiosk/internal/wire"

// Kind is which screen template to use.
type Kind string

const (
	KindAlert       Kind = "alert"       // urgent alert: red band, headline, body, instruction, QR, issuer
	KindCampaign    Kind = "campaign"    // campaign slide: text and images
	KindStanding    Kind = "standing"    // built-in standing warning (nothing else available)
	KindPhone       Kind = "phone"       // phone-detected interrupt: "Hang up!"
	KindIdentify    Kind = "identify"    // field-tech identify screen
	KindMaintenance Kind = "maintenance" // maintenance screen
)

// Screen is what the agent wants shown now. It is the contract between the
// agent core (which decides) and this package (which draws): plain data, so
// the agent never needs a renderer and the renderer never needs the agent.
type Screen struct {
	Kind Kind `json:"kind"`
	// Lang is the language to show now; the agent rotates it through the
	// languages the alert or item carries. Empty means the first text.
	Lang string `json:"lang,omitempty"`

	Alert *wire.Alert        `json:"alert,omitempty"` // KindAlert
	Item  *wire.CampaignItem `json:"item,omitempty"`  // KindCampaign
	// Images holds the verified bytes of Item.Images by sha256 (the agent
	// fills it from its cache; a missing image is drawn as text only).
	Images map[string][]byte `json:"-"`

	Identify *IdentifyInfo `json:"identify,omitempty"` // KindIdentify
	// Message is the text of a phone or maintenance screen; empty means the
	// built-in text.
	Message string `json:"message,omitempty"`
}

// IdentifyInfo is what a field tech needs to see on the identify screen.
type IdentifyInfo struct {
	DeviceID     string `json:"device_id"`
	Branch       string `json:"branch"`
	Pref         string `json:"pref"`
	AgentVersion string `json:"agent_version"`
	Network      string `json:"network"` // e.g. "broker connected", "offline since 09:12"
	URL          string `json:"url"`     // encoded in the QR (central's device page)
}

// ID is a short name of the screen for status and events, e.g.
// "alert:a-0110", "campaign:stop-phone", "standing".
func (s Screen) ID() string {
	switch {
	case s.Kind == KindAlert && s.Alert != nil:
		return "alert:" + s.Alert.ID
	case s.Kind == KindCampaign && s.Item != nil:
		return "campaign:" + s.Item.ID
	}
	return string(s.Kind)
}
