package display

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// luminance is WCAG relative luminance.
func luminance(c color.RGBA) float64 {
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

func contrast(a, b color.RGBA) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// measuredContrast finds, in the pixels of a text box, the background (the
// most common colour) and the text colour (the colour of the fully covered
// glyph interiors: the most common colour among those most distant from
// the background), and returns their contrast ratio.
func measuredContrast(img *image.RGBA, r image.Rectangle) (float64, color.RGBA, color.RGBA) {
	counts := map[color.RGBA]int{}
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			counts[img.RGBAAt(x, y)]++
		}
	}
	var bg color.RGBA
	for c, n := range counts {
		if n > counts[bg] {
			bg = c
		}
	}
	// Text colour: among colours with a real area (not a stray
	// anti-aliased edge pixel), the one with the highest contrast to bg.
	total := r.Dx() * r.Dy()
	var fg color.RGBA
	best := 0.0
	for c, n := range counts {
		if c == bg || n < total/2000+4 {
			continue
		}
		if k := contrast(c, bg); k > best {
			best, fg = k, c
		}
	}
	return best, fg, bg
}

// TestLegibility checks every template, in ja and en, landscape and
// portrait, on the rendered pixels: text/background contrast >= 7:1 (WCAG
// AAA) for every text field, and headline cap height >= 5% of the screen
// height.
func TestLegibility(t *testing.T) {
	fs := DefaultFonts()
	for _, c := range templateCases(t) {
		for _, sz := range append(goldenSizes, image.Point{1280, 720}, image.Point{768, 1366}) {
			t.Run(fmt.Sprintf("%s-%dx%d", c.name, sz.X, sz.Y), func(t *testing.T) {
				sc, err := layout(c.s, sz.X, sz.Y, fs)
				if err != nil {
					t.Fatalf("layout: %v", err)
				}
				img, err := Render(c.s, sz.X, sz.Y)
				if err != nil {
					t.Fatalf("render: %v", err)
				}
				headlines := 0
				for _, pt := range sc.texts {
					// The ink of the text, not the whole box (which may be
					// mostly empty background).
					k, fg, bg := measuredContrast(img, inkBox(pt, fs))
					if k < 7 {
						t.Errorf("%s: contrast %.2f:1 (text %v on %v), want >= 7:1", pt.field, k, fg, bg)
					}
					if want := contrast(pt.fg, pt.bg); math.Abs(k-want) > 0.01*want {
						t.Errorf("%s: measured contrast %.2f, palette says %.2f: the text is not drawn in its colour", pt.field, k, want)
					}
					if pt.headline {
						headlines++
						capPx := pt.size * fs.CapHeight()
						if capPx < 0.05*float64(sz.Y) {
							t.Errorf("headline cap height %.1fpx < 5%% of %dpx", capPx, sz.Y)
						}
						if ink := capInk(img, pt, fs); ink < 0.05*float64(sz.Y)-1 {
							t.Errorf("headline: measured ink height of its capital letters %.0fpx < 5%% of %dpx", ink, sz.Y)
						}
					}
				}
				if headlines != 1 {
					t.Errorf("%d headlines, want 1", headlines)
				}
			})
		}
	}
}

// inkBox is the area covered by the lines of a placed text.
func inkBox(pt placedText, fs *Fonts) image.Rectangle {
	total := float64(len(pt.lines)) * pt.lineH
	y0 := float64(pt.box.Min.Y)
	if pt.vcenter {
		y0 += (float64(pt.box.Dy()) - total) / 2
	}
	return image.Rect(pt.box.Min.X, int(y0), pt.box.Max.X, int(y0+total))
}

// capInk measures on the pixels how tall the glyphs of the first line of a
// headline are (the tallest column of text-coloured pixels, from the top of
// the ink to the baseline), a check of the metric above that does not trust
// the font's OS/2 table.
func capInk(img *image.RGBA, pt placedText, fs *Fonts) float64 {
	r := inkBox(pt, fs)
	lineBottom := r.Min.Y + int(pt.lineH)
	top, bottom := -1, -1
	for y := r.Min.Y; y < lineBottom && y < img.Rect.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == pt.fg {
				if top < 0 {
					top = y
				}
				bottom = y
				break
			}
		}
	}
	if top < 0 {
		return 0
	}
	return float64(bottom - top + 1)
}

// TestCatalogueGlyphs: every built-in string is drawable with the embedded
// font alone (a kiosk without any installed font must never show tofu).
func TestCatalogueGlyphs(t *testing.T) {
	fs := DefaultFonts()
	entries := Catalogue()
	if len(entries) < 20 {
		t.Fatalf("catalogue has %d entries", len(entries))
	}
	langs := map[string]map[string]bool{}
	for _, e := range entries {
		if miss := fs.Missing(e.Text); len(miss) > 0 {
			t.Errorf("%s (%s): no glyph for %q", e.Key, e.Lang, string(miss))
		}
		if langs[e.Key] == nil {
			langs[e.Key] = map[string]bool{}
		}
		langs[e.Key][e.Lang] = true
	}
	for k, m := range langs {
		if !m["ja"] || !m["en"] {
			t.Errorf("%s lacks ja or en", k)
		}
	}
}

// TestCatalogueFacts pins the facts the standing warning must state (see
// shared/CONTENT-FACTS.md), so an edit cannot drop one silently.
func TestCatalogueFacts(t *testing.T) {
	for _, c := range []struct{ lang, want string }{
		{"ja", "携帯電話で話さない"}, {"ja", "警察がATMの操作をお願いすることは絶対にありません"},
		{"ja", "還付金"}, {"ja", "110番"}, {"ja", "#9110"}, {"ja", "自分で調べた番号"},
		{"en", "Do not talk on a cell phone"}, {"en", "police never ask you to operate an ATM"},
		{"en", "No refund is ever paid by operating an ATM"}, {"en", "110"}, {"en", "#9110"}, {"en", "look up yourself"},
	} {
		if got := BuiltinText(StrStandingBody, c.lang) + BuiltinText(StrStandingHead, c.lang); !strings.Contains(got, c.want) {
			t.Errorf("standing warning (%s) does not say %q", c.lang, c.want)
		}
	}
}

func langAlert(texts ...wire.Text) *wire.Alert {
	return &wire.Alert{ID: "a-lang", Version: 1, Priority: 60, Issuer: "警視庁", Texts: texts,
		Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}
}

var (
	textJA = wire.Text{Lang: "ja", Headline: "警察を名乗る電話に注意", Body: "警察がATMの操作をお願いすることはありません。", Instruction: "電話を切って110番へ"}
	textEN = wire.Text{Lang: "en", Headline: "Beware of fake police calls", Body: "The police never ask you to operate an ATM.", Instruction: "Hang up and call 110."}
	textZH = wire.Text{Lang: "zh", Headline: "谨防冒充警察的诈骗电话", Body: "警察绝不会要求您操作ATM。", Instruction: "请挂断电话，拨打110。"}
	textKO = wire.Text{Lang: "ko", Headline: "경찰 사칭 사기 전화 주의", Body: "경찰은 ATM 조작을 요구하지 않습니다.", Instruction: "전화를 끊고 110에 전화하세요."}
	textVI = wire.Text{Lang: "vi", Headline: "Cảnh giác cuộc gọi giả danh cảnh sát", Body: "Cảnh sát không bao giờ yêu cầu bạn thao tác ATM.", Instruction: "Hãy cúp máy và gọi 110."}
	textPT = wire.Text{Lang: "pt", Headline: "Cuidado com falsos policiais", Body: "A polícia nunca pede para você operar o caixa eletrônico.", Instruction: "Desligue e ligue para 110."}
)

// TestLanguagesDefaultFont: with the embedded font, ja, en, vi and pt are
// drawable; zh (simplified characters) and ko (Hangul) are refused with a
// *GlyphError naming the field and the characters, at publish time.
func TestLanguagesDefaultFont(t *testing.T) {
	for _, c := range []struct {
		text    wire.Text
		missing bool
	}{{textJA, false}, {textEN, false}, {textVI, false}, {textPT, false}, {textZH, true}, {textKO, true}} {
		t.Run(c.text.Lang, func(t *testing.T) {
			s := Screen{Kind: KindAlert, Alert: langAlert(textJA, c.text)}
			if c.text.Lang == "ja" {
				s.Alert = langAlert(textJA)
			}
			err := CheckFit(s, nil)
			if !c.missing {
				if err != nil {
					t.Fatalf("CheckFit: %v", err)
				}
				s.Lang = c.text.Lang
				img, err := Render(s, 1920, 1080)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if FrameHash(img) == "" {
					t.Fatal("no hash")
				}
				return
			}
			var ge *GlyphError
			if !errors.As(err, &ge) {
				t.Fatalf("CheckFit = %v, want a *GlyphError", err)
			}
			if ge.Lang != c.text.Lang || ge.Field != "headline" || len(ge.Runes) == 0 || !errors.Is(err, ErrMissingGlyph) {
				t.Fatalf("GlyphError %+v: want lang %s, field headline, runes", ge, c.text.Lang)
			}
			// Render refuses too: never tofu.
			s.Lang = c.text.Lang
			if _, err := Render(s, 1920, 1080); !errors.Is(err, ErrMissingGlyph) {
				t.Fatalf("Render = %v, want ErrMissingGlyph", err)
			}
			// The Japanese text of the same alert still renders.
			s.Lang = "ja"
			if _, err := Render(s, 1920, 1080); err != nil {
				t.Fatalf("Render ja: %v", err)
			}
		})
	}
}

// notoCJK is Debian's fonts-noto-cjk bold collection.
const notoCJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"

// TestLanguagesNotoCJK: with the system Noto Sans CJK face configured, all
// six languages are drawable. It needs Debian's fonts-noto-cjk; without it
// the test says so and is skipped (the default-font test above still runs).
func TestLanguagesNotoCJK(t *testing.T) {
	if _, err := os.Stat(notoCJK); err != nil {
		t.Skipf("fonts-noto-cjk not installed (%v): apt-get install fonts-noto-cjk to run this test", err)
	}
	fs, err := LoadFonts(FontConfig{Path: notoCJK})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	a := langAlert(textJA, textEN, textZH, textKO, textVI, textPT)
	if err := CheckFit(Screen{Kind: KindAlert, Alert: a}, nil, WithFonts(fs)); err != nil {
		t.Fatalf("CheckFit with Noto CJK: %v", err)
	}
	for _, lang := range []string{"zh", "ko"} {
		s := Screen{Kind: KindAlert, Lang: lang, Alert: a}
		img, err := Render(s, 1080, 1920, WithFonts(fs))
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		sc, _ := layout(s, 1080, 1920, fs)
		for _, pt := range sc.texts {
			if k, _, _ := measuredContrast(img, inkBox(pt, fs)); k < 7 {
				t.Errorf("%s %s: contrast %.2f", lang, pt.field, k)
			}
			if pt.headline && pt.size*fs.CapHeight() < 0.05*1920 {
				t.Errorf("%s headline cap height too small", lang)
			}
		}
	}
}
