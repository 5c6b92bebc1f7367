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
// Texts are normalised first: NFKC (full-width forms fold to ASCII),
// kanji numerals 〇一二三四五六七八九 read as digits (十百千 are not: they
// are how prose writes amounts, not how a number to dial is written).
//
// Phone numbers: digits joined by separator runs of up to three characters
// (spaces, - . / ~ 〜 ・ parentheses, Japanese long-vowel and dash forms),
// counted as a phone number when it starts with '+' or '#', or has 9 or more
// digits. Shorter runs are not flagged: the texts must be able to say
// "numbers ending in 0110", "2,918件", "8.15億円", "2026年11月22日" (commas,
// colons and kanji units are not separators). An allowed number at the start
// or end of a run ("0120-000-110 (9" from "0120-000-110 (9:00-17:00)") is
// taken off and the rest judged on its own; an allowed number in the middle
// of a run is not, so "03 110 5678" is still a 9-digit number.
//
// URLs: anything with a scheme (http://, https://), starting with www., or a
// bare domain name (ASCII labels joined by dots ending in a 2+ letter TLD).
// Loose forms are caught too, when they end in a TLD scammers use (jp, com,
// net, ...; a short list so that prose like "ください。ATMで" or "the end. It"
// is not read as a domain): labels in any script (警察庁-返金.jp), the
// ideographic full stop 。/｡ as the dot, spaces around the dot
// (evil-refund . com). A URL is allowed if its scheme and host equal an
// allow-list entry's (case folded) and its path starts with the entry's path.

const phoneSep = `[-. ()/~\t\x{301C}\x{30FB}\x{2010}-\x{2015}\x{2212}\x{30FC}]`

var (
	phoneRe = regexp.MustCompile(`[+#]?\d(?:` + phoneSep + `{0,3}\d)*`)
	urlRe   = regexp.MustCompile(`(?i)\b(?:[a-z][a-z0-9+.-]*://[^\s<>"'（）「」、。]+|www\.[^\s<>"'（）「」、。]+|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?:/[^\s<>"'（）「」、。]*)?)`)
	// looseDomRe: labels of letters/digits in any script, dots that may be
	// 。 or ｡ with spaces around them, a TLD from scamTLDs (checked in code).
	looseDomRe = regexp.MustCompile(`(?i)(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?[ \t]*[.。｡][ \t]*)+([a-z]{2,})\b`)
	scamTLDs   = map[string]bool{"jp": true, "com": true, "net": true, "org": true, "info": true, "biz": true,
		"xyz": true, "cn": true, "ru": true, "tk": true, "cc": true, "icu": true, "vip": true, "tokyo": true,
		"asia": true, "io": true, "top": true, "shop": true, "site": true, "online": true, "club": true}
	kanjiDigits = strings.NewReplacer("〇", "0", "一", "1", "二", "2", "三", "3", "四", "4",
		"五", "5", "六", "6", "七", "7", "八", "8", "九", "9")
)

// looseAddress tells whether a looseDomRe match is read as an address: its
// TLD is one scammers use, and it is not a sentence end followed by a
// capitalised word ("free. Net banking").
func looseAddress(sm []string) bool {
	tld := sm[1]
	if !scamTLDs[strings.ToLower(tld)] {
		return false
	}
	if strings.ContainsAny(sm[0], " \t") && tld != strings.ToLower(tld) && tld != strings.ToUpper(tld) {
		return false
	}
	return true
}

// normText is what the guard matches against.
func normText(s string) string { return kanjiDigits.Replace(norm.NFKC.String(s)) }

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

var digitRunRe = regexp.MustCompile(`\d+`)

// phoneProblem returns the part of the phone-like match m that is not
// allowed, or "". Allowed numbers at either end of m are taken off first.
func (g *Guard) phoneProblem(m string) string {
	isPhone := func(x string) bool {
		x = strings.TrimSpace(x)
		return strings.HasPrefix(x, "+") || strings.HasPrefix(x, "#") || countDigits(x) >= 9
	}
	if !isPhone(m) || g.phoneAllowed(m) {
		return ""
	}
	groups := digitRunRe.FindAllStringIndex(m, -1)
	lo, hi := 0, len(m)
	// longest allowed prefix (ending at a group end)
	for i := len(groups) - 1; i >= 0; i-- {
		if g.phoneAllowed(m[:groups[i][1]]) {
			lo = groups[i][1]
			break
		}
	}
	// longest allowed suffix of what is left (starting at a group start)
	for i := 0; i < len(groups); i++ {
		if groups[i][0] < lo {
			continue
		}
		if g.phoneAllowed(m[groups[i][0]:]) {
			hi = groups[i][0]
			break
		}
	}
	rest := strings.TrimFunc(m[lo:hi], func(r rune) bool { return !unicode.IsDigit(r) && r != '#' && r != '+' })
	if rest == "" || lo == 0 && hi == len(m) {
		return strings.TrimSpace(m)
	}
	// the rest is judged on its own (it may itself be a short harmless run)
	if j := digitRunRe.FindStringIndex(rest); j != nil && isPhone(rest[j[0]:]) || strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, "+") {
		if !g.phoneAllowed(rest) {
			return rest
		}
	}
	return ""
}

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
	n := normText(s)
	for _, m := range urlRe.FindAllString(n, -1) {
		if !g.urlAllowed(m) {
			return central.Guarded(field, m, "the address %q is not on the allow-list of official sites", m)
		}
	}
	// URLs (allowed ones) may contain digits; do not read them as phone numbers.
	rest := urlRe.ReplaceAllString(n, " ")
	for _, sm := range looseDomRe.FindAllStringSubmatch(rest, -1) {
		if !looseAddress(sm) {
			continue
		}
		host := strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t':
				return -1
			case '。', '｡':
				return '.'
			}
			return r
		}, sm[0])
		if !g.urlAllowed(host) {
			return central.Guarded(field, sm[0], "the address %q is not on the allow-list of official sites", sm[0])
		}
	}
	// only the matches judged as addresses above leave the phone check
	rest = looseDomRe.ReplaceAllStringFunc(rest, func(m string) string {
		if sm := looseDomRe.FindStringSubmatch(m); sm != nil && looseAddress(sm) {
			return " "
		}
		return m
	})
	for _, m := range phoneRe.FindAllString(rest, -1) {
		if p := g.phoneProblem(m); p != "" {
			return central.Guarded(field, p, "the phone number %q is not on the allow-list (allowed: police 110, #9110 and numbers an admin added)", p)
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
