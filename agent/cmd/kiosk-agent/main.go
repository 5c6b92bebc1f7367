// Command kiosk-agent is the display kiosk: the agent core (MQTT, signature
// checks, cache, scheduler) and the Ebiten presenter in one process. Ebiten
// owns the main goroutine; the agent core runs in a goroutine owned by main
// and stopped on SIGINT/SIGTERM.
//
//	kiosk-agent --config /etc/kiosk/device.toml --provisioning-key /etc/kiosk/provisioning.pub --data /var/lib/kiosk
//	kiosk-agent --alert-file alert.json --unsigned-demo --windowed  # no agent core: a local, UNSIGNED alert (demo, bring-up), marked DEMO on screen
//	kiosk-agent --windowed                              # the built-in standing warning only
//
// It needs an X display (DISPLAY): Ebiten's package init panics without one.
// Under a headless machine run it as `xvfb-run -a kiosk-agent ...`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/deploy/sdnotify"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/display/ebitenview"
	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// processStart is as early as a Go program can note the time: the first
// frame is logged relative to it.
var processStart = time.Now()

type flags struct {
	config, provKey, data string
	alertFile             string
	unsignedDemo          bool
	windowed              bool
	width, height         int
	font                  string
	rotation              int
	drift                 bool
	dwell                 time.Duration
	exitAfterFirstFrame   bool
	showVersion           bool
}

func parseFlags(args []string) (flags, error) {
	var f flags
	fl := flag.NewFlagSet("kiosk-agent", flag.ContinueOnError)
	fl.StringVar(&f.config, "config", "", "signed device config (TOML); its signature is <config>.sig")
	fl.StringVar(&f.provKey, "provisioning-key", "", "pinned provisioning public key file that must have signed --config")
	fl.StringVar(&f.data, "data", "", "data directory (the cache is <data>/cache.db); default: the config's cache.path")
	fl.StringVar(&f.alertFile, "alert-file", "", "with --unsigned-demo, without --config: show this UNSIGNED alert (wire.Alert or display.Screen JSON), rotating its languages, marked DEMO")
	fl.BoolVar(&f.unsignedDemo, "unsigned-demo", false, "allow --alert-file: show unsigned local content, marked DEMO on screen (never with --config)")
	fl.BoolVar(&f.windowed, "windowed", false, "run in a window instead of full-screen")
	fl.IntVar(&f.width, "width", 0, "window width with --windowed (default: the config's display.width, or 960)")
	fl.IntVar(&f.height, "height", 0, "window height with --windowed (default: the config's display.height, or 540)")
	fl.StringVar(&f.font, "font", "", "preferred font file (e.g. /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc); default: the config's display.font, then the built-in M+ 1p")
	fl.IntVar(&f.rotation, "rotation", -1, "panel rotation 0/90/180/270 (default: the config's display.rotation)")
	fl.BoolVar(&f.drift, "burn-in-drift", false, "move the picture a few pixels over hours (also on with the config's display.burn_in_protection)")
	fl.DurationVar(&f.dwell, "lang-dwell", 8*time.Second, "with --alert-file: time per language")
	fl.BoolVar(&f.exitAfterFirstFrame, "exit-after-first-frame", false, "exit once the first frame is on the screen (start-up benchmark)")
	fl.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	if err := fl.Parse(args); err != nil {
		return f, err
	}
	if fl.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %v", fl.Args())
	}
	if f.config != "" && f.provKey == "" {
		return f, errors.New("--config needs --provisioning-key (the config must be signed)")
	}
	if f.config != "" && f.alertFile != "" {
		return f, errors.New("--alert-file is for running without --config")
	}
	if f.config != "" && f.unsignedDemo {
		return f, errors.New("--unsigned-demo is refused with --config: a configured kiosk shows signed content only")
	}
	if f.alertFile != "" && !f.unsignedDemo {
		return f, errors.New("--alert-file shows unsigned content: it needs --unsigned-demo (the screen is then marked DEMO)")
	}
	if f.dwell < time.Second {
		return f, fmt.Errorf("--lang-dwell %s: at least 1s", f.dwell)
	}
	return f, nil
}

func main() {
	f, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kiosk-agent:", err)
		os.Exit(2)
	}
	if f.showVersion {
		fmt.Println(version)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(f, log); err != nil {
		log.Error("kiosk-agent", "err", err)
		os.Exit(1)
	}
}

func run(f flags, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The config is read before the window opens so its display settings
	// apply. A config that cannot be loaded does not leave the screen blank:
	// the kiosk shows the standing warning and logs why.
	var cfg *config.Config
	var cfgErr error
	if f.config != "" {
		cfg, cfgErr = loadConfig(f)
		if cfgErr != nil {
			log.Error("device config refused; showing the standing warning only", "err", cfgErr)
		}
	}
	title := "ATM kiosk " + version
	if f.unsignedDemo {
		title += " — DEMO (unsigned)"
	}
	po := ebitenview.Options{Windowed: f.windowed, WindowW: f.width, WindowH: f.height, Title: title,
		Rotation: max(f.rotation, 0), Drift: f.drift, Logger: log,
		OnFault: func(reason string) { log.Error("frame watchdog: showing the standing warning", "reason", reason) }}
	fontPath := f.font
	if cfg != nil {
		if f.width == 0 && f.height == 0 {
			po.WindowW, po.WindowH = cfg.Display.Width, cfg.Display.Height
		}
		if f.rotation < 0 {
			po.Rotation = cfg.Display.Rotation
		}
		po.Drift = po.Drift || cfg.Display.BurnInProtection
		if fontPath == "" {
			fontPath = cfg.Display.Font
		}
	}
	if fontPath != "" {
		fs, err := display.LoadFonts(display.FontConfig{Path: fontPath})
		if err != nil {
			log.Error("font not usable; using the built-in M+ 1p", "font", fontPath, "err", err)
		} else {
			defer fs.Close()
			po.Fonts = fs
		}
	}
	p := ebitenview.New(po)

	var driver func(context.Context) error
	var core *agent.Agent
	switch {
	case cfg != nil:
		a, err := newAgent(cfg, f, p, log)
		if err != nil {
			log.Error("agent core did not start; showing the standing warning only", "err", err)
		} else {
			defer a.Close()
			driver = a.Run
			core = a
		}
	case f.alertFile != "":
		driver = func(ctx context.Context) error { return showFile(ctx, f.alertFile, f.dwell, p, clock.Real{}, log) }
	}

	// main owns the driver goroutine: it is stopped (cancel) and waited for
	// before run returns.
	var wg sync.WaitGroup
	if driver != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := driver(ctx); err != nil && ctx.Err() == nil {
				log.Error("driver stopped; the last screen (or the standing warning) stays", "err", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-p.FirstFrame():
			log.Info("first frame on screen", "since_process_start", time.Since(processStart).Round(time.Millisecond).String(), "size", p.Size().String())
			// Under systemd (Type=notify) the unit is up once something is
			// on the screen, not when the process exists.
			if _, err := sdnotify.Ready(); err != nil {
				log.Warn("sd_notify READY", "err", err)
			}
			if f.exitAfterFirstFrame {
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The watchdog ping is withheld while the agent core does not
		// answer (its state lock held by a stuck loop), so systemd restarts
		// a kiosk that is alive but frozen. Without a core the standing
		// warning is the whole job and needs no check.
		healthy := func() error {
			if core != nil {
				core.Stats()
			}
			return nil
		}
		if err := sdnotify.Watchdog(ctx, clock.Real{}, healthy, log); err != nil {
			log.Warn("systemd watchdog", "err", err)
		}
	}()
	err := p.Run(ctx) // blocks on the main goroutine until ctx is done or the window closes
	_, _ = sdnotify.Stopping()
	cancel()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("presenter: %w", err)
	}
	if cfgErr != nil {
		return cfgErr
	}
	return nil
}

func loadConfig(f flags) (*config.Config, error) {
	keys, err := config.ReadPublicKeyFile(f.provKey)
	if err != nil {
		return nil, fmt.Errorf("provisioning key: %w", err)
	}
	return config.LoadSigned(f.config, config.SigPath(f.config), keys)
}

func newAgent(cfg *config.Config, f flags, p *ebitenview.Presenter, log *slog.Logger) (*agent.Agent, error) {
	o, err := agent.OptionsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	if f.data != "" {
		if err := os.MkdirAll(f.data, 0o750); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		o.CachePath = filepath.Join(f.data, "cache.db")
	}
	o.AgentVersion = version
	o.Logger = log
	o.Presenter = p // also an agent.Screenshotter
	return agent.New(o)
}

// showFile is the driver without an agent core: the alert of a local file,
// its languages in turn. A file that cannot be read or drawn leaves the
// standing warning up (the presenter's fallback) and is logged.
func showFile(ctx context.Context, path string, dwell time.Duration, p *ebitenview.Presenter, clk clock.Clock, log *slog.Logger) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("alert file: %w", err)
	}
	s, err := display.DecodeScreenJSON(data)
	if err != nil {
		return fmt.Errorf("alert file %s: %w", path, err)
	}
	markDemo(&s)
	log.Warn("showing UNSIGNED content from a local file (--unsigned-demo); it is marked DEMO on screen", "file", path, "screen", s.ID())
	langs := display.Languages(s)
	if s.Lang != "" {
		langs = []string{s.Lang}
	}
	t := clk.NewTimer(0)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		s.Lang = langs[i%len(langs)]
		hash, err := p.Show(ctx, s)
		if err != nil && ctx.Err() == nil {
			log.Error("show", "screen", s.ID(), "lang", s.Lang, "err", err)
		} else if err == nil {
			log.Info("displayed", "screen", s.ID(), "lang", s.Lang, "frame_hash", hash)
		}
		t.Reset(dwell)
	}
}

// DemoMark is what an unsigned local screen carries where a real one names
// its issuer, so nobody mistakes a demo for a police warning.
const DemoMark = "DEMO — 未署名 unsigned"

// markDemo marks a screen from --alert-file as an unsigned demo: an alert's
// issuer becomes DemoMark, a slide's headlines and a message screen's text
// are prefixed with it.
func markDemo(s *display.Screen) {
	switch {
	case s.Alert != nil:
		a := *s.Alert
		a.Issuer = DemoMark
		s.Alert = &a
	case s.Item != nil:
		it := *s.Item
		it.Texts = append([]wire.Text(nil), it.Texts...)
		for i := range it.Texts {
			it.Texts[i].Headline = "DEMO: " + it.Texts[i].Headline
		}
		s.Item = &it
	case s.Message != "":
		s.Message = DemoMark + ": " + s.Message
	}
}
