// Package testmqtt starts an embedded mochi MQTT broker on 127.0.0.1:0 with
// a username/password auth hook, for tests of tools that must authenticate.
package testmqtt

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/atmguard/kiosk/internal/mochilisten"
)

// Broker is a running broker.
type Broker struct {
	URL    string // tcp://127.0.0.1:port
	server *mqtt.Server
}

// Start runs a broker that accepts a client only if check(username,
// password) says so; it stops when the test ends.
func Start(tb testing.TB, check func(user, pass string) bool) *Broker {
	tb.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(&authHook{check: check}, nil); err != nil {
		tb.Fatal(err)
	}
	l := mochilisten.NewTCP(s, listeners.Config{ID: "t1", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		tb.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return &Broker{URL: "tcp://" + l.Address(), server: s}
}

type authHook struct {
	mqtt.HookBase
	check func(user, pass string) bool
}

func (h *authHook) ID() string { return "test-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	return h.check(string(cl.Properties.Username), string(pk.Connect.Password))
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool { return true }
