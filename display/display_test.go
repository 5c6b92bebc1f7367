package display

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/png"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/atmguard/kiosk/internal/wire"
)

func TestWrapKinsoku(t *testing.T) {
	fs := DefaultFonts()
	texts := []string{
		"警察署の番号（末尾0110）を表示する詐欺電話が多発しています。",
		"「あなたの口座が犯罪に使われている」と言われたら、すぐに電話を切ってください。",
		"ATMでお金（還付金）が戻ることは絶対にありません！ちょっと待って、ゆっくり考えて。",
		"110番（緊急）・#9110（相談）へ、自分で調べた番号で。ーーー「テスト」ー。",
		"Hang up. Call the police (110) on a number you look up yourself: #9110.",
		"ハングアップ！「Hang up!」と言われたら、電話を切ってください。",
	}
	for _, text := range texts {
		// Every width from narrow to wide: the rules must hold at each.
		for w := 3.0; w <= 30; w += 0.5 {
			lines, _, ok := fs.wrap(text, w, 0, true)
			if !ok {
				continue // a word wider than the line: fit reports it
			}
			if got := strings.ReplaceAll(strings.Join(lines, ""), " ", ""); got != strings.ReplaceAll(text, " ", "") {
				t.Fatalf("width %.1f: lines %q lose or add text", w, lines)
			}
			for i, l := range lines {
				if l == "" {
					t.Fatalf("width %.1f: empty line %d in %q", w, i, lines)
				}
				first, _ := utf8.DecodeRuneInString(l)
				last, _ := utf8.DecodeLastRuneInString(l)
				if i > 0 && NoLineStart(first) {
					t.Errorf("width %.1f: line %q starts with %q (kinsoku)", w, l, first)
				}
				if i < len(lines)-1 && NoLineEnd(last) {
					t.Errorf("width %.1f: line %q ends with %q (kinsoku)", w, l, last)
				}
				if lw := fs.measure(l, 0); lw > w+1e-9 {
					t.Errorf("width %.1f: line %q is %.2f em wide", w, l, lw)
				}
			}
		}
	}
}

func TestWrapCases(t *testing.T) {
	fs := DefaultFonts()
	cases := []struct {
		text  string
		width float64
		want  []string
	}{
		// 。 may not start a line: it goes with the character before it.
		{"あいうえ。かき", 4, []string{"あいう", "え。かき"}},
		// 「 may not end a line: it goes to the next one.
		{"あいう「かき」", 4, []string{"あいう", "「かき」"}},
		// small kana and the long vowel mark stay with what precedes them.
		{"あいうっ", 3, []string{"あい", "うっ"}},
		{"あいうー", 3, []string{"あい", "うー"}},
		// Latin words are never cut; spaces are break points.
		{"call the police", 6, []string{"call the", "police"}},
		// Forced line breaks are kept.
		{"ab\ncd", 20, []string{"ab", "cd"}},
	}
	for _, c := range cases {
		lines, _, ok := fs.wrap(c.text, c.width, 0, true)
		if !ok || strings.Join(lines, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrap(%q, %.0f) = %q ok=%v, want %q", c.text, c.width, lines, ok, c.want)
		}
	}
	if _, _, ok := fs.wrap("Supercalifragilistic", 3, 0, true); ok {
		t.Error("a word wider than the line must not be accepted (it would be cut)")
	}
}

func TestFitErrorNamesField(t *testing.T) {
	a := testAlert(t)
	long := *a
	long.Texts = []wire.Text{a.Texts[0], {Lang: "en", Headline: a.Texts[1].Headline,
		Body:        strings.Repeat("Callers claiming to be police officers say your bank account is linked to a crime. ", 4),
		Instruction: strings.Repeat("Hang up and call 110. ", 9)}}
	if err := long.Validate(); err != nil {
		t.Fatalf("test alert invalid: %v", err)
	}
	err := CheckFit(Screen{Kind: KindAlert, Alert: &long}, []image.Point{{1080, 1920}})
	var fe *FitError
	if !errors.As(err, &fe) || !errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("CheckFit = %v, want a *FitError", err)
	}
	if fe.Lang != "en" || (fe.Field != "body" && fe.Field != "instruction") || fe.W != 1080 || fe.H != 1920 || fe.Screen != "alert:a-0110" {
		t.Fatalf("FitError %+v: want the en body or instruction at 1080x1920", fe)
	}
	// Japanese still fits: the error is about en only.
	for _, e := range unjoin(err) {
		if errors.As(e, &fe) && fe.Lang != "en" {
			t.Errorf("unexpected error for %s: %v", fe.Lang, e)
		}
	}
	// A word that cannot be broken and is wider than the screen.
	word := *a
	word.Texts = []wire.Text{{Lang: "en", Headline: "Warning", Body: strings.Repeat("x", 300)}}
	err = CheckFit(Screen{Kind: KindAlert, Alert: &word}, []image.Point{{1920, 1080}})
	if !errors.As(err, &fe) || fe.Field != "body" || !strings.Contains(fe.Reason, "word") {
		t.Fatalf("CheckFit = %v, want a body FitError about a word", err)
	}
	if _, err := Render(Screen{Kind: KindAlert, Alert: &word}, 1920, 1080); !errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("Render = %v, want ErrDoesNotFit", err)
	}
}

func TestCheckFitAcceptsGoodContent(t *testing.T) {
	for _, c := range templateCases(t) {
		if err := CheckFit(c.s, nil); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestInvalidScreens(t *testing.T) {
	for _, s := range []Screen{
		{Kind: KindAlert},
		{Kind: KindAlert, Alert: &wire.Alert{ID: "x"}},
		{Kind: KindCampaign},
		{Kind: KindIdentify},
		{Kind: "bogus"},
	} {
		if _, err := Render(s, 800, 600); !errors.Is(err, ErrInvalidScreen) {
			t.Errorf("%+v: err %v, want ErrInvalidScreen", s, err)
		}
	}
	for _, sz := range [][2]int{{0, 0}, {-5, 100}, {10, 10}, {100000, 100}} {
		if _, err := Render(StandingScreen(), sz[0], sz[1]); !errors.Is(err, ErrInvalidScreen) {
			t.Errorf("size %v: err %v, want ErrInvalidScreen", sz, err)
		}
	}
}

// TestAnyResolution: the built-in screens (the fallbacks) render at every
// common panel size, landscape and portrait.
func TestAnyResolution(t *testing.T) {
	sizes := []image.Point{{320, 240}, {640, 480}, {800, 600}, {1024, 768}, {1280, 720}, {1366, 768}, {1920, 1080}, {2560, 1440}, {3840, 2160},
		{480, 640}, {600, 800}, {768, 1024}, {720, 1280}, {768, 1366}, {1080, 1920}, {1200, 1920}}
	for _, sz := range sizes {
		for _, k := range []Kind{KindStanding, KindPhone, KindMaintenance} {
			for _, lang := range []string{"ja", "en"} {
				if _, err := layout(Screen{Kind: k, Lang: lang}, sz.X, sz.Y, DefaultFonts()); err != nil {
					t.Errorf("%s %s %v: %v", k, lang, sz, err)
				}
			}
		}
	}
}

// TestStandingAlwaysRenders: the standing warning is every other screen's
// fallback, so it renders on any panel ebitenview draws on (at least 200
// pixels each way, up to 1:4), shrinking below its usual minimums if it must.
func TestStandingAlwaysRenders(t *testing.T) {
	for w := 200; w <= 1600; w += 100 {
		for h := 200; h <= 1600; h += 100 {
			if w > 4*h || h > 4*w {
				continue
			}
			for _, lang := range []string{"ja", "en"} {
				if _, err := layout(Screen{Kind: KindStanding, Lang: lang}, w, h, DefaultFonts()); err != nil {
					t.Errorf("%dx%d %s: %v", w, h, lang, err)
				}
			}
		}
	}
	// An alert is never relaxed: central must refuse what does not fit.
	a := testAlert(t)
	if _, err := layout(Screen{Kind: KindAlert, Alert: a}, 200, 800, DefaultFonts()); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("alert on 200x800: %v, want ErrDoesNotFit", err)
	}
}

func TestCampaignImages(t *testing.T) {
	item := testItem()
	data, ref := testPNG(t)
	withRef := *item
	withRef.Images = []wire.ContentRef{ref}
	textOnly, err := Render(Screen{Kind: KindCampaign, Item: item}, 1920, 1080)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := Render(Screen{Kind: KindCampaign, Item: &withRef}, 1920, 1080)
	if err != nil {
		t.Fatal(err)
	}
	if FrameHash(missing) != FrameHash(textOnly) {
		t.Error("a slide whose image is missing must be the text-only slide")
	}
	with, err := Render(Screen{Kind: KindCampaign, Item: &withRef, Images: map[string][]byte{ref.SHA256: data}}, 1920, 1080)
	if err != nil {
		t.Fatal(err)
	}
	if FrameHash(with) == FrameHash(textOnly) {
		t.Error("the image was not drawn")
	}
	// Bytes that do not match the hash are not drawn.
	forged := append([]byte(nil), data...)
	forged[len(forged)/2] ^= 0xff
	bad, err := Render(Screen{Kind: KindCampaign, Item: &withRef, Images: map[string][]byte{ref.SHA256: forged}}, 1920, 1080)
	if err != nil {
		t.Fatal(err)
	}
	if FrameHash(bad) != FrameHash(textOnly) {
		t.Error("an image whose bytes do not match its sha256 was drawn")
	}
	// A decompression bomb (tiny file, huge declared size) is refused
	// before decoding.
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 5000, 5000))); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	bombRef := wire.ContentRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(buf.Len()), MediaType: "image/png"}
	bombItem := *item
	bombItem.Images = []wire.ContentRef{bombRef}
	bomb, err := Render(Screen{Kind: KindCampaign, Item: &bombItem, Images: map[string][]byte{bombRef.SHA256: buf.Bytes()}}, 1920, 1080)
	if err != nil {
		t.Fatal(err)
	}
	if FrameHash(bomb) != FrameHash(textOnly) {
		t.Error("an oversized image was drawn")
	}
}

func TestFrameHash(t *testing.T) {
	a, _ := Render(StandingScreen(), 640, 480)
	b, _ := Render(StandingScreen(), 640, 480)
	if FrameHash(a) != FrameHash(b) {
		t.Fatal("the same screen rendered twice hashes differently")
	}
	b.Pix[1000] ^= 1
	if FrameHash(a) == FrameHash(b) {
		t.Fatal("one changed pixel does not change the hash")
	}
	// A sub-image hashes its own pixels only.
	sub := a.SubImage(image.Rect(0, 0, 10, 10)).(*image.RGBA)
	if FrameHash(sub) == FrameHash(a) || len(FrameHash(sub)) != 64 {
		t.Fatal("sub-image hash")
	}
}

func TestRenderConcurrent(t *testing.T) {
	s := Screen{Kind: KindAlert, Alert: testAlert(t)}
	want, err := Render(s, 960, 540)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			got, err := Render(s, 960, 540)
			if err == nil && FrameHash(got) != FrameHash(want) {
				err = errors.New("concurrent render differs")
			}
			errc <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestLanguagesList(t *testing.T) {
	a := testAlert(t)
	if got := strings.Join(Languages(Screen{Kind: KindAlert, Alert: a}), ","); got != "ja,en" {
		t.Errorf("alert languages %q", got)
	}
	if got := strings.Join(Languages(StandingScreen()), ","); got != "ja,en" {
		t.Errorf("standing languages %q", got)
	}
	// An unknown language shows the primary text.
	s := Screen{Kind: KindAlert, Lang: "fr", Alert: a}
	x, _ := Render(s, 640, 480)
	s.Lang = "ja"
	y, _ := Render(s, 640, 480)
	if FrameHash(x) != FrameHash(y) {
		t.Error("unknown language did not fall back to the primary text")
	}
}

// TestNoEbiten: the renderer must run headless (central, tests): importing
// ebiten itself would make a process panic without an X display. Only the
// pure-data fonts package of ebiten's examples may be linked.
func TestNoEbiten(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/atmguard/kiosk/display").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/hajimehoshi/ebiten") && p != "github.com/hajimehoshi/ebiten/v2/examples/resources/fonts" {
			t.Errorf("display depends on %s", p)
		}
	}
}
