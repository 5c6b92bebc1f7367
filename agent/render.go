package agent

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"sync"

	"github.com/atmguard/kiosk/display"
)

// RenderPresenter draws each screen with the pure-Go renderer
// (display.Render, the same pixels the kiosk and central's preview show) and
// keeps the last frame, so it can answer the screenshot command without a
// GPU. Frame hashes are display.FrameHash of the pixels, the same as the
// kiosk's. A screen that does not fit is replaced by the built-in standing
// warning (display.Render's contract). It costs a full frame of memory and a
// render per screen change: use HeadlessPresenter for large simulations.
type RenderPresenter struct {
	W, H int
	Opts []display.Option

	mu   sync.Mutex
	last *image.RGBA
}

// NewRenderPresenter renders at w x h.
func NewRenderPresenter(w, h int, opts ...display.Option) *RenderPresenter {
	return &RenderPresenter{W: w, H: h, Opts: opts}
}

// Show renders s (or the standing warning if s cannot be drawn).
func (r *RenderPresenter) Show(_ context.Context, s display.Screen) (string, error) {
	img, err := display.Render(s, r.W, r.H, r.Opts...)
	if err != nil {
		img, err = display.Render(display.StandingScreen(), r.W, r.H, r.Opts...)
		if err != nil {
			return "", fmt.Errorf("render standing screen: %w", err)
		}
	}
	r.mu.Lock()
	r.last = img
	r.mu.Unlock()
	return display.FrameHash(img), nil
}

// Screenshot is the last frame as PNG.
func (r *RenderPresenter) Screenshot() ([]byte, error) {
	r.mu.Lock()
	img := r.last
	r.mu.Unlock()
	if img == nil {
		return nil, fmt.Errorf("screenshot: nothing shown yet")
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("screenshot: encode png: %w", err)
	}
	return b.Bytes(), nil
}
