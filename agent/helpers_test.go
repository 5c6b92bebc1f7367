package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

const (
	testDevice = "atm-13-0001"
	testBranch = "tokyo-001"
	testPref   = "13"
)

// t0 is the central time the fake-clock tests start at.
var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func testSigner(tb testing.TB, seed byte) *wire.Signer {
	tb.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	sg, err := wire.NewSigner(ed25519.NewKeyFromSeed(s))
	if err != nil {
		tb.Fatal(err)
	}
	return sg
}

func keyRing(tb testing.TB, signers ...*wire.Signer) wire.KeyRing {
	tb.Helper()
	var pubs []ed25519.PublicKey
	for _, s := range signers {
		pubs = append(pubs, s.PublicKey())
	}
	kr, err := wire.NewKeyRing(pubs...)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func alert(id string, prio int, eff, exp time.Time, langs ...string) wire.Alert {
	if len(langs) == 0 {
		langs = []string{"ja", "en"}
	}
	a := wire.Alert{ID: id, Version: 1, Priority: prio, Issuer: "警視庁", Effective: eff, Expires: exp}
	for _, l := range langs {
		a.Texts = append(a.Texts, wire.Text{Lang: l, Headline: "0110 " + id + " " + l, Body: "hang up"})
	}
	return a
}

func item(id string, dur int, eff, exp time.Time, images ...wire.ContentRef) wire.CampaignItem {
	return wire.CampaignItem{ID: id, Version: 1, DurationSec: dur, Effective: eff, Expires: exp, Images: images,
		Texts: []wire.Text{{Lang: "ja", Headline: "ATMで携帯電話はやめて " + id}, {Lang: "en", Headline: "No phones at the ATM " + id}}}
}

func blobRef(data []byte) wire.ContentRef {
	sum := sha256.Sum256(data)
	return wire.ContentRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), MediaType: "image/png"}
}

type snapOpt func(*wire.Snapshot)

func withAlerts(a ...wire.Alert) snapOpt       { return func(s *wire.Snapshot) { s.Alerts = a } }
func withItems(i ...wire.CampaignItem) snapOpt { return func(s *wire.Snapshot) { s.Campaign = i } }
func withWindow(iss, exp time.Time) snapOpt {
	return func(s *wire.Snapshot) { s.Issued, s.Expires = iss, exp }
}
func withScope(sc wire.Scope) snapOpt { return func(s *wire.Snapshot) { s.Scope = sc } }

// sealSnap signs a snapshot for scope with seq; issued now, expires in 1 h
// unless withWindow says otherwise.
func sealSnap(tb testing.TB, sg *wire.Signer, sc wire.Scope, seq uint64, now time.Time, opts ...snapOpt) []byte {
	tb.Helper()
	s := wire.Snapshot{Type: wire.TypeSnapshot, Scope: sc, Seq: seq, Issued: now, Expires: now.Add(time.Hour),
		Alerts: []wire.Alert{}, Campaign: []wire.CampaignItem{}}
	for _, o := range opts {
		o(&s)
	}
	b, err := sg.SealJSON(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func sealCmd(tb testing.TB, sg *wire.Signer, id, device, name string, issued time.Time, args map[string]string) []byte {
	tb.Helper()
	b, err := sg.SealJSON(wire.Command{Type: wire.TypeCommand, ID: id, Device: device, Name: name, Args: args,
		Issued: issued, Expires: issued.Add(5 * time.Minute)})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// baseOptions are options for a test agent with its own cache file.
func baseOptions(tb testing.TB, keys wire.KeyRing) Options {
	return Options{DeviceID: testDevice, Branch: testBranch, Pref: testPref, AgentVersion: "test",
		Keys: keys, CachePath: filepath.Join(tb.TempDir(), "cache.db"), Logger: testLogger(tb),
		ReconnectJitter: 50 * time.Millisecond, StatusMinInterval: 50 * time.Millisecond}
}

// startAgent runs a in the background; cleanup closes it and waits.
func startAgent(tb testing.TB, a *Agent) {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	tb.Cleanup(func() {
		if err := a.Close(); err != nil {
			tb.Errorf("close agent: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("run: %v", err)
		}
	})
}

// waitFor polls cond on every agent change until it holds or 20 s pass.
func waitFor(tb testing.TB, a *Agent, what string, cond func() bool) {
	tb.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		ch := a.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			sc, _ := a.Current()
			tb.Fatalf("timed out waiting for %s (screen %s, stats %+v)", what, sc.ID(), a.Stats())
		}
	}
}

func screenIs(a *Agent, id string) func() bool {
	return func() bool { sc, _ := a.Current(); return sc.ID() == id }
}

// barrier returns once the agent loop has processed everything queued
// before it (two round trips: the first one's re-decision has finished
// when the second one runs).
func barrier(tb testing.TB, a *Agent) {
	tb.Helper()
	for i := 0; i < 2; i++ {
		done := make(chan struct{})
		if err := a.do(context.Background(), func() { close(done) }); err != nil {
			tb.Fatal(err)
		}
		<-done
	}
}

// inject hands a message to the agent as if the broker had delivered it, and
// waits until it is processed.
func inject(tb testing.TB, a *Agent, topic string, payload []byte) {
	tb.Helper()
	if err := a.do(context.Background(), func() {
		if a.handle(message{topic: topic, payload: payload}) {
			signal(a.fetchKick)
		}
	}); err != nil {
		tb.Fatal(err)
	}
	barrier(tb, a)
}

// mqttClient connects a plain paho client (the test's "central").
func mqttClient(tb testing.TB, url, id string) mqtt.Client {
	tb.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(true)
	c := mqtt.NewClient(o)
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		tb.Fatalf("connect %s: %v", url, t.Error())
	}
	tb.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(tb testing.TB, c mqtt.Client, topic string, payload []byte, retained bool) {
	tb.Helper()
	if t := c.Publish(topic, 1, retained, payload); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		tb.Fatalf("publish %s: %v", topic, t.Error())
	}
}

// eventLog collects the agent's events from the broker.
type eventLog struct {
	mu     sync.Mutex
	events []wire.Event
	ch     chan struct{}
}

func subscribeEvents(tb testing.TB, c mqtt.Client, device string) *eventLog {
	tb.Helper()
	l := &eventLog{ch: make(chan struct{}, 1)}
	t := c.Subscribe(wire.EventTopic(device), 1, func(_ mqtt.Client, m mqtt.Message) {
		ev, err := wire.DecodeEvent(m.Payload())
		if err != nil {
			tb.Errorf("agent sent an invalid event: %v: %s", err, m.Payload())
			return
		}
		l.mu.Lock()
		l.events = append(l.events, *ev)
		l.mu.Unlock()
		signal(l.ch)
	})
	if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		tb.Fatalf("subscribe events: %v", t.Error())
	}
	return l
}

// waitEvent waits for an event matching f and returns it.
func (l *eventLog) waitEvent(tb testing.TB, what string, f func(wire.Event) bool) wire.Event {
	tb.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, e := range l.events {
			if f(e) {
				l.mu.Unlock()
				return e
			}
		}
		l.mu.Unlock()
		select {
		case <-l.ch:
		case <-deadline.C:
			l.mu.Lock()
			defer l.mu.Unlock()
			tb.Fatalf("timed out waiting for event %s; got %+v", what, l.events)
		}
	}
}

// contentServer serves blobs by sha256 like central's GET /content/<sha>.
type contentServer struct {
	*httptest.Server
	mu    sync.Mutex
	blobs map[string][]byte
	hits  int
}

func newContentServer(tb testing.TB) *contentServer {
	cs := &contentServer{blobs: map[string][]byte{}}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sha := filepath.Base(r.URL.Path)
		cs.mu.Lock()
		b, ok := cs.blobs[sha]
		cs.hits++
		cs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	tb.Cleanup(cs.Close)
	return cs
}

func (cs *contentServer) put(sha string, b []byte) {
	cs.mu.Lock()
	cs.blobs[sha] = b
	cs.mu.Unlock()
}

// fakeAgent is an agent on a fake clock with no broker.
func fakeAgent(tb testing.TB, sg *wire.Signer, start time.Time, mod func(*Options)) (*Agent, *clock.Fake, *HeadlessPresenter) {
	tb.Helper()
	fc := clock.NewFake(start)
	o := baseOptions(tb, keyRing(tb, sg))
	o.Clock = fc
	p := NewHeadlessPresenter()
	o.Presenter = p
	if mod != nil {
		mod(&o)
	}
	a, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	startAgent(tb, a)
	return a, fc, p
}

var _ = display.KindAlert
var _ = json.Marshal
