package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/hub"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// Publisher sends a (non-retained) command.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte, retained bool) error
}

// Config wires a Registry.
type Config struct {
	DB        *store.DB
	Audit     *store.AuditLog
	Clock     clock.Clock
	Hub       *hub.Hub
	Signer    func() *wire.Signer
	Publisher Publisher // for commands; may be set later with SetPublisher
	Logger    *slog.Logger
	// AlertTargets returns the target and state of an alert (delivery stats).
	AlertTargets func(id string) (central.Target, central.AlertState, bool)

	// AcceptUnenrolled takes devices central did not enroll into the fleet
	// from their statuses (an external broker whose password file is
	// managed elsewhere). Off: status and events of unknown ids are ignored
	// and counted (Unenrolled).
	AcceptUnenrolled bool

	FlushInterval    time.Duration // default 200ms
	QueueSize        int           // default 65536
	MaxDeviceChanges int           // per flush; default 200
}

type deliv struct {
	received, displayed bool
	rejected            string
	t                   time.Time
}

type alertDeliv struct {
	devs                          map[string]*deliv
	received, displayed, rejected int
	reasons                       map[string]int
}

type msg struct {
	topic   string
	payload []byte
	at      time.Time
}

// Registry implements central.DeviceService and central.DeliveryService.
type Registry struct {
	cfg Config
	log *slog.Logger
	in  chan msg

	pub atomic.Pointer[Publisher]

	mu       sync.RWMutex
	devs     map[string]*central.Device
	pwHash   map[string][]byte
	list     []*central.Device // the same devices as devs; sorted by id unless unsorted (paging without map lookups)
	pos      map[string]int    // index of each device in list
	unsorted bool              // devices were appended since the last sort
	byPref   map[string]*central.FleetCount
	byBranch map[string]*central.FleetCount
	online   int
	screens  map[string]int                 // screen -> devices showing it
	snaps    map[string]map[uint64][]string // scope -> seq -> alert ids
	deliv    map[string]*alertDeliv

	// owned by Run
	dirtyDevs   map[string]bool
	dirtyDeliv  map[string]map[string]store.DeliveryRecord
	dirtyAlerts map[string]bool
	fleetDirty  bool

	stats struct {
		ingested, dropped, bad, unenrolled atomic.Int64
	}
}

// New loads the fleet and delivery records from the store.
func New(cfg Config) (*Registry, error) {
	if cfg.DB == nil || cfg.Clock == nil || cfg.Hub == nil || cfg.Audit == nil {
		return nil, errors.New("registry: DB, Audit, Clock and Hub are required")
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 65536
	}
	if cfg.MaxDeviceChanges <= 0 {
		cfg.MaxDeviceChanges = 200
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Registry{cfg: cfg, log: log.With("component", "registry"), in: make(chan msg, cfg.QueueSize),
		devs: map[string]*central.Device{}, pwHash: map[string][]byte{}, pos: map[string]int{},
		byPref: map[string]*central.FleetCount{}, byBranch: map[string]*central.FleetCount{},
		screens: map[string]int{}, snaps: map[string]map[uint64][]string{}, deliv: map[string]*alertDeliv{},
		dirtyDevs: map[string]bool{}, dirtyDeliv: map[string]map[string]store.DeliveryRecord{}, dirtyAlerts: map[string]bool{}}
	if cfg.Publisher != nil {
		r.SetPublisher(cfg.Publisher)
	}
	err := cfg.DB.View(func(tx *store.Tx) error {
		if err := tx.Devices(func(d *store.DeviceRecord) error {
			dev := d.Device
			r.addLocked(&dev)
			if d.PasswordHash != "" {
				h, _ := hex.DecodeString(d.PasswordHash)
				r.pwHash[d.ID] = h
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Scopes(func(st *store.ScopeState) error {
			ids, err := alertsInEnvelope(st.Envelope)
			if err == nil {
				r.snaps[st.Scope] = map[uint64][]string{st.Seq: ids}
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Deliveries(func(alert, dev string, rec store.DeliveryRecord) error {
			r.applyDelivLocked(alert, dev, deliv{received: rec.Received, displayed: rec.Displayed, rejected: rec.Rejected, t: rec.Time})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load registry: %w", err)
	}
	r.unsorted = true
	r.sortLocked()
	return r, nil
}

// SetPublisher sets the command publisher (the MQTT client is made after
// the registry, whose Handle it needs).
func (r *Registry) SetPublisher(p Publisher) { r.pub.Store(&p) }

// alertsInEnvelope reads alert ids from one of our own stored envelopes.
func alertsInEnvelope(env []byte) ([]string, error) {
	var e wire.Envelope
	if err := jsonUnmarshal(env, &e); err != nil {
		return nil, err
	}
	snap, err := wire.DecodeSnapshot(e.Payload)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(snap.Alerts))
	for _, a := range snap.Alerts {
		ids = append(ids, a.ID)
	}
	return ids, nil
}

// ---- index maintenance (mu held)

func (r *Registry) count(d *central.Device, sign int) {
	if d.Pref != "" {
		c := r.byPref[d.Pref]
		if c == nil {
			c = &central.FleetCount{Key: d.Pref}
			r.byPref[d.Pref] = c
		}
		bump(c, d.Online, sign)
	}
	if d.Branch != "" {
		c := r.byBranch[d.Branch]
		if c == nil {
			c = &central.FleetCount{Key: d.Branch, Pref: d.Pref}
			r.byBranch[d.Branch] = c
		}
		c.Pref = d.Pref
		bump(c, d.Online, sign)
	}
	if d.Online {
		r.online += sign
	}
	if d.Screen != "" {
		r.screens[d.Screen] += sign
	}
}

func bump(c *central.FleetCount, online bool, sign int) {
	c.Total += sign
	if online {
		c.Online += sign
	} else {
		c.Offline += sign
	}
}

// addLocked is for loading: list is sorted once afterwards.
func (r *Registry) addLocked(d *central.Device) {
	if old, ok := r.devs[d.ID]; ok {
		r.count(old, -1)
	} else {
		r.pos[d.ID] = len(r.list)
		r.list = append(r.list, d)
	}
	r.devs[d.ID] = d
	r.count(d, +1)
}

// setLocked stores d (a new copy; stored devices are never modified in
// place, so pages handed out stay consistent) in devs and list. A new device
// is appended and the list sorted lazily by the next query: a burst of
// 100k unknown devices (first connect to an external broker) costs one sort,
// not 100k insertions into a sorted slice.
func (r *Registry) setLocked(d *central.Device) {
	if i, ok := r.pos[d.ID]; ok {
		r.list[i] = d
	} else {
		r.pos[d.ID] = len(r.list)
		r.list = append(r.list, d)
		r.unsorted = true
	}
	r.devs[d.ID] = d
}

// sortLocked sorts list by id if needed (mu held for writing).
func (r *Registry) sortLocked() {
	if !r.unsorted {
		return
	}
	sort.Slice(r.list, func(i, j int) bool { return r.list[i].ID < r.list[j].ID })
	for i, d := range r.list {
		r.pos[d.ID] = i
	}
	r.unsorted = false
}

// ---- credentials

func hashPassword(pw string) []byte {
	h := sha256.Sum256([]byte(pw))
	return h[:]
}

// CheckDevicePassword implements broker.DeviceAuth.
func (r *Registry) CheckDevicePassword(id, pw string) bool {
	r.mu.RLock()
	h, ok := r.pwHash[id]
	r.mu.RUnlock()
	return ok && subtle.ConstantTimeCompare(h, hashPassword(pw)) == 1
}

// Register adds or updates an enrolled device with a fresh broker password,
// stores it, and returns the password (shown to the enrolling tool once).
// It runs inside the caller's transaction when tx is not nil.
func (r *Registry) Register(tx *store.Tx, id, branch, pref string) (string, error) {
	if err := wire.ValidID(id); err != nil {
		return "", central.Invalid("device.id", "%v", err)
	}
	if err := wire.ValidID(branch); err != nil {
		return "", central.Invalid("device.branch", "%v", err)
	}
	if err := wire.ValidPref(pref); err != nil {
		return "", central.Invalid("device.pref", "%v", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(b)
	h := hashPassword(pw)
	now := r.cfg.Clock.Now()
	rec, err := tx.Device(id)
	if err != nil && !errors.Is(err, central.ErrNotFound) {
		return "", err
	}
	if errors.Is(err, central.ErrNotFound) {
		rec = &store.DeviceRecord{Device: central.Device{ID: id}}
	}
	rec.Branch, rec.Pref, rec.EnrolledAt = branch, pref, now
	rec.PasswordHash = hex.EncodeToString(h)
	if err := tx.PutDevice(rec); err != nil {
		return "", err
	}
	return pw, nil
}

// Registered makes a device stored by Register (after its transaction
// committed) known to the broker authentication and the fleet.
func (r *Registry) Registered(id string, db *store.DB) error {
	var rec *store.DeviceRecord
	if err := db.View(func(tx *store.Tx) error {
		var err error
		rec, err = tx.Device(id)
		return err
	}); err != nil {
		return err
	}
	h, _ := hex.DecodeString(rec.PasswordHash)
	r.mu.Lock()
	_, existed := r.devs[id]
	d := rec.Device
	if existed {
		old := r.devs[id]
		d.Online, d.LastSeen, d.Screen, d.AgentVersion = old.Online, old.LastSeen, old.Screen, old.AgentVersion
		r.count(old, -1)
	}
	r.setLocked(&d)
	r.count(&d, +1)
	r.pwHash[id] = h
	r.mu.Unlock()
	r.cfg.Hub.Publish(central.Change{Kind: central.ChangeDevice, Time: r.cfg.Clock.Now(), Device: &d})
	return nil
}

// ---- snapshots -> alerts

// NoteSnapshot records which alerts a signed snapshot carries.
func (r *Registry) NoteSnapshot(scope string, seq uint64, alertIDs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.snaps[scope]
	if m == nil {
		m = map[uint64][]string{}
		r.snaps[scope] = m
	}
	m[seq] = alertIDs
	if len(m) > 32 { // keep the recent seqs only
		var min uint64 = ^uint64(0)
		for s := range m {
			if s < min {
				min = s
			}
		}
		delete(m, min)
	}
}

// latestSnapLocked is the alerts of the newest snapshot central signed for
// scope (mu held).
func (r *Registry) latestSnapLocked(scope string) []string {
	var best uint64
	var ids []string
	for seq, a := range r.snaps[scope] {
		if seq >= best {
			best, ids = seq, a
		}
	}
	return ids
}

// ---- ingest

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Handle is the MQTT handler for device status and event topics. When the
// queue is full (a burst: after a restart the broker hands central every
// retained status at once) it waits up to HandleWait for room, which slows
// the broker down instead of losing messages; after that the message is
// dropped and counted (devices re-send their status as a heartbeat). The
// wait is bounded so paho's keepalive is never starved for long.
func (r *Registry) Handle(topic string, payload []byte) {
	m := msg{topic: topic, payload: payload, at: r.cfg.Clock.Now()}
	select {
	case r.in <- m:
		return
	default:
	}
	t := r.cfg.Clock.NewTimer(HandleWait)
	defer t.Stop()
	select {
	case r.in <- m:
	case <-t.C():
		r.stats.dropped.Add(1)
	}
}

// HandleWait bounds how long Handle waits for room in a full queue.
const HandleWait = 2 * time.Second

// Stats are ingest counters (metrics).
func (r *Registry) IngestStats() (ingested, dropped, bad int64) {
	return r.stats.ingested.Load(), r.stats.dropped.Load(), r.stats.bad.Load()
}

// Unenrolled counts status and event messages ignored because their device
// id was never enrolled (metrics).
func (r *Registry) Unenrolled() int64 { return r.stats.unenrolled.Load() }

// QueueLen is the number of messages waiting.
func (r *Registry) QueueLen() int { return len(r.in) }

// Run applies queued messages and flushes; it returns when ctx is done,
// after a final flush.
func (r *Registry) Run(ctx context.Context) error {
	tick := r.cfg.Clock.NewTicker(r.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.drain()
			return r.flush()
		case m := <-r.in:
			r.apply(m)
		case <-tick.C():
			if err := r.flush(); err != nil {
				r.log.Error("flush fleet to store", "err", err)
			}
		}
	}
}

func (r *Registry) drain() {
	for {
		select {
		case m := <-r.in:
			r.apply(m)
		default:
			return
		}
	}
}

// Sync applies everything queued so far and flushes (tests, benchmarks,
// shutdown). It must not run concurrently with Run.
func (r *Registry) Sync() error {
	r.drain()
	return r.flush()
}

func (r *Registry) apply(m msg) {
	t, err := wire.ParseTopic(m.topic)
	if err != nil || (t.Kind != wire.TopicStatus && t.Kind != wire.TopicEvent) {
		r.stats.bad.Add(1)
		return
	}
	if !r.cfg.AcceptUnenrolled {
		r.mu.RLock()
		_, enrolled := r.pwHash[t.Device]
		r.mu.RUnlock()
		if !enrolled {
			// a device central never enrolled does not get into the fleet
			// (nor its counts, nor delivery figures) by talking
			if n := r.stats.unenrolled.Add(1); n&(n-1) == 0 { // log at powers of two
				r.log.Warn("ignored messages from a device that was never enrolled", "device", t.Device, "ignored_total", n)
			}
			return
		}
	}
	switch t.Kind {
	case wire.TopicStatus:
		if len(m.payload) == 0 { // retained status cleared
			return
		}
		st, err := wire.DecodeStatus(m.payload)
		if err != nil || st.Device != t.Device {
			r.stats.bad.Add(1)
			r.log.Debug("bad status", "topic", m.topic, "err", err)
			return
		}
		r.applyStatus(st, m.at)
	case wire.TopicEvent:
		ev, err := wire.DecodeEvent(m.payload)
		if err != nil || ev.Device != t.Device {
			r.stats.bad.Add(1)
			r.log.Debug("bad event", "topic", m.topic, "err", err)
			return
		}
		r.applyEvent(ev, m.at)
	}
	r.stats.ingested.Add(1)
}

func (r *Registry) applyStatus(st *wire.Status, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.devs[st.Device]
	d := central.Device{ID: st.Device}
	if ok {
		d = *old
		r.count(old, -1)
	}
	d.Online = st.State == wire.StateOnline
	d.LastSeen = at
	if d.EnrolledAt.IsZero() {
		// not enrolled by central (AcceptUnenrolled): the status is all we know
		if st.Branch != "" && wire.ValidID(st.Branch) == nil {
			d.Branch = st.Branch
		}
		if st.Pref != "" && wire.ValidPref(st.Pref) == nil {
			d.Pref = st.Pref
		}
	} else {
		// enrolled: keep what central enrolled; a different claim is flagged
		mm := ""
		if st.Branch != "" && st.Branch != d.Branch || st.Pref != "" && st.Pref != d.Pref {
			mm = fmt.Sprintf("status claims branch %q pref %q; enrolled as branch %q pref %q",
				truncate(st.Branch, 64), truncate(st.Pref, 8), d.Branch, d.Pref)
		}
		if mm != d.Mismatch && mm != "" {
			r.log.Warn("device status does not match its enrollment", "device", d.ID, "mismatch", mm)
		}
		d.Mismatch = mm
	}
	if d.Online {
		d.AgentVersion, d.Screen, d.FrameHash, d.UptimeSec = st.AgentVersion, st.Screen, st.FrameHash, st.UptimeSec
		d.Seqs, d.CacheBlobs, d.CacheBytes, d.ClockSkewSec = st.Seqs, st.CacheBlobs, st.CacheBytes, st.ClockSkewSec
	} else {
		// An offline display shows nothing we know of any more.
		d.Screen = ""
	}
	r.setLocked(&d)
	r.count(&d, +1)
	r.dirtyDevs[d.ID] = true
	r.fleetDirty = true
	if old != nil && old.Screen != d.Screen {
		for _, s := range []string{old.Screen, d.Screen} {
			if id, ok := strings.CutPrefix(s, "alert:"); ok {
				r.dirtyAlerts[id] = true
			}
		}
	} else if old == nil {
		if id, ok := strings.CutPrefix(d.Screen, "alert:"); ok {
			r.dirtyAlerts[id] = true
		}
	}
}

func (r *Registry) applyEvent(ev *wire.Event, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.devs[ev.Device]; ok {
		d2 := *d
		d2.LastSeen = at
		r.setLocked(&d2)
		r.dirtyDevs[ev.Device] = true
	}
	var alerts []string
	switch {
	case ev.AlertID != "":
		alerts = []string{ev.AlertID}
	case ev.Scope != "" && ev.Seq != 0:
		alerts = r.snaps[ev.Scope][ev.Seq]
	case ev.Kind == wire.EventRejected && ev.Scope != "":
		// A message the agent could not open (bad signature, unknown key,
		// malformed) has no seq it could trust; the scope comes from the
		// topic. It displaced (or tried to) what central last published
		// there, so the rejection counts against those alerts.
		alerts = r.latestSnapLocked(ev.Scope)
	}
	for _, id := range alerts {
		cur := deliv{}
		if ad := r.deliv[id]; ad != nil && ad.devs[ev.Device] != nil {
			cur = *ad.devs[ev.Device]
		}
		switch ev.Kind {
		case wire.EventReceived:
			cur.received = true
		case wire.EventDisplayed:
			cur.received, cur.displayed = true, true
		case wire.EventRejected:
			if ev.Reason == wire.ReasonReplay {
				continue // an old copy re-delivered; what the device has is newer
			}
			cur.rejected = ev.Reason
		}
		cur.t = at
		r.applyDelivLocked(id, ev.Device, cur)
		m := r.dirtyDeliv[id]
		if m == nil {
			m = map[string]store.DeliveryRecord{}
			r.dirtyDeliv[id] = m
		}
		m[ev.Device] = store.DeliveryRecord{Received: cur.received, Displayed: cur.displayed, Rejected: cur.rejected, Time: at}
		r.dirtyAlerts[id] = true
	}
}

func (r *Registry) applyDelivLocked(alert, dev string, nd deliv) {
	ad := r.deliv[alert]
	if ad == nil {
		ad = &alertDeliv{devs: map[string]*deliv{}, reasons: map[string]int{}}
		r.deliv[alert] = ad
	}
	if od := ad.devs[dev]; od != nil {
		ad.adjust(od, -1)
	}
	ad.devs[dev] = &nd
	ad.adjust(&nd, +1)
}

func (ad *alertDeliv) adjust(d *deliv, sign int) {
	if d.received {
		ad.received += sign
	}
	if d.displayed {
		ad.displayed += sign
	}
	if d.rejected != "" {
		ad.rejected += sign
		ad.reasons[d.rejected] += sign
		if ad.reasons[d.rejected] == 0 {
			delete(ad.reasons, d.rejected)
		}
	}
}

// flush writes dirty state in one transaction and pushes changes.
func (r *Registry) flush() error {
	r.mu.RLock()
	devs := make([]central.Device, 0, len(r.dirtyDevs))
	for id := range r.dirtyDevs {
		if d, ok := r.devs[id]; ok {
			devs = append(devs, *d)
		}
	}
	r.mu.RUnlock()
	deliv := r.dirtyDeliv
	alerts := r.dirtyAlerts
	fleet := r.fleetDirty
	r.dirtyDevs, r.dirtyDeliv, r.dirtyAlerts, r.fleetDirty = map[string]bool{}, map[string]map[string]store.DeliveryRecord{}, map[string]bool{}, false
	if len(devs) == 0 && len(deliv) == 0 && len(alerts) == 0 {
		return nil
	}
	var err error
	if len(devs) > 0 {
		sort.Slice(devs, func(i, j int) bool { return devs[i].ID < devs[j].ID })
		err = r.cfg.DB.PutDevices(devs)
	}
	if len(deliv) > 0 {
		if e := r.cfg.DB.PutDeliveries(deliv); e != nil && err == nil {
			err = e
		}
	}
	now := r.cfg.Clock.Now()
	for i := range devs {
		if i >= r.cfg.MaxDeviceChanges {
			break
		}
		d := devs[i]
		r.cfg.Hub.Publish(central.Change{Kind: central.ChangeDevice, Time: now, Device: &d})
	}
	if fleet {
		f := r.fleet(central.FleetQuery{})
		r.cfg.Hub.Publish(central.Change{Kind: central.ChangeFleet, Time: now, Fleet: f})
	}
	for id := range alerts {
		st := r.stats1(id)
		r.cfg.Hub.Publish(central.Change{Kind: central.ChangeDelivery, Time: now, Delivery: st})
	}
	return err
}

// ---- queries

func (r *Registry) fleet(q central.FleetQuery) *central.FleetSummary {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f := &central.FleetSummary{Total: len(r.devs), Online: r.online, Offline: len(r.devs) - r.online, ByPref: []central.FleetCount{}}
	for _, c := range r.byPref {
		if c.Total > 0 {
			f.ByPref = append(f.ByPref, *c)
		}
	}
	sort.Slice(f.ByPref, func(i, j int) bool { return f.ByPref[i].Key < f.ByPref[j].Key })
	if q.Pref != "" {
		f.ByBranch = []central.FleetCount{}
		for _, c := range r.byBranch {
			if c.Pref == q.Pref && c.Total > 0 {
				f.ByBranch = append(f.ByBranch, *c)
			}
		}
		sort.Slice(f.ByBranch, func(i, j int) bool { return f.ByBranch[i].Key < f.ByBranch[j].Key })
	}
	return f
}

func (r *Registry) Fleet(ctx context.Context, actor central.Actor, q central.FleetQuery) (*central.FleetSummary, error) {
	if !actor.Can(central.PermViewFleet) {
		return nil, central.Forbidden(actor, "view the fleet")
	}
	if q.Pref != "" && wire.ValidPref(q.Pref) != nil {
		return nil, central.Invalid("pref", "%q is not a prefecture code 01..47", q.Pref)
	}
	return r.fleet(q), nil
}

func (r *Registry) List(ctx context.Context, actor central.Actor, q central.DeviceQuery) (*central.DevicePage, error) {
	if !actor.Can(central.PermViewFleet) {
		return nil, central.Forbidden(actor, "view the fleet")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 500 {
		limit = 500
	}
	if q.Offset < 0 {
		return nil, central.Invalid("offset", "offset must not be negative")
	}
	search := strings.ToLower(q.Search)
	page := &central.DevicePage{Devices: []central.Device{}}
	r.mu.RLock()
	if r.unsorted {
		r.mu.RUnlock()
		r.mu.Lock()
		r.sortLocked()
		r.mu.Unlock()
		r.mu.RLock()
		// A device added in between is at the end until the next query.
	}
	defer r.mu.RUnlock()
	for _, d := range r.list {
		if q.Pref != "" && d.Pref != q.Pref || q.Branch != "" && d.Branch != q.Branch || q.Online != nil && d.Online != *q.Online {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(d.ID), search) && !strings.Contains(strings.ToLower(d.Branch), search) {
			continue
		}
		if page.Total >= q.Offset && len(page.Devices) < limit {
			page.Devices = append(page.Devices, *d)
		}
		page.Total++
	}
	return page, nil
}

func (r *Registry) Get(ctx context.Context, actor central.Actor, id string) (*central.Device, error) {
	if !actor.Can(central.PermViewFleet) {
		return nil, central.Forbidden(actor, "view the fleet")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.devs[id]
	if !ok {
		return nil, fmt.Errorf("device %q: %w", id, central.ErrNotFound)
	}
	c := *d
	return &c, nil
}

// CountTarget implements alerts.TargetCounter.
func (r *Registry) CountTarget(t central.Target) (total, online int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch {
	case t.All:
		return len(r.devs), r.online
	case len(t.Prefs) > 0:
		for _, p := range t.Prefs {
			if c := r.byPref[p]; c != nil {
				total += c.Total
				online += c.Online
			}
		}
	case len(t.Branches) > 0:
		for _, b := range t.Branches {
			if c := r.byBranch[b]; c != nil {
				total += c.Total
				online += c.Online
			}
		}
	default:
		for _, id := range t.Devices {
			if d, ok := r.devs[id]; ok {
				total++
				if d.Online {
					online++
				}
			}
		}
	}
	return total, online
}

func (r *Registry) stats1(id string) *central.DeliveryStats {
	st := &central.DeliveryStats{AlertID: id, RejectReasons: map[string]int{}, UpdatedAt: r.cfg.Clock.Now()}
	var target central.Target
	var known bool
	if r.cfg.AlertTargets != nil {
		target, st.State, known = r.cfg.AlertTargets(id)
	}
	if known {
		st.Targeted, _ = r.CountTarget(target)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if ad := r.deliv[id]; ad != nil {
		st.Received, st.Displayed, st.Rejected = ad.received, ad.displayed, ad.rejected
		for k, v := range ad.reasons {
			st.RejectReasons[k] = v
		}
	}
	st.StillDisplayed = r.screens["alert:"+id]
	return st
}

func (r *Registry) Stats(ctx context.Context, actor central.Actor, alertID string) (*central.DeliveryStats, error) {
	if !actor.Can(central.PermViewContent) && !actor.Can(central.PermViewFleet) {
		return nil, central.Forbidden(actor, "view delivery")
	}
	if r.cfg.AlertTargets != nil {
		if _, _, ok := r.cfg.AlertTargets(alertID); !ok {
			return nil, fmt.Errorf("alert %q: %w", alertID, central.ErrNotFound)
		}
	}
	return r.stats1(alertID), nil
}

func (r *Registry) Subscribe(ctx context.Context) <-chan central.Change {
	return r.cfg.Hub.Subscribe(ctx)
}

// ---- commands and screenshots

func (r *Registry) SendCommand(ctx context.Context, actor central.Actor, id, name string) (*wire.Command, error) {
	if !actor.Can(central.PermDeviceCommand) {
		return nil, central.Forbidden(actor, "send device commands")
	}
	switch name {
	case wire.CmdIdentify, wire.CmdScreenshot, wire.CmdReload:
	default:
		return nil, central.Invalid("name", "command %q is not identify, screenshot or reload", name)
	}
	r.mu.RLock()
	_, ok := r.devs[id]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("device %q: %w", id, central.ErrNotFound)
	}
	p := r.pub.Load()
	if p == nil || r.cfg.Signer == nil {
		return nil, fmt.Errorf("%w: not connected to the broker", central.ErrUnavailable)
	}
	b := make([]byte, 8)
	rand.Read(b)
	now := r.cfg.Clock.Now().UTC().Truncate(time.Second)
	cmd := &wire.Command{Type: wire.TypeCommand, ID: "cmd-" + hex.EncodeToString(b), Device: id, Name: name,
		Issued: now, Expires: now.Add(5 * time.Minute)}
	env, err := r.cfg.Signer().SealJSON(cmd)
	if err != nil {
		return nil, fmt.Errorf("sign command: %w", err)
	}
	if err := r.cfg.Audit.Record(ctx, actor, "device.command", "device/"+id, map[string]string{"name": name, "command_id": cmd.ID}); err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := (*p).Publish(pctx, wire.CmdTopic(id), env, false); err != nil {
		return nil, fmt.Errorf("%w: %v", central.ErrUnavailable, err)
	}
	return cmd, nil
}

// SaveScreenshot stores a PNG uploaded by the device itself (already
// authenticated by the HTTP layer).
func (r *Registry) SaveScreenshot(id string, png []byte) error {
	now := r.cfg.Clock.Now()
	if err := r.cfg.DB.Update(func(tx *store.Tx) error {
		if rec, err := tx.Device(id); err == nil {
			rec.Screenshot = now
			if err := tx.PutDevice(rec); err != nil {
				return err
			}
		}
		return tx.PutScreenshot(&central.Screenshot{Device: id, Time: now, PNG: png})
	}); err != nil {
		return fmt.Errorf("store screenshot of %s: %w", id, err)
	}
	r.mu.Lock()
	var d central.Device
	if old, ok := r.devs[id]; ok {
		d = *old
		d.Screenshot = now
		r.setLocked(&d)
	}
	r.mu.Unlock()
	if d.ID != "" {
		r.cfg.Hub.Publish(central.Change{Kind: central.ChangeDevice, Time: now, Device: &d})
	}
	return nil
}

func (r *Registry) Screenshot(ctx context.Context, actor central.Actor, id string) (*central.Screenshot, error) {
	if !actor.Can(central.PermViewFleet) {
		return nil, central.Forbidden(actor, "view screenshots")
	}
	var s *central.Screenshot
	err := r.cfg.DB.View(func(tx *store.Tx) error {
		var err error
		s, err = tx.Screenshot(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("screenshot of %s: %w", id, err)
	}
	return s, nil
}

var (
	_ central.DeviceService   = (*Registry)(nil)
	_ central.DeliveryService = (*Registry)(nil)
)
