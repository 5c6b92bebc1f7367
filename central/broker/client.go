package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/atmguard/kiosk/internal/mqttstore"
)

// Handler receives a message. It must return quickly (it runs on paho's
// router goroutine; a slow handler starves keepalive).
type Handler func(topic string, payload []byte)

// ClientConfig configures central's MQTT client.
type ClientConfig struct {
	URL      string // tcp://host:port (ssl:// for TLS)
	ClientID string // stable: the broker keeps central's session under it
	Username string
	Password string
	// Subscriptions are (re)made on every connect, QoS 1; a refused one
	// (SUBACK 0x80) is retried while the connection lasts.
	Subscriptions map[string]Handler
	// OnConnect runs (in its own goroutine, while the subscriptions are
	// made) after every successful (re)connect: central republishes its
	// retained snapshots there, because a publish token can complete
	// without delivery across a reconnect.
	OnConnect func()
	// ResumeWait bounds how long Publish and OnConnect wait, after a
	// (re)connect, for the broker to acknowledge the publishes paho resends
	// from the session (default 10s); see onConnect.
	ResumeWait time.Duration
	// SubscribeRetry is the pause between attempts at a subscription the
	// broker refused (default 500ms).
	SubscribeRetry time.Duration
	Logger         *slog.Logger
}

// Client is central's connection to the broker.
type Client struct {
	cfg   ClientConfig
	c     paho.Client
	log   *slog.Logger
	store *mqttstore.Store

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close: stops on-connect work
	// ready is closed once this connection's resent publishes are
	// acknowledged; Publish waits for it so a new snapshot never overtakes
	// an older one paho resends. A fresh one is made before each reconnect.
	ready chan struct{}
}

// Dial connects, retrying until ctx is done.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.ResumeWait <= 0 {
		cfg.ResumeWait = 10 * time.Second
	}
	if cfg.SubscribeRetry <= 0 {
		cfg.SubscribeRetry = 500 * time.Millisecond
	}
	cl := &Client{cfg: cfg, log: log, store: mqttstore.New(), done: make(chan struct{}), ready: make(chan struct{})}
	opts := paho.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetOrderMatters(true). // handlers only enqueue; order of status messages matters
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(250 * time.Millisecond).
		SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetWriteTimeout(10 * time.Second).
		// paho's MemoryStore shares packets with resume() (upstream race
		// #703, see internal/mqttstore). No SetMaxResumePubInFlight: its
		// semaphore goroutine reads c.stop while a quick reconnect's
		// startCommsWorkers writes it (race seen under -race when a cluster
		// node died; central resends a handful of packets at most).
		SetStore(cl.store).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { cl.dispatch(m) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			log.Warn("mqtt: connection to broker lost", "url", cfg.URL, "err", err)
		}).
		// runs in paho's reconnect goroutine before each attempt, so before
		// the connection it makes is up
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) { cl.pending() }).
		SetOnConnectHandler(func(c paho.Client) { cl.onConnect(c) })
	cl.c = paho.NewClient(opts)
	tok := cl.c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			cl.c.Disconnect(0)
			return nil, fmt.Errorf("mqtt connect %s: %w", cfg.URL, err)
		}
	case <-ctx.Done():
		cl.c.Disconnect(0)
		return nil, fmt.Errorf("mqtt connect %s: %w", cfg.URL, ctx.Err())
	}
	return cl, nil
}

func (cl *Client) dispatch(m paho.Message) {
	// Only used for messages queued in the session that arrive before the
	// subscription is re-made: route them by filter.
	for f, h := range cl.cfg.Subscriptions {
		if match(f, m.Topic()) {
			h(m.Topic(), m.Payload())
			return
		}
	}
}

// onConnect runs in its own goroutine (paho starts it) after every
// (re)connect. It is tracked by cl.wg so Close waits for it.
func (cl *Client) onConnect(c paho.Client) {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return
	}
	cl.wg.Add(1)
	cl.mu.Unlock()
	defer cl.wg.Done()
	// Publishes stored before this connection are resent by paho now
	// (resume runs alongside this handler). Central re-signs everything
	// unacknowledged with a newer seq (OnConnect, the re-issuer); were that
	// to reach the broker before a resent older snapshot, the broker would
	// retain the older one. So Publish waits until the resent ones are
	// acknowledged (bounded by ResumeWait).
	cl.waitAcked(c, cl.storedPublishes())
	cl.release()
	cl.log.Info("mqtt: connected", "url", cl.cfg.URL)
	// Subscriptions alongside the republish: a broker refusing them for a
	// while (retried) must not hold up the snapshots, nor the reverse.
	var subs sync.WaitGroup
	for f, h := range cl.cfg.Subscriptions {
		subs.Add(1)
		go func() { defer subs.Done(); cl.subscribe(c, f, h) }()
	}
	defer subs.Wait()
	if cl.cfg.OnConnect != nil && c.IsConnectionOpen() {
		select {
		case <-cl.done:
			return
		default:
		}
		cl.cfg.OnConnect()
	}
}

// pending makes Publish wait until the next onConnect releases it.
func (cl *Client) pending() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	select {
	case <-cl.ready:
		cl.ready = make(chan struct{})
	default: // still pending
	}
}

// release lets Publish through.
func (cl *Client) release() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	select {
	case <-cl.ready:
	default:
		close(cl.ready)
	}
}

func (cl *Client) readyCh() <-chan struct{} {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.ready
}

// subscribe makes one subscription, retrying while the broker refuses it
// (SUBACK 0x80: a NATS node does that for a while after a cluster change)
// and the connection is up. It gives up when the connection or the client
// goes away (the next connect subscribes again).
func (cl *Client) subscribe(c paho.Client, f string, h Handler) {
	for attempt := 1; ; attempt++ {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { h(m.Topic(), m.Payload()) })
		var err error
		select {
		case <-tok.Done():
			err = tok.Error()
			if err == nil {
				if st, ok := tok.(*paho.SubscribeToken); ok && st.Result()[f] >= 0x80 {
					err = fmt.Errorf("refused by the broker (SUBACK %#x)", st.Result()[f])
				}
			}
		case <-time.After(30 * time.Second):
			err = errors.New("no SUBACK after 30s")
		case <-cl.done:
			return
		}
		if err == nil {
			return
		}
		if attempt == 1 || attempt&(attempt-1) == 0 { // log at powers of two
			cl.log.Error("mqtt: subscribe failed, retrying", "filter", f, "attempt", attempt, "err", err)
		}
		if !c.IsConnectionOpen() {
			return
		}
		select {
		case <-time.After(cl.cfg.SubscribeRetry):
		case <-cl.done:
			return
		}
	}
}

// storedPublishes lists the keys of outbound PUBLISH packets in paho's store.
func (cl *Client) storedPublishes() map[string]bool {
	out := map[string]bool{}
	for _, k := range cl.store.All() {
		if len(k) > 2 && k[:2] == "o." {
			if _, ok := cl.store.Get(k).(*packets.PublishPacket); ok {
				out[k] = true
			}
		}
	}
	return out
}

// waitAcked waits until none of keys is left in the store (the broker
// acknowledged them), the connection drops, Close is called, or ResumeWait
// passes. paho offers no event for this, so it polls the store.
func (cl *Client) waitAcked(c paho.Client, keys map[string]bool) {
	if len(keys) == 0 {
		return
	}
	deadline := time.NewTimer(cl.cfg.ResumeWait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		left := 0
		for _, k := range cl.store.All() {
			if keys[k] {
				left++
			}
		}
		if left == 0 || !c.IsConnectionOpen() {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			cl.log.Warn("mqtt: resent publishes not acknowledged in time", "left", left, "wait", cl.cfg.ResumeWait)
			return
		case <-cl.done:
			return
		}
	}
}

// ErrNotConnected is returned by Publish while the broker is unreachable.
var ErrNotConnected = errors.New("not connected to the broker")

// Publish sends payload with QoS 1 and waits for the broker's PUBACK.
func (cl *Client) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	if !cl.c.IsConnectionOpen() {
		return fmt.Errorf("publish %s: %w", topic, ErrNotConnected)
	}
	select {
	case <-cl.readyCh():
	case <-ctx.Done():
		return fmt.Errorf("publish %s: waiting for the broker to acknowledge resent publishes: %w", topic, ctx.Err())
	}
	tok := cl.c.Publish(topic, 1, retained, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish %s: waiting for broker ack: %w", topic, ctx.Err())
	}
}

// Connected reports whether the link is up.
func (cl *Client) Connected() bool { return cl.c.IsConnectionOpen() }

// Close disconnects and waits for OnConnect callbacks to finish.
func (cl *Client) Close() {
	cl.mu.Lock()
	if !cl.closed {
		cl.closed = true
		close(cl.done)
	}
	cl.mu.Unlock()
	cl.c.Disconnect(250)
	cl.wg.Wait()
}

// match reports whether topic matches an MQTT filter with + and #.
func match(filter, topic string) bool {
	for {
		fi, fr, fmore := cut(filter)
		ti, tr, tmore := cut(topic)
		switch {
		case fi == "#":
			return true
		case fi != "+" && fi != ti:
			return false
		}
		if !fmore || !tmore {
			return fmore == tmore
		}
		filter, topic = fr, tr
	}
}

func cut(s string) (head, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
