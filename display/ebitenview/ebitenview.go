package ebitenview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/hajimehoshi/ebiten/v2"
)

// MinSwitchInterval is the least time between two screen changes, so the
// display never flashes faster than 3 times a second (photosensitivity
// guidance), whatever the agent asks for. A newer screen asked for sooner
// waits, and replaces any other waiting screen.
const MinSwitchInterval = time.Second/3 + time.Millisecond

// ErrFrameCheck is returned by Show when the frame watchdog found the
// presented frame wrong; the standing warning is shown instead.
var ErrFrameCheck = errors.New("frame check failed")

// ErrClosed is returned by Show after Run has returned.
var ErrClosed = errors.New("presenter stopped")

// Options configure a Presenter. Zero values mean the documented defaults.
type Options struct {
	// Windowed runs in a window of WindowW x WindowH (default 960x540)
	// instead of full-screen.
	Windowed         bool
	WindowW, WindowH int
	Title            string

	Fonts *display.Fonts // default display.DefaultFonts()

	// Fade is the cross-fade between screens; default 600 ms. Negative:
	// cut. It is at least MinSwitchInterval when not a cut.
	Fade time.Duration
	// Drift moves the picture by up to DriftMax pixels (default 4) over
	// hours, one pixel at a time (burn-in protection). The presented frame
	// then differs from the renderer's by that offset.
	Drift    bool
	DriftMax int
	// DriftStep is the time per one-pixel move; default 15 minutes.
	DriftStep time.Duration

	// Rotation of the panel, clockwise degrees: 0, 90, 180 or 270. The
	// screen is laid out for the rotated (physical viewing) orientation.
	Rotation int

	// Ticker speed in pixels per second; default 120.
	TickerSpeed float64

	// OnFault is called (from the presenter's loop; it must not block) when
	// the frame watchdog finds the frame wrong: all one colour, or not
	// changed when it should have.
	OnFault func(reason string)

	Clock  clock.Clock  // default clock.Real{}
	Logger *slog.Logger // default slog.Default()
}

// Presenter shows display.Screens with Ebiten. Run must be called on the
// main goroutine (Ebiten needs the main OS thread); Show, SetTicker and
// Screenshot may be called from any goroutine. Its Show/Screenshot methods
// implement agent.Presenter and agent.Screenshotter.
type Presenter struct {
	o Options

	mu       sync.Mutex
	pending  *request      // newest screen waiting to be shown
	ticker   *string       // new ticker text waiting
	shots    []chan shot   // screenshot requests
	size     image.Point   // screen size in pixels, once known
	running  bool          // Run has started the loop
	stopped  bool          // Run has returned
	wake     chan struct{} // animator: something to animate
	stopAnim chan struct{}
	animDone chan struct{}

	first     chan struct{} // closed when the first frame has been presented
	firstOnce sync.Once

	g *game
}

type request struct {
	s    display.Screen
	done chan result
}

type result struct {
	hash string
	err  error
}

type shot struct {
	png []byte
	err error
}

// New returns a Presenter; nothing is shown until Run.
func New(o Options) *Presenter {
	if o.WindowW <= 0 || o.WindowH <= 0 {
		o.WindowW, o.WindowH = 960, 540
	}
	if o.Title == "" {
		o.Title = "kiosk"
	}
	if o.Fonts == nil {
		o.Fonts = display.DefaultFonts()
	}
	if o.Fade == 0 {
		o.Fade = 600 * time.Millisecond
	}
	if o.Fade > 0 && o.Fade < MinSwitchInterval {
		o.Fade = MinSwitchInterval
	}
	if o.DriftMax <= 0 {
		o.DriftMax = 4
	}
	if o.DriftStep <= 0 {
		o.DriftStep = 15 * time.Minute
	}
	if o.TickerSpeed <= 0 {
		o.TickerSpeed = 120
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch o.Rotation {
	case 0, 90, 180, 270:
	default:
		o.Logger.Error("display rotation must be 0, 90, 180 or 270; using 0", "rotation", o.Rotation)
		o.Rotation = 0
	}
	p := &Presenter{o: o, wake: make(chan struct{}, 1), stopAnim: make(chan struct{}), animDone: make(chan struct{}),
		first: make(chan struct{})}
	p.g = &game{p: p, start: o.Clock.Mono(), lastSwitch: -time.Hour}
	return p
}

// Show renders s at the screen's size, presents it (after a cross-fade and
// the anti-flash interval) and returns display.FrameHash of the rendered
// pixels once they are on the screen and the frame watchdog has checked
// them. If s cannot be rendered (or its frame fails the check), the
// standing warning is shown instead and the error is returned: the screen
// is never left blank or stale.
func (p *Presenter) Show(ctx context.Context, s display.Screen) (string, error) {
	req := &request{s: s, done: make(chan result, 1)}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return "", ErrClosed
	}
	if p.pending != nil {
		p.pending.done <- result{err: fmt.Errorf("screen %s replaced by %s before it was shown", p.pending.s.ID(), s.ID())}
	}
	p.pending = req
	p.mu.Unlock()
	p.kick()
	select {
	case r := <-req.done:
		return r.hash, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// SetTicker sets the scrolling line at the foot of the screen; "" removes
// it. A ticker keeps the display redrawing (about 30 frames a second).
func (p *Presenter) SetTicker(text string) {
	p.mu.Lock()
	p.ticker = &text
	p.mu.Unlock()
	p.kick()
}

// Screenshot returns the frame on the screen now, PNG-encoded.
func (p *Presenter) Screenshot() ([]byte, error) {
	ch := make(chan shot, 1)
	p.mu.Lock()
	if p.stopped || !p.running {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.shots = append(p.shots, ch)
	p.mu.Unlock()
	p.kick()
	r := <-ch
	return r.png, r.err
}

// FirstFrame is closed once the first complete frame (the standing warning,
// or the first screen shown) has been presented; the watchdog reads it back
// on the following frame.
func (p *Presenter) FirstFrame() <-chan struct{} { return p.first }

// Size is the screen size in pixels (zero before the first frame).
func (p *Presenter) Size() image.Point {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// kick wakes the loop: Ebiten's minimum-FPS mode sleeps in
// glfw.WaitEvents until an input event or ScheduleFrame.
func (p *Presenter) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
	ebiten.ScheduleFrame()
}

// Run opens the window (full-screen unless Windowed) and shows the standing
// warning until the first Show. It blocks until ctx is done or the window
// is closed, and must be called on the main goroutine.
func (p *Presenter) Run(ctx context.Context) error {
	return p.RunGame(ctx, nil)
}

// RunGame is Run with a hook called once from inside the loop on the first
// frame (tests start testing.M there: ReadPixels needs a running loop).
func (p *Presenter) RunGame(ctx context.Context, onStart func()) error {
	if !mmapLargeAllocations() {
		p.o.Logger.Debug("malloc mmap threshold not set (not glibc)")
	}
	ebiten.SetWindowTitle(p.o.Title)
	if p.o.Windowed {
		ebiten.SetWindowSize(p.o.WindowW, p.o.WindowH)
		ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	} else {
		ebiten.SetFullscreen(true)
		ebiten.SetCursorMode(ebiten.CursorModeHidden)
	}
	// Draw on demand: Update/Draw run only on ScheduleFrame (or input),
	// and the last frame stays on screen between them. On a static screen
	// the process sleeps in glfw.WaitEvents.
	ebiten.SetFPSMode(ebiten.FPSModeVsyncOffMinimum) //nolint:staticcheck // the cheapest idle mode; see docs/DISPLAY.md
	ebiten.SetScreenClearedEveryFrame(false)
	ebiten.SetRunnableOnUnfocused(true)

	p.g.ctx, p.g.onStart = ctx, onStart
	// Render the standing warning while Ebiten opens the window and the GL
	// context (the first frame appears sooner). The size is a guess
	// (the window size, or the monitor's); a wrong guess is rendered again.
	if w, h := p.expectedSize(); w >= minScreen && h >= minScreen {
		pre := make(chan *frame, 1)
		p.g.pre = pre
		go func() { pre <- p.g.renderCPU(display.StandingScreen(), w, h) }()
		defer func() {
			if p.g.pre != nil {
				<-p.g.pre // the loop never took it: wait for the goroutine
			}
		}()
	}
	p.mu.Lock()
	p.running = true
	p.mu.Unlock()
	go p.animate(ctx)
	defer func() {
		close(p.stopAnim)
		<-p.animDone
		p.mu.Lock()
		p.stopped = true
		if p.pending != nil {
			p.pending.done <- result{err: ErrClosed}
			p.pending = nil
		}
		for _, ch := range p.shots {
			ch <- shot{err: ErrClosed}
		}
		p.shots = nil
		p.mu.Unlock()
		// The loop has ended: its state is ours now.
		for _, req := range p.g.waiting {
			req.done <- result{err: ErrClosed}
		}
		p.g.waiting = nil
		for _, ch := range p.g.shots {
			ch <- shot{err: ErrClosed}
		}
		p.g.shots = nil
	}()
	err := ebiten.RunGameWithOptions(p.g, &ebiten.RunGameOptions{X11ClassName: "kiosk", X11InstanceName: "kiosk"})
	if errors.Is(err, ebiten.Termination) {
		return nil
	}
	return err
}

// expectedSize guesses the screen size before the loop runs.
func (p *Presenter) expectedSize() (int, int) {
	if p.o.Windowed {
		return p.o.WindowW, p.o.WindowH
	}
	m := ebiten.Monitor()
	if m == nil {
		return 0, 0
	}
	w, h := m.Size()
	s := m.DeviceScaleFactor()
	return int(math.Ceil(float64(w) * s)), int(math.Ceil(float64(h) * s))
}

// animate schedules frames while something moves (a fade, the ticker) and
// once per drift step; otherwise the loop sleeps. It is the only goroutine
// Run starts and Run waits for it.
func (p *Presenter) animate(ctx context.Context) {
	defer close(p.animDone)
	var frame clock.Ticker // runs only while something moves: no wake-ups on a static screen
	stopFrame := func() {
		if frame != nil {
			frame.Stop()
			frame = nil
		}
	}
	defer stopFrame()
	// Until the first frame is presented, ask often: Ebiten drops a
	// ScheduleFrame made before its loop counts as running.
	startup := p.o.Clock.NewTicker(5 * time.Millisecond)
	defer startup.Stop()
	startupC := startup.C()
	drift := p.o.Clock.NewTicker(p.o.DriftStep)
	defer drift.Stop()
	for {
		var tick <-chan time.Time
		if p.g.animating.Load() {
			if frame == nil {
				frame = p.o.Clock.NewTicker(time.Second / 30)
			}
			tick = frame.C()
		} else {
			stopFrame()
		}
		select {
		case <-ctx.Done():
			ebiten.ScheduleFrame() // let Update see ctx and terminate
			return
		case <-p.stopAnim:
			return
		case <-p.wake:
			ebiten.ScheduleFrame()
		case <-tick:
			ebiten.ScheduleFrame()
		case <-startupC:
			ebiten.ScheduleFrame()
			select {
			case <-p.first:
				startup.Stop()
				startupC = nil
			default:
			}
		case <-drift.C():
			if p.o.Drift {
				ebiten.ScheduleFrame()
			}
		}
	}
}

// driftOffset is the picture's offset after steps drift steps: a snake
// walk over the (2max+1)^2 grid of offsets, there and back, so each step
// moves one pixel and every position is used evenly (burn-in protection).
func driftOffset(steps int64, max int) image.Point {
	n := int64(2*max + 1)
	l := n * n
	i := steps % (2*l - 2)
	if i >= l {
		i = 2*l - 2 - i
	}
	row, col := i/n, i%n
	if row%2 == 1 {
		col = n - 1 - col
	}
	return image.Pt(int(col)-max, int(row)-max)
}

// rotate turns img clockwise by deg (0, 90, 180, 270).
func rotate(img *image.RGBA, deg int) *image.RGBA {
	if deg == 0 {
		return img
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	ow, oh := h, w
	if deg == 180 {
		ow, oh = w, h
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch deg {
			case 90:
				dx, dy = h-1-y, x
			case 180:
				dx, dy = w-1-x, h-1-y
			case 270:
				dx, dy = y, w-1-x
			}
			si := img.PixOffset(x, y)
			copy(out.Pix[out.PixOffset(dx, dy):out.PixOffset(dx, dy)+4], img.Pix[si:si+4])
		}
	}
	return out
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }
