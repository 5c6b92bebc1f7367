package display

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // campaign images
	_ "image/png"  // campaign images

	"github.com/atmguard/kiosk/internal/wire"
	qrcode "github.com/skip2/go-qrcode"
	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/fixed"
)

// Option configures Render and CheckFit.
type Option func(*options)

type options struct {
	fonts *Fonts
}

// WithFonts renders with fs instead of DefaultFonts.
func WithFonts(fs *Fonts) Option { return func(o *options) { o.fonts = fs } }

func getOptions(opts []Option) options {
	o := options{}
	for _, f := range opts {
		f(&o)
	}
	if o.fonts == nil {
		o.fonts = DefaultFonts()
	}
	return o
}

// StandardSizes are the screens CheckFit checks when given none: full HD
// landscape and portrait, and the smaller 1280x720 / 720x1280 panels.
var StandardSizes = []image.Point{{1920, 1080}, {1080, 1920}, {1280, 720}, {720, 1280}}

// Render draws s on a w x h screen. It fails with a *FitError or
// *GlyphError (joined, one per field) rather than draw text that overflows,
// is cut, or shows tofu boxes; the caller shows StandingScreen instead.
func Render(s Screen, w, h int, opts ...Option) (*image.RGBA, error) {
	o := getOptions(opts)
	sc, err := layout(s, w, h, o.fonts)
	if err != nil {
		return nil, fmt.Errorf("render %s at %dx%d: %w", s.ID(), w, h, err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if err := paint(img, sc, o.fonts); err != nil {
		return nil, fmt.Errorf("render %s at %dx%d: %w", s.ID(), w, h, err)
	}
	return img, nil
}

// CheckFit is the publish-time check: it lays s out in every language it
// carries (the agent rotates them) at every size (StandardSizes if none),
// and returns every field that does not fit or cannot be drawn, joined.
// Use errors.As with *FitError or *GlyphError to find the fields.
func CheckFit(s Screen, sizes []image.Point, opts ...Option) error {
	o := getOptions(opts)
	if len(sizes) == 0 {
		sizes = StandardSizes
	}
	var errs []error
	seen := map[string]bool{}
	for _, lang := range Languages(s) {
		s.Lang = lang
		for _, sz := range sizes {
			_, err := layout(s, sz.X, sz.Y, o.fonts)
			if err == nil {
				continue
			}
			// One message per distinct problem: the same missing glyph would
			// otherwise be reported once per screen size.
			for _, e := range unjoin(err) {
				if k := e.Error(); !seen[k] {
					seen[k] = true
					errs = append(errs, e)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// FrameHash is the hex SHA-256 of the pixels of img (row by row, only the
// pixels inside its bounds): the agent reports it in "displayed" events so
// central can tell which exact frame a display showed.
func FrameHash(img *image.RGBA) string {
	h := sha256.New()
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		i := img.PixOffset(b.Min.X, y)
		h.Write(img.Pix[i : i+4*b.Dx()])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// paint rasterizes a laid-out scene.
func paint(img *image.RGBA, sc *scene, fs *Fonts) error {
	draw.Draw(img, img.Bounds(), &image.Uniform{sc.bg}, image.Point{}, draw.Src)
	for _, f := range sc.fills {
		draw.Draw(img, f.r, &image.Uniform{f.c}, image.Point{}, draw.Src)
	}
	for _, pi := range sc.images {
		xdraw.BiLinear.Scale(img, pi.r, pi.img, pi.img.Bounds(), draw.Over, nil)
	}
	for _, q := range sc.qrs {
		if err := drawQR(img, q); err != nil {
			return err
		}
	}
	faces := newFaceSet(fs)
	defer faces.Close()
	for _, t := range sc.texts {
		if err := drawText(img, t, fs, faces); err != nil {
			return err
		}
	}
	return nil
}

func drawText(img *image.RGBA, t placedText, fs *Fonts, faces *faceSet) error {
	src := &image.Uniform{t.fg}
	asc := fs.faces[0].asc
	desc := fs.faces[0].desc
	total := float64(len(t.lines)) * t.lineH
	y0 := float64(t.box.Min.Y)
	if t.vcenter {
		y0 += (float64(t.box.Dy()) - total) / 2
	}
	// Centre the ascent+descent of the face in each line box.
	pad := (t.lineH - (asc+desc)*t.size) / 2
	bold := 0
	if t.track > 0 {
		bold = int(t.track*t.size + 0.5)
	}
	for i, line := range t.lines {
		x := float64(t.box.Min.X)
		if t.align == alignCenter {
			x += (float64(t.box.Dx()) - fs.measure(line, t.track)*t.size) / 2
		}
		base := y0 + float64(i)*t.lineH + pad + asc*t.size
		for _, r := range line {
			g := fs.glyph(r)
			if g.face < 0 {
				continue // spaces and break marks (layout refused real missing glyphs)
			}
			face, err := faces.face(g.face, t.size)
			if err != nil {
				return err
			}
			for k := 0; k <= bold; k++ {
				dot := fixed.Point26_6{X: fixed.Int26_6((x + float64(k)) * 64), Y: fixed.Int26_6(base * 64)}
				dr, mask, mp, _, ok := face.Glyph(dot, r)
				if ok {
					draw.DrawMask(img, dr, src, image.Point{}, mask, mp, draw.Over)
				}
			}
			x += (g.adv + t.track) * t.size
		}
	}
	return nil
}

func drawQR(img *image.RGBA, q placedQR) error {
	code, err := qrcode.New(q.text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("qr code for %q: %w", q.text, err)
	}
	bits := code.Bitmap() // includes the 4-module quiet zone
	n := len(bits)
	mod := min(q.r.Dx(), q.r.Dy()) / n
	if mod < 2 {
		return &FitError{Field: q.field, Reason: fmt.Sprintf("QR code of %d modules needs %dpx, box is %dpx", n, 2*n, min(q.r.Dx(), q.r.Dy()))}
	}
	side := mod * n
	x0 := q.r.Min.X + (q.r.Dx()-side)/2
	y0 := q.r.Min.Y + (q.r.Dy()-side)/2
	draw.Draw(img, image.Rect(x0, y0, x0+side, y0+side), &image.Uniform{color.White}, image.Point{}, draw.Src)
	black := &image.Uniform{color.Black}
	for y, row := range bits {
		for x, on := range row {
			if on {
				r := image.Rect(x0+x*mod, y0+y*mod, x0+(x+1)*mod, y0+(y+1)*mod)
				draw.Draw(img, r, black, image.Point{}, draw.Src)
			}
		}
	}
	return nil
}

// maxImagePixels bounds a decoded campaign image (a 4 MB PNG can claim
// 20000x20000 pixels, 1.6 GB decoded).
const maxImagePixels = 4096 * 4096

// decodeImages decodes the item's images whose verified bytes the agent
// supplied. An image that is absent, does not match its hash, is not a
// PNG/JPEG or is too large is left out: the slide shows its text alone.
func decodeImages(refs []wire.ContentRef, blobs map[string][]byte) []image.Image {
	var out []image.Image
	for _, ref := range refs {
		b, ok := blobs[ref.SHA256]
		if !ok {
			continue
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != ref.SHA256 {
			continue
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width < 1 || cfg.Height < 1 || cfg.Width*cfg.Height > maxImagePixels {
			continue
		}
		img, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			continue
		}
		out = append(out, img)
	}
	return out
}
