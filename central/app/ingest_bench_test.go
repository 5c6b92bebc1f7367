package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/internal/wire"
)

// BenchmarkIngestViaBroker is device -> embedded broker -> central: 20
// devices publish QoS 1 "displayed" events with their own credentials
// (ACL-checked) until central's registry has applied all b.N of them (and
// written them to bbolt in its batched flushes).
func BenchmarkIngestViaBroker(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		benchIngest(b, app.NewTest(b, func(c *app.Config) { c.NoFitCheck = true }), true)
	})
	b.Run("mosquitto", func(b *testing.B) {
		url := startMosquitto(b)
		benchIngest(b, app.NewTest(b, func(c *app.Config) { c.NoFitCheck, c.BrokerURL, c.MQTTAddr = true, url, "" }), false)
	})
}

func benchIngest(b *testing.B, a *app.App, embedded bool) {
	const devices = 20
	var clients []paho.Client
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("dev-%02d", i)
		pw := "anonymous"
		if embedded {
			var err error
			if pw, err = a.RegisterDevice(id, "br-1", "13"); err != nil {
				b.Fatal(err)
			}
		}
		c := paho.NewClient(paho.NewClientOptions().AddBroker(a.BrokerURL()).SetClientID("kiosk-" + id).SetUsername(id).
			SetPassword(pw).SetProtocolVersion(4).SetMaxResumePubInFlight(1000))
		if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		clients = append(clients, c)
	}
	b.Cleanup(func() {
		for _, c := range clients {
			c.Disconnect(0)
		}
	})
	before, _, _ := a.Registry.IngestStats()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		id := fmt.Sprintf("dev-%02d", i)
		n := b.N / devices
		if i < b.N%devices {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload, _ := json.Marshal(wire.Event{Type: wire.TypeEvent, Device: id, Kind: wire.EventDisplayed, Time: time.Now().UTC(), AlertID: "a-1"})
			var last paho.Token
			for j := 0; j < n; j++ {
				last = c.Publish(wire.EventTopic(id), 1, false, payload)
				if j%500 == 499 {
					last.Wait() // bound what is in flight
				}
			}
			if last != nil {
				last.Wait()
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		ing, drop, bad := a.Registry.IngestStats()
		if drop != 0 || bad != 0 {
			b.Fatalf("dropped %d bad %d", drop, bad)
		}
		if ing-before >= int64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("ingested %d of %d", ing-before, b.N)
		}
		<-tick.C
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// TestIngestBurstLosesNothing: 20 devices publish 500 events each as fast
// as they can into a central whose ingest queue holds 64 messages. Every
// event must be applied: the embedded broker's in-process subscription
// slows the publishers down instead of dropping (a network subscriber's
// write queue in mochi drops when full, QoS 1 included).
func TestIngestBurstLosesNothing(t *testing.T) {
	a := app.NewTest(t, func(c *app.Config) { c.NoFitCheck, c.IngestQueue = true, 64 })
	const devices, each = 20, 500
	var wg sync.WaitGroup
	before, _, _ := a.Registry.IngestStats()
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("dev-%02d", i)
		pw, err := a.RegisterDevice(id, "br-1", "13")
		if err != nil {
			t.Fatal(err)
		}
		c := paho.NewClient(paho.NewClientOptions().AddBroker(a.BrokerURL()).SetClientID("kiosk-" + id).SetUsername(id).
			SetPassword(pw).SetProtocolVersion(4))
		if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		defer c.Disconnect(0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload, _ := json.Marshal(wire.Event{Type: wire.TypeEvent, Device: id, Kind: wire.EventReceived, Time: time.Now().UTC(), Scope: "all", Seq: 1})
			var toks []paho.Token
			for j := 0; j < each; j++ {
				toks = append(toks, c.Publish(wire.EventTopic(id), 1, false, payload))
			}
			for _, tok := range toks {
				tok.Wait()
			}
		}()
	}
	wg.Wait()
	changes := a.Registry.Subscribe(context.Background())
	waitChange(t, "all events applied", changes, func() bool {
		ing, _, _ := a.Registry.IngestStats()
		return ing-before == devices*each
	})
	if _, drop, bad := a.Registry.IngestStats(); drop != 0 || bad != 0 {
		t.Fatalf("dropped %d, bad %d", drop, bad)
	}
}
