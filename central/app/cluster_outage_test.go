//go:build cluster

package app_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	deploy "github.com/atmguard/kiosk/deploy/broker"
	"github.com/atmguard/kiosk/internal/wire"
)

// forwarder is a TCP load balancer in front of the cluster: each new
// connection goes to the first node that accepts it.
type forwarder struct {
	ln      net.Listener
	targets []string
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

func newForwarder(t *testing.T, targets []string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, targets: targets, conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go func() { // ends when Close closes the listener
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() { defer f.wg.Done(); f.serve(c) }()
		}
	}()
	t.Cleanup(f.Close)
	return f
}

func (f *forwarder) serve(c net.Conn) {
	var up net.Conn
	for _, tgt := range f.targets {
		var err error
		if up, err = net.DialTimeout("tcp", tgt, time.Second); err == nil {
			break
		}
	}
	if up == nil {
		c.Close()
		return
	}
	f.mu.Lock()
	f.conns[c], f.conns[up] = true, true
	f.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); up.Close(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.Close(); done <- struct{}{} }()
	<-done
	<-done
	f.mu.Lock()
	delete(f.conns, c)
	delete(f.conns, up)
	f.mu.Unlock()
}

func (f *forwarder) Close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// watchScopes subscribes to the given state scopes as a device would (NATS
// refuses a device "state/#": its permissions list the scopes), verifying
// each snapshot's signature, and re-subscribes on every connect.
func watchScopes(t *testing.T, brokerURL, user, pw string, kr wire.KeyRing, scopes ...string) <-chan snapMsg {
	t.Helper()
	ch := make(chan snapMsg, 10000)
	o := paho.NewClientOptions().AddBroker(brokerURL).SetClientID("kiosk-" + user).SetUsername(user).SetPassword(pw).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(500 * time.Millisecond)
	o.SetOnConnectHandler(func(c paho.Client) {
		for _, sc := range scopes {
			c.Subscribe(wire.TopicPrefix+"state/"+sc, 1, func(_ paho.Client, m paho.Message) {
				tp, err := wire.ParseTopic(m.Topic())
				if err != nil {
					ch <- snapMsg{err: err}
					return
				}
				s, err := wire.OpenSnapshot(m.Payload(), kr, tp.Scope)
				ch <- snapMsg{scope: tp.Scope.String(), snap: s, err: err}
			})
		}
	})
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return ch
}

// TestClusterApproveDuringNodeLoss: central reaches a 3-node nats-server
// cluster through a forwarder; its node is SIGKILLed and an alert is
// approved before central has reconnected. The alert must reach a
// subscriber on a surviving node once central is back.
func TestClusterApproveDuringNodeLoss(t *testing.T) {
	if _, err := os.Stat(deploy.NATSBinary); err != nil {
		t.Fatalf("nats-server not installed (deploy/scripts/install-deps.sh cluster): %v", err)
	}
	users := map[string]string{"central": "central-pw-for-cluster", "watch-1": "watch-pw-for-cluster"}
	cl, err := deploy.StartNATSCluster(context.Background(), t.TempDir(), 3, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	var addrs []string
	for _, nd := range cl.Nodes {
		addrs = append(addrs, nd.MQTTAddr)
	}
	lb := newForwarder(t, addrs)
	a := app.NewTest(t, func(c *app.Config) {
		c.MQTTAddr, c.BrokerURL, c.BrokerUser, c.BrokerPassword = "", "tcp://"+lb.ln.Addr().String(), "central", users["central"]
		c.NoFitCheck = true
		if testing.Verbose() {
			c.Logger = nil
		}
	})
	ctx := context.Background()
	kr := a.Keys.KeyRing(keys.Signing)
	snaps := watchScopes(t, "tcp://"+addrs[1], "watch-1", users["watch-1"], kr, "all", "branch/br-1")
	pub, _ := a.NewTestUser(t, "pub", central.RolePublisher)
	appr, _ := a.NewTestUser(t, "appr", central.RoleApprover)
	wait := func(what string, d time.Duration, cond func(*wire.Snapshot) bool) {
		t.Helper()
		timeout := time.After(d)
		for {
			select {
			case m := <-snaps:
				if m.err != nil {
					t.Fatalf("snapshot refused: %v", m.err)
				}
				if cond(m.snap) {
					return
				}
			case <-timeout:
				t.Fatalf("%s: not received in %v (published %d, errors %d, connected %v)", what, d, a.Alerts.Published(), a.Alerts.PublishErrors(), a.MQTT.Connected())
			}
		}
	}

	alA, err := a.Alerts.CreateDraft(ctx, pub, alertInput(central.Target{Branches: []string{"br-1"}}, "支店の注意"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Alerts.Publish(ctx, pub, alA.ID, alA.Version); err != nil {
		t.Fatalf("publish before the node loss: %v", err)
	}
	wait("alert A", 2*time.Minute, func(s *wire.Snapshot) bool { return hasAlert(s, alA.ID) })

	alB, err := a.Alerts.CreateDraft(ctx, pub, alertInput(central.Target{All: true}, "全国の注意"))
	if err != nil {
		t.Fatal(err)
	}
	if alB, err = a.Alerts.SubmitForApproval(ctx, pub, alB.ID, alB.Version); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cl.Nodes[0].Kill(syscall.SIGKILL)
	// Central is on node a unless a flap at start moved it: approve as
	// soon as it noticed the loss, or after 5 s anyway.
	for t0 := time.Now(); a.MQTT.Connected() && time.Since(t0) < 5*time.Second; {
		time.Sleep(5 * time.Millisecond)
	}
	_, err = a.Alerts.Approve(ctx, appr, alB.ID, alB.Version)
	t.Logf("approve %v after the kill: %v", time.Since(killed).Round(time.Millisecond), err)
	if err != nil && !errors.Is(err, central.ErrUnavailable) {
		t.Fatal(err)
	}
	wait("alert B", 2*time.Minute, func(s *wire.Snapshot) bool { return hasAlert(s, alB.ID) })
	t.Logf("alert B received %v after the kill; central connected %v, published %d, errors %d",
		time.Since(killed).Round(time.Millisecond), a.MQTT.Connected(), a.Alerts.Published(), a.Alerts.PublishErrors())
}
