package ebitenview

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/hajimehoshi/ebiten/v2"
)

// Test hooks (the watchdog test breaks a frame on purpose; the anti-flash
// test records switch times). Zero in production.
var (
	testCorrupt  atomic.Bool
	testOnSwitch atomic.Value // func()
)

// frame is one rendered screen.
type frame struct {
	s        display.Screen
	rgba     *image.RGBA   // as presented (rotated); dropped once the frame check has passed
	size     image.Point   // of rgba
	bg       color.RGBA    // its top-left pixel: fills the edge the drift uncovers
	img      *ebiten.Image // GPU copy, made only while needed (fade, drift, ticker); see compose
	onScreen bool          // the picture is on the screen (it is kept between frames)
	hash     string
	fallback bool  // the standing warning shown because s failed
	err      error // why it fell back
}

// game is the ebiten.Game. All its fields belong to the loop goroutine
// (Update/Draw/Layout), except animating.
type game struct {
	p       *Presenter
	ctx     context.Context
	onStart func()
	started bool
	start   time.Duration

	w, h int // screen size from Layout

	cur, prev  *frame
	fadeStart  time.Duration
	lastSwitch time.Duration
	waiting    []*request // shown, waiting for the frame check
	checkDue   bool       // the next full draw must be checked
	verifyNow  bool       // the frame on the screen must be read back and checked now
	presented  bool       // a complete frame was drawn (it is on screen by the next Update)
	dirty      bool
	animating  atomic.Bool

	tickerText string
	ticker     *ebiten.Image
	tickerRGBA *image.RGBA
	tickerX    float64
	tickerLast time.Duration

	drift image.Point
	shots []chan shot
	touch *ebiten.Image // 1x1, drawn with BlendDestination: changes no pixel

	pre chan *frame // the standing warning, rendered while Ebiten starts
}

// minScreen is the least width and height the presenter draws at.
const minScreen = 200

func (g *game) now() time.Duration { return g.p.o.Clock.Mono() }

func (g *game) Layout(outsideW, outsideH int) (int, int) {
	s := 1.0
	if m := ebiten.Monitor(); m != nil {
		s = m.DeviceScaleFactor()
	}
	w, h := int(math.Ceil(float64(outsideW)*s)), int(math.Ceil(float64(outsideH)*s))
	if w < 1 || h < 1 {
		return 1, 1
	}
	if w != g.w || h != g.h {
		g.w, g.h = w, h
		g.p.mu.Lock()
		g.p.size = image.Pt(w, h)
		g.p.mu.Unlock()
	}
	return w, h
}

func (g *game) Update() error {
	if g.ctx.Err() != nil {
		return ebiten.Termination
	}
	if !g.started {
		g.started = true
		if g.onStart != nil {
			g.onStart()
		}
	}
	if g.presented {
		g.p.firstOnce.Do(func() { close(g.p.first) })
	}
	if g.w < minScreen || g.h < minScreen {
		return nil // nothing sensible fits; wait for a real size
	}
	now := g.now()
	// The first frame: the standing warning rendered while Ebiten started,
	// if it guessed the size right.
	if g.pre != nil {
		f := <-g.pre
		g.pre = nil
		if f.size == image.Pt(g.w, g.h) {
			g.cur = f
			g.dirty, g.checkDue = true, true
		}
	}
	// The screen size changed (or first frame): render again at the new size.
	if g.cur == nil || g.cur.size != image.Pt(g.w, g.h) {
		s := display.StandingScreen()
		if g.cur != nil {
			s = g.cur.s
		}
		g.dispose(g.prev)
		g.prev = nil
		old := g.cur
		g.cur = g.render(s)
		g.dispose(old)
		g.fadeStart = now - g.p.o.Fade // no fade for a resize
		g.dirty, g.checkDue = true, true
	}

	g.p.mu.Lock()
	req := g.p.pending
	// The next screen waits for the anti-flash interval, the end of the
	// fade, and the check of the frame now shown (whose Show is waiting).
	if req != nil && now-g.lastSwitch >= MinSwitchInterval && !g.fading(now) && !g.checkDue && !g.verifyNow {
		g.p.pending = nil
	} else {
		req = nil
	}
	tick := g.p.ticker
	g.p.ticker = nil
	g.shots = append(g.shots, g.p.shots...)
	g.p.shots = nil
	waitingSwitch := g.p.pending != nil
	g.p.mu.Unlock()

	if req != nil {
		g.switchTo(g.render(req.s), now)
		g.waiting = append(g.waiting, req)
	}
	if tick != nil {
		g.setTicker(*tick)
	}
	if g.tickerText != "" {
		dt := (now - g.tickerLast).Seconds()
		g.tickerLast = now
		g.tickerX -= g.p.o.TickerSpeed * math.Min(dt, 0.2)
		if w := float64(g.tickerRGBA.Rect.Dx()); g.tickerX < -w {
			g.tickerX += w
		}
		g.dirty = true
	}
	if g.p.o.Drift {
		d := driftOffset(int64((now-g.start)/g.p.o.DriftStep), g.p.o.DriftMax)
		if d != g.drift {
			g.drift, g.dirty = d, true
		}
	}
	if g.fading(now) {
		g.dirty = true
	}
	if len(g.shots) > 0 {
		g.dirty = true
	}
	// Frames are also needed while a drawn frame awaits its check: a
	// ScheduleFrame from inside the very first Draw is dropped by Ebiten
	// (the loop does not count as running yet), so the animator keeps
	// asking until the check has run.
	g.setAnimating(g.fading(now) || g.tickerText != "" || waitingSwitch || g.verifyNow || g.checkDue)
	return nil
}

// setAnimating tells the animator whether frames are needed; it wakes the
// animator when that starts so it arms its frame ticker.
func (g *game) setAnimating(on bool) {
	if was := g.animating.Swap(on); on && !was {
		g.p.kick()
	}
}

func (g *game) fading(now time.Duration) bool {
	return g.prev != nil && g.p.o.Fade > 0 && now-g.fadeStart < g.p.o.Fade
}

// render draws s with the shared renderer; a screen that cannot be drawn
// becomes the standing warning (never a blank screen). The GPU copy is made
// later, only if needed (ensureImg).
func (g *game) render(s display.Screen) *frame {
	return g.renderCPU(s, g.w, g.h)
}

// pixels returns f's rendered pixels, rendering them again if they were
// dropped after the frame check (the renderer is deterministic).
func (g *game) pixels(f *frame) *image.RGBA {
	if f.rgba != nil {
		return f.rgba
	}
	return g.renderCPU(f.s, f.size.X, f.size.Y).rgba
}

// ensureImg gives f its GPU copy.
func (g *game) ensureImg(f *frame) {
	if f.img == nil {
		f.img = upload(g.pixels(f))
	}
}

// keepImg reports whether the current frame's GPU copy must be kept: drift
// and the ticker redraw the picture from it. Otherwise the picture lives only
// on the screen (which is not cleared between frames), saving a
// full-screen texture (16 MB at 1920x1080: textures are padded to 2048x2048).
func (g *game) keepImg() bool { return g.p.o.Drift || g.ticker != nil }

// standing renders the standing warning at w x h. On a panel stranger than
// 1:4 it is drawn at 1:4, centred; it cannot fail.
func (g *game) standing(w, h int) *image.RGBA {
	fonts := display.WithFonts(g.p.o.Fonts)
	if img, err := display.Render(display.StandingScreen(), w, h, fonts); err == nil {
		return img
	}
	cw, ch := min(w, 4*h), min(h, 4*w)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	img, err := display.Render(display.StandingScreen(), cw, ch, fonts)
	if err != nil {
		g.p.o.Logger.Error("standing warning does not fit the panel", "size", fmt.Sprintf("%dx%d", w, h), "err", err)
		return out // black: the frame watchdog reports it
	}
	off := image.Pt((w-cw)/2, (h-ch)/2)
	draw.Draw(out, img.Bounds().Add(off), img, image.Point{}, draw.Src)
	return out
}

// renderCPU is render without the GPU upload, for a w x h panel; it may
// run outside the loop.
func (g *game) renderCPU(s display.Screen, w, h int) *frame {
	lw, lh := w, h // the layout's size: the panel as the customer sees it
	if g.p.o.Rotation == 90 || g.p.o.Rotation == 270 {
		lw, lh = h, w
	}
	rgba, err := display.Render(s, lw, lh, display.WithFonts(g.p.o.Fonts))
	f := &frame{s: s}
	if err != nil {
		g.p.o.Logger.Error("render screen; showing the standing warning", "screen", s.ID(), "err", err)
		f.fallback, f.err = true, err
		f.s = display.StandingScreen()
		rgba = g.standing(lw, lh)
	}
	f.hash = display.FrameHash(rgba) // what was rendered, before rotation
	f.rgba = rotate(rgba, g.p.o.Rotation)
	f.size, f.bg = f.rgba.Rect.Size(), f.rgba.RGBAAt(0, 0)
	return f
}

func (g *game) switchTo(f *frame, now time.Duration) {
	g.dispose(g.prev)
	g.prev = g.cur
	if g.p.o.Fade < 0 {
		g.dispose(g.prev)
		g.prev = nil
	}
	g.cur = f
	g.fadeStart, g.lastSwitch = now, now
	if f, ok := testOnSwitch.Load().(func()); ok {
		f()
	}
	g.dirty, g.checkDue = true, true
}

func (g *game) dispose(f *frame) {
	if f != nil && f.img != nil {
		f.img.Deallocate()
		f.img = nil
	}
}

func (g *game) setTicker(text string) {
	if g.ticker != nil {
		g.ticker.Deallocate()
		g.ticker, g.tickerRGBA = nil, nil
	}
	g.tickerText = ""
	g.dirty = true
	if text == "" || g.h < 64 {
		return
	}
	rgba, err := display.RenderTicker(text, tickerHeight(g.h), display.WithFonts(g.p.o.Fonts))
	if err != nil {
		g.p.o.Logger.Error("ticker not shown", "err", err)
		return
	}
	g.tickerText, g.tickerRGBA = text, rgba
	g.ticker = upload(rgba)
	g.tickerX = float64(g.w)
	g.tickerLast = g.now()
}

func tickerHeight(h int) int { return max(32, h/14) }

func (g *game) Draw(screen *ebiten.Image) {
	if g.verifyNow {
		// The frame drawn last time is on the screen now (the screen is not
		// cleared between frames): read it back and check it.
		g.verifyNow = false
		g.check(screen)
	}
	if g.cur == nil || !g.dirty {
		return // the last frame stays on the screen
	}
	g.dirty = false
	now := g.now()
	fading := g.compose(screen, now)
	if !fading {
		g.presented = true
	}
	if !fading && g.checkDue {
		// Check on the next frame, after this one has been presented, so
		// the read-back does not delay the picture.
		g.checkDue, g.verifyNow = false, true
		g.setAnimating(true)
	}
	if len(g.shots) > 0 {
		pix := make([]byte, 4*g.w*g.h)
		screen.ReadPixels(pix)
		img := &image.RGBA{Pix: pix, Stride: 4 * g.w, Rect: image.Rect(0, 0, g.w, g.h)}
		data, err := encodePNG(img)
		for _, ch := range g.shots {
			ch <- shot{png: data, err: err}
		}
		g.shots = nil
	}
}

func (g *game) drawTicker(screen *ebiten.Image) {
	th := g.tickerRGBA.Rect.Dy()
	y := float64(g.h - th)
	bar := screen.SubImage(image.Rect(0, g.h-th, g.w, g.h)).(*ebiten.Image)
	bar.Fill(color.Black)
	tw := float64(g.tickerRGBA.Rect.Dx())
	for x := g.tickerX; x < float64(g.w); x += tw {
		op := &ebiten.DrawImageOptions{}
		op.GeoM.Translate(math.Round(x), y)
		screen.DrawImage(g.ticker, op)
	}
}

// compose draws the current picture: the fade, the drift offset, the
// ticker. It reports whether a fade is in progress.
func (g *game) compose(screen *ebiten.Image, now time.Duration) bool {
	fading := g.fading(now)
	if fading && g.prev.img == nil {
		// The previous picture is on the screen only: copy it once for the
		// fade. (Without drift it was drawn at offset 0.)
		g.prev.img = ebiten.NewImageWithOptions(screen.Bounds(), &ebiten.NewImageOptions{Unmanaged: true})
		g.prev.img.DrawImage(screen, nil)
	}
	if fading || g.keepImg() {
		g.ensureImg(g.cur)
	}
	if g.drift != (image.Point{}) {
		screen.Fill(g.cur.bg)
	}
	op := &ebiten.DrawImageOptions{}
	op.GeoM.Translate(float64(g.drift.X), float64(g.drift.Y))
	if fading {
		screen.DrawImage(g.prev.img, op)
		t := float64(now-g.fadeStart) / float64(g.p.o.Fade)
		op.ColorScale.ScaleAlpha(float32(clamp01(t)))
		g.dirty = true // keep drawing until the fade ends
	} else if g.prev != nil {
		g.dispose(g.prev)
		g.prev = nil
	}
	switch {
	case g.cur.img != nil:
		screen.DrawImage(g.cur.img, op)
		g.cur.onScreen = !fading
	case !g.cur.onScreen:
		// Straight into the screen: no texture, no extra GPU copy. The
		// drift is zero here (drift keeps the texture).
		writePixels(screen, g.pixels(g.cur))
		g.cur.onScreen = true
	}
	if g.ticker != nil {
		g.drawTicker(screen)
	}
	// Once checked (its CPU pixels dropped) and with nothing redrawing from
	// it, the picture needs no texture: the screen keeps it.
	if !fading && !g.keepImg() && g.cur.rgba == nil && g.cur.img != nil {
		g.dispose(g.cur)
	}
	return fading
}

// touchScreen draws to the screen without changing a pixel: Ebiten drops
// the CPU copy a ReadPixels left (8 MB at 1920x1080) on the next draw.
func (g *game) touchScreen(screen *ebiten.Image) {
	if g.touch == nil {
		g.touch = ebiten.NewImage(1, 1)
	}
	screen.DrawImage(g.touch, &ebiten.DrawImageOptions{Blend: ebiten.BlendDestination})
}

// upload copies img to a new GPU image. Unmanaged: a full-screen image
// gets its own texture, freed at once by Deallocate, instead of a page of
// Ebiten's atlas.
func upload(img *image.RGBA) *ebiten.Image {
	b := img.Bounds()
	out := ebiten.NewImageWithOptions(image.Rect(0, 0, b.Dx(), b.Dy()), &ebiten.NewImageOptions{Unmanaged: true})
	writePixels(out, img)
	return out
}

// writePixels copies img to the top-left of out in bands, so Ebiten's
// staging buffer is a band, not a second full frame held in its pool.
func writePixels(out *ebiten.Image, img *image.RGBA) {
	b := img.Bounds()
	const band = 64
	for y := b.Min.Y; y < b.Max.Y; y += band {
		r := image.Rect(b.Min.X, y, b.Max.X, min(y+band, b.Max.Y))
		sub := img.SubImage(r).(*image.RGBA)
		pix := sub.Pix
		if sub.Stride != 4*r.Dx() {
			pix = make([]byte, 0, 4*r.Dx()*r.Dy())
			for yy := r.Min.Y; yy < r.Max.Y; yy++ {
				i := img.PixOffset(r.Min.X, yy)
				pix = append(pix, img.Pix[i:i+4*r.Dx()]...)
			}
		} else {
			pix = pix[:4*r.Dx()*r.Dy()]
		}
		out.SubImage(r.Sub(b.Min)).(*ebiten.Image).WritePixels(pix)
	}
}

// check is the frame watchdog: it reads back the presented frame and
// compares it with the renderer's pixels (where the ticker and drift leave
// them in place). A frame of one colour, or one that is not what was
// rendered (a stale or broken frame), is a fault: it is reported and the
// standing warning replaces it.
func (g *game) check(screen *ebiten.Image) {
	if testCorrupt.Load() {
		screen.Fill(color.Black)
	}
	pix := make([]byte, 4*g.w*g.h)
	screen.ReadPixels(pix)
	reason := frameFault(pix, g.cur.rgba, g.drift, g.tickerBand())
	pix = nil
	// Memory: the rendered pixels are not needed once checked (a later
	// frame of this screen is drawn from the GPU copy), and Ebiten keeps a
	// CPU copy of a read-back image until it is drawn to again: draw the
	// same frame once more to drop it, and give the pages back to the OS.
	g.cur.rgba = nil
	if reason != "" {
		g.cur.onScreen = false // draw it again (below)
	}
	g.compose(screen, g.now())
	g.touchScreen(screen)
	debug.FreeOSMemory()
	if reason == "" {
		g.resolve(nil)
		return
	}
	reason = fmt.Sprintf("screen %s: %s", g.cur.s.ID(), reason)
	g.p.o.Logger.Error("frame watchdog", "reason", reason)
	if g.p.o.OnFault != nil {
		g.p.o.OnFault(reason)
	}
	err := fmt.Errorf("%w: %s", ErrFrameCheck, reason)
	if g.cur.fallback || g.cur.s.Kind == display.KindStanding {
		// Nothing better to show; keep it and tell the caller.
		g.resolve(err)
		return
	}
	g.resolve(err)
	f := g.render(display.StandingScreen())
	f.fallback, f.err = true, err
	g.switchTo(f, g.now())
}

// resolve answers the Show calls waiting for the current frame.
func (g *game) resolve(err error) {
	for _, req := range g.waiting {
		switch {
		case err != nil:
			req.done <- result{err: err}
		case g.cur.fallback:
			req.done <- result{hash: g.cur.hash, err: fmt.Errorf("showing the standing warning instead of %s: %w", req.s.ID(), g.cur.err)}
		default:
			req.done <- result{hash: g.cur.hash}
		}
	}
	g.waiting = nil
}

func (g *game) tickerBand() int {
	if g.tickerRGBA == nil {
		return 0
	}
	return g.tickerRGBA.Rect.Dy()
}

// frameFault compares presented pixels with the rendered frame shifted by
// drift, above a ticker band of tickerH rows. "" means the frame is good.
func frameFault(pix []byte, want *image.RGBA, drift image.Point, tickerH int) string {
	w, h := want.Rect.Dx(), want.Rect.Dy()
	if len(pix) != 4*w*h {
		return fmt.Sprintf("frame is %d bytes, want %d", len(pix), 4*w*h)
	}
	uniform := true
	for i := 4; i < len(pix); i += 4 {
		if pix[i] != pix[0] || pix[i+1] != pix[1] || pix[i+2] != pix[2] {
			uniform = false
			break
		}
	}
	if uniform {
		return fmt.Sprintf("frame is all one colour (%d,%d,%d)", pix[0], pix[1], pix[2])
	}
	bad := 0
	for y := max(0, drift.Y); y < min(h, h+drift.Y) && y < h-tickerH; y++ {
		x0, x1 := max(0, drift.X), min(w, w+drift.X)
		got := pix[4*(y*w+x0) : 4*(y*w+x1)]
		src := want.Pix[want.PixOffset(x0-drift.X, y-drift.Y):]
		for i := 0; i < len(got); i += 4 {
			if got[i] != src[i] || got[i+1] != src[i+1] || got[i+2] != src[i+2] {
				bad++
			}
		}
	}
	if bad > 0 {
		return fmt.Sprintf("%d pixels differ from the rendered frame (stale or broken frame)", bad)
	}
	return ""
}
