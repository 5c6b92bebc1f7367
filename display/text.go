package display

import (
	"strings"
	"unicode"
)

// Kinsoku (禁則) rules for Japanese line breaking: a line may not start with
// closing brackets, small kana, the prolonged sound mark, iteration marks or
// sentence punctuation, and may not end with an opening bracket. Latin
// closing punctuation is included so mixed text obeys the same rule.
const (
	noLineStart = "、。，．・：；？！゛゜ヽヾゝゞ々〻ー‐゠–〜～…‥" +
		"）〕］｝〉》」』】〙〗〟’”｠»" +
		"ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ" +
		")]}>,.!?:;%‰℃°′″¢"
	noLineEnd = "（〔［｛〈《「『【〘〖〝‘“｟«" + "([{<$£¥€＄￥＃#"
)

// NoLineStart reports whether r may not begin a line (kinsoku).
func NoLineStart(r rune) bool { return strings.ContainsRune(noLineStart, r) }

// NoLineEnd reports whether r may not end a line (kinsoku).
func NoLineEnd(r rune) bool { return strings.ContainsRune(noLineEnd, r) }

// zwsp (zero width space) marks a break opportunity inside a word, such as
// after each "/" of a URL.
const zwsp = '\u200b'

// breaksAnywhere: scripts written without spaces, where a line may break
// between any two characters (subject to kinsoku).
func breaksAnywhere(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) ||
		(r >= 0x3000 && r <= 0x303F) || // CJK symbols and punctuation
		(r >= 0xFF00 && r <= 0xFFEF) || // full-width forms
		r == 'ー' || r == '・'
}

// unit is a piece of text that is never split across lines: a Latin word
// (with its trailing punctuation), or one CJK character glued to the
// characters kinsoku forbids to separate from it.
type unit struct {
	text    string
	spaceBe bool // a space precedes this unit (dropped at a line start)
	hard    bool // a forced line break precedes this unit
}

// splitUnits cuts text into unbreakable units.
func splitUnits(text string) []unit {
	var units []unit
	var cur strings.Builder
	space, hard := false, false
	flush := func() {
		if cur.Len() > 0 {
			units = append(units, unit{text: cur.String(), spaceBe: space, hard: hard})
			cur.Reset()
			space, hard = false, false
		}
	}
	for _, r := range text {
		switch {
		case r == '\n':
			flush()
			hard, space = true, false
		case r == zwsp:
			flush() // a break opportunity that takes no space
		case unicode.IsSpace(r):
			flush()
			if !hard {
				space = true
			}
		case breaksAnywhere(r):
			// A CJK character stands alone, unless the unit so far is an
			// opening bracket (which must stay with what follows).
			if cur.Len() > 0 {
				last := []rune(cur.String())
				if !NoLineEnd(last[len(last)-1]) {
					flush()
				}
			}
			cur.WriteRune(r)
		default:
			// Latin etc.: a word runs until a space or a CJK character. A
			// letter right after a CJK character starts a new unit unless
			// that character forbids the break.
			if cur.Len() > 0 {
				last := []rune(cur.String())
				lr := last[len(last)-1]
				if breaksAnywhere(lr) && !NoLineEnd(lr) && !NoLineStart(r) {
					flush()
				}
			}
			cur.WriteRune(r)
		}
	}
	flush()
	// Kinsoku: glue a unit that starts with a no-line-start character to
	// the one before it (unless a space or forced break separates them:
	// then the author chose the break).
	var out []unit
	for _, u := range units {
		first := []rune(u.text)[0]
		if len(out) > 0 && !u.spaceBe && !u.hard && NoLineStart(first) {
			out[len(out)-1].text += u.text
			continue
		}
		if len(out) > 0 && !u.spaceBe && !u.hard {
			prev := []rune(out[len(out)-1].text)
			if NoLineEnd(prev[len(prev)-1]) {
				out[len(out)-1].text += u.text
				continue
			}
		}
		out = append(out, u)
	}
	return out
}

// measure returns the advance of s in em with the font chain; track is
// extra space after each glyph (synthetic bold widens glyphs by that much).
// Runes no face has measure 0: callers check Missing first.
func (fs *Fonts) measure(s string, track float64) float64 {
	w := 0.0
	for _, r := range s {
		if r == '\n' {
			continue
		}
		g := fs.glyph(r)
		if g.face < 0 {
			continue
		}
		w += g.adv + track
	}
	return w
}

// wrap breaks text into lines no wider than maxEm (in em). It returns
// ok=false when a unit (a word) alone is wider than a line: words are never
// cut. With wrapAllowed false only forced line breaks are taken.
func (fs *Fonts) wrap(text string, maxEm, track float64, wrapAllowed bool) (lines []string, widest float64, ok bool) {
	units := splitUnits(text)
	spaceW := fs.measure(" ", track)
	var line strings.Builder
	lineW := 0.0
	emit := func() {
		lines = append(lines, line.String())
		if lineW > widest {
			widest = lineW
		}
		line.Reset()
		lineW = 0
	}
	ok = true
	for i, u := range units {
		uw := fs.measure(u.text, track)
		if i > 0 && u.hard {
			emit()
		}
		add := uw
		if line.Len() > 0 && u.spaceBe {
			add += spaceW
		}
		if line.Len() > 0 && lineW+add > maxEm+1e-9 {
			if !wrapAllowed {
				ok = false
			}
			emit()
			add = uw
		}
		if uw > maxEm+1e-9 {
			ok = false
		}
		if line.Len() > 0 && u.spaceBe {
			line.WriteByte(' ')
		}
		line.WriteString(u.text)
		lineW += add
	}
	if line.Len() > 0 || len(lines) == 0 {
		emit()
	}
	return lines, widest, ok
}
