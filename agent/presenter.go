package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/atmguard/kiosk/display"
)

// Presenter puts a screen on the display. The kiosk binary implements it with
// the Ebiten renderer; tests and the fleet simulator use HeadlessPresenter.
//
// Show is called from one goroutine at a time, with the newest screen the
// agent wants (intermediate screens may be skipped when Show is slow). The
// returned frame hash identifies what was shown; it goes into the
// "displayed" event.
type Presenter interface {
	Show(ctx context.Context, s display.Screen) (frameHash string, err error)
}

// Screenshotter is optionally implemented by a Presenter that can return the
// frame currently shown, PNG-encoded (the "screenshot" command).
type Screenshotter interface {
	Screenshot() ([]byte, error)
}

// HeadlessPresenter shows nothing: it hashes the screen's JSON form plus the
// hashes of its image bytes, so equal screens get equal frame hashes. It is
// cheap enough for thousands of simulated agents in one process.
type HeadlessPresenter struct {
	mu    sync.Mutex
	last  display.Screen
	hash  string
	shown int
}

// NewHeadlessPresenter returns a presenter for tests and the simulator.
func NewHeadlessPresenter() *HeadlessPresenter { return &HeadlessPresenter{} }

// Show records s and returns its hash.
func (h *HeadlessPresenter) Show(_ context.Context, s display.Screen) (string, error) {
	hash, err := ScreenHash(s)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	h.last, h.hash = s, hash
	h.shown++
	h.mu.Unlock()
	return hash, nil
}

// Last returns the last screen shown, its hash and how many Show calls there were.
func (h *HeadlessPresenter) Last() (display.Screen, string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last, h.hash, h.shown
}

// ScreenHash is the SHA-256 (hex) of the screen's JSON plus the sha256 keys
// of the image bytes it carries (the bytes themselves are already verified
// against those keys).
func ScreenHash(s display.Screen) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("hash screen: %w", err)
	}
	sum := sha256.New()
	sum.Write(b)
	keys := make([]string, 0, len(s.Images))
	for k := range s.Images {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sum.Write([]byte{0})
		sum.Write([]byte(k))
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}
