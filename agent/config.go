package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/firmware-config/config"
)

// OptionsFromConfig turns a device configuration (normally from
// config.LoadSigned, which has already refused an unsigned or tampered
// file) into Options. It validates again, so a config built in code is
// held to the same rules, and fails naming the field and the reason. The
// caller still sets Clock, Logger, Presenter and AgentVersion.
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	if cfg == nil {
		return Options{}, fmt.Errorf("agent config: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return Options{}, fmt.Errorf("agent config %s: %w", cfg.File(), err)
	}
	keys, err := cfg.KeyRing()
	if err != nil {
		return Options{}, fmt.Errorf("agent config %s: %w", cfg.File(), err)
	}
	o := Options{
		DeviceID: cfg.Device.ID, Branch: cfg.Device.Branch, Pref: cfg.Device.Prefecture,
		BrokerURLs: cfg.BrokerURLs(), Username: cfg.Broker.Username, Password: cfg.Broker.Password,
		ClientID:      cfg.ClientID(),
		Keys:          keys,
		CentralURL:    cfg.Central.ContentURL,
		APIURL:        cfg.Central.APIURL,
		CachePath:     cfg.Cache.Path,
		CacheMaxBytes: cfg.Cache.MaxBytes,
		CacheMaxBlobs: cfg.Cache.MaxBlobs,
		CacheLockWait: time.Duration(cfg.Cache.OpenTimeoutSec) * time.Second,
		LocalAPIAddr:  cfg.LocalAPI.Listen,
		Triggers:      map[string]Trigger{},
		Schedule: Schedule{
			Location:         cfg.Location(),
			QuietMinPriority: cfg.Schedule.QuietMinPriority,
			LangInterval:     time.Duration(cfg.Display.LanguageDwellSec) * time.Second,
		},
	}
	// config validation keeps every broker.urls entry as TLS as the first
	if len(o.BrokerURLs) == 0 {
		return Options{}, fmt.Errorf("agent config %s: no broker.url or broker.urls", cfg.File())
	}
	if u, err := url.Parse(o.BrokerURLs[0]); err == nil && (u.Scheme == "ssl" || u.Scheme == "mqtts") {
		t, err := brokerTLS(cfg.Broker)
		if err != nil {
			return Options{}, fmt.Errorf("agent config %s: %w", cfg.File(), err)
		}
		o.TLS = t
	}
	for i, t := range cfg.Triggers {
		var tr Trigger
		switch t.Screen {
		case config.ScreenClear:
			tr.Clear = true
		case config.ScreenPhone:
			tr = Trigger{Kind: display.KindPhone, Duration: t.Duration()}
		case config.ScreenStanding:
			tr = Trigger{Kind: display.KindStanding, Duration: t.Duration()}
		default:
			return Options{}, fmt.Errorf("agent config %s: trigger[%d].screen: %q is not one of %v", cfg.File(), i, t.Screen, config.ScreenKinds)
		}
		o.Triggers[t.Event] = tr
	}
	if h := cfg.Schedule.Hours; h != nil {
		for d, ranges := range [7][]string{h.Sun, h.Mon, h.Tue, h.Wed, h.Thu, h.Fri, h.Sat} {
			for _, r := range ranges {
				w, err := parseWindow(r)
				if err != nil {
					return Options{}, fmt.Errorf("agent config %s: schedule.hours.%s: %w", cfg.File(), strings.ToLower(time.Weekday(d).String()[:3]), err)
				}
				w.Days = []time.Weekday{time.Weekday(d)}
				o.Schedule.Open = append(o.Schedule.Open, w)
			}
		}
		if len(o.Schedule.Open) == 0 {
			// hours given but closed every day: a window that never
			// contains anything (an empty Open list would mean "always")
			o.Schedule.Open = []Window{{Days: []time.Weekday{}, Start: 0, End: 0}}
		}
	}
	for i, q := range cfg.Schedule.Quiet {
		w, err := parseWindow(q.From + "-" + q.To)
		if err != nil {
			return Options{}, fmt.Errorf("agent config %s: schedule.quiet[%d]: %w", cfg.File(), i, err)
		}
		for _, d := range q.Days {
			wd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				return Options{}, fmt.Errorf("agent config %s: schedule.quiet[%d].days: %q is not mon..sun", cfg.File(), i, d)
			}
			w.Days = append(w.Days, wd)
		}
		o.Schedule.Quiet = append(o.Schedule.Quiet, w)
	}
	return o, nil
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// parseWindow parses "HH:MM-HH:MM" (end may be 24:00; end before start
// wraps past midnight).
func parseWindow(r string) (Window, error) {
	from, to, ok := strings.Cut(r, "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not HH:MM-HH:MM", r)
	}
	a, err := parseClock(from)
	if err != nil {
		return Window{}, fmt.Errorf("%q: %w", r, err)
	}
	b, err := parseClock(to)
	if err != nil {
		return Window{}, fmt.Errorf("%q: %w", r, err)
	}
	return Window{Start: a, End: b}, nil
}

func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// brokerTLS builds the TLS config: TLS 1.2+, the pinned CA if given (else
// the system roots), and the client certificate if given.
func brokerTLS(b config.Broker) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if b.CAFile != "" {
		pem, err := os.ReadFile(b.CAFile)
		if err != nil {
			return nil, fmt.Errorf("broker.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker.ca_file: %s holds no PEM certificate", b.CAFile)
		}
		t.RootCAs = pool
	}
	if b.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(b.CertFile, b.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker.cert_file/key_file: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
