package display

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"

	"github.com/hajimehoshi/ebiten/v2/examples/resources/fonts"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// FontConfig names optional system fonts. The embedded M+ 1p Regular face is
// always last in the chain, so a kiosk with no font installed still draws
// Japanese and Latin text.
type FontConfig struct {
	// Path is the preferred face, e.g.
	// /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc. Empty: none.
	Path string
	// Index selects the face inside a collection (.ttc); 0 is the first.
	// For NotoSansCJK-*.ttc 0 is the Japanese face.
	Index int
	// Fallbacks are further faces tried, in order, for runes the preferred
	// face lacks (for example a Korean face). Each is "path" or "path#index".
	Fallbacks []string
}

// Fonts is a chain of faces. A rune is drawn with the first face that has
// it; a rune no face has is a *GlyphError, never a tofu box. A Fonts is safe
// for concurrent use.
type Fonts struct {
	faces []*fontFace

	mu    sync.Mutex
	runes map[rune]glyphInfo
	buf   sfnt.Buffer
}

type fontFace struct {
	name string
	f    *sfnt.Font
	upem float64
	bold bool    // the face is bold already: no synthetic emboldening
	cap  float64 // cap height in em
	asc  float64 // ascent in em
	desc float64 // descent in em
	file *os.File
}

type glyphInfo struct {
	face int     // index into Fonts.faces, -1 when no face has the rune
	adv  float64 // advance in em
}

var (
	defaultOnce  sync.Once
	defaultFonts *Fonts
	defaultErr   error
)

// DefaultFonts is the embedded M+ 1p Regular face alone: what every kiosk
// and central have without installing anything. Central checks alerts
// against it, so what it accepts every display can draw.
func DefaultFonts() *Fonts {
	defaultOnce.Do(func() {
		defaultFonts, defaultErr = LoadFonts(FontConfig{})
	})
	if defaultErr != nil {
		// The embedded font is part of the binary; failing to parse it is a
		// build defect, not an input error.
		panic(fmt.Sprintf("display: embedded font: %v", defaultErr))
	}
	return defaultFonts
}

// LoadFonts opens the configured faces (the file stays open and glyphs are
// read on demand, so a 20 MB collection costs little memory) followed by
// the embedded M+ 1p Regular.
func LoadFonts(cfg FontConfig) (*Fonts, error) {
	fs := &Fonts{runes: map[rune]glyphInfo{}}
	var specs []string
	if cfg.Path != "" {
		specs = append(specs, fmt.Sprintf("%s#%d", cfg.Path, cfg.Index))
	}
	specs = append(specs, cfg.Fallbacks...)
	for _, spec := range specs {
		ff, err := openFace(spec)
		if err != nil {
			fs.Close()
			return nil, err
		}
		fs.faces = append(fs.faces, ff)
	}
	mplus, err := sfnt.Parse(fonts.MPlus1pRegular_ttf)
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("parse embedded M+ 1p: %w", err)
	}
	ff, err := newFontFace("M+ 1p Regular (embedded)", mplus, nil)
	if err != nil {
		fs.Close()
		return nil, err
	}
	fs.faces = append(fs.faces, ff)
	return fs, nil
}

func openFace(spec string) (*fontFace, error) {
	path, idx := spec, 0
	if i := strings.LastIndexByte(spec, '#'); i >= 0 {
		if _, err := fmt.Sscanf(spec[i+1:], "%d", &idx); err != nil || idx < 0 {
			return nil, fmt.Errorf("font %q: bad face index after #", spec)
		}
		path = spec[:i]
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open font: %w", err)
	}
	var f *sfnt.Font
	if c, cerr := sfnt.ParseCollectionReaderAt(file); cerr == nil {
		if idx >= c.NumFonts() {
			file.Close()
			return nil, fmt.Errorf("font %s: face index %d, collection has %d", path, idx, c.NumFonts())
		}
		f, err = c.Font(idx)
	} else {
		f, err = sfnt.ParseReaderAt(file)
	}
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("parse font %s: %w", path, err)
	}
	ff, err := newFontFace(path, f, file)
	if err != nil {
		file.Close()
		return nil, err
	}
	return ff, nil
}

func newFontFace(name string, f *sfnt.Font, file *os.File) (*fontFace, error) {
	var b sfnt.Buffer
	upem := f.UnitsPerEm()
	m, err := f.Metrics(&b, fixed.I(int(upem)), font.HintingNone)
	if err != nil {
		return nil, fmt.Errorf("font %s metrics: %w", name, err)
	}
	ff := &fontFace{name: name, f: f, upem: float64(upem), file: file}
	u := func(x fixed.Int26_6) float64 { return float64(x) / 64 / float64(upem) }
	ff.cap, ff.asc, ff.desc = u(m.CapHeight), u(m.Ascent), u(m.Descent)
	if ff.cap <= 0 {
		ff.cap = 0.7
	}
	full, _ := f.Name(&b, sfnt.NameIDFull)
	sub, _ := f.Name(&b, sfnt.NameIDSubfamily)
	ff.bold = strings.Contains(strings.ToLower(full+" "+sub), "bold") || strings.Contains(strings.ToLower(full+" "+sub), "black")
	return ff, nil
}

// Close releases font files opened by LoadFonts.
func (fs *Fonts) Close() error {
	var errs []error
	for _, f := range fs.faces {
		if f.file != nil {
			errs = append(errs, f.file.Close())
		}
	}
	return errors.Join(errs...)
}

// Names lists the faces in the chain, preferred first.
func (fs *Fonts) Names() []string {
	var n []string
	for _, f := range fs.faces {
		n = append(n, f.name)
	}
	return n
}

// glyph looks up which face draws r and its advance in em.
func (fs *Fonts) glyph(r rune) glyphInfo {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if g, ok := fs.runes[r]; ok {
		return g
	}
	g := glyphInfo{face: -1}
	for i, ff := range fs.faces {
		idx, err := ff.f.GlyphIndex(&fs.buf, r)
		if err != nil || idx == 0 {
			continue
		}
		adv, err := ff.f.GlyphAdvance(&fs.buf, idx, fixed.I(int(ff.upem)), font.HintingNone)
		if err != nil {
			continue
		}
		g = glyphInfo{face: i, adv: float64(adv) / 64 / ff.upem}
		break
	}
	if len(fs.runes) < 1<<16 {
		fs.runes[r] = g
	}
	return g
}

// invisible runes need no glyph: spaces and line breaks.
func invisible(r rune) bool { return r == '\n' || r == zwsp || unicode.IsSpace(r) }

// Missing returns the runes of s that no face can draw, each once.
func (fs *Fonts) Missing(s string) []rune {
	var miss []rune
	seen := map[rune]bool{}
	for _, r := range s {
		if invisible(r) || seen[r] {
			continue
		}
		seen[r] = true
		if fs.glyph(r).face < 0 {
			miss = append(miss, r)
		}
	}
	return miss
}

// CapHeight is the cap height, in em, of the preferred face.
func (fs *Fonts) CapHeight() float64 { return fs.faces[0].cap }

// faceSet holds the rasterizing faces of one size for one Render call
// (opentype faces are not safe for concurrent use, so each call has its own).
type faceSet struct {
	fs    *Fonts
	faces map[[2]int]font.Face // (face index, size in 1/4 px)
}

func newFaceSet(fs *Fonts) *faceSet {
	return &faceSet{fs: fs, faces: map[[2]int]font.Face{}}
}

func (s *faceSet) face(i int, size float64) (font.Face, error) {
	k := [2]int{i, int(size*4 + 0.5)}
	if f, ok := s.faces[k]; ok {
		return f, nil
	}
	s.fs.mu.Lock()
	f, err := opentype.NewFace(s.fs.faces[i].f, &opentype.FaceOptions{Size: float64(k[1]) / 4, DPI: 72, Hinting: font.HintingNone})
	s.fs.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("font face %s at %.1fpx: %w", s.fs.faces[i].name, size, err)
	}
	s.faces[k] = f
	return f, nil
}

func (s *faceSet) Close() {
	for _, f := range s.faces {
		f.Close()
	}
}
