package hub

import (
	"context"
	"testing"

	"github.com/atmguard/kiosk/central"
)

func TestLaggingSubscriberGetsResync(t *testing.T) {
	var h Hub
	ctx, cancel := context.WithCancel(context.Background())
	slow := h.Subscribe(ctx)
	for i := 0; i < Buffer+10; i++ {
		h.Publish(central.Change{Kind: central.ChangeDevice})
	}
	for i := 0; i < Buffer; i++ {
		if c := <-slow; c.Kind != central.ChangeDevice {
			t.Fatalf("event %d: %s", i, c.Kind)
		}
	}
	h.Publish(central.Change{Kind: central.ChangeAlert})
	if c := <-slow; c.Kind != central.ChangeResync {
		t.Fatalf("after lag: %s, want resync", c.Kind)
	}
	if c := <-slow; c.Kind != central.ChangeAlert {
		t.Fatalf("after resync: %s", c.Kind)
	}
	cancel()
	for range slow { // closed after cancel
	}
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after cancel", n)
	}
}
