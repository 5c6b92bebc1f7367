// Package doctor runs the on-device checks of `kiosk-config doctor`: each
// item is OK, WARN or FAIL with what was found and, when not OK, the fix a
// field tech can apply without a developer at hand.
package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	bolt "go.etcd.io/bbolt"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// Status of one check.
type Status string

const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
	Skip Status = "SKIP" // could not run: an earlier check failed
)

// Result is one line of the report.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Options say what to check and how. Zero values take the defaults noted.
type Options struct {
	ConfigPath      string       // required
	SigPath         string       // default ConfigPath + ".sig"
	ProvisioningPub string       // default provisioning.pub next to the config
	Clock           clock.Clock  // default clock.Real
	HTTP            *http.Client // default: 5 s timeout
	Timeout         time.Duration
	MaxClockOffset  time.Duration // default 30 s
	MinFreeBytes    uint64        // default 200 MiB
	Getenv          func(string) string
	XSocketDir      string                            // default /tmp/.X11-unix
	DRMDir          string                            // default /dev/dri
	FreeBytes       func(path string) (uint64, error) // default statfs
}

func (o *Options) defaults() {
	if o.SigPath == "" {
		o.SigPath = config.SigPath(o.ConfigPath)
	}
	if o.ProvisioningPub == "" {
		o.ProvisioningPub = filepath.Join(filepath.Dir(o.ConfigPath), "provisioning.pub")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: o.Timeout}
	}
	if o.MaxClockOffset <= 0 {
		o.MaxClockOffset = 30 * time.Second
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = 200 << 20
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.XSocketDir == "" {
		o.XSocketDir = "/tmp/.X11-unix"
	}
	if o.DRMDir == "" {
		o.DRMDir = "/dev/dri"
	}
	if o.FreeBytes == nil {
		o.FreeBytes = statfsFree
	}
}

// Failed reports whether any result is FAIL.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Run runs every check in order and returns one result per item.
func Run(ctx context.Context, o Options) []Result {
	o.defaults()
	var rs []Result
	cfg, r := checkConfig(o)
	rs = append(rs, r)
	if cfg == nil {
		for _, n := range []string{"broker", "central", "clock", "display", "fonts", "cache", "disk"} {
			rs = append(rs, Result{Name: n, Status: Skip, Detail: "needs a valid config"})
		}
		return rs
	}
	rs = append(rs, checkBroker(ctx, o, cfg))
	central, clk := checkCentral(ctx, o, cfg)
	rs = append(rs, central, clk)
	rs = append(rs, checkDisplay(o), checkFonts(cfg), checkCache(cfg), checkDisk(o, cfg))
	return rs
}

func checkConfig(o Options) (*config.Config, Result) {
	r := Result{Name: "config"}
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "run `kiosk-config validate " + o.ConfigPath + "`, fix each line it names, then have the config signed again (or re-enroll)"
		return nil, r
	}
	keys, err := config.ReadPublicKeyFile(o.ProvisioningPub)
	if err != nil {
		r.Status, r.Detail = Fail, "config valid, but no pinned provisioning key: "+err.Error()
		r.Fix = "re-enroll (`kiosk-config enroll`) to install " + o.ProvisioningPub + ", or copy it from central's operators"
		return cfg, r
	}
	if _, err := config.LoadSigned(o.ConfigPath, o.SigPath, keys); err != nil {
		r.Status, r.Detail = Fail, "config valid but the agent will refuse it: "+err.Error()
		switch {
		case errors.Is(err, config.ErrUnsigned):
			r.Fix = "sign it: `kiosk-config sign -key <provisioning key> " + o.ConfigPath + "` (central's operators hold the key), or re-enroll"
		case errors.Is(err, wire.ErrBadSignature):
			r.Fix = "the file was edited after signing: undo the edit or have it signed again (`kiosk-config sign`), or re-enroll"
		case errors.Is(err, wire.ErrUnknownKey):
			r.Fix = "signed with a key not in " + o.ProvisioningPub + ": re-enroll, or get the current provisioning.pub from central's operators"
		default:
			r.Fix = "the signature file is damaged: re-enroll or sign again"
		}
		return cfg, r
	}
	r.Status = OK
	r.Detail = fmt.Sprintf("%s valid and signed (device %s, branch %s, prefecture %s)", o.ConfigPath, cfg.Device.ID, cfg.Device.Branch, cfg.Device.Prefecture)
	return cfg, r
}

// DoctorClientID is the MQTT client id doctor connects with. It must differ
// from the agent's (same id = the broker drops the running agent, and a
// clean session would wipe its queued messages), and central's broker only
// accepts "<device id>" or "kiosk-<device id>" for a device's credentials:
// so doctor takes whichever of the two the agent does not use.
func DoctorClientID(c *config.Config) string {
	switch c.ClientID() {
	case "kiosk-" + c.Device.ID:
		return c.Device.ID
	case c.Device.ID:
		return "kiosk-" + c.Device.ID
	}
	return c.ClientID() + "-doctor"
}

// checkBroker connects to every broker URL of the config (broker.url, or
// each node of broker.urls). All reachable: OK. Some: WARN naming the dead
// nodes (the agent fails over, but the cluster has lost redundancy). None:
// FAIL with the fix for the first node's error.
func checkBroker(ctx context.Context, o Options, c *config.Config) Result {
	r := Result{Name: "broker"}
	tc, err := c.TLSConfig()
	if err != nil {
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "check the TLS file paths in [broker] and that the files are readable PEM (re-enroll restores them)"
		return r
	}
	urls := c.BrokerURLs()
	field := "broker.url"
	if len(c.Broker.URLs) > 0 {
		field = "broker.urls"
	}
	var ok, dead []string
	var firstErr error
	for _, u := range urls {
		ms, err := brokerConnect(ctx, o, c, tc, u)
		if ctx.Err() != nil {
			r.Status, r.Detail = Fail, "cancelled"
			return r
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			dead = append(dead, fmt.Sprintf("%s: %v", u, err))
			continue
		}
		ok = append(ok, fmt.Sprintf("%s in %d ms", u, ms))
	}
	switch {
	case len(ok) == 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("connect as %q: %s", c.Broker.Username, strings.Join(dead, "; "))
		switch err := firstErr; {
		case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
			r.Fix = "the broker refused the credentials: check broker.username and broker.password, or re-enroll to get new ones (a re-sign is needed after any edit)"
		case errors.Is(err, packets.ErrorRefusedIDRejected):
			r.Fix = "the broker refused client id " + DoctorClientID(c) + ": check the broker's ACL for kiosk client ids"
		case strings.Contains(err.Error(), "certificate"), strings.Contains(err.Error(), "tls"):
			r.Fix = "TLS failed: check broker.ca_file matches the broker's certificate and the device clock is right"
		default:
			r.Fix = "the broker is not reachable: check network, DNS and firewall (port in " + field + "), and that the broker runs"
		}
	case len(dead) > 0:
		r.Status = Warn
		r.Detail = fmt.Sprintf("connected as %q to %s; failed: %s", c.Broker.Username, strings.Join(ok, ", "), strings.Join(dead, "; "))
		r.Fix = "the display works through the nodes that answered, but the failed ones give it no failover: check those nodes (docs/OPERATIONS.md, cluster) and the network to them"
	default:
		r.Status = OK
		r.Detail = fmt.Sprintf("connected to %s as %q", strings.Join(ok, ", "), c.Broker.Username)
	}
	return r
}

// brokerConnect makes one MQTT connect to url with the config's
// credentials and TLS and returns how long it took.
func brokerConnect(ctx context.Context, o Options, c *config.Config, tc *tls.Config, url string) (int64, error) {
	opts := mqtt.NewClientOptions().
		AddBroker(url).
		SetClientID(DoctorClientID(c)).
		SetUsername(c.Broker.Username).
		SetPassword(c.Broker.Password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(o.Timeout)
	if tc != nil {
		opts.SetTLSConfig(tc.Clone())
	}
	cl := mqtt.NewClient(opts)
	start := time.Now()
	tok := cl.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		cl.Disconnect(0)
		return 0, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return 0, err
	}
	cl.Disconnect(100)
	return time.Since(start).Milliseconds(), nil
}

func checkCentral(ctx context.Context, o Options, c *config.Config) (Result, Result) {
	r := Result{Name: "central"}
	ck := Result{Name: "clock"}
	u := strings.TrimRight(c.Central.APIURL, "/") + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		r.Status, r.Detail = Fail, err.Error()
		return r, Result{Name: "clock", Status: Skip, Detail: "central not reachable"}
	}
	sent := o.Clock.Now()
	resp, err := o.HTTP.Do(req)
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("GET %s: %v", u, err)
		r.Fix = "central is not reachable: check network, DNS, proxy and firewall for " + c.Central.APIURL
		return r, Result{Name: "clock", Status: Skip, Detail: "central not reachable"}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	recv := o.Clock.Now()
	if resp.StatusCode != http.StatusOK {
		r.Status, r.Detail = Fail, fmt.Sprintf("GET %s: HTTP %d", u, resp.StatusCode)
		r.Fix = "central answers but is not healthy: tell central's operators"
	} else {
		r.Status, r.Detail = OK, fmt.Sprintf("GET %s: 200 in %d ms", u, recv.Sub(sent).Milliseconds())
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		ck.Status, ck.Detail = Warn, "central sent no usable Date header; clock not checked"
		return r, ck
	}
	// The Date header has 1 s resolution and was stamped somewhere between
	// sending and receiving: compare with the midpoint, allow 1 s slack.
	mid := sent.Add(recv.Sub(sent) / 2)
	offset := mid.Sub(date)
	abs := offset
	if abs < 0 {
		abs = -abs
	}
	if abs > o.MaxClockOffset+time.Second {
		ck.Status = Fail
		ck.Detail = fmt.Sprintf("device clock is %s %s central (%s vs %s)", abs.Round(time.Second), map[bool]string{true: "ahead of", false: "behind"}[offset > 0], mid.UTC().Format(time.RFC3339), date.UTC().Format(time.RFC3339))
		ck.Fix = "enable time sync: `timedatectl set-ntp true` and check `timedatectl timesync-status`; the agent copes with a wrong clock, but TLS and logs do not"
		return r, ck
	}
	ck.Status, ck.Detail = OK, fmt.Sprintf("offset from central %s (limit %s)", offset.Round(time.Second), o.MaxClockOffset)
	return r, ck
}

func checkDisplay(o Options) Result {
	r := Result{Name: "display"}
	if d := o.Getenv("DISPLAY"); d != "" {
		// ":0", ":0.0", "unix:0" -> X0 socket; a TCP display is trusted as set.
		num := d
		if i := strings.LastIndexByte(num, ':'); i >= 0 {
			num = num[i+1:]
		}
		num, _, _ = strings.Cut(num, ".")
		host := d[:max(strings.LastIndexByte(d, ':'), 0)]
		if host != "" && host != "unix" {
			r.Status, r.Detail = OK, "DISPLAY="+d+" (remote X display, not probed)"
			return r
		}
		sock := filepath.Join(o.XSocketDir, "X"+num)
		if _, err := os.Stat(sock); err == nil {
			r.Status, r.Detail = OK, "X server socket "+sock+" for DISPLAY="+d
			return r
		}
		r.Status = Fail
		r.Detail = "DISPLAY=" + d + " but no X server socket " + sock
		r.Fix = "start the kiosk session (`systemctl status kiosk-session`), or check the X server log"
		return r
	}
	cards, _ := filepath.Glob(filepath.Join(o.DRMDir, "card*"))
	if len(cards) > 0 {
		r.Status, r.Detail = OK, "no DISPLAY; DRM device "+cards[0]
		return r
	}
	r.Status = Fail
	r.Detail = "no DISPLAY and no DRM device in " + o.DRMDir
	r.Fix = "check the panel cable and the graphics driver (`dmesg | grep -i drm`); run doctor from the kiosk session or with DISPLAY=:0"
	return r
}

func checkFonts(c *config.Config) Result {
	r := Result{Name: "fonts"}
	if c.Display.Font == "" {
		r.Status, r.Detail = OK, "display.font not set: the built-in Japanese font is used"
		return r
	}
	f, err := os.Open(c.Display.Font)
	if err != nil {
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "install the font (e.g. `apt install fonts-noto-cjk`) or remove display.font to use the built-in font (then sign again)"
		return r
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !isFontMagic(magic) {
		r.Status, r.Detail = Fail, c.Display.Font+" is not a TrueType/OpenType font file"
		r.Fix = "point display.font at a .ttf/.otf/.ttc file, or remove it to use the built-in font"
		return r
	}
	r.Status, r.Detail = OK, c.Display.Font
	return r
}

func isFontMagic(m []byte) bool {
	switch string(m) {
	case "\x00\x01\x00\x00", "OTTO", "ttcf", "true":
		return true
	}
	return false
}

func checkCache(c *config.Config) Result {
	r := Result{Name: "cache"}
	p := c.Cache.Path
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		r.Status, r.Detail = Warn, p+" does not exist yet (the agent creates it at first start)"
		return r
	}
	db, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		r.Status, r.Detail = Warn, p+" is locked by the running agent: not checked"
		r.Fix = "to check it, stop the agent (`systemctl stop kiosk-agent`) and run doctor again"
		return r
	}
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("open %s: %v", p, err)
		r.Fix = "stop the agent, move the file aside (`mv " + p + " " + p + ".bad`) and start the agent: it rebuilds the cache from the broker"
		return r
	}
	defer db.Close()
	var problems []string
	err = db.View(func(tx *bolt.Tx) error {
		// Drain the channel fully: Check's goroutine blocks until read.
		for e := range tx.Check() {
			if len(problems) < 5 {
				problems = append(problems, e.Error())
			}
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		r.Status, r.Detail = Fail, p+": "+strings.Join(problems, "; ")
		r.Fix = "stop the agent, move the file aside (`mv " + p + " " + p + ".bad`) and start the agent: it rebuilds the cache from the broker"
		return r
	}
	st, _ := os.Stat(p)
	r.Status, r.Detail = OK, fmt.Sprintf("%s consistent (%d KiB)", p, st.Size()>>10)
	return r
}

func checkDisk(o Options, c *config.Config) Result {
	r := Result{Name: "disk"}
	dir := filepath.Dir(c.Cache.Path)
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" {
			break
		}
		dir = filepath.Dir(dir)
	}
	free, err := o.FreeBytes(dir)
	if err != nil {
		r.Status, r.Detail = Fail, fmt.Sprintf("statfs %s: %v", dir, err)
		return r
	}
	need := o.MinFreeBytes
	if free < need {
		r.Status = Fail
		r.Detail = fmt.Sprintf("%d MiB free on %s, need at least %d MiB", free>>20, dir, need>>20)
		r.Fix = "free space: `journalctl --vacuum-size=50M`, remove old logs and core dumps; the cache itself is capped by cache.max_bytes"
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("%d MiB free on %s", free>>20, dir)
	if uint64(c.Cache.MaxBytes) > free {
		r.Status = Warn
		r.Detail += fmt.Sprintf(", less than cache.max_bytes (%d MiB)", c.Cache.MaxBytes>>20)
		r.Fix = "free space or lower cache.max_bytes (then sign again)"
	}
	return r
}

func statfsFree(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
