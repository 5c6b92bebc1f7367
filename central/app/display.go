package app

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"strings"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

// Preview sizes: what a full-HD display shows, scaled by nothing — the
// preview is the exact frame.
var previewSize = map[central.Orientation][2]int{
	central.Landscape: {1920, 1080},
	central.Portrait:  {1080, 1920},
}

// renderer draws previews and checks fit with the fonts the fleet's
// displays have: the built-in face, or the one given by --display-font.
// Checking with fewer glyphs than the displays have would refuse alerts they
// can draw (Korean with Noto Sans CJK); with more, it would pass tofu.
type renderer struct{ opts []display.Option }

// renderAlert is the preview renderer: display.Render, PNG-encoded.
func (r renderer) renderAlert(a wire.Alert, lang string, o central.Orientation) ([]byte, error) {
	sz := previewSize[o]
	img, err := display.Render(display.Screen{Kind: display.KindAlert, Lang: lang, Alert: &a}, sz[0], sz[1], r.opts...)
	if err != nil {
		if errs := fitErrors(a, err); len(errs) > 0 {
			return nil, errs[0]
		}
		return nil, fmt.Errorf("render preview: %w", err)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode preview: %w", err)
	}
	return buf.Bytes(), nil
}

// checkFit is the publish-time fit check: every language, every standard
// screen size. Errors name the input field (texts[i].body, ...).
func (r renderer) checkFit(a wire.Alert) []error {
	err := display.CheckFit(display.Screen{Kind: display.KindAlert, Alert: &a}, nil, r.opts...)
	if err == nil {
		return nil
	}
	return fitErrors(a, err)
}

func fitErrors(a wire.Alert, err error) []error {
	var out []error
	for _, e := range unjoin(err) {
		var fe *display.FitError
		var ge *display.GlyphError
		switch {
		case errors.As(e, &fe):
			out = append(out, &central.FieldError{Kind: central.ErrInvalid, Field: fieldPath(a, fe.Lang, fe.Field),
				Message: fmt.Sprintf("%s (%s) does not fit a %dx%d screen even at the smallest font size: shorten it", fe.Field, fe.Lang, fe.W, fe.H)})
		case errors.As(e, &ge):
			out = append(out, &central.FieldError{Kind: central.ErrInvalid, Field: fieldPath(a, ge.Lang, ge.Field), Text: string(ge.Runes),
				Message: fmt.Sprintf("%s (%s) has characters the displays cannot draw: %q", ge.Field, ge.Lang, string(ge.Runes))})
		default:
			out = append(out, &central.FieldError{Kind: central.ErrInvalid, Message: e.Error()})
		}
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func fieldPath(a wire.Alert, lang, field string) string {
	f := strings.ReplaceAll(field, " ", "_")
	switch f {
	case "qr_label":
		return "qr.label"
	case "issuer":
		return "issuer"
	}
	for i, t := range a.Texts {
		if t.Lang == lang {
			return fmt.Sprintf("texts[%d].%s", i, f)
		}
	}
	return f
}
