package display

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
)

// Palette. Every text/background pair used below has a contrast ratio of at
// least 7:1 (WCAG AAA); the legibility tests measure it on the pixels.
var (
	colWhite  = color.RGBA{0xff, 0xff, 0xff, 0xff}
	colBlack  = color.RGBA{0x00, 0x00, 0x00, 0xff}
	colInk    = color.RGBA{0x11, 0x11, 0x11, 0xff}
	colGrey   = color.RGBA{0x33, 0x33, 0x33, 0xff}
	colRed    = color.RGBA{0xa0, 0x00, 0x00, 0xff}
	colYellow = color.RGBA{0xff, 0xd6, 0x00, 0xff}
	colNavy   = color.RGBA{0x0b, 0x1f, 0x3a, 0xff}
	colCharc  = color.RGBA{0x1a, 0x1a, 0x1a, 0xff}
)

// ErrDoesNotFit is wrapped by every *FitError.
var ErrDoesNotFit = errors.New("text does not fit")

// ErrMissingGlyph is wrapped by every *GlyphError.
var ErrMissingGlyph = errors.New("no font has a glyph")

// ErrInvalidScreen is returned for a Screen that lacks what its Kind needs.
var ErrInvalidScreen = errors.New("invalid screen")

// FitError says which field of which screen does not fit at which size,
// even at its minimum font size with wrapping. Words are never cut.
type FitError struct {
	Screen  string // Screen.ID()
	Field   string // headline, body, instruction, issuer, qr label, ...
	Lang    string
	W, H    int     // screen size
	MinSize float64 // minimum font size in px that was tried
	Reason  string
}

func (e *FitError) Error() string {
	return fmt.Sprintf("%s: %s (%s) does not fit a %dx%d screen at the minimum %.0fpx: %s",
		e.Screen, e.Field, e.Lang, e.W, e.H, e.MinSize, e.Reason)
}

func (e *FitError) Unwrap() error { return ErrDoesNotFit }

// GlyphError says which characters of which field no font can draw.
// Central refuses such text at publish time; the display never draws tofu.
type GlyphError struct {
	Screen string
	Field  string
	Lang   string
	Runes  []rune
	Fonts  []string
}

func (e *GlyphError) Error() string {
	return fmt.Sprintf("%s: %s (%s) has characters no installed font can draw: %q (fonts: %v)",
		e.Screen, e.Field, e.Lang, string(e.Runes), e.Fonts)
}

func (e *GlyphError) Unwrap() error { return ErrMissingGlyph }

type align int

const (
	alignLeft align = iota
	alignCenter
)

// textBox is a text field to fit into a box.
type textBox struct {
	field    string
	lang     string
	text     string
	box      image.Rectangle
	min, max float64 // font size range, px
	fg, bg   color.RGBA
	bold     bool
	align    align
	vcenter  bool
	headline bool // the screen's headline: cap height >= 5% of the screen height
}

// placedText is a fitted textBox.
type placedText struct {
	textBox
	size  float64
	lines []string
	lineH float64
	track float64 // em
}

type fillRect struct {
	r image.Rectangle
	c color.RGBA
}

type placedQR struct {
	r     image.Rectangle
	text  string
	field string
}

type placedImage struct {
	r   image.Rectangle
	img image.Image
}

// scene is a laid-out screen: what to paint, in order.
type scene struct {
	w, h   int
	bg     color.RGBA
	fills  []fillRect
	texts  []placedText
	qrs    []placedQR
	images []placedImage
}

const (
	lineSpacing = 1.28 // line height in em
	boldTrack   = 0.03
	// minHeadlineCap is the least cap height of a headline as a fraction of
	// the screen height.
	minHeadlineCap = 0.05
)

// fit chooses the font size and line breaks of b. It first keeps the text
// on its own (author's) lines while shrinking to 75% of the maximum; then it
// wraps, from the maximum size down to the minimum. The first size that fits
// wins. Nothing fits: a *FitError.
func (l *layouter) fit(b textBox) (placedText, error) {
	p := placedText{textBox: b}
	if b.bold && !l.fs.faces[0].bold {
		p.track = boldTrack
	}
	if b.max < b.min {
		b.max = b.min
	}
	bw, bh := float64(b.box.Dx()), float64(b.box.Dy())
	try := func(size float64, wrap bool) bool {
		lines, _, ok := l.fs.wrap(b.text, bw/size, p.track, wrap)
		if !ok || float64(len(lines))*size*lineSpacing > bh+0.5 {
			return false
		}
		p.size, p.lines, p.lineH = size, lines, size*lineSpacing
		return true
	}
	for s := b.max; s >= math.Max(b.min, 0.75*b.max); s *= 0.95 {
		if try(s, false) {
			return p, nil
		}
	}
	for s := b.max; s > b.min; s *= 0.95 {
		if try(s, true) {
			return p, nil
		}
	}
	if try(b.min, true) {
		return p, nil
	}
	reason := "too many lines for the box"
	if _, _, ok := l.fs.wrap(b.text, bw/b.min, p.track, true); !ok {
		reason = "a word is wider than the box"
	}
	return p, &FitError{Screen: l.id, Field: b.field, Lang: b.lang, W: l.w, H: l.h, MinSize: b.min, Reason: reason}
}

// layouter lays out one screen at one size.
type layouter struct {
	fs   *Fonts
	id   string
	w, h int
	sc   *scene
	errs []error
	// relax scales every minimum font size (1 normally; less only for
	// the standing warning on odd panels).
	relax float64
}

func (l *layouter) short() float64 { return float64(min(l.w, l.h)) }

// headlineRange is the size range of a screen's headline: the minimum gives
// a cap height of 5% of the screen height.
func (l *layouter) headlineRange(maxFrac float64) (lo, hi float64) {
	lo = math.Ceil(minHeadlineCap * float64(l.h) / l.fs.CapHeight())
	hi = math.Max(lo, math.Min(maxFrac*float64(l.h), 0.14*float64(l.w)))
	return lo, hi
}

func (l *layouter) text(b textBox) {
	if b.text == "" || b.box.Dx() <= 0 || b.box.Dy() <= 0 {
		if b.text != "" {
			l.errs = append(l.errs, &FitError{Screen: l.id, Field: b.field, Lang: b.lang, W: l.w, H: l.h, MinSize: b.min, Reason: "no room left for the field"})
		}
		return
	}
	if miss := l.fs.Missing(b.text); len(miss) > 0 {
		l.errs = append(l.errs, &GlyphError{Screen: l.id, Field: b.field, Lang: b.lang, Runes: miss, Fonts: l.fs.Names()})
		return
	}
	b.min *= l.relax
	p, err := l.fit(b)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	l.sc.texts = append(l.sc.texts, p)
}

func (l *layouter) fill(r image.Rectangle, c color.RGBA) {
	l.sc.fills = append(l.sc.fills, fillRect{r, c})
}

func rect(x0, y0, x1, y1 float64) image.Rectangle {
	return image.Rect(int(math.Round(x0)), int(math.Round(y0)), int(math.Round(x1)), int(math.Round(y1)))
}

// layout places every element of s on a w x h screen. All errors (every
// field that does not fit or cannot be drawn) are returned joined.
func layout(s Screen, w, h int, fs *Fonts) (*scene, error) {
	if w < 64 || h < 64 || w > 16384 || h > 16384 {
		return nil, fmt.Errorf("%w: screen size %dx%d out of range 64..16384", ErrInvalidScreen, w, h)
	}
	l := &layouter{fs: fs, id: s.ID(), w: w, h: h, sc: &scene{w: w, h: h}, relax: 1}
	if err := l.run(s); err != nil {
		return nil, err
	}
	if len(l.errs) > 0 && s.Kind == KindStanding {
		// The standing warning is the fallback for everything else: on an
		// odd panel (tiny, or extremely tall or wide) it may go below the
		// minimum sizes rather than leave the screen without a warning.
		for _, relax := range []float64{0.75, 0.5, 0.35} {
			l = &layouter{fs: fs, id: s.ID(), w: w, h: h, sc: &scene{w: w, h: h}, relax: relax}
			if err := l.run(s); err != nil {
				return nil, err
			}
			if len(l.errs) == 0 {
				break
			}
		}
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return l.sc, nil
}

func (l *layouter) run(s Screen) error {
	switch s.Kind {
	case KindAlert:
		if s.Alert == nil || len(s.Alert.Texts) == 0 {
			return fmt.Errorf("%w: alert screen without alert texts", ErrInvalidScreen)
		}
		l.alert(s)
	case KindCampaign:
		if s.Item == nil || len(s.Item.Texts) == 0 {
			return fmt.Errorf("%w: campaign screen without item texts", ErrInvalidScreen)
		}
		l.campaign(s)
	case KindStanding:
		l.standing(s)
	case KindPhone:
		l.phone(s)
	case KindIdentify:
		if s.Identify == nil {
			return fmt.Errorf("%w: identify screen without identify info", ErrInvalidScreen)
		}
		l.identify(s)
	case KindMaintenance:
		l.maintenance(s)
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidScreen, s.Kind)
	}
	return nil
}

// split divides the span [y0,y1) among parts by weight, leaving gap between
// present parts; absent parts (weight 0) get nothing.
func split(y0, y1, gap float64, weights ...float64) [][2]float64 {
	total, n := 0.0, 0
	for _, w := range weights {
		if w > 0 {
			total += w
			n++
		}
	}
	out := make([][2]float64, len(weights))
	if n == 0 {
		return out
	}
	avail := y1 - y0 - gap*float64(n-1)
	y := y0
	for i, w := range weights {
		if w <= 0 {
			out[i] = [2]float64{y, y}
			continue
		}
		hgt := avail * w / total
		out[i] = [2]float64{y, y + hgt}
		y += hgt + gap
	}
	return out
}

// part is a field competing for vertical space in splitFit.
type part struct {
	text   string
	min    float64 // its minimum font size
	bold   bool
	weight float64 // share of the space left once every part has its minimum
	pad    float64 // padding on each side inside its box
}

// need is the height text takes at size px wrapped to width (0 when a word
// is wider than the width: fit reports that).
func (l *layouter) need(text string, width, size float64, bold bool) float64 {
	if text == "" {
		return 0
	}
	track := 0.0
	if bold && !l.fs.faces[0].bold {
		track = boldTrack
	}
	size *= l.relax
	lines, _, ok := l.fs.wrap(text, width/size, track, true)
	if !ok {
		return 0
	}
	return float64(len(lines))*size*lineSpacing + 1
}

// splitFit divides [y0,y1) among parts: each first gets the height it needs
// at its minimum size, then the rest is shared by weight. Absent (empty)
// parts get nothing. When the minimums do not fit, each gets a share in
// proportion to its need, and fit reports the fields that overflow.
func (l *layouter) splitFit(width, y0, y1, gap float64, parts ...part) [][2]float64 {
	needs := make([]float64, len(parts))
	sumNeed, sumW, n := 0.0, 0.0, 0
	for i, p := range parts {
		if p.text == "" {
			continue
		}
		n++
		needs[i] = l.need(p.text, width-2*p.pad, p.min, p.bold) + 2*p.pad
		sumNeed += needs[i]
		sumW += p.weight
	}
	out := make([][2]float64, len(parts))
	avail := y1 - y0 - gap*float64(max(n-1, 0))
	y := y0
	for i, p := range parts {
		if p.text == "" {
			out[i] = [2]float64{y, y}
			continue
		}
		var hgt float64
		if sumNeed <= avail {
			hgt = needs[i] + (avail-sumNeed)*p.weight/sumW
		} else {
			hgt = avail * needs[i] / sumNeed
		}
		out[i] = [2]float64{y, y + hgt}
		y += hgt + gap
	}
	return out
}

func weight(s string, w float64) float64 {
	if s == "" {
		return 0
	}
	return w
}

// alert: red band with the headline, body, the instruction in a yellow box,
// optional QR code with its label, issuing authority at the foot.
func (l *layouter) alert(s Screen) {
	a := s.Alert
	t := pickText(a.Texts, s.Lang)
	W, H, S := float64(l.w), float64(l.h), l.short()
	m := math.Round(0.045 * S)
	land := l.w >= l.h
	l.sc.bg = colWhite

	tagH := 0.07 * H
	bandH := 0.40 * H
	if !land {
		tagH = 0.045 * H
		bandH = 0.30 * H
	}
	lo, hi := l.headlineRange(0.12)
	head := func(bandH float64) textBox {
		return textBox{field: "headline", lang: t.Lang, text: t.Headline, box: rect(m, m/2+tagH, W-m, bandH-m/2),
			min: lo, max: hi, fg: colWhite, bg: colRed, bold: true, vcenter: true, headline: true}
	}
	// The band grows (and the rest shrinks) for a long headline.
	bandH = math.Min(math.Max(bandH, m/2+tagH+l.need(t.Headline, W-2*m, lo, true)+m/2), 0.7*H)
	l.fill(rect(0, 0, W, bandH), colRed)
	tag := BuiltinText(StrUrgentTag, "ja")
	if t.Lang != "ja" {
		tag = BuiltinText(StrUrgentTag, "en")
	}
	l.text(textBox{field: "urgent tag", lang: t.Lang, text: tag, box: rect(m, m/2, W-m, m/2+tagH),
		min: 0.03 * S, max: 0.05 * S, fg: colWhite, bg: colRed, bold: true})
	l.text(head(bandH))

	footH := 0.07 * H
	if !land {
		footH = 0.045 * H
	}
	top, bottom := bandH+m, H-footH-m/2
	left, right := m, W-m
	if a.QR != nil {
		if land {
			qrW := math.Min(0.27*W, bottom-top)
			l.qrBlock(a.QR.URL, a.QR.Label, t.Lang, rect(W-m-qrW, top, W-m, bottom), colWhite, colInk, true)
			right = W - m - qrW - m
		} else {
			qrH := 0.16 * H
			l.qrBlock(a.QR.URL, a.QR.Label, t.Lang, rect(m, bottom-qrH, W-m, bottom), colWhite, colInk, false)
			bottom = bottom - qrH - m
		}
	}
	parts := l.splitFit(right-left, top, bottom, m, part{t.Body, 0.03 * S, false, 55, 0}, part{t.Instruction, 0.034 * S, true, 45, m / 2})
	l.text(textBox{field: "body", lang: t.Lang, text: t.Body, box: rect(left, parts[0][0], right, parts[0][1]),
		min: 0.03 * S, max: 0.06 * S, fg: colInk, bg: colWhite})
	if t.Instruction != "" {
		ib := rect(left, parts[1][0], right, parts[1][1])
		l.fill(ib, colYellow)
		pad := m / 2
		l.text(textBox{field: "instruction", lang: t.Lang, text: t.Instruction, box: ib.Inset(int(pad)),
			min: 0.034 * S, max: 0.07 * S, fg: colBlack, bg: colYellow, bold: true, vcenter: true})
	}
	if a.Issuer != "" {
		l.fill(rect(0, H-footH-m/4, W, H-footH-m/4+math.Max(1, S/400)), colGrey)
		l.text(textBox{field: "issuer", lang: t.Lang, text: a.Issuer, box: rect(m, H-footH, W-m, H-m/4),
			min: 0.022 * S, max: 0.035 * S, fg: colGrey, bg: colWhite, vcenter: true})
	}
}

// qrBlock draws a QR code with its label beside (portrait) or below it.
func (l *layouter) qrBlock(url, label, lang string, r image.Rectangle, bg, fg color.RGBA, labelBelow bool) {
	x0, y0, x1, y1 := float64(r.Min.X), float64(r.Min.Y), float64(r.Max.X), float64(r.Max.Y)
	S := l.short()
	if labelBelow {
		labH := 0.0
		if label != "" {
			labH = math.Min(0.3*(y1-y0), 0.16*S)
		}
		side := math.Min(x1-x0, y1-y0-labH)
		qx := x0 + (x1-x0-side)/2
		l.sc.qrs = append(l.sc.qrs, placedQR{r: rect(qx, y0, qx+side, y0+side), text: url, field: "qr url"})
		if label != "" {
			l.text(textBox{field: "qr label", lang: lang, text: label, box: rect(x0, y0+side+S/100, x1, y1),
				min: 0.022 * S, max: 0.035 * S, fg: fg, bg: bg, align: alignCenter})
		}
		return
	}
	side := y1 - y0
	l.sc.qrs = append(l.sc.qrs, placedQR{r: rect(x0, y0, x0+side, y1), text: url, field: "qr url"})
	if label != "" {
		l.text(textBox{field: "qr label", lang: lang, text: label, box: rect(x0+side+S/30, y0, x1, y1),
			min: 0.026 * S, max: 0.045 * S, fg: fg, bg: bg, vcenter: true})
	}
}

// campaign: navy slide, headline, body, instruction in yellow, images
// beside (landscape) or above (portrait) the text.
func (l *layouter) campaign(s Screen) {
	it := s.Item
	t := pickText(it.Texts, s.Lang)
	W, H, S := float64(l.w), float64(l.h), l.short()
	m := math.Round(0.05 * S)
	land := l.w >= l.h
	l.sc.bg = colNavy
	imgs := decodeImages(it.Images, s.Images)
	tx0, ty0, tx1, ty1 := m, m, W-m, H-m
	if len(imgs) > 0 {
		var area image.Rectangle
		if land {
			area = rect(W*0.52, m, W-m, H-m)
			tx1 = W*0.52 - m
		} else {
			area = rect(m, m, W-m, H*0.38)
			ty0 = H*0.38 + m
		}
		l.placeImages(imgs, area, m/2)
	}
	lo, hi := l.headlineRange(0.13)
	parts := l.splitFit(tx1-tx0, ty0, ty1, m*0.7, part{t.Headline, lo, true, 36, 0}, part{t.Body, 0.03 * S, false, 40, 0}, part{t.Instruction, 0.034 * S, true, 24, 0})
	l.text(textBox{field: "headline", lang: t.Lang, text: t.Headline, box: rect(tx0, parts[0][0], tx1, parts[0][1]),
		min: lo, max: hi, fg: colWhite, bg: colNavy, bold: true, vcenter: true, headline: true})
	l.text(textBox{field: "body", lang: t.Lang, text: t.Body, box: rect(tx0, parts[1][0], tx1, parts[1][1]),
		min: 0.03 * S, max: 0.06 * S, fg: colWhite, bg: colNavy})
	l.text(textBox{field: "instruction", lang: t.Lang, text: t.Instruction, box: rect(tx0, parts[2][0], tx1, parts[2][1]),
		min: 0.034 * S, max: 0.065 * S, fg: colYellow, bg: colNavy, bold: true, vcenter: true})
}

// placeImages fits images into area, in a row (wide area) or a column.
func (l *layouter) placeImages(imgs []image.Image, area image.Rectangle, gap float64) {
	n := float64(len(imgs))
	ax0, ay0, ax1, ay1 := float64(area.Min.X), float64(area.Min.Y), float64(area.Max.X), float64(area.Max.Y)
	horiz := (ax1 - ax0) > (ay1 - ay0)
	for i, img := range imgs {
		var cell [4]float64
		if horiz {
			cw := (ax1 - ax0 - gap*(n-1)) / n
			x := ax0 + float64(i)*(cw+gap)
			cell = [4]float64{x, ay0, x + cw, ay1}
		} else {
			ch := (ay1 - ay0 - gap*(n-1)) / n
			y := ay0 + float64(i)*(ch+gap)
			cell = [4]float64{ax0, y, ax1, y + ch}
		}
		b := img.Bounds()
		sc := math.Min((cell[2]-cell[0])/float64(b.Dx()), (cell[3]-cell[1])/float64(b.Dy()))
		iw, ih := float64(b.Dx())*sc, float64(b.Dy())*sc
		x := cell[0] + (cell[2]-cell[0]-iw)/2
		y := cell[1] + (cell[3]-cell[1]-ih)/2
		l.sc.images = append(l.sc.images, placedImage{r: rect(x, y, x+iw, y+ih), img: img})
	}
}

// standing: the built-in warning. The primary language (ja unless Lang
// says otherwise) on yellow, the other on black below it.
func (l *layouter) standing(s Screen) {
	W, H, S := float64(l.w), float64(l.h), l.short()
	m := math.Round(0.045 * S)
	prim, sec := "ja", "en"
	if s.Lang == "en" {
		prim, sec = "en", "ja"
	}
	l.sc.bg = colYellow
	split1 := 0.62 * H
	l.fill(rect(0, split1, W, H), colBlack)
	lo, hi := l.headlineRange(0.12)
	parts := l.splitFit(W-2*m, m, split1-m/2, m/2, part{BuiltinText(StrStandingHead, prim), lo, true, 30, 0}, part{BuiltinText(StrStandingBody, prim), 0.026 * S, false, 70, 0})
	l.text(textBox{field: "headline", lang: prim, text: BuiltinText(StrStandingHead, prim), box: rect(m, parts[0][0], W-m, parts[0][1]),
		min: lo, max: hi, fg: colBlack, bg: colYellow, bold: true, vcenter: true, headline: true, align: alignCenter})
	l.text(textBox{field: "body", lang: prim, text: BuiltinText(StrStandingBody, prim), box: rect(m, parts[1][0], W-m, parts[1][1]),
		min: 0.026 * S, max: 0.055 * S, fg: colBlack, bg: colYellow, vcenter: true})
	parts = l.splitFit(W-2*m, split1+m/2, H-m/2, m/3, part{BuiltinText(StrStandingHead, sec), 0.03 * S, true, 28, 0}, part{BuiltinText(StrStandingBody, sec), 0.022 * S, false, 72, 0})
	l.text(textBox{field: "secondary headline", lang: sec, text: BuiltinText(StrStandingHead, sec), box: rect(m, parts[0][0], W-m, parts[0][1]),
		min: 0.03 * S, max: 0.07 * S, fg: colYellow, bg: colBlack, bold: true, vcenter: true, align: alignCenter})
	l.text(textBox{field: "secondary body", lang: sec, text: BuiltinText(StrStandingBody, sec), box: rect(m, parts[1][0], W-m, parts[1][1]),
		min: 0.022 * S, max: 0.04 * S, fg: colWhite, bg: colBlack, vcenter: true})
}

// phone: full red interrupt, huge "hang up" in the primary language with
// the other language under it.
func (l *layouter) phone(s Screen) {
	W, H, S := float64(l.w), float64(l.h), l.short()
	m := math.Round(0.05 * S)
	prim, sec := "ja", "en"
	if s.Lang != "" && s.Lang != "ja" {
		prim, sec = s.Lang, "ja"
	}
	l.sc.bg = colRed
	body := BuiltinText(StrPhoneBody, prim) + "\n" + BuiltinText(StrPhoneBody, sec)
	if s.Message != "" {
		body = s.Message
	}
	lo, hi := l.headlineRange(0.16)
	parts := l.splitFit(W-2*m, m, H-m, m/2, part{BuiltinText(StrPhoneHead, prim), lo, true, 34, 0}, part{BuiltinText(StrPhoneHead, sec), 0.04 * S, true, 20, 0}, part{body, 0.03 * S, false, 46, 0})
	l.text(textBox{field: "headline", lang: prim, text: BuiltinText(StrPhoneHead, prim), box: rect(m, parts[0][0], W-m, parts[0][1]),
		min: lo, max: hi, fg: colWhite, bg: colRed, bold: true, vcenter: true, headline: true, align: alignCenter})
	l.text(textBox{field: "secondary headline", lang: sec, text: BuiltinText(StrPhoneHead, sec), box: rect(m, parts[1][0], W-m, parts[1][1]),
		min: 0.04 * S, max: 0.1 * S, fg: colWhite, bg: colRed, bold: true, vcenter: true, align: alignCenter})
	l.text(textBox{field: "message", lang: prim, text: body, box: rect(m, parts[2][0], W-m, parts[2][1]),
		min: 0.03 * S, max: 0.055 * S, fg: colWhite, bg: colRed, vcenter: true, align: alignCenter})
}

// identify: for field techs; device facts in large type and a QR code of
// the device's page on central.
func (l *layouter) identify(s Screen) {
	in := s.Identify
	W, H, S := float64(l.w), float64(l.h), l.short()
	m := math.Round(0.045 * S)
	land := l.w >= l.h
	lang := s.Lang
	if lang == "" {
		lang = "ja"
	}
	l.sc.bg = colCharc
	lo, hi := l.headlineRange(0.1)
	headH := 0.17 * H
	if !land {
		headH = 0.1 * H
	}
	headH = math.Max(headH, m/2+l.need(BuiltinText(StrIdentifyHead, lang), W-2*m, lo, true))
	l.text(textBox{field: "headline", lang: lang, text: BuiltinText(StrIdentifyHead, lang), box: rect(m, m/2, W-m, headH),
		min: lo, max: hi, fg: colWhite, bg: colCharc, bold: true, vcenter: true, headline: true})
	top, bottom, right := headH+m/2, H-m, W-m
	if in.URL != "" {
		if land {
			side := math.Min(0.33*W, bottom-top)
			l.qrBlock(in.URL, breakableURL(in.URL), lang, rect(W-m-side, top, W-m, bottom), colCharc, colWhite, true)
			right = W - m - side - m
		} else {
			qrH := 0.3 * H
			l.qrBlock(in.URL, breakableURL(in.URL), lang, rect(m, bottom-qrH, W-m, bottom), colCharc, colWhite, true)
			bottom -= qrH + m
		}
	}
	branch := in.Branch
	if in.Pref != "" {
		branch += " (" + in.Pref + ")"
	}
	rows := []struct{ key, field, val string }{
		{StrIdentifyDevice, "device id", in.DeviceID},
		{StrIdentifyBranch, "branch", branch},
		{StrIdentifyVersion, "agent version", in.AgentVersion},
		{StrIdentifyNetwork, "network", in.Network},
	}
	parts := split(top, bottom, m/3, 1.6, 1, 1, 1)
	for i, r := range rows {
		maxS := 0.06 * S
		if i == 0 {
			maxS = 0.1 * S
		}
		l.text(textBox{field: r.field, lang: lang, text: BuiltinText(r.key, lang) + ": " + r.val, box: rect(m, parts[i][0], right, parts[i][1]),
			min: 0.026 * S, max: maxS, fg: colWhite, bg: colCharc, bold: i == 0, vcenter: true})
	}
}

// maintenance: a calm navy screen that still carries the standing warning.
func (l *layouter) maintenance(s Screen) {
	W, H, S := float64(l.w), float64(l.h), l.short()
	m := math.Round(0.05 * S)
	prim, sec := "ja", "en"
	if s.Lang == "en" {
		prim, sec = "en", "ja"
	}
	l.sc.bg = colNavy
	body := BuiltinText(StrMaintBody, prim) + "\n" + BuiltinText(StrMaintBody, sec)
	if s.Message != "" {
		body = s.Message
	}
	lo, hi := l.headlineRange(0.11)
	rem := BuiltinText(StrReminder, prim) + "\n" + BuiltinText(StrReminder, sec)
	parts := l.splitFit(W-2*m, m, H-m, m/2, part{BuiltinText(StrMaintHead, prim), lo, true, 22, 0}, part{BuiltinText(StrMaintHead, sec), 0.03 * S, false, 14, 0}, part{body, 0.026 * S, false, 26, 0}, part{rem, 0.026 * S, true, 38, 0})
	l.text(textBox{field: "headline", lang: prim, text: BuiltinText(StrMaintHead, prim), box: rect(m, parts[0][0], W-m, parts[0][1]),
		min: lo, max: hi, fg: colWhite, bg: colNavy, bold: true, vcenter: true, headline: true, align: alignCenter})
	l.text(textBox{field: "secondary headline", lang: sec, text: BuiltinText(StrMaintHead, sec), box: rect(m, parts[1][0], W-m, parts[1][1]),
		min: 0.03 * S, max: 0.06 * S, fg: colWhite, bg: colNavy, vcenter: true, align: alignCenter})
	l.text(textBox{field: "message", lang: prim, text: body, box: rect(m, parts[2][0], W-m, parts[2][1]),
		min: 0.026 * S, max: 0.045 * S, fg: colWhite, bg: colNavy, vcenter: true, align: alignCenter})
	l.text(textBox{field: "reminder", lang: prim, text: rem, box: rect(m, parts[3][0], W-m, parts[3][1]),
		min: 0.026 * S, max: 0.05 * S, fg: colYellow, bg: colNavy, bold: true, vcenter: true, align: alignCenter})
}

// breakableURL lets a URL wrap after each "/" (it is one word otherwise).
func breakableURL(u string) string { return strings.ReplaceAll(u, "/", "/"+string(zwsp)) }
