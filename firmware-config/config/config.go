package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// SchemaVersion is the only config schema version this code reads.
const SchemaVersion = 1

// Defaults. They are chosen so that a config with only the device section
// and what enrollment fills in is complete and safe.
const (
	DefaultTimezone         = "Asia/Tokyo"
	DefaultListen           = "127.0.0.1:8765"
	DefaultWidth            = 1080
	DefaultHeight           = 1920
	DefaultLanguageDwellSec = 8
	DefaultQuietBrightness  = 30
	DefaultQuietMinPriority = 50 // alerts that interrupt the campaign also break through quiet hours
	DefaultCachePath        = "/var/lib/kiosk/cache.db"
	DefaultCacheMaxBytes    = 512 << 20
	DefaultCacheMaxBlobs    = 1024
	DefaultCacheOpenTimeout = 5
)

// Limits on a few values; the validation messages quote them.
const (
	MaxConfigBytes   = 64 << 10
	MinSigningKeys   = 1
	MaxSigningKeys   = 4
	MaxTriggers      = 32
	MaxTriggerSec    = 600
	MaxBrightness    = 24
	MinCacheMaxBytes = 16 << 20
)

// Screen kinds a trigger can show. The agent maps them to scenes.
const (
	ScreenPhone    = "phone"    // full screen: hang up, police and banks never ask you to use an ATM on the phone
	ScreenStanding = "standing" // the standing campaign warning
	ScreenClear    = "clear"    // end any trigger screen now (seconds must be 0)
)

// ScreenKinds lists the valid trigger screen kinds.
var ScreenKinds = []string{ScreenPhone, ScreenStanding, ScreenClear}

// Config is one device's configuration. The zero value is not valid; use
// Default, Parse or Load.
type Config struct {
	Version  int       `toml:"version" json:"version"`
	Device   Device    `toml:"device" json:"device"`
	Broker   Broker    `toml:"broker" json:"broker"`
	Central  Central   `toml:"central" json:"central"`
	Signing  Signing   `toml:"signing" json:"signing"`
	Display  Display   `toml:"display" json:"display"`
	Schedule Schedule  `toml:"schedule" json:"schedule"`
	LocalAPI LocalAPI  `toml:"local_api" json:"local_api"`
	Triggers []Trigger `toml:"trigger" json:"trigger"`
	Cache    Cache     `toml:"cache" json:"cache"`

	// Where the config came from, for error messages: file name and the
	// line of every field path present in the file.
	file  string
	lines map[string]int
	// Compiled by Validate.
	loc *time.Location
}

// Device identifies the display and places it in the scope tree.
type Device struct {
	ID         string `toml:"id" json:"id"`                 // wire.ValidID
	Branch     string `toml:"branch" json:"branch"`         // wire.ValidID
	Prefecture string `toml:"prefecture" json:"prefecture"` // JIS X 0401 code "01".."47"
}

// Broker is how the agent reaches MQTT.
type Broker struct {
	URL string `toml:"url" json:"url"` // tcp://, ssl:// or mqtts://host:port
	// URLs lists the nodes of a broker cluster, tried in order on every
	// connect and reconnect; give either URL or URLs. All use the same TLS
	// settings and credentials.
	URLs              []string `toml:"urls" json:"urls,omitempty"`
	Username          string   `toml:"username" json:"username"`
	Password          string   `toml:"password" json:"-"`
	ClientID          string   `toml:"client_id" json:"client_id"` // default "kiosk-" + device id
	CAFile            string   `toml:"ca_file" json:"ca_file"`     // PEM; empty = system roots
	CertFile          string   `toml:"cert_file" json:"cert_file"` // PEM client certificate (with key_file)
	KeyFile           string   `toml:"key_file" json:"key_file"`
	InsecurePlaintext bool     `toml:"insecure_plaintext" json:"insecure_plaintext"` // allow tcp:// to a non-loopback host
}

// Central is where content and the device API live.
type Central struct {
	ContentURL   string `toml:"content_url" json:"content_url"` // GET {content_url}/content/<sha256>
	APIURL       string `toml:"api_url" json:"api_url"`         // {api_url}/api/v1/..., /healthz
	InsecureHTTP bool   `toml:"insecure_http" json:"insecure_http"`
}

// Signing pins central's snapshot/command signing keys.
type Signing struct {
	Keys []string `toml:"keys" json:"keys"` // base64 ed25519 public keys, 1..4 (two during a rotation)
}

// Display is the screen's geometry and care.
type Display struct {
	Width            int          `toml:"width" json:"width"`
	Height           int          `toml:"height" json:"height"`
	Rotation         int          `toml:"rotation" json:"rotation"` // 0, 90, 180, 270
	Font             string       `toml:"font" json:"font"`         // optional TTF/OTF with Japanese; empty = built-in
	BurnInProtection bool         `toml:"burn_in_protection" json:"burn_in_protection"`
	LanguageDwellSec int          `toml:"language_dwell_sec" json:"language_dwell_sec"`
	Brightness       []Brightness `toml:"brightness" json:"brightness"`
}

// Brightness sets the backlight from a time of day until the next entry.
type Brightness struct {
	At      string `toml:"at" json:"at"`           // "HH:MM" local time
	Percent int    `toml:"percent" json:"percent"` // 1..100 (never 0: the screen must not go blank)
}

// Schedule is when the branch is open and when the display is quiet.
type Schedule struct {
	Timezone         string   `toml:"timezone" json:"timezone"`
	Hours            *Hours   `toml:"hours" json:"hours,omitempty"` // nil = open all day every day
	Quiet            []Window `toml:"quiet" json:"quiet"`
	QuietBrightness  int      `toml:"quiet_brightness" json:"quiet_brightness"`
	QuietMinPriority int      `toml:"quiet_min_priority" json:"quiet_min_priority"`
}

// Hours are the opening hours per weekday, each a list of "HH:MM-HH:MM"
// ranges (end may be 24:00); an empty list means closed all day.
type Hours struct {
	Mon []string `toml:"mon" json:"mon"`
	Tue []string `toml:"tue" json:"tue"`
	Wed []string `toml:"wed" json:"wed"`
	Thu []string `toml:"thu" json:"thu"`
	Fri []string `toml:"fri" json:"fri"`
	Sat []string `toml:"sat" json:"sat"`
	Sun []string `toml:"sun" json:"sun"`
}

// Window is a quiet period; it may cross midnight (from > to). Days, when
// given, are the weekdays on which the window starts.
type Window struct {
	From string   `toml:"from" json:"from"`
	To   string   `toml:"to" json:"to"`
	Days []string `toml:"days" json:"days,omitempty"`
}

// LocalAPI is the agent's loopback trigger API.
type LocalAPI struct {
	Listen string `toml:"listen" json:"listen"` // loopback host:port
}

// Trigger maps a local API event to a screen shown for a while.
type Trigger struct {
	Event   string `toml:"event" json:"event"`
	Screen  string `toml:"screen" json:"screen"`
	Seconds int    `toml:"seconds" json:"seconds"`
}

// Cache is the agent's bbolt cache.
type Cache struct {
	Path           string `toml:"path" json:"path"`
	MaxBytes       int64  `toml:"max_bytes" json:"max_bytes"`               // total blob bytes kept
	MaxBlobs       int    `toml:"max_blobs" json:"max_blobs"`               // blobs kept
	OpenTimeoutSec int    `toml:"open_timeout_sec" json:"open_timeout_sec"` // bbolt file lock wait
}

// Default returns a config with every default filled in and no device,
// broker, central or keys: the starting point for init.
func Default() *Config {
	return &Config{
		Version: SchemaVersion,
		Display: Display{
			Width:            DefaultWidth,
			Height:           DefaultHeight,
			BurnInProtection: true,
			LanguageDwellSec: DefaultLanguageDwellSec,
			Brightness:       DefaultBrightness(),
		},
		Schedule: Schedule{
			Timezone:         DefaultTimezone,
			QuietBrightness:  DefaultQuietBrightness,
			QuietMinPriority: DefaultQuietMinPriority,
		},
		LocalAPI: LocalAPI{Listen: DefaultListen},
		Triggers: DefaultTriggers(),
		Cache: Cache{
			Path:           DefaultCachePath,
			MaxBytes:       DefaultCacheMaxBytes,
			MaxBlobs:       DefaultCacheMaxBlobs,
			OpenTimeoutSec: DefaultCacheOpenTimeout,
		},
	}
}

// DefaultBrightness is full brightness all day.
func DefaultBrightness() []Brightness { return []Brightness{{At: "00:00", Percent: 100}} }

// DefaultTriggers is the "Stop! Don't talk on a cell phone at the ATM"
// campaign made active.
func DefaultTriggers() []Trigger {
	return []Trigger{
		{Event: "phone-detected", Screen: ScreenPhone, Seconds: 20},
		{Event: "transaction-start", Screen: ScreenStanding, Seconds: 60},
		{Event: "transaction-end", Screen: ScreenClear, Seconds: 0},
	}
}

// File is the name the config was parsed from ("" if built in code).
func (c *Config) File() string { return c.file }

// Line is the line of a field path ("display.rotation", "trigger[1].event")
// in the parsed file, or 0 if the field was not in the file.
func (c *Config) Line(path string) int { return c.lines[path] }

// BrokerURLs is broker.urls, or broker.url as a list of one (nil if
// neither is set).
func (c *Config) BrokerURLs() []string {
	if len(c.Broker.URLs) > 0 {
		return append([]string(nil), c.Broker.URLs...)
	}
	if c.Broker.URL != "" {
		return []string{c.Broker.URL}
	}
	return nil
}

// ClientID is the MQTT client id: broker.client_id or "kiosk-<device id>".
func (c *Config) ClientID() string {
	if c.Broker.ClientID != "" {
		return c.Broker.ClientID
	}
	return "kiosk-" + c.Device.ID
}

// KeyRing is central's pinned signing keys, by wire.KeyID.
func (c *Config) KeyRing() (wire.KeyRing, error) {
	keys := make([]ed25519.PublicKey, 0, len(c.Signing.Keys))
	for i, s := range c.Signing.Keys {
		k, err := ParsePublicKey(s)
		if err != nil {
			return nil, fmt.Errorf("signing.keys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("signing.keys: no keys pinned")
	}
	return wire.NewKeyRing(keys...)
}

// Scopes are the four scopes the device subscribes to (all, pref, branch,
// device), widest first.
func (c *Config) Scopes() ([]wire.Scope, error) {
	return wire.DeviceScopes(c.Device.ID, c.Device.Branch, c.Device.Prefecture)
}

// Location is the schedule's time zone (valid after Validate; UTC+9 fixed
// zone as a fallback if tzdata is missing for Asia/Tokyo).
func (c *Config) Location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	loc, err := loadLocation(c.Schedule.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Trigger returns the mapping for a local API event.
func (c *Config) Trigger(event string) (Trigger, bool) {
	for _, t := range c.Triggers {
		if t.Event == event {
			return t, true
		}
	}
	return Trigger{}, false
}

// Duration is the trigger's screen time.
func (t Trigger) Duration() time.Duration { return time.Duration(t.Seconds) * time.Second }

// ParsePublicKey decodes a standard base64 ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key is not standard base64: %v", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, want %d (ed25519)", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// EncodePublicKey is the base64 form used in signing.keys and provisioning.pub.
func EncodePublicKey(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// locations caches time zones: LoadLocation reads tzdata from disk each
// call (most of a Parse's time before this cache).
var locations sync.Map // name -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err == nil {
		locations.Store(name, loc)
	}
	if err != nil && name == DefaultTimezone {
		// A device without tzdata must still run on Japan time (no DST).
		return time.FixedZone("JST", 9*3600), nil
	}
	return loc, err
}
