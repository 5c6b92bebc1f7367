package broker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/atmguard/kiosk/central/broker"
	"github.com/atmguard/kiosk/internal/mochilisten"
)

// refuseHook accepts every connection and refuses the first `refuse`
// subscriptions to status topics (mochi answers SUBACK 0x80 to an MQTT
// 3.1.1 client), as a NATS node does for a while after a cluster change.
type refuseHook struct {
	mochi.HookBase
	refuse  int32
	refused atomic.Int32
}

func (h *refuseHook) ID() string { return "refuse-first-subscribes" }
func (h *refuseHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}
func (h *refuseHook) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (h *refuseHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if !write && topic == "kiosk/v1/device/+/status" && h.refused.Load() < h.refuse {
		h.refused.Add(1)
		return false
	}
	return true
}

// TestRefusedSubscriptionRetried: central's client keeps asking for a
// subscription the broker refused, instead of going on without the fleet's
// statuses until the next reconnect.
func TestRefusedSubscriptionRetried(t *testing.T) {
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumMessageExpiryInterval = 0
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: quiet(), Capabilities: caps})
	hook := &refuseHook{refuse: 3}
	if err := s.AddHook(hook, nil); err != nil {
		t.Fatal(err)
	}
	l := mochilisten.NewTCP(s, listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	r := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := broker.Dial(ctx, broker.ClientConfig{URL: "tcp://" + l.Address(), ClientID: "central-test", Username: "central",
		Subscriptions: map[string]broker.Handler{"kiosk/v1/device/+/status": r.handle}, SubscribeRetry: 10 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// Publish until one arrives: there is no event for "subscribed".
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case <-r.ch:
			if n := hook.refused.Load(); n != 3 {
				t.Fatalf("refused %d times, want 3", n)
			}
			return
		case <-tick.C:
			if err := s.Publish("kiosk/v1/device/d1/status", []byte(`{}`), false, 1); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("no status received after %d refused subscriptions", hook.refused.Load())
		}
	}
}
