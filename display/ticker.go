package display

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"strings"
)

// RenderTicker draws text as one line, white on black, height px tall, for
// a presenter to scroll. The strip is as wide as the text plus a gap, so
// the presenter can repeat it end to end. Newlines become spaces.
func RenderTicker(text string, height int, opts ...Option) (*image.RGBA, error) {
	o := getOptions(opts)
	fs := o.fonts
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return nil, fmt.Errorf("%w: empty ticker", ErrInvalidScreen)
	}
	if height < 16 || height > 1024 {
		return nil, fmt.Errorf("%w: ticker height %d out of range 16..1024", ErrInvalidScreen, height)
	}
	if miss := fs.Missing(text); len(miss) > 0 {
		return nil, &GlyphError{Screen: "ticker", Field: "ticker", Runes: miss, Fonts: fs.Names()}
	}
	size := 0.62 * float64(height)
	gap := 2.0 // em between repeats
	w := int(math.Ceil((fs.measure(text, 0) + gap) * size))
	if w > 1<<15 {
		return nil, &FitError{Screen: "ticker", Field: "ticker", W: w, H: height, MinSize: size, Reason: "ticker text too long"}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{colBlack}, image.Point{}, draw.Src)
	faces := newFaceSet(fs)
	defer faces.Close()
	pt := placedText{textBox: textBox{field: "ticker", text: text, box: img.Bounds(), fg: colWhite, bg: colBlack, vcenter: true},
		size: size, lines: []string{text}, lineH: float64(height)}
	if err := drawText(img, pt, fs, faces); err != nil {
		return nil, err
	}
	return img, nil
}
