package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium (deploy/scripts/install-deps.sh).
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds every browser step. Chromium on two busy cores is slow;
// a step that needs longer is broken, not slow.
const stepTimeout = 60 * time.Second

// browser is one headless chromium for a test; tabs are isolated browser
// contexts in it (own cookies and sessionStorage), so two users can be
// logged in side by side without a second browser launch.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	shots     int
	mu        sync.Mutex
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium not installed at %s (deploy/scripts/install-deps.sh installs it): %v", chromiumPath, err)
	}
	opts := append(cdp.DefaultExecAllocatorOptions[:],
		cdp.ExecPath(chromiumPath),
		cdp.Headless,
		cdp.NoSandbox, // runs as root in CI
		cdp.DisableGPU,
		cdp.Flag("disable-quic", true),
		cdp.NoFirstRun,
		cdp.Flag("disable-background-networking", true),
		cdp.Flag("disable-component-update", true),
		cdp.Flag("disable-sync", true),
		cdp.Flag("lang", "ja"),
		cdp.UserDataDir(t.TempDir()),
		cdp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := cdp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := cdp.NewContext(actx)
	// Start the browser with no deadline: the first Run binds its life to ctx.
	if err := cdp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir != "" {
		dir = filepath.Join(dir, sanitize(t.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("artifacts dir: %v", err)
		}
	} else {
		dir = t.TempDir()
	}
	t.Logf("screenshots in %s", dir)
	return &browser{t: t, ctx: ctx, artifacts: dir}
}

func sanitize(s string) string {
	return regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "_")
}

// tab is one page in its own browser context.
type tab struct {
	b    *browser
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string
	done    chan struct{}
}

// newTab opens a tab in a fresh browser context and collects its console
// messages (logged when a step fails).
func (b *browser) newTab(name string) *tab {
	b.t.Helper()
	ctx, cancel := cdp.NewContext(b.ctx, cdp.WithNewBrowserContext())
	if err := cdp.Do(ctx); err != nil {
		cancel()
		b.t.Fatalf("open tab %s: %v", name, err)
	}
	tb := &tab{b: b, name: name, ctx: ctx, done: make(chan struct{})}
	msgs := cdp.Console(ctx)
	go func() {
		defer close(tb.done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m.String())
			tb.mu.Unlock()
		}
	}()
	b.t.Cleanup(func() { cancel(); <-tb.done })
	return tb
}

// do runs one named step with its own timeout. On failure it saves a
// screenshot and the page's console, then fails the test.
func (tb *tab) do(step string, actions ...cdp.Action[cdp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := cdp.Do(ctx, actions...); err != nil {
		tb.fail(step, err)
	}
}

func (tb *tab) fail(step string, err error) {
	tb.b.t.Helper()
	name := tb.shot("FAILED-" + step)
	tb.mu.Lock()
	cons := strings.Join(tb.console, "\n  ")
	tb.mu.Unlock()
	tb.b.t.Fatalf("[%s] %s: %v\n  screenshot: %s\n  console:\n  %s", tb.name, step, err, name, cons)
}

// shot saves a full-page PNG and returns its path.
func (tb *tab) shot(name string) string {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := cdp.Run(ctx, cdp.FullScreenshot(100))
	if err != nil {
		tb.b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	tb.b.mu.Lock()
	tb.b.shots++
	n := tb.b.shots
	tb.b.mu.Unlock()
	path := filepath.Join(tb.b.artifacts, fmt.Sprintf("%02d-%s-%s.png", n, tb.name, sanitize(name)))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.b.t.Errorf("write %s: %v", path, err)
	}
	return path
}

// text returns the visible text of the first element matching css.
func (tb *tab) text(step, css string) string {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	s, err := cdp.Run(ctx, cdp.Text(cdp.CSS(css), cdp.NodeVisible))
	if err != nil {
		tb.fail(step, err)
	}
	return s
}

// eval evaluates a JavaScript expression and returns its value.
func evalT[T any](tb *tab, step, expr string) T {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := cdp.Run(ctx, cdp.Evaluate[T](expr))
	if err != nil {
		tb.fail(step, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is truthy (polled on
// animation frames and DOM changes, never by sleeping in Go).
func waitJS(expr string) cdp.Action[cdp.Void] {
	return cdp.Poll[cdp.Void](expr, cdp.WithPollingTimeout(stepTimeout), cdp.WithPollingInterval(100*time.Millisecond))
}

// waitText waits until the element matching css contains want.
func waitText(css, want string) cdp.Action[cdp.Void] {
	return waitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, css, want))
}

// css is shorthand for a CSS selector.
func css(s string) cdp.CSS { return cdp.CSS(s) }
