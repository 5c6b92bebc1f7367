package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message types, the "type" field of every payload. A receiver checks it so a
// validly signed message of one kind can never be replayed as another.
const (
	TypeSnapshot = "snapshot"
	TypeStatus   = "status"
	TypeEvent    = "event"
	TypeCommand  = "command"
)

// ErrInvalid is wrapped by every validation error that is not a limit.
var ErrInvalid = errors.New("invalid message")

// Priorities. Higher is more urgent; an alert at or above PriorityUrgent
// interrupts the campaign rotation at once.
const (
	PriorityMin    = 1
	PriorityInfo   = 10
	PriorityUrgent = 50
	PriorityMax    = 100
)

// Snapshot is everything one scope should show now. Central publishes it
// retained on StateTopic(Scope); cancelling an alert is publishing a snapshot
// without it.
type Snapshot struct {
	Type     string         `json:"type"` // TypeSnapshot
	Scope    Scope          `json:"scope"`
	Seq      uint64         `json:"seq"`     // per scope, strictly increasing
	Issued   time.Time      `json:"issued"`  // central's clock when signed
	Expires  time.Time      `json:"expires"` // after this the snapshot is void
	Alerts   []Alert        `json:"alerts"`
	Campaign []CampaignItem `json:"campaign"`
}

// Text is one language's version of an alert or slide. Lang is a BCP 47
// primary tag such as "ja", "en", "zh", "ko", "vi", "pt".
type Text struct {
	Lang        string `json:"lang"`
	Headline    string `json:"headline"`
	Body        string `json:"body,omitempty"`
	Instruction string `json:"instruction,omitempty"`
}

// Link is an optional QR code target shown with a label.
type Link struct {
	URL   string `json:"url"`
	Label string `json:"label"`
}

// Alert is an urgent warning (for example a wave of spoofed police calls).
type Alert struct {
	ID        string    `json:"id"`
	Version   int       `json:"version"`
	Priority  int       `json:"priority"`
	Issuer    string    `json:"issuer"` // issuing authority shown on screen
	Texts     []Text    `json:"texts"`  // first is the primary language (ja)
	QR        *Link     `json:"qr,omitempty"`
	Effective time.Time `json:"effective"`
	Expires   time.Time `json:"expires"`
}

// ContentRef names a blob (an image) that agents fetch from central by its
// SHA-256 and verify against that hash.
type ContentRef struct {
	SHA256    string `json:"sha256"` // lower-case hex
	Size      int64  `json:"size"`
	MediaType string `json:"type"` // image/png or image/jpeg
}

// CampaignItem is one slide of the standing campaign rotation.
type CampaignItem struct {
	ID          string       `json:"id"`
	Version     int          `json:"version"`
	DurationSec int          `json:"duration_sec"`
	Texts       []Text       `json:"texts"`
	Images      []ContentRef `json:"images,omitempty"`
	Effective   time.Time    `json:"effective"`
	Expires     time.Time    `json:"expires"`
}

// Status is a device's retained status. The Last Will publishes State
// "offline"; the agent publishes "online" on connect and as a heartbeat.
type Status struct {
	Type         string            `json:"type"` // TypeStatus
	Device       string            `json:"device"`
	State        string            `json:"state"` // StateOnline or StateOffline
	Time         time.Time         `json:"time"`
	AgentVersion string            `json:"agent_version,omitempty"`
	Branch       string            `json:"branch,omitempty"`
	Pref         string            `json:"pref,omitempty"`
	UptimeSec    int64             `json:"uptime_sec,omitempty"`
	Screen       string            `json:"screen,omitempty"` // e.g. "alert:a-0110", "campaign:stop-phone", "standing"
	FrameHash    string            `json:"frame_hash,omitempty"`
	Seqs         map[string]uint64 `json:"seqs,omitempty"` // last accepted seq per scope
	CacheBlobs   int               `json:"cache_blobs,omitempty"`
	CacheBytes   int64             `json:"cache_bytes,omitempty"`
	ClockSkewSec int64             `json:"clock_skew_sec,omitempty"`
}

const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Event kinds.
const (
	EventReceived  = "received"  // a snapshot was verified and stored
	EventDisplayed = "displayed" // a screen was put on the display
	EventRejected  = "rejected"  // a message was refused; Reason says why
)

// Event is something a device reports on EventTopic.
type Event struct {
	Type      string    `json:"type"` // TypeEvent
	Device    string    `json:"device"`
	Kind      string    `json:"kind"`
	Time      time.Time `json:"time"`
	Scope     string    `json:"scope,omitempty"`
	Seq       uint64    `json:"seq,omitempty"`
	AlertID   string    `json:"alert_id,omitempty"`
	ItemID    string    `json:"item_id,omitempty"`
	Screen    string    `json:"screen,omitempty"`
	FrameHash string    `json:"frame_hash,omitempty"`
	Reason    string    `json:"reason,omitempty"` // one of the Reason* codes
	Detail    string    `json:"detail,omitempty"` // human-readable
}

// Command names.
const (
	CmdIdentify   = "identify"
	CmdScreenshot = "screenshot"
	CmdReload     = "reload"
)

// MaxCommandLifetime bounds Expires-Issued of a command, so a captured
// command cannot be replayed later than this after it was signed.
const MaxCommandLifetime = 10 * time.Minute

// Command is a signed instruction to one device on CmdTopic.
type Command struct {
	Type    string            `json:"type"` // TypeCommand
	ID      string            `json:"id"`   // unique; receivers remember it until Expires
	Device  string            `json:"device"`
	Name    string            `json:"name"`
	Args    map[string]string `json:"args,omitempty"`
	Issued  time.Time         `json:"issued"`
	Expires time.Time         `json:"expires"`
}

// decodeStrict parses a payload into v. Unknown fields are refused: a signed
// payload that carries fields this version does not understand was made for
// a newer protocol, and guessing is worse than refusing.
func decodeStrict(payload []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: decode %s: %v", ErrInvalid, what, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: decode %s: trailing data", ErrInvalid, what)
	}
	return nil
}

// DecodeSnapshot parses and validates a snapshot payload returned by Open.
func DecodeSnapshot(payload []byte) (*Snapshot, error) {
	var s Snapshot
	if err := decodeStrict(payload, &s, "snapshot"); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeCommand parses and validates a command payload returned by Open.
func DecodeCommand(payload []byte) (*Command, error) {
	var c Command
	if err := decodeStrict(payload, &c, "command"); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// DecodeStatus parses and validates a status payload (unsigned; from a device).
func DecodeStatus(payload []byte) (*Status, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, &LimitError{Limit: "status bytes", Max: MaxPayloadBytes, Got: len(payload)}
	}
	var s Status
	if err := decodeStrict(payload, &s, "status"); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeEvent parses and validates an event payload (unsigned; from a device).
func DecodeEvent(payload []byte) (*Event, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, &LimitError{Limit: "event bytes", Max: MaxPayloadBytes, Got: len(payload)}
	}
	var e Event
	if err := decodeStrict(payload, &e, "event"); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Validate checks a snapshot's form and limits (not its expiry against a clock).
func (s *Snapshot) Validate() error {
	if s.Type != TypeSnapshot {
		return invalid("type is %q, want %q", truncate(s.Type, 32), TypeSnapshot)
	}
	if err := s.Scope.Validate(); err != nil {
		return fmt.Errorf("%w: scope: %v", ErrInvalid, err)
	}
	if s.Seq == 0 {
		return invalid("seq is 0 (seqs start at 1)")
	}
	if s.Issued.IsZero() || s.Expires.IsZero() {
		return invalid("issued and expires are required")
	}
	if !s.Expires.After(s.Issued) {
		return invalid("expires %s is not after issued %s", s.Expires.Format(time.RFC3339), s.Issued.Format(time.RFC3339))
	}
	if len(s.Alerts) > MaxAlerts {
		return &LimitError{Limit: "alerts", Max: MaxAlerts, Got: len(s.Alerts)}
	}
	if len(s.Campaign) > MaxCampaignItems {
		return &LimitError{Limit: "campaign items", Max: MaxCampaignItems, Got: len(s.Campaign)}
	}
	seen := map[string]bool{}
	for i := range s.Alerts {
		a := &s.Alerts[i]
		if err := a.Validate(); err != nil {
			return fmt.Errorf("alert %d: %w", i, err)
		}
		if seen["a:"+a.ID] {
			return invalid("alert id %q appears twice", a.ID)
		}
		seen["a:"+a.ID] = true
	}
	for i := range s.Campaign {
		c := &s.Campaign[i]
		if err := c.Validate(); err != nil {
			return fmt.Errorf("campaign item %d: %w", i, err)
		}
		if seen["c:"+c.ID] {
			return invalid("campaign item id %q appears twice", c.ID)
		}
		seen["c:"+c.ID] = true
	}
	return nil
}

// Validate checks an alert's form and limits.
func (a *Alert) Validate() error {
	if err := ValidID(a.ID); err != nil {
		return fmt.Errorf("%w: id: %v", ErrInvalid, err)
	}
	if a.Version < 1 {
		return invalid("alert %s: version %d < 1", a.ID, a.Version)
	}
	if a.Priority < PriorityMin || a.Priority > PriorityMax {
		return invalid("alert %s: priority %d not in %d..%d", a.ID, a.Priority, PriorityMin, PriorityMax)
	}
	if err := checkRunes("alert "+a.ID+" issuer", a.Issuer, MaxLabelRunes, false); err != nil {
		return err
	}
	if err := validateTexts("alert "+a.ID, a.Texts); err != nil {
		return err
	}
	if a.QR != nil {
		if err := a.QR.Validate(); err != nil {
			return fmt.Errorf("alert %s: qr: %w", a.ID, err)
		}
	}
	return validateWindow("alert "+a.ID, a.Effective, a.Expires)
}

// Validate checks a campaign item's form and limits.
func (c *CampaignItem) Validate() error {
	if err := ValidID(c.ID); err != nil {
		return fmt.Errorf("%w: id: %v", ErrInvalid, err)
	}
	if c.Version < 1 {
		return invalid("item %s: version %d < 1", c.ID, c.Version)
	}
	if c.DurationSec < 1 || c.DurationSec > MaxDurationSec {
		return invalid("item %s: duration_sec %d not in 1..%d", c.ID, c.DurationSec, MaxDurationSec)
	}
	if err := validateTexts("item "+c.ID, c.Texts); err != nil {
		return err
	}
	if len(c.Images) > MaxImages {
		return &LimitError{Limit: "item " + c.ID + " images", Max: MaxImages, Got: len(c.Images)}
	}
	for i, r := range c.Images {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("item %s: image %d: %w", c.ID, i, err)
		}
	}
	return validateWindow("item "+c.ID, c.Effective, c.Expires)
}

// Validate checks a content reference.
func (r ContentRef) Validate() error {
	if len(r.SHA256) != 64 || strings.ToLower(r.SHA256) != r.SHA256 {
		return invalid("sha256 %q is not 64 lower-case hex digits", truncate(r.SHA256, 80))
	}
	if _, err := hex.DecodeString(r.SHA256); err != nil {
		return invalid("sha256 %q is not hex", truncate(r.SHA256, 80))
	}
	if r.Size < 1 || r.Size > MaxBlobBytes {
		if r.Size > MaxBlobBytes {
			return &LimitError{Limit: "blob bytes", Max: MaxBlobBytes, Got: int(r.Size)}
		}
		return invalid("size %d < 1", r.Size)
	}
	switch r.MediaType {
	case "image/png", "image/jpeg":
	default:
		return invalid("media type %q is not image/png or image/jpeg", truncate(r.MediaType, 40))
	}
	return nil
}

// Validate checks a QR link: https only (or http for a lab), no credentials.
func (l *Link) Validate() error {
	if len(l.URL) > MaxURLBytes {
		return &LimitError{Limit: "qr url bytes", Max: MaxURLBytes, Got: len(l.URL)}
	}
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return invalid("qr url %q is not an http(s) URL with a host", truncate(l.URL, 80))
	}
	return checkRunes("qr label", l.Label, MaxLabelRunes, true)
}

func validateTexts(what string, texts []Text) error {
	if len(texts) == 0 {
		return invalid("%s: no texts", what)
	}
	if len(texts) > MaxLanguages {
		return &LimitError{Limit: what + " languages", Max: MaxLanguages, Got: len(texts)}
	}
	langs := map[string]bool{}
	for _, t := range texts {
		if !validLang(t.Lang) {
			return invalid("%s: language %q is not a 2-3 letter lower-case code", what, truncate(t.Lang, 16))
		}
		if langs[t.Lang] {
			return invalid("%s: language %s appears twice", what, t.Lang)
		}
		langs[t.Lang] = true
		p := what + " (" + t.Lang + ") "
		if err := checkRunes(p+"headline", t.Headline, MaxHeadlineRunes, true); err != nil {
			return err
		}
		if err := checkRunes(p+"body", t.Body, MaxBodyRunes, false); err != nil {
			return err
		}
		if err := checkRunes(p+"instruction", t.Instruction, MaxInstrRunes, false); err != nil {
			return err
		}
	}
	return nil
}

func validLang(l string) bool {
	if len(l) < 2 || len(l) > 3 {
		return false
	}
	for i := 0; i < len(l); i++ {
		if l[i] < 'a' || l[i] > 'z' {
			return false
		}
	}
	return true
}

// checkRunes rejects invalid UTF-8, control, format and private-use
// characters (newline is allowed) and text beyond max runes.
func checkRunes(what, s string, max int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return invalid("%s is empty", what)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", what)
	}
	n := 0
	for _, r := range s {
		n++
		if r != '\n' && (unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) || r == 0x2028 || r == 0x2029) {
			// Invisible format characters (zero-width space, soft hyphen,
			// bidi overrides) can split a phone number or a domain so that
			// central's allow-list does not see it while the screen does.
			return invalid("%s has invisible or control character U+%04X", what, r)
		}
	}
	if n > max {
		return &LimitError{Limit: what + " runes", Max: max, Got: n}
	}
	return nil
}

func validateWindow(what string, eff, exp time.Time) error {
	if exp.IsZero() {
		return invalid("%s: expires is required", what)
	}
	if !eff.IsZero() && !exp.After(eff) {
		return invalid("%s: expires %s is not after effective %s", what, exp.Format(time.RFC3339), eff.Format(time.RFC3339))
	}
	return nil
}

// Validate checks a status.
func (s *Status) Validate() error {
	if s.Type != TypeStatus {
		return invalid("type is %q, want %q", truncate(s.Type, 32), TypeStatus)
	}
	if err := ValidID(s.Device); err != nil {
		return fmt.Errorf("%w: device: %v", ErrInvalid, err)
	}
	if s.State != StateOnline && s.State != StateOffline {
		return invalid("state %q is not online or offline", truncate(s.State, 32))
	}
	if len(s.Seqs) > 8 {
		return &LimitError{Limit: "status seqs", Max: 8, Got: len(s.Seqs)}
	}
	for _, f := range []struct{ n, v string }{{"agent_version", s.AgentVersion}, {"screen", s.Screen}, {"frame_hash", s.FrameHash}} {
		if err := checkRunes("status "+f.n, f.v, MaxLabelRunes*2, false); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks an event.
func (e *Event) Validate() error {
	if e.Type != TypeEvent {
		return invalid("type is %q, want %q", truncate(e.Type, 32), TypeEvent)
	}
	if err := ValidID(e.Device); err != nil {
		return fmt.Errorf("%w: device: %v", ErrInvalid, err)
	}
	switch e.Kind {
	case EventReceived, EventDisplayed, EventRejected:
	default:
		return invalid("event kind %q is not received, displayed or rejected", truncate(e.Kind, 32))
	}
	for _, id := range []string{e.AlertID, e.ItemID} {
		if id != "" {
			if err := ValidID(id); err != nil {
				return fmt.Errorf("%w: event id: %v", ErrInvalid, err)
			}
		}
	}
	for _, f := range []struct {
		n, v string
		max  int
	}{{"scope", e.Scope, 80}, {"screen", e.Screen, MaxLabelRunes * 2}, {"frame_hash", e.FrameHash, 128}, {"reason", e.Reason, 64}, {"detail", e.Detail, MaxReasonRunes}} {
		if err := checkRunes("event "+f.n, f.v, f.max, false); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks a command's form and that its lifetime is bounded.
func (c *Command) Validate() error {
	if c.Type != TypeCommand {
		return invalid("type is %q, want %q", truncate(c.Type, 32), TypeCommand)
	}
	if err := ValidID(c.ID); err != nil {
		return fmt.Errorf("%w: command id: %v", ErrInvalid, err)
	}
	if err := ValidID(c.Device); err != nil {
		return fmt.Errorf("%w: command device: %v", ErrInvalid, err)
	}
	switch c.Name {
	case CmdIdentify, CmdScreenshot, CmdReload:
	default:
		return invalid("command %q is not identify, screenshot or reload", truncate(c.Name, 32))
	}
	if len(c.Args) > 8 {
		return &LimitError{Limit: "command args", Max: 8, Got: len(c.Args)}
	}
	for k, v := range c.Args {
		if err := checkRunes("command arg "+truncate(k, 32), k+v, MaxURLBytes, false); err != nil {
			return err
		}
	}
	if c.Issued.IsZero() || !c.Expires.After(c.Issued) {
		return invalid("command %s: expires must be after issued", c.ID)
	}
	if c.Expires.Sub(c.Issued) > MaxCommandLifetime {
		return invalid("command %s: lifetime %s exceeds %s", c.ID, c.Expires.Sub(c.Issued), MaxCommandLifetime)
	}
	return nil
}
