package testbroker

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func connect(t *testing.T, url, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// Both brokers keep retained messages for later subscribers, and the proxy
// cuts and restores connections.
func TestBrokersAndProxy(t *testing.T) {
	Each(t, func(t *testing.T, b *Broker) {
		pub := connect(t, b.URL, "pub")
		if tok := pub.Publish("kiosk/v1/state/all", 1, true, []byte("retained")); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		p := NewProxy(t, b.Addr)
		sub := connect(t, p.URL, "sub")
		got := make(chan string, 1)
		sub.Subscribe("kiosk/v1/state/all", 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) })
		select {
		case s := <-got:
			if s != "retained" {
				t.Fatalf("got %q", s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("retained message not delivered")
		}
		lost := make(chan struct{})
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(p.URL).SetClientID("cut").SetAutoReconnect(false).
			SetConnectionLostHandler(func(mqtt.Client, error) { close(lost) }))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		p.Cut()
		select {
		case <-lost:
		case <-time.After(10 * time.Second):
			t.Fatal("Cut did not drop the connection")
		}
		c.Disconnect(0)
		// fresh clients: paho refuses Connect on a client still winding down
		fresh := func(id string) mqtt.Client {
			return mqtt.NewClient(mqtt.NewClientOptions().AddBroker(p.URL).SetClientID(id).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
		}
		if tok := fresh("cut-2").Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			t.Fatal("connected through a cut proxy")
		}
		p.Restore()
		c3 := fresh("cut-3")
		if tok := c3.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect after Restore: %v", tok.Error())
		}
		c3.Disconnect(50)
	})
}
