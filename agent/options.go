package agent

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// Options configure one Agent. The zero value of an optional field means its
// documented default. Nothing here is global: many Agents with different
// Options can run in one process (the fleet simulator does).
type Options struct {
	DeviceID string // required, wire.ValidID
	Branch   string // required, wire.ValidID
	Pref     string // required, JIS prefecture code 01..47

	AgentVersion string // reported in status and on the identify screen

	// BrokerURL is tcp://host:port, or ssl:// / tls:// / mqtts:// for TLS.
	// Empty (with BrokerURLs empty too) runs the agent without MQTT (cache
	// and local triggers only).
	BrokerURL string
	// BrokerURLs are the nodes of a broker cluster, instead of BrokerURL.
	// Every connect and reconnect tries them in order and stays on the
	// first that accepts, so a device fails over between nodes without a
	// load balancer. Username, Password and TLS serve every node. Set
	// BrokerURL or BrokerURLs, not both.
	BrokerURLs []string
	Username   string // MQTT credentials; also HTTP basic auth for screenshot uploads
	Password   string
	// TLS is used for TLS broker URLs (and is the place for client
	// certificates and the pinned CA). Nil means the system defaults.
	TLS *tls.Config
	// ClientID defaults to "kiosk-" + DeviceID. It must be stable: the
	// broker keeps the persistent session under it.
	ClientID string

	// Keys are central's public signing keys (snapshots and commands).
	Keys wire.KeyRing

	// CentralURL is central's base URL (GET /content/<sha256>, screenshot
	// upload). Empty disables both.
	CentralURL string
	// APIURL is the base of central's device API (POST
	// /api/v1/devices/<id>/screenshot); default CentralURL.
	APIURL string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// IdentifyURL is encoded in the identify screen's QR; default
	// CentralURL + "/devices/" + DeviceID.
	IdentifyURL string

	// CachePath is the bbolt file; required.
	CachePath string
	// CacheMaxBytes and CacheMaxBlobs bound the stored blobs (0 = only the
	// protocol limits); a blob beyond them is not stored and its item stays
	// held back. CacheLockWait is how long to wait for the file lock held
	// by another process (default 2 s).
	CacheMaxBytes int64
	CacheMaxBlobs int
	CacheLockWait time.Duration
	// CacheMaxFileBytes caps the bbolt file (0 = no cap). Past it a write
	// fails as on a full disk: the update is refused and the last good
	// state stays.
	CacheMaxFileBytes int64

	Schedule Schedule
	// Triggers maps local trigger events (phone-detected, transaction-start,
	// transaction-end) to what they do; nil means DefaultTriggers().
	Triggers map[string]Trigger
	// IdentifyDuration is how long the identify screen stays; default 60 s.
	IdentifyDuration time.Duration

	// LocalAPIAddr is the loopback address of the local trigger API, e.g.
	// "127.0.0.1:8765" ("127.0.0.1:0" picks a port). Empty disables it.
	LocalAPIAddr string

	// HeartbeatInterval of the retained status; default 60 s.
	HeartbeatInterval time.Duration
	// StatusMinInterval rate-limits status re-publishing on screen changes;
	// default 5 s.
	StatusMinInterval time.Duration
	// MaxReconnectInterval caps paho's reconnect backoff; default 25 s (plus
	// up to 5 s of jitter).
	MaxReconnectInterval time.Duration
	// ReconnectJitter is the most random delay added before each reconnect
	// attempt, so a fleet does not come back in lockstep; default 5 s,
	// negative disables.
	ReconnectJitter time.Duration
	// SubscribeRetryMin and SubscribeRetryMax bound the backoff between
	// attempts to subscribe after the broker refused a subscription (SUBACK
	// 0x80) or did not answer; defaults 1 s and 30 s.
	SubscribeRetryMin time.Duration
	SubscribeRetryMax time.Duration
	// ClockSkew is how far in the future a snapshot's issued time may be;
	// default 2 minutes.
	ClockSkew time.Duration

	Clock     clock.Clock  // default clock.Real{}
	Logger    *slog.Logger // default slog.Default()
	Presenter Presenter    // default NewHeadlessPresenter()

	brokers []string // BrokerURL or BrokerURLs, set by withDefaults
}

// Schedule is the time-of-day part of the configuration.
type Schedule struct {
	// Location for opening and quiet hours; default Asia/Tokyo (or UTC+9 if
	// the zone database is missing).
	Location *time.Location
	// Open are the hours the ATM corner is open; empty means always. Outside
	// them, and during Quiet hours, the rotation pauses: only urgent alerts
	// or the standing warning are shown.
	Open  []Window
	Quiet []Window
	// QuietMinPriority: while closed or quiet, alerts at or above this
	// priority are still shown; default wire.PriorityUrgent (50).
	QuietMinPriority int
	// LangInterval is how long each language of an alert or slide is shown
	// before the next; default 8 s.
	LangInterval time.Duration
	// AlertSlide is how long a non-urgent alert stays in the rotation;
	// default 15 s.
	AlertSlide time.Duration
}

// Window is a daily time range in Schedule.Location. End before Start wraps
// past midnight (22:00-06:00). Days empty means every day; otherwise the
// day the window starts on.
type Window struct {
	Days  []time.Weekday
	Start time.Duration // since midnight
	End   time.Duration
}

// Contains reports whether local time t falls in the window.
func (w Window) Contains(t time.Time) bool {
	mid := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	since := t.Sub(mid)
	day := t.Weekday()
	if w.End > w.Start || w.End == w.Start {
		return w.onDay(day) && since >= w.Start && since < w.End
	}
	// wraps midnight: either the evening part of today or the morning part
	// of a window that started yesterday.
	if since >= w.Start {
		return w.onDay(day)
	}
	return since < w.End && w.onDay((day+6)%7)
}

func (w Window) onDay(d time.Weekday) bool {
	if len(w.Days) == 0 {
		return true
	}
	for _, x := range w.Days {
		if x == d {
			return true
		}
	}
	return false
}

// Trigger is what a local trigger event does.
type Trigger struct {
	// Kind of screen to show (display.KindPhone, KindCampaign...). Empty
	// with Clear false means "ignored".
	Kind     display.Kind
	Message  string        // display.Screen.Message; empty = built-in text
	Duration time.Duration // how long the override stays
	// Clear ends any active trigger override instead (transaction-end).
	Clear bool
}

// Local trigger events (docs/PROTOCOL.md).
const (
	EventPhoneDetected    = "phone-detected"
	EventTransactionStart = "transaction-start"
	EventTransactionEnd   = "transaction-end"
)

// DefaultTriggers match firmware-config's defaults: phone-detected shows
// the "Hang up!" screen for 20 s, transaction-start the standing warning for
// 60 s, transaction-end clears either.
func DefaultTriggers() map[string]Trigger {
	return map[string]Trigger{
		EventPhoneDetected:    {Kind: display.KindPhone, Duration: 20 * time.Second},
		EventTransactionStart: {Kind: display.KindStanding, Duration: 60 * time.Second},
		EventTransactionEnd:   {Clear: true},
	}
}

// withDefaults validates o and fills in defaults. Errors name the field.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("agent options: %s: %s", field, fmt.Sprintf(format, a...)))
	}
	if err := wire.ValidID(o.DeviceID); err != nil {
		bad("DeviceID", "%v", err)
	}
	if err := wire.ValidID(o.Branch); err != nil {
		bad("Branch", "%v", err)
	}
	if err := wire.ValidPref(o.Pref); err != nil {
		bad("Pref", "%v", err)
	}
	if len(o.Keys) == 0 {
		bad("Keys", "no central signing keys pinned; nothing could ever be verified")
	}
	if o.CachePath == "" {
		bad("CachePath", "required")
	}
	switch {
	case o.BrokerURL != "" && len(o.BrokerURLs) > 0:
		bad("BrokerURLs", "BrokerURL is set too: give one broker in BrokerURL or a cluster in BrokerURLs, not both")
	case o.BrokerURL != "":
		if checkBrokerURL(bad, "BrokerURL", o.BrokerURL) {
			o.brokers = []string{o.BrokerURL}
		}
	default:
		seen := map[string]bool{}
		for i, s := range o.BrokerURLs {
			f := fmt.Sprintf("BrokerURLs[%d]", i)
			if seen[s] {
				bad(f, "%q is listed twice", s)
				continue
			}
			seen[s] = true
			if checkBrokerURL(bad, f, s) {
				o.brokers = append(o.brokers, s)
			}
		}
	}
	for _, f := range []struct{ name, v string }{{"CentralURL", o.CentralURL}, {"APIURL", o.APIURL}} {
		if f.v == "" {
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f.name, "%q is not an http(s) URL with a host", f.v)
		}
	}
	if o.LocalAPIAddr != "" {
		host, _, err := net.SplitHostPort(o.LocalAPIAddr)
		ip := net.ParseIP(host)
		if err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			bad("LocalAPIAddr", "%q is not a loopback host:port (the trigger API is for the ATM on this machine only)", o.LocalAPIAddr)
		}
	}
	for ev, t := range o.Triggers {
		if !t.Clear && t.Kind != "" && t.Duration <= 0 {
			bad("Triggers["+ev+"]", "duration must be positive")
		}
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	if o.ClientID == "" {
		o.ClientID = "kiosk-" + o.DeviceID
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.APIURL == "" {
		o.APIURL = o.CentralURL
	}
	if o.IdentifyURL == "" && o.APIURL != "" {
		o.IdentifyURL = strings.TrimRight(o.APIURL, "/") + "/devices/" + o.DeviceID
	}
	if o.Triggers == nil {
		o.Triggers = DefaultTriggers()
	}
	if o.CacheLockWait <= 0 {
		o.CacheLockWait = 2 * time.Second
	}
	if o.IdentifyDuration <= 0 {
		o.IdentifyDuration = 60 * time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 60 * time.Second
	}
	if o.StatusMinInterval <= 0 {
		o.StatusMinInterval = 5 * time.Second
	}
	if o.MaxReconnectInterval <= 0 {
		o.MaxReconnectInterval = 25 * time.Second
	}
	if o.ReconnectJitter == 0 {
		o.ReconnectJitter = 5 * time.Second
	}
	if o.SubscribeRetryMin <= 0 {
		o.SubscribeRetryMin = time.Second
	}
	if o.SubscribeRetryMax < o.SubscribeRetryMin {
		o.SubscribeRetryMax = max(30*time.Second, o.SubscribeRetryMin)
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = 2 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Presenter == nil {
		o.Presenter = NewHeadlessPresenter()
	}
	if o.Schedule.Location == nil {
		o.Schedule.Location = tokyo()
	}
	if o.Schedule.QuietMinPriority <= 0 {
		o.Schedule.QuietMinPriority = wire.PriorityUrgent
	}
	if o.Schedule.LangInterval <= 0 {
		o.Schedule.LangInterval = 8 * time.Second
	}
	if o.Schedule.AlertSlide <= 0 {
		o.Schedule.AlertSlide = 15 * time.Second
	}
	return o, nil
}

// checkBrokerURL reports (through bad) what is wrong with one broker URL
// and whether it is usable.
func checkBrokerURL(bad func(field, format string, a ...any), field, s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		bad(field, "%q is not a URL with a host", s)
		return false
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
		return true
	}
	bad(field, "scheme %q is not tcp, mqtt, ssl, tls, mqtts or tcps", u.Scheme)
	return false
}

func tokyo() *time.Location {
	if l, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return l
	}
	return time.FixedZone("JST", 9*3600)
}
