package ebitenview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
	"github.com/hajimehoshi/ebiten/v2"
)

// One presenter for the whole test binary: Ebiten runs one game per process
// on the main thread, and ReadPixels works only inside its loop. TestMain
// starts the tests from the loop's first Update (ebiten's own pattern), in
// a goroutine, so the loop keeps running while they call Show.
var (
	presenter *Presenter
	faultMu   sync.Mutex
	faults    []string
)

func TestMain(m *testing.M) {
	if os.Getenv("DISPLAY") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: ebitenview tests need an X server and DISPLAY is unset: run them under xvfb-run -a (make test does)")
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	presenter = New(Options{Windowed: true, WindowW: 640, WindowH: 360, Title: "ebitenview test",
		OnFault: func(r string) {
			faultMu.Lock()
			faults = append(faults, r)
			faultMu.Unlock()
		}})
	code := 1
	done := make(chan struct{})
	err := presenter.RunGame(ctx, func() {
		go func() {
			defer close(done)
			defer cancel()
			code = m.Run()
		}()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "RunGame:", err)
		os.Exit(1)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		fmt.Fprintln(os.Stderr, "tests did not finish after the loop ended")
		os.Exit(1)
	}
	os.Exit(code)
}

func testAlert() *wire.Alert {
	return &wire.Alert{ID: "a-0110", Version: 1, Priority: 80, Issuer: "警視庁",
		Texts: []wire.Text{
			{Lang: "ja", Headline: "末尾0110の詐欺電話に注意", Body: "警察がATMの操作をお願いすることはありません。", Instruction: "電話を切って110番へ"},
			{Lang: "en", Headline: "Fake police calls (0110)", Body: "The police never ask you to operate an ATM.", Instruction: "Hang up and call 110."},
		},
		QR:      &wire.Link{URL: "https://www.keishicho.metro.tokyo.lg.jp/", Label: "警視庁"},
		Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}
}

func screenshot(t *testing.T) *image.RGBA {
	t.Helper()
	data, err := presenter.Screenshot()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rgba, ok := img.(*image.RGBA)
	if !ok {
		b := img.Bounds()
		rgba = image.NewRGBA(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				rgba.Set(x, y, img.At(x, y))
			}
		}
	}
	return rgba
}

func show(t *testing.T, s display.Screen) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return presenter.Show(ctx, s)
}

// TestShowsRendererPixels: what is on the X screen is exactly what the
// pure-Go renderer produced, pixel for pixel, for every template.
func TestShowsRendererPixels(t *testing.T) {
	for _, s := range []display.Screen{
		{Kind: display.KindAlert, Lang: "ja", Alert: testAlert()},
		{Kind: display.KindAlert, Lang: "en", Alert: testAlert()},
		display.PhoneScreen("ja"),
		display.StandingScreen(),
		{Kind: display.KindMaintenance, Lang: "en"},
	} {
		t.Run(s.ID()+"-"+s.Lang, func(t *testing.T) {
			hash, err := show(t, s)
			if err != nil {
				t.Fatalf("Show: %v", err)
			}
			size := presenter.Size()
			if size != image.Pt(640, 360) {
				t.Fatalf("screen size %v, want the 640x360 window", size)
			}
			want, err := display.Render(s, size.X, size.Y)
			if err != nil {
				t.Fatal(err)
			}
			if hash != display.FrameHash(want) {
				t.Fatalf("Show returned hash %s, renderer's frame is %s", hash, display.FrameHash(want))
			}
			got := screenshot(t)
			if gh := display.FrameHash(got); gh != hash {
				diff := 0
				for i := range got.Pix {
					if got.Pix[i] != want.Pix[i] {
						diff++
					}
				}
				t.Fatalf("presented frame %s != rendered %s (%d bytes differ)", gh, hash, diff)
			}
		})
	}
}

// TestRenderErrorShowsStanding: a screen the renderer refuses (Korean with
// the embedded font only) leaves the standing warning on screen, and Show
// says why.
func TestRenderErrorShowsStanding(t *testing.T) {
	a := testAlert()
	a.Texts = append(a.Texts, wire.Text{Lang: "ko", Headline: "경찰 사칭 전화 주의"})
	hash, err := show(t, display.Screen{Kind: display.KindAlert, Lang: "ko", Alert: a})
	if !errors.Is(err, display.ErrMissingGlyph) {
		t.Fatalf("Show err = %v, want ErrMissingGlyph", err)
	}
	size := presenter.Size()
	standing, _ := display.Render(display.StandingScreen(), size.X, size.Y)
	if hash != display.FrameHash(standing) {
		t.Fatal("the returned hash is not the standing warning's")
	}
	if got := screenshot(t); display.FrameHash(got) != display.FrameHash(standing) {
		t.Fatal("the screen does not show the standing warning")
	}
}

// TestWatchdog: a presented frame that comes out all black (a broken GL
// path) is caught by reading the frame back: the fault is reported, Show
// fails with ErrFrameCheck, and the standing warning replaces it.
func TestWatchdog(t *testing.T) {
	testCorrupt.Store(true)
	defer testCorrupt.Store(false)
	faultMu.Lock()
	faults = nil
	faultMu.Unlock()
	_, err := show(t, display.Screen{Kind: display.KindAlert, Lang: "en", Alert: testAlert()})
	if !errors.Is(err, ErrFrameCheck) {
		t.Fatalf("Show err = %v, want ErrFrameCheck", err)
	}
	faultMu.Lock()
	n := len(faults)
	first := ""
	if n > 0 {
		first = faults[0]
	}
	faultMu.Unlock()
	if n == 0 {
		t.Fatal("OnFault was not called")
	}
	t.Logf("fault reported: %s", first)
	testCorrupt.Store(false)
	// The standing warning is drawn next (after the anti-flash interval).
	size := presenter.Size()
	standing, _ := display.Render(display.StandingScreen(), size.X, size.Y)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := screenshot(t)
		if display.FrameHash(got) == display.FrameHash(standing) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standing warning did not replace the broken frame")
		}
		time.Sleep(50 * time.Millisecond) // polling a real X server; no clock to inject
	}
}

// TestNoFastSwitching: screens asked for in quick succession are put up at
// least MinSwitchInterval apart (never more than 3 changes a second).
func TestNoFastSwitching(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	testOnSwitch.Store(func() {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
	})
	defer testOnSwitch.Store(func() {})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, lang := range []string{"ja", "en", "ja", "en"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = presenter.Show(ctx, display.Screen{Kind: display.KindAlert, Lang: lang, Alert: testAlert()})
		}()
		_ = i
		time.Sleep(20 * time.Millisecond) // ask faster than allowed
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(times) < 2 {
		t.Fatalf("%d switches", len(times))
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < MinSwitchInterval-5*time.Millisecond {
			t.Errorf("switch %d came %v after the previous one, want >= %v", i, d, MinSwitchInterval)
		}
	}
}

func TestFrameFault(t *testing.T) {
	want := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for i := range want.Pix {
		want.Pix[i] = byte(i)
	}
	same := append([]byte(nil), want.Pix...)
	if r := frameFault(same, want, image.Point{}, 0); r != "" {
		t.Errorf("identical frame: %s", r)
	}
	black := make([]byte, len(want.Pix))
	if r := frameFault(black, want, image.Point{}, 0); r == "" {
		t.Error("black frame accepted")
	}
	stale := append([]byte(nil), same...)
	stale[9] ^= 0x80
	if r := frameFault(stale, want, image.Point{}, 0); r == "" {
		t.Error("changed frame accepted")
	}
	// Drifted one pixel right: compared where the picture is, not where it was.
	shifted := make([]byte, len(same))
	for y := 0; y < 4; y++ {
		copy(shifted[4*(y*8+1):4*(y*8+8)], want.Pix[4*y*8:4*(y*8+7)])
	}
	if r := frameFault(shifted, want, image.Pt(1, 0), 0); r != "" {
		t.Errorf("drifted frame: %s", r)
	}
	if r := frameFault(same, want, image.Pt(1, 0), 0); r == "" {
		t.Error("undrifted frame accepted as drifted")
	}
	// A difference inside the ticker band is not the renderer's business.
	if r := frameFault(func() []byte { b := append([]byte(nil), same...); b[len(b)-8] ^= 0x80; return b }(), want, image.Point{}, 1); r != "" {
		t.Errorf("ticker band: %s", r)
	}
}

func TestDriftOffset(t *testing.T) {
	seen := map[image.Point]bool{}
	prev := driftOffset(0, 4)
	for n := int64(1); n < 2000; n++ {
		d := driftOffset(n, 4)
		if d.X < -4 || d.X > 4 || d.Y < -4 || d.Y > 4 {
			t.Fatalf("offset %v out of range", d)
		}
		if dx, dy := d.X-prev.X, d.Y-prev.Y; dx*dx > 1 || dy*dy > 1 {
			t.Fatalf("step %d jumps from %v to %v", n, prev, d)
		}
		seen[d] = true
		prev = d
	}
	if len(seen) != 81 {
		t.Errorf("drift visits only %d of 81 positions", len(seen))
	}
}

func TestRotate(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range src.Pix {
		src.Pix[i] = byte(i)
	}
	for _, deg := range []int{0, 90, 180, 270} {
		r := rotate(src, deg)
		// Rotating back the rest of the way round gives the original.
		back := rotate(r, (360-deg)%360)
		if display.FrameHash(back) != display.FrameHash(src) {
			t.Errorf("rotate %d and back changed the image", deg)
		}
	}
	r := rotate(src, 90)
	if r.Rect.Dx() != 2 || r.Rect.Dy() != 3 {
		t.Fatalf("90: size %v", r.Rect)
	}
	// Clockwise: the top-left pixel goes to the top-right corner.
	if r.RGBAAt(1, 0) != src.RGBAAt(0, 0) {
		t.Error("90 is not clockwise")
	}
}

func TestFirstFrame(t *testing.T) {
	select {
	case <-presenter.FirstFrame():
	case <-time.After(10 * time.Second):
		t.Fatal("FirstFrame not closed although frames were shown")
	}
}

// TestRotatedUpload: with a rotated panel the layout is made for the
// rotated (portrait) size and the texture holds the rotated pixels.
func TestRotatedUpload(t *testing.T) {
	p := New(Options{Rotation: 90})
	g := &game{p: p, w: 360, h: 640}
	s := display.Screen{Kind: display.KindAlert, Lang: "ja", Alert: testAlert()}
	f := g.render(s)
	g.ensureImg(f)
	defer g.dispose(f)
	want, err := display.Render(s, 640, 360) // the customer sees a 640x360 landscape screen
	if err != nil {
		t.Fatal(err)
	}
	if f.fallback || f.hash != display.FrameHash(want) {
		t.Fatalf("rotated frame hash %s (fallback %v), want %s", f.hash, f.fallback, display.FrameHash(want))
	}
	rot := rotate(want, 90)
	if display.FrameHash(f.rgba) != display.FrameHash(rot) {
		t.Fatal("presented pixels are not the rendered frame turned 90 degrees")
	}
	// ReadPixels from outside the loop waits for a frame, and an idle
	// presenter draws none: keep asking for frames until it returns.
	stop := make(chan struct{})
	ticking := make(chan struct{})
	go func() {
		defer close(ticking)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				ebiten.ScheduleFrame()
			}
		}
	}()
	pix := make([]byte, 4*360*640)
	f.img.ReadPixels(pix)
	close(stop)
	<-ticking
	if !bytes.Equal(pix, rot.Pix) {
		t.Fatal("the texture does not hold the rotated frame")
	}
}

// TestTicker: a ticker scrolls in a band at the foot; the rest of the
// screen stays the renderer's pixels, and removing the ticker restores
// the exact frame. (Last in this file: it changes the shared presenter.)
func TestTicker(t *testing.T) {
	if _, err := show(t, display.StandingScreen()); err != nil {
		t.Fatal(err)
	}
	size := presenter.Size()
	want, _ := display.Render(display.StandingScreen(), size.X, size.Y)
	presenter.SetTicker("ATMでは携帯電話で話さないでください。No phone calls at the ATM.")
	band := tickerHeight(size.Y)
	var a, b *image.RGBA
	deadline := time.Now().Add(10 * time.Second)
	for {
		a = screenshot(t)
		time.Sleep(200 * time.Millisecond) // let it scroll (a real X server: no clock to inject)
		b = screenshot(t)
		top := image.Rect(0, 0, size.X, size.Y-band)
		if display.FrameHash(a.SubImage(top).(*image.RGBA)) != display.FrameHash(want.SubImage(top).(*image.RGBA)) {
			t.Fatal("the ticker changed pixels outside its band")
		}
		foot := image.Rect(0, size.Y-band, size.X, size.Y)
		if display.FrameHash(a.SubImage(foot).(*image.RGBA)) != display.FrameHash(b.SubImage(foot).(*image.RGBA)) {
			break // it moves
		}
		if time.Now().After(deadline) {
			t.Fatal("the ticker does not move")
		}
	}
	presenter.SetTicker("")
	deadline = time.Now().Add(10 * time.Second)
	for display.FrameHash(screenshot(t)) != display.FrameHash(want) {
		if time.Now().After(deadline) {
			t.Fatal("removing the ticker did not restore the frame")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
