//go:build cluster

package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/deploy/fleet"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

// clusterClient is a paho client that lists every node, like a production
// agent (or central) configured with the cluster's URLs, with a persistent
// session and subscriptions made in the on-connect handler.
type clusterClient struct {
	id   string
	c    mqtt.Client
	mu   sync.Mutex
	last map[string]string // topic -> last payload
	cond *sync.Cond
	subs []string
	// subErrs are subscription failures seen in the on-connect handler.
	subErrs []string
}

func newClusterClient(t *testing.T, urls []string, user, pass string, subs ...string) *clusterClient {
	t.Helper()
	cc := &clusterClient{id: user, last: map[string]string{}, subs: subs}
	cc.cond = sync.NewCond(&cc.mu)
	o := mqtt.NewClientOptions().SetClientID("kiosk-" + user).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(2 * time.Second).
		SetConnectTimeout(5 * time.Second).SetKeepAlive(10 * time.Second).SetOrderMatters(false)
	for _, u := range urls {
		o.AddBroker(u)
	}
	handler := func(_ mqtt.Client, m mqtt.Message) {
		cc.mu.Lock()
		cc.last[m.Topic()] = string(m.Payload())
		cc.cond.Broadcast()
		cc.mu.Unlock()
	}
	o.SetDefaultPublishHandler(handler)
	o.SetOnConnectHandler(func(c mqtt.Client) {
		for _, s := range cc.subs {
			go func() { // ends when the subscription is granted, the link drops, or after 40 tries
				// Right after a node loss nats-server may refuse a QoS 1
				// subscription (SUBACK 0x80) while the session's consumer
				// elects a new leader: retry, as a production client must.
				for try := 0; try < 40; try++ {
					tok := c.Subscribe(s, 1, handler)
					tok.Wait()
					res := tok.(*mqtt.SubscribeToken).Result()
					if tok.Error() == nil && res[s] != 0x80 {
						return
					}
					cc.mu.Lock()
					cc.subErrs = append(cc.subErrs, fmt.Sprintf("%s: err=%v suback=%#x", s, tok.Error(), res[s]))
					cc.mu.Unlock()
					if !c.IsConnectionOpen() {
						return // the next on-connect subscribes again
					}
					time.Sleep(500 * time.Millisecond)
				}
			}()
		}
	})
	cc.c = mqtt.NewClient(o)
	tok := cc.c.Connect()
	if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", user, tok.Error())
	}
	t.Cleanup(func() { cc.c.Disconnect(50) })
	return cc
}

// waitFor blocks until topic holds want or the deadline passes.
func (cc *clusterClient) waitFor(topic, want string, deadline time.Time) error {
	stop := time.AfterFunc(time.Until(deadline), func() { cc.mu.Lock(); cc.cond.Broadcast(); cc.mu.Unlock() })
	defer stop.Stop()
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for cc.last[topic] != want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s = %q, want %q (subscribe failures: %q)", cc.id, topic, cc.last[topic], want, cc.subErrs)
		}
		cc.cond.Wait()
	}
	return nil
}

// publish retries until the broker acknowledges: a paho token can complete
// without delivery across a reconnect, so "acknowledged" is what counts.
func (cc *clusterClient) publish(topic string, retained bool, payload string, deadline time.Time) error {
	var err error
	for time.Now().Before(deadline) {
		tok := cc.c.Publish(topic, 1, retained, payload)
		if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			return nil
		}
		err = tok.Error()
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("publish %s: not acknowledged before deadline (last error %v)", topic, err)
}

// TestClusterSurvivesNodeLoss runs a 3-node nats-server MQTT cluster on
// loopback with devices spread over the nodes and central on one of them,
// SIGKILLs a node, and checks that retained state, QoS 1 delivery, status
// ingest and the per-device permissions keep working.
func TestClusterSurvivesNodeLoss(t *testing.T) {
	if _, err := os.Stat(NATSBinary); err != nil {
		t.Skip("nats-server not installed (deploy/scripts/install-deps.sh cluster)")
	}
	const nDev = 30
	users := map[string]string{"central": "central-pw"}
	var devs []string
	for i := 0; i < nDev+2; i++ { // the last two connect only at the end
		d := fmt.Sprintf("atm-13-%04d", i)
		// No '.' in ids here: Debian's nats-server 2.9.10 refuses MQTT
		// topics containing '.' (2.10 maps it to "//"); measured, see
		// docs/OPERATIONS.md.
		devs = append(devs, d)
		users[d] = "pw-" + d
	}
	start := time.Now()
	cl, err := StartNATSCluster(context.Background(), t.TempDir(), 3, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Stop()
		if t.Failed() {
			for _, n := range cl.Nodes {
				var keep []string
				for _, l := range strings.Split(n.Log(), "\n") {
					if strings.Contains(l, "[ERR]") || strings.Contains(l, "[WRN]") {
						keep = append(keep, l)
					}
				}
				if len(keep) > 40 {
					keep = keep[len(keep)-40:]
				}
				log := strings.Join(keep, "\n")
				t.Logf("--- %s log tail:\n%s", n.Node.Name, log)
			}
		}
	})
	t.Logf("3-node cluster healthy after %v", time.Since(start).Round(time.Millisecond))
	urls := cl.MQTTURLs()
	rot := func(i int) []string { // spread first choices over the nodes
		var r []string
		for j := range urls {
			r = append(r, urls[(i+j)%len(urls)])
		}
		return r
	}

	// Central first prefers node a (the one we kill).
	central := newClusterClient(t, rot(0), "central", users["central"], "kiosk/v1/device/+/status")
	deadline := time.Now().Add(2 * time.Minute)
	if err := central.publish("kiosk/v1/state/all", true, "seq-1", deadline); err != nil {
		t.Fatal(err)
	}
	clients := make([]*clusterClient, nDev)
	for i, d := range devs[:nDev] {
		clients[i] = newClusterClient(t, rot(i), d, users[d], "kiosk/v1/state/all", "kiosk/v1/device/"+d+"/cmd")
	}
	for _, c := range clients {
		if err := c.waitFor("kiosk/v1/state/all", "seq-1", deadline); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("retained seq-1 on all %d devices", nDev)

	// Kill node a: central and a third of the devices lose their broker.
	killed := time.Now()
	cl.Nodes[0].Kill(syscall.SIGKILL)
	t.Logf("killed %s", cl.Nodes[0].Node.Name)

	if err := central.publish("kiosk/v1/state/all", true, "seq-2", deadline); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if err := c.waitFor("kiosk/v1/state/all", "seq-2", deadline); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seq-2 on all %d devices %v after the kill", nDev, time.Since(killed).Round(time.Millisecond))

	// QoS 1 command to one device on the killed node, and status from every
	// device back to central.
	target := clients[3] // rot(3) prefers node a
	if err := central.publish("kiosk/v1/device/"+target.id+"/cmd", false, "identify-1", deadline); err != nil {
		t.Fatal(err)
	}
	if err := target.waitFor("kiosk/v1/device/"+target.id+"/cmd", "identify-1", deadline); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		if err := c.publish("kiosk/v1/device/"+c.id+"/status", true, "online:"+c.id, deadline); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clients {
		if err := central.waitFor("kiosk/v1/device/"+c.id+"/status", "online:"+c.id, deadline); err != nil {
			t.Fatal(err)
		}
	}

	// A device subscribing to the internal delivery subjects directly must
	// not see another device's QoS 1 commands.
	snoop := newClusterClient(t, rot(2), devs[7], users[devs[7]], "$MQTT/sub/#", "kiosk/v1/device/+/cmd", "kiosk/v1/device/"+devs[7]+"/cmd")
	if err := central.publish("kiosk/v1/device/"+devs[8]+"/cmd", false, "secret-for-8", deadline); err != nil {
		t.Fatal(err)
	}
	if err := central.publish("kiosk/v1/device/"+devs[7]+"/cmd", false, "own-7", deadline); err != nil {
		t.Fatal(err)
	}
	if err := snoop.waitFor("kiosk/v1/device/"+devs[7]+"/cmd", "own-7", deadline); err != nil {
		t.Fatal(err)
	}
	snoop.mu.Lock()
	for topic, v := range snoop.last {
		if v == "secret-for-8" {
			t.Errorf("device %s read another device's command on %s", devs[7], topic)
		}
	}
	snoop.mu.Unlock()

	// Permissions hold on the cluster: a device cannot forge another's
	// status or a state snapshot. The forged publishes come first; the
	// sentinel proves the earlier ones were dropped, not slow (NATS keeps
	// one publisher's order on one subscription).
	forger := clients[1]
	forger.c.Publish("kiosk/v1/device/"+clients[2].id+"/status", 1, true, "forged").WaitTimeout(5 * time.Second)
	forger.c.Publish("kiosk/v1/state/all", 1, true, "forged").WaitTimeout(5 * time.Second)
	if err := forger.publish("kiosk/v1/device/"+forger.id+"/status", true, "sentinel", deadline); err != nil {
		t.Fatal(err)
	}
	if err := central.waitFor("kiosk/v1/device/"+forger.id+"/status", "sentinel", deadline); err != nil {
		t.Fatal(err)
	}
	central.mu.Lock()
	forged := central.last["kiosk/v1/device/"+clients[2].id+"/status"]
	central.mu.Unlock()
	if forged == "forged" {
		t.Fatal("a device forged another device's status through the cluster")
	}

	// A device that connects now (to a surviving node) gets the current
	// retained state at once; so does one on node a after it comes back.
	retainedOn(t, rot(1), devs[nDev], users[devs[nDev]], "seq-2", deadline)
	if err := cl.Nodes[0].Start(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Nodes[0].WaitHealthy(context.Background()); err != nil {
		t.Fatal(err)
	}
	retainedOn(t, urls[:1], devs[nDev+1], users[devs[nDev+1]], "seq-2", deadline)
	if state := forgedState(central); strings.Contains(state, "forged") {
		t.Fatal(state)
	}
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}

// retainedOn connects a device that was never connected before, subscribes
// to state/all and checks the retained snapshot is the current one. Right
// after a node loss a surviving node was seen (once in ~6 runs) to hand out
// the previous retained message; the agent's seq rule makes that harmless
// (an older snapshot is never accepted over a newer one, and central's next
// publication corrects it), so the check retries with a new connection and
// logs how long the stale answer lasted.
func retainedOn(t *testing.T, urls []string, dev, pass, want string, deadline time.Time) {
	t.Helper()
	start := time.Now()
	for try := 1; ; try++ {
		c := newClusterClient(t, urls, dev, pass, "kiosk/v1/state/all")
		err := c.waitFor("kiosk/v1/state/all", want, time.Now().Add(5*time.Second))
		c.c.Disconnect(50)
		if err == nil {
			if try > 1 {
				t.Logf("%s: current retained state after %d connections, %v", dev, try, time.Since(start).Round(time.Millisecond))
			}
			return
		}
		t.Logf("%s: stale retained state: %v", dev, err)
		if time.Now().After(deadline) {
			t.Fatalf("%s: never got the current retained state", dev)
		}
		time.Sleep(time.Second)
	}
}

func forgedState(c *clusterClient) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last["kiosk/v1/state/all"]
}

// failover is what a TCP load balancer in front of the cluster does: each
// new connection goes to the first node that accepts it. Central takes one
// broker URL, so this is how it reaches the cluster here; the agents list
// the nodes themselves (broker.urls).
type failover struct {
	ln      net.Listener
	targets []string
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

func newFailover(t *testing.T, targets []string) *failover {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &failover{ln: ln, targets: targets, conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go func() { // owned by f: ends when Close closes the listener
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

func (f *failover) URL() string { return "tcp://" + f.ln.Addr().String() }

func (f *failover) serve(c net.Conn) {
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

func (f *failover) Close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// clusterAgents are real agent cores listing every node of the cluster
// (agent.Options.BrokerURLs, config broker.urls), node a first.
type clusterAgents struct {
	agents []*agent.Agent
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   atomic.Int64
}

// shownPresenter is the agent's headless presenter plus a report the first
// time each alert reaches the screen.
type shownPresenter struct {
	inner  *agent.HeadlessPresenter
	index  int
	report func(alertID string, index int)
	mu     sync.Mutex
	seen   map[string]bool
}

func (p *shownPresenter) Show(ctx context.Context, s display.Screen) (string, error) {
	h, err := p.inner.Show(ctx, s)
	if err != nil || s.Kind != display.KindAlert || s.Alert == nil {
		return h, err
	}
	p.mu.Lock()
	first := !p.seen[s.Alert.ID]
	p.seen[s.Alert.ID] = true
	p.mu.Unlock()
	if first {
		p.report(s.Alert.ID, p.index)
	}
	return h, nil
}

func startClusterAgents(t *testing.T, devs []fleet.Device, urls []string, centralURL string, kr wire.KeyRing, report func(string, int)) *clusterAgents {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ca := &clusterAgents{cancel: cancel}
	dir := t.TempDir()
	for i, d := range devs {
		a, err := agent.New(agent.Options{
			DeviceID: d.ID, Branch: d.Branch, Pref: d.Pref, AgentVersion: "cluster-test",
			BrokerURLs: urls, Username: d.ID, Password: d.Password, Keys: kr,
			CentralURL: centralURL, CachePath: filepath.Join(dir, d.ID+".db"),
			Logger:               slog.New(slog.DiscardHandler),
			Presenter:            &shownPresenter{inner: agent.NewHeadlessPresenter(), index: i, report: report, seen: map[string]bool{}},
			MaxReconnectInterval: 2 * time.Second, ReconnectJitter: 500 * time.Millisecond,
		})
		if err != nil {
			ca.stop()
			t.Fatal(err)
		}
		ca.agents = append(ca.agents, a)
		ca.wg.Add(1)
		go func() {
			defer ca.wg.Done()
			if err := a.Run(ctx); err != nil {
				ca.errs.Add(1)
			}
		}()
	}
	t.Cleanup(ca.stop)
	return ca
}

func (ca *clusterAgents) stop() {
	ca.cancel()
	ca.wg.Wait()
	for _, a := range ca.agents {
		a.Close()
	}
}

// TestClusterRealAgentsAndCentral runs central (external broker mode,
// through a failover address) and real agent cores listing the three node
// URLs against the 3-node cluster, all initially on node a; kills node a;
// and checks that every agent moved to another node by itself, that
// central's next alert is displayed by every agent and that central sees
// them all online again.
func TestClusterRealAgentsAndCentral(t *testing.T) {
	if _, err := os.Stat(NATSBinary); err != nil {
		t.Skip("nats-server not installed (deploy/scripts/install-deps.sh cluster)")
	}
	const n = 12
	start := time.Now()
	users := map[string]string{"central": "central-pw-for-cluster"}
	cl, err := StartNATSCluster(context.Background(), t.TempDir(), 3, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	var addrs []string
	for _, nd := range cl.Nodes {
		addrs = append(addrs, nd.MQTTAddr)
	}
	lb := newFailover(t, addrs)

	a := app.NewTest(t, func(c *app.Config) {
		c.MQTTAddr, c.BrokerURL, c.BrokerUser, c.BrokerPassword = "", lb.URL(), "central", users["central"]
	})
	ctx := context.Background()
	admin, err := fleet.Admin(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	staff, err := fleet.NewStaff(ctx, a, admin)
	if err != nil {
		t.Fatal(err)
	}
	devs := fleet.MakeDevices(n)
	if err := fleet.Register(a, devs); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs { // the operator adds the enrolled devices to the cluster
		users[d.ID] = d.Password
	}
	if err := cl.SetUsers(users); err != nil {
		t.Fatal(err)
	}

	var as *clusterAgents
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	shown := map[string]map[int]bool{}
	report := func(alertID string, index int) {
		mu.Lock()
		if shown[alertID] == nil {
			shown[alertID] = map[int]bool{}
		}
		shown[alertID][index] = true
		cond.Broadcast()
		mu.Unlock()
	}
	waitShown := func(id string) time.Duration {
		t.Helper()
		t0 := time.Now()
		stop := time.AfterFunc(2*time.Minute, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
		defer stop.Stop()
		mu.Lock()
		defer mu.Unlock()
		for len(shown[id]) < n {
			if time.Since(t0) > 2*time.Minute {
				fl, _ := a.Registry.Fleet(ctx, admin, central.FleetQuery{})
				t.Fatalf("alert %s shown on %d of %d agents; central online %d, snapshots published %d, publish errors %d; agent stats %+v",
					id, len(shown[id]), n, fl.Online, a.Alerts.Published(), a.Alerts.PublishErrors(), as.agents[0].Stats())
			}
			cond.Wait()
		}
		return time.Since(t0)
	}
	waitOnline := func() {
		t.Helper()
		for t0 := time.Now(); ; time.Sleep(100 * time.Millisecond) {
			fl, err := a.Registry.Fleet(ctx, admin, central.FleetQuery{})
			if err == nil && fl.Online == n {
				return
			}
			if time.Since(t0) > 2*time.Minute {
				t.Fatalf("online at central: %+v (%v)", fl, err)
			}
		}
	}
	var nodeURLs []string
	for _, addr := range addrs {
		nodeURLs = append(nodeURLs, "tcp://"+addr)
	}
	as = startClusterAgents(t, devs, nodeURLs, a.URL(), a.Keys.KeyRing(keys.Signing), report)
	waitOnline()
	// node a is first in every list; an agent whose connect node a refused
	// (a user reload still in progress) has already moved on
	onA := 0
	for _, ag := range as.agents {
		if ag.Broker() == nodeURLs[0] {
			onA++
		}
	}
	if onA == 0 {
		t.Fatalf("no agent on node a (%s), the first in their lists: the kill would test nothing", nodeURLs[0])
	}
	t.Logf("%d of %d agents on node a before the kill", onA, n)
	alA, _, err := fleet.PublishAlert(ctx, a, staff, "クラスタ試験 A")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("alert A on all %d agents in %v", n, waitShown(alA.ID))

	// Two urgent alerts of equal priority: the scheduler keeps showing the
	// first, so end A before the node loss.
	if _, err := a.Alerts.Cancel(ctx, staff.Publisher, alA.ID, "test phase over"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cl.Nodes[0].Kill(syscall.SIGKILL) // central and every agent were on node a
	// Central's MQTT client fails over like the agents; publish once it
	// reports healthy again. (Approving while it is disconnected also
	// works: the alert is saved and central re-publishes unacknowledged
	// scopes every 10 s and on every reconnect; central/app's
	// TestClusterApproveDuringNodeLoss covers that case.)
	// Wait for central to notice the loss (its connection through the
	// failover address is closed at once) and to be connected again.
	for t0 := time.Now(); a.MQTT.Connected() && time.Since(t0) < 10*time.Second; {
		time.Sleep(time.Millisecond)
	}
	for !a.MQTT.Connected() {
		if time.Since(killed) > 2*time.Minute {
			t.Fatal("central not reconnected 2 min after the node loss")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("central connected again %v after the kill", time.Since(killed).Round(time.Millisecond))
	alB, _, err := fleet.PublishAlert(ctx, a, staff, "クラスタ試験 B")
	if err != nil {
		t.Fatalf("publish after failover: %v", err)
	}
	waitShown(alB.ID)
	t.Logf("alert B (published after killing node a) on all %d agents %v after the kill", n, time.Since(killed).Round(time.Millisecond))
	waitOnline()
	for i, ag := range as.agents {
		if b := ag.Broker(); b == nodeURLs[0] || b == "" {
			t.Errorf("agent %d on %q after node a was killed", i, b)
		}
	}
	if n := as.errs.Load(); n != 0 {
		t.Fatalf("%d agents failed", n)
	}
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}
