package wire

import (
	"errors"
	"fmt"
)

// Hard limits. They bound memory and screen space on a display; central
// refuses to publish anything beyond them and agents reject it.
const (
	MaxEnvelopeBytes = 256 << 10 // a whole signed message as received
	MaxPayloadBytes  = 180 << 10 // the signed payload (base64 grows it by 4/3)

	MaxAlerts        = 16  // active alerts in one snapshot
	MaxCampaignItems = 64  // campaign items in one snapshot
	MaxLanguages     = 8   // texts per alert or campaign item
	MaxImages        = 4   // images per campaign item
	MaxHeadlineRunes = 80  // per language
	MaxBodyRunes     = 400 // per language
	MaxInstrRunes    = 200 // per language
	MaxLabelRunes    = 80  // QR label, issuer
	MaxURLBytes      = 512
	MaxIDBytes       = 64      // device, branch, alert, item ids
	MaxBlobBytes     = 4 << 20 // one content blob (image) fetched by sha256
	MaxReasonRunes   = 300     // free text in events
	MaxDurationSec   = 3600    // one campaign slide
)

// ErrLimit is wrapped by every *LimitError.
var ErrLimit = errors.New("limit exceeded")

// LimitError says which hard limit a message exceeded.
type LimitError struct {
	Limit string // what was counted, e.g. "alerts", "alert a1 headline (en) runes"
	Max   int
	Got   int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit exceeded: %s is %d, max %d", e.Limit, e.Got, e.Max)
}

func (e *LimitError) Unwrap() error { return ErrLimit }
