package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
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
	// Subscriptions are (re)made on every connect, QoS 1.
	Subscriptions map[string]Handler
	// OnConnect runs (in its own goroutine) after every successful
	// (re)connect and subscribe: central republishes its retained
	// snapshots there, because a publish token can complete without
	// delivery across a reconnect.
	OnConnect func()
	Logger    *slog.Logger
}

// Client is central's connection to the broker.
type Client struct {
	cfg ClientConfig
	c   paho.Client
	log *slog.Logger

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

// Dial connects, retrying until ctx is done.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cl := &Client{cfg: cfg, log: log}
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
		SetMaxResumePubInFlight(256).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { cl.dispatch(m) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			log.Warn("mqtt: connection to broker lost", "url", cfg.URL, "err", err)
		}).
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

func (cl *Client) onConnect(c paho.Client) {
	for f, h := range cl.cfg.Subscriptions {
		h := h
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { h(m.Topic(), m.Payload()) })
		// Waiting here is safe: the on-connect handler runs in its own goroutine.
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			cl.log.Error("mqtt: subscribe failed", "filter", f, "err", tok.Error())
		}
	}
	cl.log.Info("mqtt: connected", "url", cl.cfg.URL)
	if cl.cfg.OnConnect != nil {
		cl.mu.Lock()
		if cl.closed {
			cl.mu.Unlock()
			return
		}
		cl.wg.Add(1)
		cl.mu.Unlock()
		go func() {
			defer cl.wg.Done()
			cl.cfg.OnConnect()
		}()
	}
}

// ErrNotConnected is returned by Publish while the broker is unreachable.
var ErrNotConnected = errors.New("not connected to the broker")

// Publish sends payload with QoS 1 and waits for the broker's PUBACK.
func (cl *Client) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	if !cl.c.IsConnectionOpen() {
		return fmt.Errorf("publish %s: %w", topic, ErrNotConnected)
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
	cl.closed = true
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
