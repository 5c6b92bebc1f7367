package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/atmguard/kiosk/internal/wire"
)

// Validate checks every field and returns nil or an Errors value with every
// problem found. It also compiles what the schedule helpers need, so call it
// after changing a Config in code.
func (c *Config) Validate() error {
	return c.validate(false, nil).orNil()
}

// ValidateDraft is Validate for a draft (see ParseDraft).
func (c *Config) ValidateDraft() error {
	return c.validate(true, nil).orNil()
}

type checker struct {
	c    *Config
	skip map[string]bool
	errs Errors
}

// lineFor is the line of path, else of its nearest parent in the file.
func (k *checker) lineFor(path string) int {
	for p := path; p != ""; {
		if l, ok := k.c.lines[p]; ok {
			return l
		}
		if i := strings.LastIndexAny(p, ".["); i >= 0 {
			p = p[:i]
		} else {
			break
		}
	}
	return 0
}

func (k *checker) add(path, format string, a ...any) {
	if k.skip[path] {
		return
	}
	k.errs = append(k.errs, &FieldError{File: k.c.file, Line: k.lineFor(path), Field: path, Msg: fmt.Sprintf(format, a...)})
}

const idRule = "1..64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit"

var eventRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func (c *Config) validate(draft bool, skip map[string]bool) Errors {
	k := &checker{c: c, skip: skip}
	if c.Version != SchemaVersion {
		k.add("version", "expected %d (the config schema version), got %d", SchemaVersion, c.Version)
	}

	// device
	k.id("device.id", c.Device.ID, `the device id, e.g. "atm-13-0001"`)
	k.id("device.branch", c.Device.Branch, `the branch id, e.g. "tokyo-shinjuku-001"`)
	switch {
	case c.Device.Prefecture == "":
		k.add("device.prefecture", `required: the JIS prefecture code in quotes, "01".."47" (Tokyo is "13")`)
	case wire.ValidPref(c.Device.Prefecture) != nil:
		k.add("device.prefecture", `expected a JIS prefecture code in quotes, "01".."47" (Tokyo is "13"), got %q`, c.Device.Prefecture)
	}

	k.broker(draft)
	k.central(draft)
	k.signing(draft)
	k.display()
	k.schedule()
	k.localAPI()
	k.triggers()
	k.cache()
	return k.errs
}

func (k *checker) id(path, v, what string) {
	if v == "" {
		k.add(path, "required: %s (%s)", what, idRule)
		return
	}
	if wire.ValidID(v) != nil {
		k.add(path, "%q is not a valid id: expected %s", v, idRule)
	}
}

// MaxBrokerURLs bounds broker.urls: a cluster has a handful of nodes, and
// every connect attempt walks the whole list.
const MaxBrokerURLs = 8

func (k *checker) broker(draft bool) {
	b := &k.c.Broker
	switch {
	case b.URL != "" && len(b.URLs) > 0:
		k.add("broker.urls", "broker.url is set too: give either url (one broker) or urls (the nodes of a cluster), not both")
	case b.URL == "" && len(b.URLs) == 0:
		if !draft {
			k.add("broker.url", `required: the MQTT broker, e.g. "mqtts://broker.example.jp:8883" (enroll fills it in), or broker.urls for a cluster`)
		}
	case b.URL != "":
		k.brokerURL("broker.url", b.URL)
	default:
		if len(b.URLs) > MaxBrokerURLs {
			k.add("broker.urls", "%d URLs, max %d", len(b.URLs), MaxBrokerURLs)
		}
		seen := map[string]int{}
		firstTLS := -1 // index of the first parsed URL, whose TLS-ness the others must share
		var wantTLS bool
		for i, s := range b.URLs {
			p := fmt.Sprintf("broker.urls[%d]", i)
			tls, ok := k.brokerURL(p, s)
			if !ok {
				continue
			}
			if j, dup := seen[s]; dup {
				k.add(p, "same URL as broker.urls[%d]", j)
			}
			seen[s] = i
			if firstTLS < 0 {
				firstTLS, wantTLS = i, tls
			} else if tls != wantTLS {
				k.add(p, "%q mixes TLS and plain tcp:// with broker.urls[%d]: every node uses the same TLS settings, so use ssl:// or mqtts:// for all of them", s, firstTLS)
			}
		}
	}
	if !draft && b.Username == "" && b.CertFile == "" {
		k.add("broker.username", "required (or a client certificate in broker.cert_file): enroll fills it in")
	}
	if !draft && b.Username != "" && b.Password == "" && b.CertFile == "" {
		k.add("broker.password", "required with broker.username (enroll fills it in)")
	}
	if b.ClientID != "" {
		if wire.ValidID(b.ClientID) != nil {
			k.add("broker.client_id", "%q is not valid: expected %s (or leave it out for \"kiosk-<device id>\")", b.ClientID, idRule)
		}
	}
	k.absFile("broker.ca_file", b.CAFile)
	k.absFile("broker.cert_file", b.CertFile)
	k.absFile("broker.key_file", b.KeyFile)
	if (b.CertFile == "") != (b.KeyFile == "") {
		if b.CertFile == "" {
			k.add("broker.cert_file", "required with broker.key_file: a client certificate needs both files")
		} else {
			k.add("broker.key_file", "required with broker.cert_file: a client certificate needs both files")
		}
	}
}

// brokerURL checks one broker URL at path; it reports whether the URL is
// TLS and whether it parsed with a supported scheme.
func (k *checker) brokerURL(path, s string) (tls, ok bool) {
	b := &k.c.Broker
	if s == "" {
		k.add(path, `empty: expected e.g. "mqtts://broker.example.jp:8883"`)
		return false, false
	}
	u, err := url.Parse(s)
	if err != nil {
		k.add(path, "not a URL (%v): expected e.g. \"mqtts://broker.example.jp:8883\"", err)
		return false, false
	}
	switch u.Scheme {
	case "tcp":
	case "ssl", "mqtts":
		tls = true
	default:
		k.add(path, "scheme %q not supported: expected tcp://, ssl:// or mqtts://", u.Scheme)
		return false, false
	}
	if u.Hostname() == "" || u.Port() == "" {
		k.add(path, "expected host and port, e.g. %s://broker.example.jp:%s", u.Scheme, map[bool]string{true: "8883", false: "1883"}[tls])
	} else if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		k.add(path, "port %q is not 1..65535", u.Port())
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		k.add(path, "expected only scheme://host:port (put credentials in broker.username and broker.password)")
	}
	if !tls && !b.InsecurePlaintext && u.Hostname() != "" && !isLoopbackHost(u.Hostname()) {
		k.add(path, "tcp:// to %s would send the broker password in clear: use ssl:// or mqtts://, or set broker.insecure_plaintext = true on a lab network", u.Hostname())
	}
	if !tls && (b.CAFile != "" || b.CertFile != "" || b.KeyFile != "") {
		k.add(path, "TLS files are set but the scheme is tcp://: use ssl:// or mqtts://")
	}
	return tls, true
}

func (k *checker) absFile(path, v string) {
	if v != "" && !filepath.IsAbs(v) {
		k.add(path, "expected an absolute path (the agent runs from /), got %q", v)
	}
}

func (k *checker) central(draft bool) {
	c := &k.c.Central
	for _, f := range []struct{ path, v, eg string }{
		{"central.content_url", c.ContentURL, "https://central.example.jp"},
		{"central.api_url", c.APIURL, "https://central.example.jp"},
	} {
		if f.v == "" {
			if !draft {
				k.add(f.path, "required: e.g. %q (enroll fills it in)", f.eg)
			}
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			k.add(f.path, "expected an http(s) URL like %q, got %q", f.eg, f.v)
			continue
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			k.add(f.path, "expected a base URL without user, query or fragment, got %q", f.v)
		}
		if u.Scheme == "http" && !c.InsecureHTTP && !isLoopbackHost(u.Hostname()) {
			k.add(f.path, "http:// to %s is not protected: use https://, or set central.insecure_http = true on a lab network", u.Hostname())
		}
	}
}

func (k *checker) signing(draft bool) {
	keys := k.c.Signing.Keys
	if len(keys) == 0 {
		if !draft {
			k.add("signing.keys", "required: %d..%d base64 ed25519 public keys of central (enroll fills them in)", MinSigningKeys, MaxSigningKeys)
		}
		return
	}
	if len(keys) > MaxSigningKeys {
		k.add("signing.keys", "%d keys pinned, max %d (two are enough for a rotation)", len(keys), MaxSigningKeys)
	}
	seen := map[string]int{}
	for i, s := range keys {
		p := fmt.Sprintf("signing.keys[%d]", i)
		pub, err := ParsePublicKey(s)
		if err != nil {
			k.add(p, "%v: expected a base64 ed25519 public key (44 characters ending in \"=\")", err)
			continue
		}
		kid := wire.KeyID(pub)
		if j, dup := seen[kid]; dup {
			k.add(p, "same key as signing.keys[%d] (kid %s)", j, kid)
		}
		seen[kid] = i
	}
}

func (k *checker) display() {
	d := &k.c.Display
	if d.Width < 64 || d.Width > 8192 {
		k.add("display.width", "expected 64..8192 pixels, got %d", d.Width)
	}
	if d.Height < 64 || d.Height > 8192 {
		k.add("display.height", "expected 64..8192 pixels, got %d", d.Height)
	}
	switch d.Rotation {
	case 0, 90, 180, 270:
	default:
		k.add("display.rotation", "expected 0, 90, 180 or 270 (degrees clockwise), got %d", d.Rotation)
	}
	if d.Font != "" {
		if !filepath.IsAbs(d.Font) {
			k.add("display.font", "expected an absolute path to a .ttf, .otf or .ttc font with Japanese glyphs, got %q", d.Font)
		} else {
			switch strings.ToLower(filepath.Ext(d.Font)) {
			case ".ttf", ".otf", ".ttc":
			default:
				k.add("display.font", "expected a .ttf, .otf or .ttc font file, got %q", d.Font)
			}
		}
	}
	if d.LanguageDwellSec < 2 || d.LanguageDwellSec > 120 {
		k.add("display.language_dwell_sec", "expected 2..120 seconds per language, got %d", d.LanguageDwellSec)
	}
	if len(d.Brightness) == 0 {
		k.add("display.brightness", `expected at least one entry, e.g. [[display.brightness]] at = "00:00" percent = 100`)
	}
	if len(d.Brightness) > MaxBrightness {
		k.add("display.brightness", "%d entries, max %d", len(d.Brightness), MaxBrightness)
	}
	prev := -1
	for i, b := range d.Brightness {
		p := fmt.Sprintf("display.brightness[%d]", i)
		m, err := parseClock(b.At, false)
		if err != nil {
			k.add(p+".at", "%v", err)
		} else {
			if m <= prev {
				k.add(p+".at", "%q is not after the previous entry: list entries in time order, each time once", b.At)
			}
			prev = m
		}
		if b.Percent < 1 || b.Percent > 100 {
			k.add(p+".percent", "expected 1..100 (the screen must never go dark), got %d", b.Percent)
		}
	}
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (k *checker) schedule() {
	s := &k.c.Schedule
	loc, err := loadLocation(s.Timezone)
	if err != nil || s.Timezone == "" {
		k.add("schedule.timezone", "unknown time zone %q: expected an IANA name like %q", s.Timezone, DefaultTimezone)
	} else {
		k.c.loc = loc
	}
	if h := s.Hours; h != nil {
		for _, day := range weekdays {
			p := "schedule.hours." + day
			ranges := h.day(day)
			if _, ok := k.c.lines[p]; !ok && k.c.lines != nil && ranges == nil {
				k.add(p, `missing: give every day when [schedule.hours] is present, e.g. %s = ["08:45-18:00"], or %s = [] for closed`, day, day)
				continue
			}
			type iv struct{ a, b int }
			var seen []iv
			for i, r := range ranges {
				rp := fmt.Sprintf("%s[%d]", p, i)
				a, b, err := parseRange(r)
				if err != nil {
					k.add(rp, "%v", err)
					continue
				}
				for _, o := range seen {
					if a < o.b && o.a < b {
						k.add(rp, "%q overlaps another range of the same day", r)
						break
					}
				}
				seen = append(seen, iv{a, b})
			}
		}
	}
	for i, w := range s.Quiet {
		p := fmt.Sprintf("schedule.quiet[%d]", i)
		a, errA := parseClock(w.From, false)
		if errA != nil {
			k.add(p+".from", "%v", errA)
		}
		b, errB := parseClock(w.To, true)
		if errB != nil {
			k.add(p+".to", "%v", errB)
		}
		if errA == nil && errB == nil && a == b%(24*60) {
			k.add(p+".to", "same as from: a quiet window needs a length (it may cross midnight, e.g. from \"22:00\" to \"07:00\")")
		}
		seen := map[string]bool{}
		for j, d := range w.Days {
			if weekdayIndex(d) < 0 {
				k.add(fmt.Sprintf("%s.days[%d]", p, j), "expected one of %s, got %q", strings.Join(weekdays, ", "), d)
			} else if seen[d] {
				k.add(fmt.Sprintf("%s.days[%d]", p, j), "%q listed twice", d)
			}
			seen[d] = true
		}
	}
	if s.QuietBrightness < 1 || s.QuietBrightness > 100 {
		k.add("schedule.quiet_brightness", "expected 1..100 percent (never 0: the warning must stay readable), got %d", s.QuietBrightness)
	}
	if s.QuietMinPriority < 1 || s.QuietMinPriority > 100 {
		k.add("schedule.quiet_min_priority", "expected an alert priority 1..100, got %d", s.QuietMinPriority)
	}
}

func (k *checker) localAPI() {
	l := k.c.LocalAPI.Listen
	host, port, err := net.SplitHostPort(l)
	if err != nil {
		k.add("local_api.listen", "expected host:port on loopback, e.g. %q, got %q", DefaultListen, l)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		k.add("local_api.listen", "port %q is not 1..65535", port)
	}
	if !isLoopbackHost(host) || host == "localhost" {
		k.add("local_api.listen", "%q is not a loopback address: expected 127.0.0.1 or [::1] (only the ATM side on this machine may trigger screens)", host)
	}
}

func (k *checker) triggers() {
	ts := k.c.Triggers
	if len(ts) > MaxTriggers {
		k.add("trigger", "%d triggers, max %d", len(ts), MaxTriggers)
	}
	seen := map[string]int{}
	for i, t := range ts {
		p := fmt.Sprintf("trigger[%d]", i)
		switch {
		case t.Event == "":
			k.add(p+".event", `required: the event name the ATM side posts, e.g. "phone-detected"`)
		case !eventRe.MatchString(t.Event):
			k.add(p+".event", "%q: expected 1..32 of a-z 0-9 -, starting with a letter or digit", t.Event)
		default:
			if j, dup := seen[t.Event]; dup {
				k.add(p+".event", "%q is already mapped by trigger[%d]", t.Event, j)
			}
			seen[t.Event] = i
		}
		known := false
		for _, s := range ScreenKinds {
			known = known || s == t.Screen
		}
		if !known {
			k.add(p+".screen", "expected one of %s, got %q", strings.Join(ScreenKinds, ", "), t.Screen)
		}
		switch {
		case t.Screen == ScreenClear && t.Seconds != 0:
			k.add(p+".seconds", "expected 0 for screen %q (it ends the trigger screen at once), got %d", ScreenClear, t.Seconds)
		case known && t.Screen != ScreenClear && t.Seconds == 0 && k.c.lines != nil && k.c.lines[p+".seconds"] == 0:
			k.add(p+".seconds", "required: how long to show screen %q, 1..%d seconds", t.Screen, MaxTriggerSec)
		case known && t.Screen != ScreenClear && (t.Seconds < 1 || t.Seconds > MaxTriggerSec):
			k.add(p+".seconds", "expected 1..%d seconds, got %d", MaxTriggerSec, t.Seconds)
		}
	}
}

func (k *checker) cache() {
	c := &k.c.Cache
	if c.Path == "" || !filepath.IsAbs(c.Path) {
		k.add("cache.path", "expected an absolute path to the bbolt file, e.g. %q, got %q", DefaultCachePath, c.Path)
	}
	if c.MaxBytes < MinCacheMaxBytes {
		k.add("cache.max_bytes", "expected at least %d (16 MiB), got %d", MinCacheMaxBytes, c.MaxBytes)
	}
	if c.MaxBlobs < 1 || c.MaxBlobs > 100000 {
		k.add("cache.max_blobs", "expected 1..100000, got %d", c.MaxBlobs)
	}
	if c.OpenTimeoutSec < 1 || c.OpenTimeoutSec > 60 {
		k.add("cache.open_timeout_sec", "expected 1..60 seconds, got %d", c.OpenTimeoutSec)
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// parseClock parses "HH:MM" into minutes after midnight; allow24 admits
// "24:00" (an end of day).
func parseClock(s string, allow24 bool) (int, error) {
	bad := fmt.Errorf("expected a time of day \"HH:MM\" (24-hour, e.g. \"07:00\"), got %q", s)
	if len(s) != 5 || s[2] != ':' {
		return 0, bad
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 {
		return 0, bad
	}
	if h == 24 && m == 0 && allow24 {
		return 24 * 60, nil
	}
	if h > 23 {
		return 0, bad
	}
	return h*60 + m, nil
}

func parseRange(r string) (int, int, error) {
	from, to, ok := strings.Cut(r, "-")
	bad := fmt.Errorf("expected a range \"HH:MM-HH:MM\" (e.g. \"08:45-18:00\", \"00:00-24:00\" for all day), got %q", r)
	if !ok {
		return 0, 0, bad
	}
	a, err := parseClock(strings.TrimSpace(from), false)
	if err != nil {
		return 0, 0, bad
	}
	b, err := parseClock(strings.TrimSpace(to), true)
	if err != nil {
		return 0, 0, bad
	}
	if b <= a {
		return 0, 0, fmt.Errorf("%q ends before it starts: opening hours cannot cross midnight, split them over two days", r)
	}
	return a, b, nil
}

func weekdayIndex(d string) int {
	for i, w := range weekdays {
		if w == d {
			return i
		}
	}
	return -1
}

func (h *Hours) day(d string) []string {
	switch d {
	case "mon":
		return h.Mon
	case "tue":
		return h.Tue
	case "wed":
		return h.Wed
	case "thu":
		return h.Thu
	case "fri":
		return h.Fri
	case "sat":
		return h.Sat
	case "sun":
		return h.Sun
	}
	return nil
}
