package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/alerts"
	"github.com/atmguard/kiosk/central/auth"
	"github.com/atmguard/kiosk/central/broker"
	"github.com/atmguard/kiosk/central/console"
	"github.com/atmguard/kiosk/central/enroll"
	"github.com/atmguard/kiosk/central/httpapi"
	"github.com/atmguard/kiosk/central/hub"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/central/registry"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/central/wsapi"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// Config is everything central needs. There are no defaults for the data
// directory or addresses: the main requires them.
type Config struct {
	DataDir  string // central.db, broker.db and keys/ live here
	HTTPAddr string // e.g. ":8080" or "127.0.0.1:0"
	MQTTAddr string // embedded broker listen address (unused with BrokerURL)

	// External broker: when BrokerURL is set, no broker is embedded and
	// central connects with these credentials. Device authentication and
	// ACLs are then the broker's job (deploy/ has mosquitto configs).
	BrokerURL      string
	BrokerUser     string
	BrokerPassword string
	// AcceptUnenrolled takes devices central did not enroll into the fleet
	// from their statuses (an external broker whose device accounts are
	// managed elsewhere). Default: they are ignored and counted.
	AcceptUnenrolled bool

	// What devices are told at enrollment. Defaults: http://<HTTP listener>
	// and the embedded broker's tcp://<listener> (or BrokerURL).
	PublicURL       string
	PublicBrokerURL string

	AllowedOrigins []string // extra WebSocket origins besides the request's own host
	AdminName      string   // first admin's login (default "admin")

	Clock    clock.Clock // default clock.Real{}
	Logger   *slog.Logger
	Snapshot alerts.SnapshotConfig
	Auth     auth.Options // Clock, Audit and Logger are filled in

	// FlushInterval of the registry (default 200ms).
	FlushInterval time.Duration
	// IngestQueue is the registry's queue of device messages (default 65536).
	IngestQueue int
	// AfterCommit is a test hook (see alerts.Config.AfterCommit).
	AfterCommit func()
	// NoFitCheck skips display.CheckFit (tests of other things only).
	NoFitCheck bool
	// DisplayFont is the font file the displays are configured with
	// (display.font in their config, e.g. Noto Sans CJK); previews and the
	// fit check use it. Empty: the built-in M+ 1p, as on displays without one.
	DisplayFont string
	// HTTPReadTimeout / HTTPWriteTimeout / HTTPIdleTimeout override the
	// HTTP server's (defaults DefaultHTTPTimeout: a slow link still gets an
	// 8 MiB screenshot up or a 4 MiB image down; a stalled client is cut
	// off). WebSocket connections are hijacked and gorilla clears the
	// deadlines on upgrade, so console sessions are not subject to them.
	HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout time.Duration
}

// DefaultHTTPTimeout is the default read, write and idle timeout of the
// HTTP server.
const DefaultHTTPTimeout = 2 * time.Minute

// App is a running central.
type App struct {
	cfg Config
	log *slog.Logger

	DB       *store.DB
	Keys     *keys.Ring
	Hub      *hub.Hub
	AuditLog *store.AuditLog
	Users    *auth.Service
	Registry *registry.Registry
	Alerts   *alerts.Service
	Enroll   *enroll.Service
	Broker   *broker.Embedded // nil with an external broker
	MQTT     *broker.Client
	WS       *wsapi.Server
	Metrics  *prometheus.Registry

	// AdminPassword is set when this start created the first admin (print
	// it once); CreatedKeys lists keys generated at this start.
	AdminPassword string
	CreatedKeys   []keys.Purpose

	httpLn  net.Listener
	httpSrv *http.Server
	fonts   *display.Fonts
	pub     lazyPublisher

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// lazyPublisher forwards to the MQTT client once it exists.
type lazyPublisher struct{ c atomic.Pointer[broker.Client] }

func (p *lazyPublisher) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	c := p.c.Load()
	if c == nil {
		return broker.ErrNotConnected
	}
	return c.Publish(ctx, topic, payload, retained)
}

// Start opens everything and starts serving. Close stops it.
func Start(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.DataDir == "" || cfg.HTTPAddr == "" || (cfg.MQTTAddr == "" && cfg.BrokerURL == "") {
		return nil, errors.New("central: data dir, HTTP address and an MQTT address (or external broker URL) are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AdminName == "" {
		cfg.AdminName = "admin"
	}
	a = &App{cfg: cfg, log: cfg.Logger}
	// Error returns below are `return nil, err`, which clears a before this
	// runs: close what was started through a copy.
	started := a
	defer func() {
		if err != nil {
			started.Close()
			a = nil
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	if a.DB, err = store.Open(filepath.Join(cfg.DataDir, "central.db")); err != nil {
		return nil, err
	}
	if a.Keys, a.CreatedKeys, err = keys.Load(filepath.Join(cfg.DataDir, "keys"), cfg.Clock.Now); err != nil {
		return nil, err
	}
	a.Hub = &hub.Hub{}
	a.AuditLog = &store.AuditLog{DB: a.DB, Clock: cfg.Clock, OnAppend: func(e central.AuditEntry) {
		a.Hub.Publish(central.Change{Kind: central.ChangeAudit, Time: e.Time, Audit: &e})
	}}
	ao := cfg.Auth
	ao.Clock, ao.Audit, ao.Logger = cfg.Clock, a.AuditLog, cfg.Logger
	if a.Users, err = auth.New(auth.StoreUsers{DB: a.DB}, ao); err != nil {
		return nil, err
	}
	if pw, created, err := a.Users.Bootstrap(ctx, cfg.AdminName); err != nil {
		return nil, err
	} else if created {
		a.AdminPassword = pw
	}

	signer := func() *wire.Signer { return a.Keys.Signer(keys.Signing) }
	var alertSvc *alerts.Service
	if a.Registry, err = registry.New(registry.Config{DB: a.DB, Audit: a.AuditLog, Clock: cfg.Clock, Hub: a.Hub, Signer: signer,
		Publisher: &a.pub, Logger: cfg.Logger, FlushInterval: cfg.FlushInterval, QueueSize: cfg.IngestQueue,
		AcceptUnenrolled: cfg.AcceptUnenrolled,
		AlertTargets: func(id string) (central.Target, central.AlertState, bool) {
			al, err := alertSvc.Get(context.Background(), central.System, id)
			if err != nil {
				return central.Target{}, "", false
			}
			return al.Target, al.State, true
		}}); err != nil {
		return nil, err
	}
	var rd renderer
	if cfg.DisplayFont != "" {
		if a.fonts, err = display.LoadFonts(display.FontConfig{Path: cfg.DisplayFont}); err != nil {
			return nil, fmt.Errorf("display font %s: %w", cfg.DisplayFont, err)
		}
		rd.opts = append(rd.opts, display.WithFonts(a.fonts))
	}
	acfg := alerts.Config{DB: a.DB, Audit: a.AuditLog, Signer: signer, Publisher: &a.pub, Clock: cfg.Clock, Logger: cfg.Logger,
		Notify: a.Hub.Publish, Render: rd.renderAlert, Counter: a.Registry, Snapshot: cfg.Snapshot,
		OnSigned: a.Registry.NoteSnapshot, AfterCommit: cfg.AfterCommit}
	if !cfg.NoFitCheck {
		acfg.Fit = rd.checkFit
	}
	if alertSvc, err = alerts.New(acfg); err != nil {
		return nil, err
	}
	a.Alerts = alertSvc

	brokerURL, user, pass := cfg.BrokerURL, cfg.BrokerUser, cfg.BrokerPassword
	if brokerURL == "" {
		if a.Broker, err = broker.StartEmbedded(broker.Config{Addr: cfg.MQTTAddr, DataDir: cfg.DataDir, Auth: a.Registry, Logger: cfg.Logger}); err != nil {
			return nil, err
		}
		brokerURL = a.Broker.URL()
		user, pass = a.Broker.CentralCredentials()
	}
	if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + loopbackIfAny(a.httpLn.Addr().String())
	}
	publicBroker := cfg.PublicBrokerURL
	if publicBroker == "" {
		publicBroker = brokerURL
	}
	a.cfg.PublicURL, a.cfg.PublicBrokerURL = publicURL, publicBroker
	if a.Enroll, err = enroll.New(enroll.Config{DB: a.DB, Audit: a.AuditLog, Clock: cfg.Clock, Devices: a.Registry,
		Provisioning: func() *wire.Signer { return a.Keys.Signer(keys.Provisioning) },
		PublicKeys: func() []string {
			var out []string
			for _, k := range a.Keys.PublicKeys(keys.Signing) {
				out = append(out, config.EncodePublicKey(k))
			}
			return out
		},
		BrokerURL: publicBroker, CentralURL: publicURL}); err != nil {
		return nil, err
	}
	a.WS = wsapi.New(wsapi.Services{Users: a.Users, Alerts: a.Alerts, Campaigns: a.Alerts, Devices: a.Registry, Delivery: a.Registry,
		Audit: a.AuditLog, Guard: a.Alerts, Enroll: a.Enroll, Auditor: a.AuditLog},
		wsapi.Options{Clock: cfg.Clock, AllowedOrigins: cfg.AllowedOrigins, Logger: cfg.Logger})
	a.Metrics = a.metrics()
	a.httpSrv = &http.Server{Handler: httpapi.New(httpapi.Config{DB: a.DB, Users: a.Users, Alerts: a.Alerts, Enroll: a.Enroll,
		Devices: a.Registry, Health: a.health, Registry: a.Metrics, WS: a.WS, Console: console.Handler(), Logger: cfg.Logger}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       orDefault(cfg.HTTPReadTimeout, DefaultHTTPTimeout),
		WriteTimeout:      orDefault(cfg.HTTPWriteTimeout, DefaultHTTPTimeout),
		IdleTimeout:       orDefault(cfg.HTTPIdleTimeout, DefaultHTTPTimeout)}

	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.httpSrv.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server", "err", err)
		}
	}()
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.Registry.Run(runCtx) }()

	external := cfg.BrokerURL != ""
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	defer dcancel()
	ingest := map[string]broker.Handler{wire.AllStatusFilter: a.Registry.Handle, wire.AllEventFilter: a.Registry.Handle}
	var subs map[string]broker.Handler
	if a.Broker != nil {
		// Inside the embedded broker: no write queue that drops (see broker.Embedded.Subscribe).
		for f, h := range ingest {
			if err := a.Broker.Subscribe(f, h); err != nil {
				return nil, fmt.Errorf("subscribe %s: %w", f, err)
			}
		}
	} else {
		subs = ingest
	}
	mc, err := broker.Dial(dctx, broker.ClientConfig{URL: brokerURL, ClientID: "atmguard-central", Username: user, Password: pass,
		Subscriptions: subs,
		OnConnect: func() {
			// Re-sign what was never acknowledged (and, with an external
			// broker that may have lost its retained messages, everything).
			if err := a.Alerts.Reissue(runCtx, external); err != nil {
				a.log.Warn("re-issue after connect", "err", err)
			}
		},
		Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	a.MQTT = mc
	a.pub.c.Store(mc)
	a.Registry.SetPublisher(&a.pub)
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.Alerts.Run(runCtx) }()
	return a, nil
}

func loopbackIfAny(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// URL is central's base URL (http://host:port).
func (a *App) URL() string { return a.cfg.PublicURL }

// BrokerURL is the broker URL devices use.
func (a *App) BrokerURL() string { return a.cfg.PublicBrokerURL }

// HTTPAddr is the bound HTTP address.
func (a *App) HTTPAddr() string { return a.httpLn.Addr().String() }

// DataDir is the data directory.
func (a *App) DataDir() string { return a.cfg.DataDir }

// Healthy is the watchdog check: the store answers, and with the embedded
// broker central's own client is connected to it (both in this process, so
// a failure means something is stuck). An external broker being down is not
// a reason to restart central.
func (a *App) Healthy() error {
	if err := a.DB.View(func(tx *store.Tx) error {
		_, err := tx.Scope("all")
		if errors.Is(err, central.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if a.Broker != nil && !a.MQTT.Connected() {
		return errors.New("not connected to the embedded broker")
	}
	return nil
}

func (a *App) health() map[string]bool {
	h := map[string]bool{"mqtt": a.MQTT != nil && a.MQTT.Connected()}
	h["store"] = a.DB.View(func(tx *store.Tx) error {
		_, err := tx.Scope("all")
		if errors.Is(err, central.ErrNotFound) {
			return nil
		}
		return err
	}) == nil
	return h
}

func (a *App) metrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector())
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "kiosk_central", Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "kiosk_central", Name: name, Help: help}, f))
	}
	gauge("devices", "Devices known to central.", func() float64 { t, _ := a.Registry.CountTarget(central.Target{All: true}); return float64(t) })
	gauge("devices_online", "Devices whose last status is online.", func() float64 { _, o := a.Registry.CountTarget(central.Target{All: true}); return float64(o) })
	counter("ingest_messages_total", "Device status/event messages applied.", func() float64 { i, _, _ := a.Registry.IngestStats(); return float64(i) })
	counter("ingest_dropped_total", "Device messages dropped because the ingest queue was full.", func() float64 { _, d, _ := a.Registry.IngestStats(); return float64(d) })
	counter("ingest_bad_total", "Device messages refused as malformed or for the wrong device.", func() float64 { _, _, b := a.Registry.IngestStats(); return float64(b) })
	counter("ingest_unenrolled_total", "Device messages ignored because the device id was never enrolled.", func() float64 { return float64(a.Registry.Unenrolled()) })
	gauge("ingest_queue", "Device messages waiting to be applied.", func() float64 { return float64(a.Registry.QueueLen()) })
	counter("snapshots_published_total", "Signed snapshots acknowledged by the broker.", func() float64 { return float64(a.Alerts.Published()) })
	counter("snapshot_publish_errors_total", "Snapshot publishes that failed.", func() float64 { return float64(a.Alerts.PublishErrors()) })
	gauge("mqtt_connected", "1 if central's MQTT client is connected.", func() float64 {
		if a.MQTT != nil && a.MQTT.Connected() {
			return 1
		}
		return 0
	})
	gauge("ws_connections", "Open admin WebSocket connections.", func() float64 { return float64(a.WS.Conns()) })
	if a.Broker != nil {
		gauge("broker_clients", "Clients connected to the embedded broker.", func() float64 { return float64(a.Broker.Clients()) })
	}
	return reg
}

// Close stops serving and waits for everything Start started.
func (a *App) Close() error {
	a.once.Do(func() {
		if a.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.httpSrv.Shutdown(ctx)
			cancel()
		} else if a.httpLn != nil {
			a.httpLn.Close()
		}
		if a.WS != nil {
			a.WS.Close()
		}
		if a.cancel != nil {
			a.cancel()
		}
		if a.MQTT != nil {
			a.MQTT.Close()
		}
		a.wg.Wait()
		if a.Broker != nil {
			a.Broker.Close()
		}
		if a.Users != nil {
			a.Users.Close()
		}
		if a.fonts != nil {
			a.fonts.Close()
		}
		if a.DB != nil {
			a.DB.Close()
		}
	})
	return nil
}

// QuietLogger discards logs (tests).
func QuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
