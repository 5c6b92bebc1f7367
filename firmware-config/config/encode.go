package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Marshal writes the config as commented TOML that Parse reads back to the
// same values. Empty optional fields are written as comments, so a field
// tech sees what can be set.
func (c *Config) Marshal() []byte {
	w := &tomlWriter{}
	w.comment("Kiosk display configuration (docs/CONFIG.md). After editing, run")
	w.comment("`kiosk-config validate` and have it signed again: the agent refuses a")
	w.comment("config whose bytes do not match its .sig file.")
	w.kv("version", strconv.Itoa(c.Version), "config schema version")
	if len(c.Triggers) == 0 {
		// Top-level keys must come before the first table.
		w.kv("trigger", "[]", "no local triggers (see [[trigger]] in docs/CONFIG.md)")
	}

	w.table("device", "Which display this is. Ids: 1..64 of A-Z a-z 0-9 _ -")
	w.kv("id", q(c.Device.ID), "")
	w.kv("branch", q(c.Device.Branch), "")
	w.kv("prefecture", q(c.Device.Prefecture), "JIS code 01..47 in quotes (13 = Tokyo)")

	w.table("broker", "MQTT broker. enroll fills in url, username and password.")
	if len(c.Broker.URLs) > 0 {
		w.arr("urls", c.Broker.URLs, "Broker cluster nodes, tried in order on every (re)connect.")
	} else {
		w.kv("url", q(c.Broker.URL), "tcp://, ssl:// or mqtts://host:port")
		w.line(`# urls = ["mqtts://mqtt1.example.jp:8883", "mqtts://mqtt2.example.jp:8883"]  # a cluster instead of url`)
	}
	w.kv("username", q(c.Broker.Username), "")
	w.kv("password", q(c.Broker.Password), "")
	w.opt("client_id", c.Broker.ClientID, "kiosk-<device id>", "default kiosk-<device id>")
	w.opt("ca_file", c.Broker.CAFile, "/etc/kiosk/broker-ca.pem", "PEM CA; default: system roots")
	w.opt("cert_file", c.Broker.CertFile, "/etc/kiosk/client.pem", "client certificate (with key_file)")
	w.opt("key_file", c.Broker.KeyFile, "/etc/kiosk/client.key", "")
	w.optBool("insecure_plaintext", c.Broker.InsecurePlaintext, "allow tcp:// to a non-loopback broker (lab only)")

	w.table("central", "Central server. enroll fills these in.")
	w.kv("content_url", q(c.Central.ContentURL), "GET {content_url}/content/<sha256>")
	w.kv("api_url", q(c.Central.APIURL), "{api_url}/api/v1/..., /healthz")
	w.optBool("insecure_http", c.Central.InsecureHTTP, "allow http:// to a non-loopback host (lab only)")

	w.table("signing", "Central's ed25519 public keys (base64), 1..4; two during a key rotation.")
	w.arr("keys", c.Signing.Keys, "")

	d := &c.Display
	w.table("display", "")
	w.kv("width", strconv.Itoa(d.Width), "pixels, as the panel is mounted")
	w.kv("height", strconv.Itoa(d.Height), "")
	w.kv("rotation", strconv.Itoa(d.Rotation), "0, 90, 180 or 270 degrees clockwise")
	w.opt("font", d.Font, "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", "default: built-in Japanese font")
	w.kv("burn_in_protection", strconv.FormatBool(d.BurnInProtection), "shift static content a few pixels now and then")
	w.kv("language_dwell_sec", strconv.Itoa(d.LanguageDwellSec), "seconds each language of a message stays up")
	w.comment("Backlight from a time of day until the next entry (the last wraps over midnight).")
	for _, b := range d.Brightness {
		w.arrayTable("display.brightness")
		w.kv("at", q(b.At), "")
		w.kv("percent", strconv.Itoa(b.Percent), "1..100")
	}

	s := &c.Schedule
	w.table("schedule", "Quiet = branch closed or inside a quiet window: the campaign pauses, the standing\n"+
		"warning stays up at quiet_brightness, alerts with priority >= quiet_min_priority\n"+
		"and local triggers still show. The screen never goes dark.")
	w.kv("timezone", q(s.Timezone), "")
	w.kv("quiet_brightness", strconv.Itoa(s.QuietBrightness), "percent, 1..100")
	w.kv("quiet_min_priority", strconv.Itoa(s.QuietMinPriority), "alerts at or above this priority break through")
	for _, win := range s.Quiet {
		w.arrayTable("schedule.quiet")
		w.kv("from", q(win.From), "")
		w.kv("to", q(win.To), "may cross midnight")
		if len(win.Days) > 0 {
			w.arr("days", win.Days, "weekdays the window starts on")
		}
	}
	if h := s.Hours; h != nil {
		w.table("schedule.hours", "Opening hours, all seven days; [] = closed. Without this table: always open.")
		for _, day := range weekdays[1:] {
			w.arr(day, h.day(day), "")
		}
		w.arr("sun", h.Sun, "")
	} else {
		w.comment("Opening hours; without [schedule.hours] the branch counts as always open.")
		w.comment("[schedule.hours]")
		w.comment(`mon = ["08:45-18:00"]  # ... every day, sun = [] for closed`)
	}

	w.table("local_api", "Trigger API for the ATM side; loopback only.")
	w.kv("listen", q(c.LocalAPI.Listen), "")

	w.comment("")
	w.comment("POST /v1/trigger {\"event\":...} shows a screen for a while.")
	w.comment("screen: phone, standing, or clear (ends a trigger screen; seconds = 0).")
	for _, t := range c.Triggers {
		w.arrayTable("trigger")
		w.kv("event", q(t.Event), "")
		w.kv("screen", q(t.Screen), "")
		w.kv("seconds", strconv.Itoa(t.Seconds), "")
	}

	w.table("cache", "The agent's bbolt cache of snapshots and images.")
	w.kv("path", q(c.Cache.Path), "")
	w.kv("max_bytes", strconv.FormatInt(c.Cache.MaxBytes, 10), "image bytes kept, at least 16 MiB")
	w.kv("max_blobs", strconv.Itoa(c.Cache.MaxBlobs), "")
	w.kv("open_timeout_sec", strconv.Itoa(c.Cache.OpenTimeoutSec), "wait for the file lock")
	return []byte(w.b.String())
}

type tomlWriter struct{ b strings.Builder }

func (w *tomlWriter) line(s string) { w.b.WriteString(s + "\n") }

func (w *tomlWriter) comment(s string) {
	for l := range strings.SplitSeq(s, "\n") {
		if l == "" {
			w.line("")
			continue
		}
		w.line("# " + l)
	}
}

func (w *tomlWriter) table(name, doc string) {
	w.line("")
	if doc != "" {
		w.comment(doc)
	}
	w.line("[" + name + "]")
}

func (w *tomlWriter) arrayTable(name string) { w.line("[[" + name + "]]") }

func (w *tomlWriter) kv(k, v, doc string) {
	s := k + " = " + v
	if doc != "" {
		s += "  # " + doc
	}
	w.line(s)
}

func (w *tomlWriter) opt(k, v, eg, doc string) {
	if v == "" {
		s := "# " + k + " = " + q(eg)
		if doc != "" {
			s += "  # " + doc
		}
		w.line(s)
		return
	}
	w.kv(k, q(v), doc)
}

func (w *tomlWriter) optBool(k string, v bool, doc string) {
	if !v {
		w.line("# " + k + " = true  # " + doc)
		return
	}
	w.kv(k, "true", doc)
}

func (w *tomlWriter) arr(k string, vs []string, doc string) {
	if len(vs) <= 1 || len(k)+len(strings.Join(vs, ", "))+8 < 80 {
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = q(v)
		}
		w.kv(k, "["+strings.Join(parts, ", ")+"]", doc)
		return
	}
	if doc != "" {
		w.comment(doc)
	}
	w.line(k + " = [")
	for _, v := range vs {
		w.line("  " + q(v) + ",")
	}
	w.line("]")
}

// q quotes a TOML basic string.
func q(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f || !unicode.IsPrint(r) && r < 0x100 {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
