package broker

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	bbolt "go.etcd.io/bbolt"

	"github.com/atmguard/kiosk/internal/mochilisten"
	"github.com/atmguard/kiosk/internal/wire"
)

// CentralUser is the username of central's privileged client. '$' is not
// allowed in device ids, so no device can claim it.
const CentralUser = "$central"

// DeviceAuth checks a device's broker credentials.
type DeviceAuth interface {
	CheckDevicePassword(deviceID, password string) bool
}

// Config configures the embedded broker.
type Config struct {
	Addr    string     // TCP listen address, e.g. ":1883" or "127.0.0.1:0"
	DataDir string     // broker.db (retained messages, sessions) goes here; empty: memory only
	Auth    DeviceAuth // required
	Logger  *slog.Logger
	// WritesPending overrides MaximumClientWritesPending (default 256).
	WritesPending int32
}

// Embedded is a running mochi broker.
type Embedded struct {
	srv        *mqtt.Server
	tcp        *mochilisten.Listener
	centralPwd string
	log        *slog.Logger
	closeOnce  sync.Once
	closeErr   error
	mu         sync.Mutex
	subID      int
}

// StartEmbedded starts the broker and its listener.
func StartEmbedded(cfg Config) (*Embedded, error) {
	if cfg.Auth == nil {
		return nil, errors.New("embedded broker: no device authenticator")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumMessageExpiryInterval = 0
	caps.MaximumClientWritesPending = 256
	if cfg.WritesPending > 0 {
		caps.MaximumClientWritesPending = cfg.WritesPending
	}
	caps.MaximumPacketSize = uint32(wire.MaxEnvelopeBytes + 16<<10)
	caps.MaximumQos = 1
	caps.SharedSubAvailable = 0
	srv := mqtt.New(&mqtt.Options{
		InlineClient:           true, // central's own ingest subscriptions (Subscribe)
		Capabilities:           caps,
		Logger:                 log.With("component", "mqtt-broker"),
		SysTopicResendInterval: 60,
	})
	pwd := make([]byte, 32)
	if _, err := rand.Read(pwd); err != nil {
		return nil, err
	}
	e := &Embedded{srv: srv, centralPwd: hex.EncodeToString(pwd), log: log}
	if err := srv.AddHook(&authHook{e: e, auth: cfg.Auth}, nil); err != nil {
		return nil, fmt.Errorf("embedded broker: auth hook: %w", err)
	}
	if cfg.DataDir != "" {
		path := filepath.Join(cfg.DataDir, "broker.db")
		if err := srv.AddHook(&persistHook{Hook: new(bolt.Hook)}, &bolt.Options{
			Path:    path,
			Options: &bbolt.Options{Timeout: 2 * time.Second},
		}); err != nil {
			return nil, fmt.Errorf("embedded broker: storage %s: %w", path, err)
		}
	}
	e.tcp = mochilisten.NewTCP(srv, listeners.Config{Type: "tcp", ID: "tcp", Address: cfg.Addr})
	if err := srv.AddListener(e.tcp); err != nil {
		srv.Close()
		return nil, fmt.Errorf("embedded broker: listen %s: %w", cfg.Addr, err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("embedded broker: serve: %w", err)
	}
	return e, nil
}

// Subscribe delivers every message matching filter to h, inside the broker:
// h runs synchronously on the publishing client's connection goroutine,
// after the broker acknowledged the publish. Unlike a network subscriber
// (whose write queue mochi empties by dropping messages when it is full,
// even QoS 1 ones), nothing is dropped: a slow h slows the publishers down.
// Retained messages matching filter are delivered before Subscribe returns.
func (e *Embedded) Subscribe(filter string, h Handler) error {
	e.mu.Lock()
	e.subID++
	id := e.subID
	e.mu.Unlock()
	return e.srv.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		h(pk.TopicName, append([]byte(nil), pk.Payload...))
	})
}

// Addr is the bound listen address (host:port).
func (e *Embedded) Addr() string { return e.tcp.Address() }

// URL is tcp://Addr, with a wildcard host replaced by 127.0.0.1.
func (e *Embedded) URL() string {
	a := e.Addr()
	if strings.HasPrefix(a, "[::]:") || strings.HasPrefix(a, "0.0.0.0:") || strings.HasPrefix(a, ":") {
		a = "127.0.0.1:" + a[strings.LastIndex(a, ":")+1:]
	}
	return "tcp://" + a
}

// CentralCredentials are the privileged credentials for central's client.
func (e *Embedded) CentralCredentials() (user, password string) { return CentralUser, e.centralPwd }

// Clients is the number of connected clients.
func (e *Embedded) Clients() int64 { return e.srv.Info.ClientsConnected }

// Close stops the listener, disconnects clients and closes the storage.
// It is safe to call more than once.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() { e.closeErr = e.srv.Close() })
	return e.closeErr
}

type authHook struct {
	mqtt.HookBase
	e    *Embedded
	auth DeviceAuth
}

func (h *authHook) ID() string { return "kiosk-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	pass := string(pk.Connect.Password)
	if user == CentralUser {
		ok := subtle.ConstantTimeCompare([]byte(pass), []byte(h.e.centralPwd)) == 1
		if !ok {
			h.e.log.Warn("mqtt: central login with wrong password", "remote", cl.Net.Remote)
		}
		return ok
	}
	if wire.ValidID(user) != nil {
		h.e.log.Info("mqtt: refused connect: username is not a device id", "remote", cl.Net.Remote)
		return false
	}
	if cl.ID != user && cl.ID != "kiosk-"+user {
		h.e.log.Info("mqtt: refused connect: client id does not match device", "device", user, "client_id", cl.ID, "remote", cl.Net.Remote)
		return false
	}
	if !h.auth.CheckDevicePassword(user, pass) {
		h.e.log.Info("mqtt: refused connect: bad device credentials", "device", user, "remote", cl.Net.Remote)
		return false
	}
	// mochi publishes a Last Will without calling OnACLCheck, so a will on
	// kiosk/v1/state/all (or another device's topics) would be a retained
	// forgery the moment the device drops its connection. A device's only
	// legitimate will is "offline" on its own status topic.
	if pk.Connect.WillFlag && pk.Connect.WillTopic != wire.StatusTopic(user) {
		h.e.log.Warn("mqtt: refused connect: last will on a topic other than the device's status",
			"device", user, "will_topic", trunc(pk.Connect.WillTopic), "remote", cl.Net.Remote)
		return false
	}
	return true
}

// OnACLCheck is called for every publish (write) and every subscription
// filter (read).
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := cl.Properties.Username
	if bytes.Equal(user, []byte(CentralUser)) {
		return true
	}
	ok := DeviceMay(string(user), topic, write)
	if !ok {
		h.e.log.Info("mqtt: refused by ACL", "device", string(user), "topic", trunc(topic), "write", write)
	}
	return ok
}

// DeviceMay is the device ACL: publish only to its own status and event
// topics; subscribe only to state scopes and its own cmd topic.
func DeviceMay(device, topic string, write bool) bool {
	if wire.ValidID(device) != nil {
		return false
	}
	if write {
		return topic == wire.StatusTopic(device) || topic == wire.EventTopic(device)
	}
	if topic == wire.CmdTopic(device) {
		return true
	}
	rest, ok := strings.CutPrefix(topic, wire.TopicPrefix+"state/")
	return ok && rest != "" && !strings.HasPrefix(rest, "$")
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// persistHook is mochi's bolt storage hook without the in-flight message
// part. Persisting in-flight QoS 1 messages costs one bbolt transaction
// (an fsync) per message per subscriber, which made a fan-out to 500
// devices take ~0.4-0.8 s; what devices need across a broker restart is the
// retained snapshots, their sessions and subscriptions, which stay
// persisted. Commands in flight to an offline device are lost with a broker
// restart; they expire after minutes anyway.
type persistHook struct{ *bolt.Hook }

func (h *persistHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped, mqtt.StoredInflightMessages:
		return false
	}
	return h.Hook.Provides(b)
}
