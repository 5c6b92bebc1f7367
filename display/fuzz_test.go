package display

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/atmguard/kiosk/internal/wire"
)

// FuzzCheckFit: whatever text an alert carries, the layout never panics,
// and either fits or says which field does not (a FitError or GlyphError),
// and wrapping never loses a character.
//
//	go test -run=NONE -fuzz=FuzzCheckFit -fuzztime=60s ./display
func FuzzCheckFit(f *testing.F) {
	for _, s := range []string{
		"警察署の番号（末尾0110）を表示する詐欺電話", "Hang up!", "「」（）。、ー", "a\u200bb", "\n\n\n",
		strings.Repeat("x", 80), "Cảnh sát", "경찰", "😀", "ATM\u3000で", " leading and trailing ",
	} {
		f.Add(s, s, 640, 480)
	}
	fs := DefaultFonts()
	f.Fuzz(func(t *testing.T, head, body string, w, h int) {
		if !utf8.ValidString(head) || !utf8.ValidString(body) || strings.TrimSpace(head) == "" {
			return
		}
		if len([]rune(head)) > wire.MaxHeadlineRunes || len([]rune(body)) > wire.MaxBodyRunes {
			return
		}
		w, h = 200+abs(w)%1800, 200+abs(h)%1800
		a := &wire.Alert{ID: "a-fuzz", Version: 1, Priority: 60, Issuer: "x",
			Texts: []wire.Text{{Lang: "ja", Headline: head, Body: body}}, Expires: time.Now().Add(time.Hour)}
		_, err := layout(Screen{Kind: KindAlert, Alert: a}, w, h, fs)
		if err != nil && !errors.Is(err, ErrDoesNotFit) && !errors.Is(err, ErrMissingGlyph) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, width := range []float64{1, 4, 12} {
			lines, _, _ := fs.wrap(body, width, 0, true)
			joined := strings.Join(lines, "")
			strip := func(s string) string {
				return strings.Map(func(r rune) rune {
					if invisible(r) {
						return -1
					}
					return r
				}, s)
			}
			if strip(joined) != strip(body) {
				t.Fatalf("wrap(%q, %v) lost text: %q", body, width, lines)
			}
		}
	})
}

func abs(x int) int {
	if x < 0 {
		if x == -x { // math.MinInt
			return 0
		}
		return -x
	}
	return x
}
