package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/atmguard/kiosk/internal/clock"
)

// Ready tells systemd the service is up (Type=notify). It reports whether a
// notification socket was present.
func Ready() (bool, error) { return notify(daemon.SdNotifyReady) }

// Stopping tells systemd the service is shutting down on purpose.
func Stopping() (bool, error) { return notify(daemon.SdNotifyStopping) }

// Status sets the free-text status line shown by `systemctl status`.
func Status(s string) (bool, error) { return notify("STATUS=" + oneLine(s)) }

func notify(state string) (bool, error) {
	ok, err := daemon.SdNotify(false, state)
	if err != nil {
		return ok, fmt.Errorf("sd_notify %q: %w", strings.SplitN(state, "=", 2)[0], err)
	}
	return ok, nil
}

// Interval is how often Watchdog checks health and pings: half the
// WatchdogSec systemd configured (its own recommendation), or 0 if the
// watchdog is not enabled for this process.
func Interval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("read systemd watchdog settings: %w", err)
	}
	return d / 2, nil
}

// Watchdog pings systemd's watchdog every Interval while healthy returns nil,
// until ctx is done. When healthy fails it withholds the ping and sets STATUS
// to the error, so systemd restarts a daemon that is alive but stuck. It
// returns nil at once when the watchdog is not enabled. Run it in a goroutine
// owned by main.
func Watchdog(ctx context.Context, clk clock.Clock, healthy func() error, log *slog.Logger) error {
	iv, err := Interval()
	if err != nil || iv <= 0 {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	t := clk.NewTicker(iv)
	defer t.Stop()
	wasSick := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		if herr := healthy(); herr != nil {
			log.Warn("watchdog: health check failed, not pinging systemd", "err", herr)
			if _, err := Status("unhealthy: " + herr.Error()); err != nil {
				log.Warn("watchdog: set status", "err", err)
			}
			wasSick = true
			continue
		}
		if wasSick {
			wasSick = false
			if _, err := Status("healthy"); err != nil {
				log.Warn("watchdog: set status", "err", err)
			}
		}
		if _, err := notify(daemon.SdNotifyWatchdog); err != nil {
			log.Warn("watchdog: ping", "err", err)
		}
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
