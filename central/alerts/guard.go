package alerts

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/internal/wire"
)

// The content guard. A forged "call this number" is the scammers' dream, so
// every phone number and URL an alert shows must be on the allow-list.
//
// Phone numbers: a run of digits joined by single separators (- . space,
// parentheses, Japanese long-vowel and dash forms), counted as a phone number
// when it starts with '+' or '#', or has 9 or more digits. Shorter runs are
// not flagged: the texts must be able to say "numbers ending in 0110",
// "2,918 cases" or "2023". Full-width forms are folded (NFKC) first.
//
// URLs: anything with a scheme (http://, https://), starting with www., or a
// bare domain name (labels joined by dots ending in a 2+ letter TLD). A URL
// is allowed if its scheme and host equal an allow-list entry's (case
// folded) and its path starts with the entry's path.

var (
	phoneRe = regexp.MustCompile(`[+#]?\d(?:[-. ()\x{2010}-\x{2015}\x{2212}\x{30FC}\x{FF0D}]?\d)*`)
	urlRe   = regexp.MustCompile(`(?i)\b(?:[a-z][a-z0-9+.-]*://[^\s<>"'（）「」、。]+|www\.[^\s<>"'（）「」、。]+|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s<>"'（）「」、。]*)?)`)
)

// normPhone keeps digits and a leading '+' or '#'.
func normPhone(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsDigit(r) || (i == 0 && (r == '+' || r == '#')) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// Guard checks texts against an allow-list.
type Guard struct {
	phones map[string]bool
	urls   []*url.URL
}

// NewGuard compiles l (already validated by ValidateAllowList).
func NewGuard(l central.AllowList) *Guard {
	g := &Guard{phones: map[string]bool{}}
	for _, p := range l.Phones {
		g.phones[normPhone(norm.NFKC.String(p))] = true
	}
	for _, p := range l.URLPrefixes {
		if u, err := parseAllowedURL(p); err == nil {
			g.urls = append(g.urls, u)
		}
	}
	return g
}

func parseAllowedURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an http(s) URL prefix with a host and no query", s)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// ValidateAllowList checks and normalises an edited allow-list.
func ValidateAllowList(l central.AllowList) (central.AllowList, error) {
	out := central.AllowList{Phones: []string{}, URLPrefixes: []string{}}
	if len(l.Phones) > 200 || len(l.URLPrefixes) > 200 {
		return out, central.Invalid("allow_list", "at most 200 phone numbers and 200 URL prefixes")
	}
	for i, p := range l.Phones {
		n := normPhone(norm.NFKC.String(p))
		if countDigits(n) < 3 || len(n) > 20 {
			return out, central.Invalid(fmt.Sprintf("phones[%d]", i), "%q is not a phone number (3 to 20 digits, optional leading + or #)", p)
		}
		out.Phones = append(out.Phones, strings.TrimSpace(p))
	}
	for i, p := range l.URLPrefixes {
		u, err := parseAllowedURL(p)
		if err != nil {
			return out, central.Invalid(fmt.Sprintf("url_prefixes[%d]", i), "%v", err)
		}
		out.URLPrefixes = append(out.URLPrefixes, u.String())
	}
	return out, nil
}

func (g *Guard) phoneAllowed(candidate string) bool { return g.phones[normPhone(candidate)] }

func (g *Guard) urlAllowed(raw string) bool {
	s := strings.TrimRight(raw, ".,;:!?)]}")
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Host)
	scheme := strings.ToLower(u.Scheme)
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	for _, a := range g.urls {
		if a.Scheme == scheme && a.Host == host && strings.HasPrefix(p, a.EscapedPath()) {
			return true
		}
	}
	return false
}

// CheckText returns a content-guard error for the first phone number or URL
// in s that is not allowed, naming field and the offending text.
func (g *Guard) CheckText(field, s string) error {
	if s == "" {
		return nil
	}
	n := norm.NFKC.String(s)
	for _, m := range urlRe.FindAllString(n, -1) {
		if !g.urlAllowed(m) {
			return central.Guarded(field, m, "the address %q is not on the allow-list of official sites", m)
		}
	}
	// URLs (allowed ones) may contain digits; do not read them as phone numbers.
	rest := urlRe.ReplaceAllString(n, " ")
	for _, m := range phoneRe.FindAllString(rest, -1) {
		m = strings.TrimSpace(m)
		isPhone := strings.HasPrefix(m, "+") || strings.HasPrefix(m, "#") || countDigits(m) >= 9
		if isPhone && !g.phoneAllowed(m) {
			return central.Guarded(field, m, "the phone number %q is not on the allow-list (allowed: police 110, #9110 and numbers an admin added)", m)
		}
	}
	return nil
}

// CheckTexts checks every text and the QR link; it returns all problems.
func (g *Guard) CheckTexts(prefix string, texts []wire.Text, qr *wire.Link) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i, t := range texts {
		f := fmt.Sprintf("%stexts[%d].", prefix, i)
		add(g.CheckText(f+"headline", t.Headline))
		add(g.CheckText(f+"body", t.Body))
		add(g.CheckText(f+"instruction", t.Instruction))
	}
	if qr != nil {
		if !g.urlAllowed(qr.URL) {
			add(central.Guarded(prefix+"qr.url", qr.URL, "the QR link %q is not on the allow-list of official sites", qr.URL))
		}
		add(g.CheckText(prefix+"qr.label", qr.Label))
	}
	return errs
}
