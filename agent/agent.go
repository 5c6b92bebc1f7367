package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// Agent is one display's core. Construct with New, run with Run, release
// with Close. It holds no globals: construct as many as needed in one
// process (each with its own DeviceID and CachePath).
type Agent struct {
	o      Options
	log    *slog.Logger
	clk    clock.Clock
	cache  *Cache
	scopes []wire.Scope
	cc     centralClock
	sched  *Scheduler
	mono0  time.Duration // Mono at New (uptime)

	inbox    inbox
	out      outbox
	oversize struct { // packets refused by capConn, reported on the next connect
		sync.Mutex
		n, last int
	}
	dropLog struct {
		sync.Mutex
		n      int
		at     time.Duration
		logged bool
	}
	ctl       chan func()
	wake      chan struct{} // re-decide the screen (blob stored, ...)
	fetchKick chan struct{} // blobs may be missing
	shownSig  chan struct{} // presenter showed a screen
	connSig   chan struct{} // connection state changed
	presentCh chan display.Screen

	client mqtt.Client
	link   struct { // the broker connection being set up or in use
		sync.Mutex
		url  string        // broker URL of the last connection opened
		down chan struct{} // closed when that connection is lost
	}
	fetchReset atomic.Bool
	connected  atomic.Bool
	stop       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup

	ln  net.Listener
	srv *http.Server

	runMu     sync.Mutex
	running   bool
	runCancel context.CancelFunc
	runDone   chan struct{}
	closed    bool

	// loop-owned
	decidedHash    string
	reported       map[string]bool
	lastStatusMono time.Duration
	statusPending  bool
	lastClockWarn  time.Duration
	clockWarned    bool

	mu        sync.Mutex // guards the fields below
	cur       display.Screen
	curHash   string
	frameHash string
	shownKey  string
	stats     Stats
	changed   chan struct{}
}

// Stats are counters for tests, the simulator and the local status API.
type Stats struct {
	Accepted   int            `json:"accepted"`
	Duplicates int            `json:"duplicates"`
	Rejected   map[string]int `json:"rejected"` // by wire reason code
	Shown      int            `json:"shown"`
	Connects   int            `json:"connects"`
	Blobs      int            `json:"blobs_fetched"`
	Commands   int            `json:"commands"`
	// SubscribeFailures counts subscribe attempts the broker refused
	// (SUBACK 0x80) or did not answer in time.
	SubscribeFailures int `json:"subscribe_failures"`
}

// New validates opts, opens the cache (moving a corrupt one aside) and binds
// the local trigger API if configured. Nothing runs until Run.
func New(opts Options) (*Agent, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	scopes, err := wire.DeviceScopes(o.DeviceID, o.Branch, o.Pref)
	if err != nil {
		return nil, fmt.Errorf("agent: scopes: %w", err)
	}
	log := o.Logger.With("device", o.DeviceID)
	c, err := openCacheWith(o.CachePath, o.Keys, o.Clock.Now(), log, o.CacheLockWait, o.CacheMaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	c.SetLimits(o.CacheMaxBytes, o.CacheMaxBlobs)
	a := &Agent{
		o: o, log: log, clk: o.Clock, cache: c, scopes: scopes,
		cc:        centralClock{clk: o.Clock},
		sched:     NewScheduler(o.Schedule),
		mono0:     o.Clock.Mono(),
		ctl:       make(chan func(), 16),
		wake:      make(chan struct{}, 1),
		fetchKick: make(chan struct{}, 1),
		shownSig:  make(chan struct{}, 1),
		connSig:   make(chan struct{}, 1),
		presentCh: make(chan display.Screen, 1),
		stop:      make(chan struct{}),
		reported:  map[string]bool{},
		changed:   make(chan struct{}),
		stats:     Stats{Rejected: map[string]int{}},
	}
	a.inbox.signal = make(chan struct{}, 1)
	a.out.sig = make(chan struct{}, 1)
	a.out.rej = map[rejKey]*rejState{}
	a.cc.observePersisted(c.CentralTime())
	if o.LocalAPIAddr != "" {
		ln, err := net.Listen("tcp", o.LocalAPIAddr)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("agent: local API listen %s: %w", o.LocalAPIAddr, err)
		}
		a.ln = ln
		a.srv = &http.Server{Handler: a.localAPI(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}
	if len(o.brokers) > 0 {
		a.client = mqtt.NewClient(a.mqttOptions())
	}
	return a, nil
}

// Broker is the URL of the broker the agent is connected to, "" while it
// is not connected.
func (a *Agent) Broker() string {
	if !a.connected.Load() {
		return ""
	}
	a.link.Lock()
	defer a.link.Unlock()
	return a.link.url
}

// Cache is the agent's cache (read-only use: tests, diagnostics).
func (a *Agent) Cache() *Cache { return a.cache }

// LocalAddr is the bound address of the local trigger API ("" if disabled).
func (a *Agent) LocalAddr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Current is the screen last put on the display and its frame hash.
func (a *Agent) Current() (display.Screen, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur, a.frameHash
}

// Stats returns a copy of the counters.
func (a *Agent) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.Rejected = make(map[string]int, len(a.stats.Rejected))
	for k, v := range a.stats.Rejected {
		s.Rejected[k] = v
	}
	return s
}

// Changed returns a channel closed at the next change of screen, stats or
// connection state; call it again for the change after that.
func (a *Agent) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}

func (a *Agent) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *Agent) bump(f func(*Stats)) {
	a.mu.Lock()
	f(&a.stats)
	a.notifyLocked()
	a.mu.Unlock()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run shows the first screen (cached content or the built-in standing
// warning) at once, then connects and serves until ctx is cancelled. It
// returns after every goroutine it started has stopped. Run may be called
// once.
func (a *Agent) Run(ctx context.Context) error {
	a.runMu.Lock()
	if a.running || a.closed {
		a.runMu.Unlock()
		return errors.New("agent: Run called twice or after Close")
	}
	a.running = true
	ctx, cancel := context.WithCancel(ctx)
	a.runCancel = cancel
	a.runDone = make(chan struct{})
	a.runMu.Unlock()
	defer close(a.runDone)
	defer cancel()

	// the timer is re-armed before the presenter can show the new screen,
	// so whoever sees the screen change also sees the next deadline armed
	first, wait := a.decide()
	timer := a.clk.NewTimer(wait)
	defer timer.Stop()
	if first != nil {
		a.offer(*first)
	}

	a.wg.Add(3)
	go func() { defer a.wg.Done(); a.sendLoop(ctx) }()
	go func() { defer a.wg.Done(); a.presentLoop(ctx) }()
	go func() { defer a.wg.Done(); a.fetchLoop(ctx) }()
	if a.srv != nil {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("local API stopped", "err", err)
			}
		}()
	}
	if a.client != nil {
		a.client.Connect() // with ConnectRetry it keeps trying in the background
	}
	signal(a.fetchKick)

	hb := a.clk.NewTicker(a.o.HeartbeatInterval)
	defer hb.Stop()
	statusTimer := a.clk.NewTimer(time.Hour)
	statusTimer.Stop()
	defer statusTimer.Stop()

	redecide := func() {
		sc, wait := a.decide()
		timer.Reset(wait)
		if sc != nil {
			a.offer(*sc)
		}
	}
	for {
		select {
		case <-ctx.Done():
			a.shutdown()
			return nil
		case <-a.inbox.signal:
			changed := false
			for _, m := range a.inbox.drain() {
				if a.handle(m) {
					changed = true
				}
			}
			if changed {
				redecide()
				signal(a.fetchKick)
			}
		case f := <-a.ctl:
			f()
			redecide()
		case <-a.wake:
			redecide()
		case <-timer.C():
			redecide()
		case <-a.shownSig:
			a.maybeStatus(statusTimer)
		case <-statusTimer.C():
			a.statusPending = false
			a.publishStatus()
		case <-a.connSig:
			redecide() // the identify screen shows the network state
		case <-hb.C():
			a.heartbeat()
		}
	}
}

func (a *Agent) shutdown() {
	a.stopOnce.Do(func() { close(a.stop) })
	if a.client != nil {
		if a.client.IsConnectionOpen() {
			// a clean DISCONNECT suppresses the Last Will, so say it ourselves
			t := a.client.Publish(wire.StatusTopic(a.o.DeviceID), 1, true, a.statusJSON(wire.StateOffline))
			t.WaitTimeout(time.Second)
		}
		a.client.Disconnect(250)
	}
	if a.srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.srv.Shutdown(sctx)
		cancel()
	}
	a.wg.Wait()
	if err := a.cache.SaveCentralTime(a.cc.now()); err != nil {
		a.log.Warn("save central time", "err", err)
	}
}

// Close stops Run (if running) and closes the cache.
func (a *Agent) Close() error {
	a.runMu.Lock()
	if a.closed {
		a.runMu.Unlock()
		return nil
	}
	a.closed = true
	cancel, done := a.runCancel, a.runDone
	a.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	} else if a.ln != nil {
		a.ln.Close()
	}
	return a.cache.Close()
}

// do runs f on the agent's loop (or drops it if the agent is stopping).
func (a *Agent) do(ctx context.Context, f func()) error {
	select {
	case a.ctl <- f:
		return nil
	case <-a.stop:
		return errors.New("agent stopping")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Trigger applies a local trigger event (as the local API does).
func (a *Agent) Trigger(ctx context.Context, event string) error {
	t, ok := a.o.Triggers[event]
	if !ok {
		return fmt.Errorf("unknown trigger event %q", event)
	}
	return a.do(ctx, func() {
		a.log.Info("local trigger", "event", event, "screen", t.Kind, "duration", t.Duration)
		a.sched.Trigger(t, a.clk.Mono())
	})
}

// Identify shows the identify screen for d (0 = IdentifyDuration).
func (a *Agent) Identify(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		d = a.o.IdentifyDuration
	}
	return a.do(ctx, func() { a.sched.Identify(a.identifyInfo(), a.clk.Mono(), d) })
}

func (a *Agent) identifyInfo() display.IdentifyInfo {
	netState := "no broker configured"
	if a.client != nil {
		if a.connected.Load() {
			netState = "broker connected"
		} else {
			netState = "broker not connected"
		}
	}
	return display.IdentifyInfo{DeviceID: a.o.DeviceID, Branch: a.o.Branch, Pref: a.o.Pref,
		AgentVersion: a.o.AgentVersion, Network: netState, URL: a.o.IdentifyURL}
}

// decide computes the screen now and how long until the next decision; the
// screen is nil if it did not change.
func (a *Agent) decide() (*display.Screen, time.Duration) {
	now := a.cc.now()
	a.checkClock()
	content := Merge(a.scopes, a.cache.Snapshots(), now, a.ready)
	sc, wait := a.sched.Decide(now, a.clk.Mono(), content)
	if sc.Kind == display.KindIdentify && sc.Identify != nil {
		info := a.identifyInfo()
		sc.Identify.Network = info.Network
	}
	// displayed events for content are sent once while it stays active
	activeKeys := map[string]bool{}
	for _, al := range content.Alerts {
		activeKeys[contentKey("alert", al.ID, al.Version)] = true
	}
	for _, it := range content.Items {
		activeKeys[contentKey("campaign", it.ID, it.Version)] = true
	}
	for k := range a.reported {
		if !activeKeys[k] {
			delete(a.reported, k)
		}
	}
	h, err := ScreenHash(sc)
	if err != nil {
		a.log.Error("hash screen", "err", err)
		return nil, wait
	}
	if h != a.decidedHash {
		a.decidedHash = h
		if sc.Kind == display.KindCampaign && sc.Item != nil && len(sc.Item.Images) > 0 {
			sc.Images = map[string][]byte{}
			for _, r := range sc.Item.Images {
				if b, ok := a.cache.Blob(r); ok {
					sc.Images[r.SHA256] = b
				}
			}
		}
		return &sc, wait
	}
	return nil, wait
}

// offer hands sc to the presenter; the newest screen wins, a stale one
// still waiting is dropped. Only the loop calls it.
func (a *Agent) offer(sc display.Screen) {
	select {
	case a.presentCh <- sc:
	default:
		select {
		case <-a.presentCh:
		default:
		}
		a.presentCh <- sc
	}
}

// ready: every image of the item is verified in the cache.
func (a *Agent) ready(it *wire.CampaignItem) bool {
	for _, r := range it.Images {
		if !a.cache.HasBlob(r.SHA256) {
			return false
		}
	}
	return true
}

func screenKey(sc display.Screen) string {
	switch {
	case sc.Kind == display.KindAlert && sc.Alert != nil:
		return contentKey("alert", sc.Alert.ID, sc.Alert.Version)
	case sc.Kind == display.KindCampaign && sc.Item != nil:
		return contentKey("campaign", sc.Item.ID, sc.Item.Version)
	}
	return string(sc.Kind) + ":" + sc.Message
}

func (a *Agent) presentLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case sc := <-a.presentCh:
			hash, err := a.o.Presenter.Show(ctx, sc)
			if err != nil {
				a.log.Error("present screen", "screen", sc.ID(), "err", err)
				continue
			}
			key := screenKey(sc)
			a.mu.Lock()
			prevKey := a.shownKey
			a.cur, a.frameHash, a.shownKey = sc, hash, key
			a.stats.Shown++
			a.notifyLocked()
			a.mu.Unlock()
			if key != prevKey { // a language step is not worth a status publish
				signal(a.shownSig)
				a.log.Info("screen", "screen", sc.ID(), "lang", sc.Lang, "frame", shortHash(hash))
				a.displayed(sc, key, hash)
			}
		}
	}
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// displayed publishes the "displayed" event. Alerts and campaign items are
// reported once while they stay active (central counts devices), other
// screens on every change.
func (a *Agent) displayed(sc display.Screen, key, hash string) {
	ev := wire.Event{Kind: wire.EventDisplayed, Screen: sc.ID(), FrameHash: hash}
	switch {
	case sc.Kind == display.KindAlert && sc.Alert != nil:
		ev.AlertID = sc.Alert.ID
	case sc.Kind == display.KindCampaign && sc.Item != nil:
		ev.ItemID = sc.Item.ID
	}
	if ev.AlertID != "" || ev.ItemID != "" {
		// reported is loop-owned; hop to the loop to consult it
		select {
		case a.ctl <- func() {
			if a.reported[key] {
				return
			}
			a.reported[key] = true
			a.publishEvent(ev)
		}:
		case <-a.stop:
		}
		return
	}
	a.publishEvent(ev)
}

func (a *Agent) checkClock() {
	if !a.cc.isLive() {
		return
	}
	skew := a.cc.skew()
	if skew < 0 {
		skew = -skew
	}
	mono := a.clk.Mono()
	if skew > time.Minute {
		if !a.clockWarned || mono-a.lastClockWarn > 10*time.Minute {
			a.clockWarned, a.lastClockWarn = true, mono
			a.log.Warn("clock warning: wall clock disagrees with central time by more than a minute; expiry uses central time",
				"wall", a.clk.Now().UTC().Format(time.RFC3339), "central_estimate", a.cc.now().UTC().Format(time.RFC3339), "skew", a.cc.skew().Round(time.Second))
		}
	} else {
		a.clockWarned = false
	}
}

func (a *Agent) statusJSON(state string) []byte {
	b, _ := json.Marshal(a.status(state))
	return b
}

func (a *Agent) status(state string) wire.Status {
	a.mu.Lock()
	screen, frame := a.cur.ID(), a.frameHash
	a.mu.Unlock()
	n, size := a.cache.BlobStats()
	st := wire.Status{Type: wire.TypeStatus, Device: a.o.DeviceID, State: state, Time: a.clk.Now().UTC(),
		AgentVersion: a.o.AgentVersion, Branch: a.o.Branch, Pref: a.o.Pref,
		UptimeSec: int64((a.clk.Mono() - a.mono0) / time.Second),
		Screen:    screen, FrameHash: frame, Seqs: a.cache.Seqs(), CacheBlobs: n, CacheBytes: size,
		ClockSkewSec: int64(a.cc.skew() / time.Second)}
	if state == wire.StateOffline {
		st.Screen, st.FrameHash, st.UptimeSec = "", "", 0
	}
	return st
}

// maybeStatus re-publishes the status after a screen change, at most once
// per StatusMinInterval (a trailing publish carries the latest screen).
func (a *Agent) maybeStatus(t clock.Timer) {
	if a.statusPending {
		return
	}
	since := a.clk.Mono() - a.lastStatusMono
	if a.lastStatusMono == 0 || since >= a.o.StatusMinInterval {
		a.publishStatus()
		return
	}
	a.statusPending = true
	t.Reset(a.o.StatusMinInterval - since)
}

func (a *Agent) publishStatus() {
	a.lastStatusMono = a.clk.Mono()
	if a.client == nil || !a.client.IsConnectionOpen() {
		return
	}
	a.enqueue(wire.StatusTopic(a.o.DeviceID), true, a.statusJSON(wire.StateOnline))
}

func (a *Agent) heartbeat() {
	a.publishStatus()
	if a.cc.hasReference() {
		if err := a.cache.SaveCentralTime(a.cc.now()); err != nil {
			a.log.Warn("heartbeat", "err", err)
		}
	}
}
