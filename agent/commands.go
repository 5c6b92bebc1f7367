package agent

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// handleCommand verifies a signed command (signature, addressed to this
// device, fresh, id not seen before: ids are persisted until they expire)
// and runs it. It reports whether the schedule changed.
func (a *Agent) handleCommand(topic string, env []byte) bool {
	cmd, err := wire.OpenCommand(env, a.o.Keys, a.o.DeviceID)
	if err != nil {
		a.reject(topic, "", 0, err)
		return false
	}
	if err := a.checkFresh(cmd.Issued, cmd.Expires); err != nil {
		a.reject(topic, "", 0, fmt.Errorf("command %s: %w", cmd.ID, err))
		return false
	}
	seen, err := a.cache.SeenCommand(cmd.ID, cmd.Expires, a.cc.now())
	if err != nil {
		a.reject(topic, "", 0, err)
		return false
	}
	if seen {
		a.reject(topic, "", 0, fmt.Errorf("%w: command %s was already executed", wire.ErrReplay, cmd.ID))
		return false
	}
	a.bump(func(s *Stats) { s.Commands++ })
	a.log.Info("command", "id", cmd.ID, "name", cmd.Name)
	switch cmd.Name {
	case wire.CmdIdentify:
		d := a.o.IdentifyDuration
		if v, ok := cmd.Args["seconds"]; ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 600 {
				d = time.Duration(n) * time.Second
			}
		}
		a.sched.Identify(a.identifyInfo(), a.clk.Mono(), d)
		return true
	case wire.CmdScreenshot:
		a.screenshot(cmd.ID)
	case wire.CmdReload:
		a.reload()
		return true
	}
	return false
}

// screenshot uploads the current frame (PNG) to central in the background.
func (a *Agent) screenshot(id string) {
	ss, ok := a.o.Presenter.(Screenshotter)
	if !ok {
		a.log.Warn("screenshot command: this presenter cannot take screenshots", "id", id)
		return
	}
	if a.o.APIURL == "" {
		a.log.Warn("screenshot command: no central API URL configured", "id", id)
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := a.stopContext(30 * time.Second)
		defer cancel()
		if err := a.uploadScreenshot(ctx, ss); err != nil {
			a.log.Error("screenshot upload", "id", id, "err", err)
			return
		}
		a.log.Info("screenshot uploaded", "id", id)
	}()
}

// stopContext is cancelled when the agent stops or after d.
func (a *Agent) stopContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() { // ends with ctx at the latest
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

const maxScreenshotBytes = 8 << 20

func (a *Agent) uploadScreenshot(ctx context.Context, ss Screenshotter) error {
	png, err := ss.Screenshot()
	if err != nil {
		return fmt.Errorf("take screenshot: %w", err)
	}
	if len(png) > maxScreenshotBytes {
		return fmt.Errorf("screenshot is %d bytes, max %d", len(png), maxScreenshotBytes)
	}
	url := strings.TrimRight(a.o.APIURL, "/") + "/api/v1/devices/" + a.o.DeviceID + "/screenshot"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(png))
	if err != nil {
		return fmt.Errorf("upload screenshot: %w", err)
	}
	req.Header.Set("Content-Type", "image/png")
	req.SetBasicAuth(a.o.Username, a.o.Password)
	resp, err := a.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("upload screenshot: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("upload screenshot: POST %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// reload re-presents the screen, retries blob downloads at once and
// re-subscribes to the state topics (the broker re-sends the retained
// snapshots; ones already stored are recognised as duplicates).
func (a *Agent) reload() {
	a.decidedHash = ""
	a.fetchReset.Store(true)
	signal(a.fetchKick)
	if a.client == nil || !a.client.IsConnectionOpen() {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		var topics []string
		filters := map[string]byte{}
		for _, sc := range a.scopes {
			topics = append(topics, wire.StateTopic(sc))
			filters[wire.StateTopic(sc)] = 1
		}
		if t := a.client.Unsubscribe(topics...); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
			a.log.Warn("reload: unsubscribe", "err", t.Error())
		}
		if t := a.client.SubscribeMultiple(filters, a.onMessage); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
			a.log.Error("reload: subscribe", "err", t.Error())
		}
	}()
}
