package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// TopicPrefix starts every topic of protocol version 1.
const TopicPrefix = "kiosk/v1/"

// ErrTopic is wrapped by every topic, scope and id error.
var ErrTopic = errors.New("bad topic")

// ScopeKind is the kind of a target scope.
type ScopeKind string

const (
	ScopeAll    ScopeKind = "all"
	ScopePref   ScopeKind = "pref"
	ScopeBranch ScopeKind = "branch"
	ScopeDevice ScopeKind = "device"
)

// Scope is one target of a snapshot: all displays, a prefecture (JIS code
// 01..47), a branch, or one device.
type Scope struct {
	Kind ScopeKind
	ID   string // empty for ScopeAll
}

// All is the scope every display subscribes to.
var All = Scope{Kind: ScopeAll}

// PrefScope, BranchScope and DeviceScope build validated scopes.
func PrefScope(code string) (Scope, error) { return newScope(ScopePref, code) }
func BranchScope(id string) (Scope, error) { return newScope(ScopeBranch, id) }
func DeviceScope(id string) (Scope, error) { return newScope(ScopeDevice, id) }
func newScope(k ScopeKind, id string) (Scope, error) {
	s := Scope{Kind: k, ID: id}
	return s, s.Validate()
}

// String is the scope as it appears in topics and snapshots: "all",
// "pref/13", "branch/tokyo-001", "device/atm-13-0001".
func (s Scope) String() string {
	if s.Kind == ScopeAll {
		return "all"
	}
	return string(s.Kind) + "/" + s.ID
}

// MarshalText and UnmarshalText make a Scope a JSON string.
func (s Scope) MarshalText() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return []byte(s.String()), nil
}

func (s *Scope) UnmarshalText(b []byte) error {
	p, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// Validate checks the kind and id.
func (s Scope) Validate() error {
	switch s.Kind {
	case ScopeAll:
		if s.ID != "" {
			return fmt.Errorf("%w: scope all takes no id", ErrTopic)
		}
		return nil
	case ScopePref:
		return ValidPref(s.ID)
	case ScopeBranch, ScopeDevice:
		if err := ValidID(s.ID); err != nil {
			return fmt.Errorf("%s scope: %w", s.Kind, err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown scope kind %q", ErrTopic, truncate(string(s.Kind), 32))
}

// ParseScope parses the String form of a scope.
func ParseScope(str string) (Scope, error) {
	if str == "all" {
		return All, nil
	}
	kind, id, ok := strings.Cut(str, "/")
	if !ok {
		return Scope{}, fmt.Errorf("%w: scope %q is not all, pref/NN, branch/ID or device/ID", ErrTopic, truncate(str, 64))
	}
	s := Scope{Kind: ScopeKind(kind), ID: id}
	if s.Kind == ScopeAll {
		return Scope{}, fmt.Errorf("%w: scope all takes no id", ErrTopic)
	}
	return s, s.Validate()
}

// ValidID checks a device, branch, alert or item id: 1..64 bytes of ASCII
// letters, digits, '_' and '-', starting with a letter or digit. This rules
// out MQTT wildcards ('+', '#'), level separators ('/'), NUL and anything
// non-ASCII, so an id can never widen or redirect a topic. '.' is refused
// too: MQTT bridges that map topics onto subjects (nats-server 2.9, the
// cluster engine Debian ships) treat it as a separator and refuse it.
func ValidID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty id", ErrTopic)
	}
	if len(id) > MaxIDBytes {
		return fmt.Errorf("%w: id is %d bytes, max %d", ErrTopic, len(id), MaxIDBytes)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: id %q has %q at byte %d (allowed: A-Z a-z 0-9, and _ - after the first)", ErrTopic, truncate(id, 64), c, i)
		}
	}
	return nil
}

// ValidPref checks a JIS X 0401 prefecture code: two digits, 01..47.
func ValidPref(code string) error {
	n, err := strconv.Atoi(code)
	if len(code) != 2 || err != nil || n < 1 || n > 47 {
		return fmt.Errorf("%w: prefecture %q is not a JIS code 01..47", ErrTopic, truncate(code, 16))
	}
	return nil
}

// TopicKind says what a topic carries.
type TopicKind string

const (
	TopicState  TopicKind = "state"  // retained signed snapshot, central -> agents
	TopicStatus TopicKind = "status" // retained device status; the Last Will says offline
	TopicEvent  TopicKind = "event"  // device events
	TopicCmd    TopicKind = "cmd"    // signed commands, central -> one device
)

// Topic is a parsed kiosk/v1 topic.
type Topic struct {
	Kind   TopicKind
	Scope  Scope  // TopicState only
	Device string // TopicStatus, TopicEvent, TopicCmd
}

// StateTopic is kiosk/v1/state/<scope>.
func StateTopic(s Scope) string { return TopicPrefix + "state/" + s.String() }

// StatusTopic, EventTopic and CmdTopic are kiosk/v1/device/<id>/<kind>.
// The id must already be valid (ValidID); they do not check it.
func StatusTopic(device string) string { return TopicPrefix + "device/" + device + "/status" }
func EventTopic(device string) string  { return TopicPrefix + "device/" + device + "/event" }
func CmdTopic(device string) string    { return TopicPrefix + "device/" + device + "/cmd" }

// Subscription filters central uses for the whole fleet.
const (
	AllStatusFilter = TopicPrefix + "device/+/status"
	AllEventFilter  = TopicPrefix + "device/+/event"
)

// String builds the topic string.
func (t Topic) String() string {
	if t.Kind == TopicState {
		return StateTopic(t.Scope)
	}
	return TopicPrefix + "device/" + t.Device + "/" + string(t.Kind)
}

// ParseTopic parses and validates a kiosk/v1 topic.
func ParseTopic(topic string) (Topic, error) {
	rest, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok {
		return Topic{}, fmt.Errorf("%w: %q does not start with %s", ErrTopic, truncate(topic, 64), TopicPrefix)
	}
	if s, ok := strings.CutPrefix(rest, "state/"); ok {
		sc, err := ParseScope(s)
		if err != nil {
			return Topic{}, err
		}
		return Topic{Kind: TopicState, Scope: sc}, nil
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] != "device" {
		return Topic{}, fmt.Errorf("%w: %q is neither state/<scope> nor device/<id>/<kind>", ErrTopic, truncate(topic, 64))
	}
	if err := ValidID(parts[1]); err != nil {
		return Topic{}, fmt.Errorf("device topic: %w", err)
	}
	k := TopicKind(parts[2])
	switch k {
	case TopicStatus, TopicEvent, TopicCmd:
	default:
		return Topic{}, fmt.Errorf("%w: unknown device topic kind %q", ErrTopic, truncate(parts[2], 32))
	}
	return Topic{Kind: k, Device: parts[1]}, nil
}

// DeviceScopes are the four scopes a device subscribes to, in merge order
// (widest first).
func DeviceScopes(device, branch, pref string) ([]Scope, error) {
	d, err := DeviceScope(device)
	if err != nil {
		return nil, err
	}
	b, err := BranchScope(branch)
	if err != nil {
		return nil, err
	}
	p, err := PrefScope(pref)
	if err != nil {
		return nil, err
	}
	return []Scope{All, p, b, d}, nil
}
