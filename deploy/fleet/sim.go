package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

// Target is where simulated displays connect.
type Target struct {
	BrokerURL  string      // tcp://127.0.0.1:port or ssl://...
	TLS        *tls.Config // for ssl:// broker URLs
	CentralURL string      // http://127.0.0.1:port (content fetches)
	Keys       wire.KeyRing
}

// Report is one thing a simulated display saw.
type Report struct {
	Index   int       // position of the device in the set
	Kind    string    // "shown" (agent put an alert on screen) or "recv" (paho got a message)
	AlertID string    // "shown" only
	At      time.Time // wall clock
}

// AgentOptions tune the simulated agents; zero values are the agent's
// production defaults.
type AgentOptions struct {
	Logger               *slog.Logger
	HeartbeatInterval    time.Duration
	MaxReconnectInterval time.Duration
	ReconnectJitter      time.Duration
}

// NewAgent is the one place a simulated display is built from the real
// agent core: everything else in this package only sees Run/Close.
func NewAgent(d Device, t Target, cachePath string, p agent.Presenter, o AgentOptions) (*agent.Agent, error) {
	return agent.New(agent.Options{
		DeviceID: d.ID, Branch: d.Branch, Pref: d.Pref, AgentVersion: "fleetsim",
		BrokerURL: t.BrokerURL, TLS: t.TLS, Username: d.ID, Password: d.Password, Keys: t.Keys,
		CentralURL: t.CentralURL, CachePath: cachePath, Logger: o.Logger, Presenter: p,
		HeartbeatInterval: o.HeartbeatInterval, MaxReconnectInterval: o.MaxReconnectInterval,
		ReconnectJitter: o.ReconnectJitter,
	})
}

// watch is the presenter of a simulated display: the agent's own headless
// presenter (it hashes the screen like the real one identifies a frame) plus
// a report the first time each alert id reaches the screen.
type watch struct {
	inner  *agent.HeadlessPresenter
	index  int
	report func(Report)
	mu     sync.Mutex
	seen   map[string]bool
}

func (w *watch) Show(ctx context.Context, s display.Screen) (string, error) {
	h, err := w.inner.Show(ctx, s)
	if err != nil || s.Kind != display.KindAlert || s.Alert == nil {
		return h, err
	}
	now := time.Now()
	w.mu.Lock()
	first := !w.seen[s.Alert.ID]
	w.seen[s.Alert.ID] = true
	w.mu.Unlock()
	if first {
		w.report(Report{Index: w.index, Kind: "shown", AlertID: s.Alert.ID, At: now})
	}
	return h, nil
}

// AgentSet is a running group of simulated displays.
type AgentSet struct {
	agents []*agent.Agent
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   atomic.Int64
}

// StartAgents creates one agent per device (cache under dir/<id>.db) and
// runs them all. index0 is added to each device's position in reports.
func StartAgents(devs []Device, index0 int, t Target, dir string, o AgentOptions, report func(Report)) (*AgentSet, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &AgentSet{}
	for i, d := range devs {
		w := &watch{inner: agent.NewHeadlessPresenter(), index: index0 + i, report: report, seen: map[string]bool{}}
		a, err := NewAgent(d, t, filepath.Join(dir, d.ID+".db"), w, o)
		if err != nil {
			s.closeAgents()
			return nil, fmt.Errorf("agent %s: %w", d.ID, err)
		}
		s.agents = append(s.agents, a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, a := range s.agents {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.errs.Add(1)
			}
		}()
	}
	return s, nil
}

// Stats are each agent's counters (connects, accepted, rejected...).
func (s *AgentSet) Stats() []agent.Stats {
	out := make([]agent.Stats, len(s.agents))
	for i, a := range s.agents {
		out[i] = a.Stats()
	}
	return out
}

// Len is the number of agents.
func (s *AgentSet) Len() int { return len(s.agents) }

// Errors is how many agents' Run returned an error other than cancellation.
func (s *AgentSet) Errors() int64 { return s.errs.Load() }

// Stop stops every agent and closes its cache.
func (s *AgentSet) Stop() {
	s.cancel()
	s.wg.Wait()
	s.closeAgents()
}

func (s *AgentSet) closeAgents() {
	for _, a := range s.agents {
		a.Close()
	}
}

// PahoSet is the baseline: bare paho subscribers to state/all with the same
// credentials and session settings as the agents, doing nothing with what
// they receive but noting the time.
type PahoSet struct {
	clients []mqtt.Client
	armed   atomic.Bool
}

// StartPaho connects one subscriber per device (at most 256 connecting at
// once) and returns when all are subscribed.
func StartPaho(devs []Device, index0 int, t Target, report func(Report)) (*PahoSet, error) {
	p := &PahoSet{clients: make([]mqtt.Client, len(devs))}
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, d := range devs {
		idx := index0 + i
		h := func(_ mqtt.Client, m mqtt.Message) {
			if p.armed.Load() {
				report(Report{Index: idx, Kind: "recv", At: time.Now()})
			}
		}
		o := mqtt.NewClientOptions().AddBroker(t.BrokerURL).SetClientID("kiosk-" + d.ID).
			SetUsername(d.ID).SetPassword(d.Password).SetProtocolVersion(4).SetCleanSession(true).
			SetAutoReconnect(false).SetOrderMatters(false).SetConnectTimeout(60 * time.Second).
			SetKeepAlive(60 * time.Second).SetDefaultPublishHandler(h)
		if t.TLS != nil {
			o.SetTLSConfig(t.TLS)
		}
		c := mqtt.NewClient(o)
		p.clients[i] = c
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := wait(c.Connect(), "connect "+d.ID)
			if err == nil {
				err = wait(c.Subscribe(wire.StateTopic(wire.All), 1, h), "subscribe "+d.ID)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		p.Stop()
		return nil, firstErr
	}
	return p, nil
}

func wait(t mqtt.Token, what string) error {
	if !t.WaitTimeout(2 * time.Minute) {
		return fmt.Errorf("%s: timeout", what)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Arm starts reporting received messages (everything before, such as the
// retained snapshot delivered at subscribe time, is ignored).
func (p *PahoSet) Arm() { p.armed.Store(true) }

// Stop disconnects every subscriber.
func (p *PahoSet) Stop() {
	var wg sync.WaitGroup
	for _, c := range p.clients {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); c.Disconnect(50) }()
	}
	wg.Wait()
}
