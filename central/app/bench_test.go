package app_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/internal/wire"
)

// BenchmarkFanout is the time from "re-sign the scope" (store seq, sign,
// publish retained QoS 1, broker ack) until N subscribed devices have all
// received and verified the new snapshot.
func BenchmarkFanout(b *testing.B) {
	for _, tc := range []struct {
		broker string
		n      int
	}{{"embedded", 50}, {"embedded", 500}, {"mosquitto", 50}, {"mosquitto", 500}} {
		b.Run(fmt.Sprintf("%s/N=%d", tc.broker, tc.n), func(b *testing.B) {
			var a *app.App
			url := ""
			if tc.broker == "mosquitto" {
				mq := testbroker.Mosquitto(b)
				url = mq.URL
				a = app.NewTest(b, func(c *app.Config) { c.BrokerURL, c.MQTTAddr, c.NoFitCheck = mq.URL, "", true })
			} else {
				a = app.NewTest(b, func(c *app.Config) { c.NoFitCheck = true })
				url = a.BrokerURL()
			}
			ctx := context.Background()
			pub, _ := a.NewTestUser(b, "pub", central.RolePublisher)
			al, err := a.Alerts.CreateDraft(ctx, pub, alertInput(central.Target{Branches: []string{"br-1"}}, "注意"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := a.Alerts.Publish(ctx, pub, al.ID, al.Version); err != nil {
				b.Fatal(err)
			}
			kr := a.Keys.KeyRing(keys.Signing)
			scope, _ := wire.BranchScope("br-1")
			var maxSeq atomic.Uint64
			got := make(chan uint64, tc.n*4)
			var clients []paho.Client
			for i := 0; i < tc.n; i++ {
				id := fmt.Sprintf("dev-%04d", i)
				pw := "x"
				if tc.broker == "embedded" {
					if pw, err = a.RegisterDevice(id, "br-1", "13"); err != nil {
						b.Fatal(err)
					}
				}
				o := paho.NewClientOptions().AddBroker(url).SetClientID("kiosk-" + id).SetUsername(id).SetPassword(pw).SetProtocolVersion(4).SetCleanSession(true)
				o.SetOnConnectHandler(func(c paho.Client) {
					c.Subscribe(wire.StateTopic(scope), 1, func(_ paho.Client, m paho.Message) {
						s, err := wire.OpenSnapshot(m.Payload(), kr, scope)
						if err != nil {
							b.Errorf("%s: %v", id, err)
							return
						}
						got <- s.Seq
					})
				})
				c := paho.NewClient(o)
				if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					b.Fatalf("connect %s: %v", id, tok.Error())
				}
				clients = append(clients, c)
			}
			b.Cleanup(func() {
				for _, c := range clients {
					c.Disconnect(0)
				}
			})
			// Everyone has the retained snapshot first.
			for i := 0; i < tc.n; i++ {
				if s := <-got; s > maxSeq.Load() {
					maxSeq.Store(s)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := a.Alerts.Reissue(ctx, true); err != nil {
					b.Fatal(err)
				}
				want := maxSeq.Load() + 1
				for have := 0; have < tc.n; {
					select {
					case s := <-got:
						if s == want {
							have++
						}
					case <-time.After(60 * time.Second):
						b.Fatalf("only %d of %d got seq %d", have, tc.n, want)
					}
				}
				maxSeq.Store(want)
			}
		})
	}
}
