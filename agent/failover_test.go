package agent

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// deadBrokerURL is a loopback port that refuses connections: it was
// listening a moment ago and is closed now.
func deadBrokerURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "tcp://" + addr
}

// listAgent starts an agent with a real clock on the broker list urls.
func listAgent(t *testing.T, sg *wire.Signer, urls []string, mod func(*Options)) *Agent {
	t.Helper()
	return brokerAgent(t, sg, "", func(o *Options) {
		o.BrokerURL, o.BrokerURLs = "", urls
		if mod != nil {
			mod(o)
		}
	})
}

// The first node of the list is down: the agent connects through the
// second and shows the retained state it finds there.
func TestBrokerListSkipsDeadNode(t *testing.T) {
	testbroker.Each(t, func(t *testing.T, b *testbroker.Broker) {
		sg := testSigner(t, 1)
		central := mqttClient(t, b.URL, "central-"+b.Kind)
		now := time.Now().UTC()
		publish(t, central, stateAll, sealSnap(t, sg, wire.All, 1, now,
			withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour)))), true)

		a := listAgent(t, sg, []string{deadBrokerURL(t), b.URL}, nil)
		waitFor(t, a, "alert from the second node", screenIs(a, "alert:a-0110"))
		if got := a.Broker(); got != b.URL {
			t.Errorf("Broker() = %q, want the live node %q", got, b.URL)
		}
	})
}

// Two live nodes hold the same retained state, as a cluster does. The
// agent sits on the first; the state moves on (seq 2) while it is there,
// reaching the second node only; then the first node dies. The agent
// reconnects to the second and converges on seq 2.
func TestBrokerListFailover(t *testing.T) {
	sg := testSigner(t, 1)
	nodeA, nodeB := testbroker.Mochi(t), testbroker.Mosquitto(t)
	centralA := mqttClient(t, nodeA.URL, "central-a")
	centralB := mqttClient(t, nodeB.URL, "central-b")
	now := time.Now().UTC()
	snap1 := sealSnap(t, sg, wire.All, 1, now, withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour))))
	publish(t, centralA, stateAll, snap1, true)
	publish(t, centralB, stateAll, snap1, true)

	a := listAgent(t, sg, []string{nodeA.URL, nodeB.URL}, nil)
	waitFor(t, a, "seq 1 from node A", screenIs(a, "alert:a-0110"))
	if got := a.Broker(); got != nodeA.URL {
		t.Fatalf("Broker() = %q, want the first node %q", got, nodeA.URL)
	}

	publish(t, centralB, stateAll, sealSnap(t, sg, wire.All, 2, time.Now().UTC(),
		withAlerts(alert("b-0110", 90, time.Time{}, now.Add(time.Hour)))), true)
	nodeA.Close()

	waitFor(t, a, "seq 2 from node B", screenIs(a, "alert:b-0110"))
	if got := a.Cache().Seq(wire.All); got != 2 {
		t.Errorf("persisted seq %d, want 2", got)
	}
	waitFor(t, a, "connected to node B", func() bool { return a.Broker() == nodeB.URL })
	if c := a.Stats().Connects; c < 2 {
		t.Errorf("Connects = %d, want a second connect", c)
	}
}

// refuser refuses the first n subscriptions of one filter, then grants it.
// It counts read checks until the first grant (mochi also checks reads
// when it delivers the retained message, after the grant).
type refuser struct {
	mu      sync.Mutex
	filter  string
	n, seen int
}

func (r *refuser) acl(_, topic string, write bool) bool {
	if write || topic != r.filter {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen > r.n {
		return true
	}
	r.seen++
	return r.seen > r.n
}

func (r *refuser) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

// The broker refuses the subscription to state/all three times (SUBACK
// 0x80, which paho does not report as an error). The agent counts each
// refusal, retries after a backoff on its clock, ends up subscribed and
// shows the retained alert. Only the refused filter is retried.
func TestSubscribeRefusedIsRetried(t *testing.T) {
	const refusals = 3
	r := &refuser{filter: stateAll, n: refusals}
	b := testbroker.MochiACL(t, r.acl)
	sg := testSigner(t, 1)
	central := mqttClient(t, b.URL, "central")
	now := time.Now().UTC()
	publish(t, central, stateAll, sealSnap(t, sg, wire.All, 1, now,
		withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour)))), true)

	fc := clock.NewFake(now)
	o := baseOptions(t, keyRing(t, sg))
	o.BrokerURL = b.URL
	o.Clock = fc
	o.SubscribeRetryMin, o.SubscribeRetryMax = time.Second, 2*time.Second
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)

	for i := 1; i <= refusals; i++ {
		waitFor(t, a, "refusal counted", func() bool { return a.Stats().SubscribeFailures >= i })
		if c := a.Stats().Connects; c != 0 {
			t.Fatalf("agent reports connected (Connects %d) with a refused subscription", c)
		}
		// the retry timer exists before the count moves; the backoff
		// is capped at 2 s
		fc.Advance(2 * time.Second)
	}
	waitFor(t, a, "connected", func() bool { return a.Stats().Connects == 1 })
	waitFor(t, a, "retained alert after the retries", screenIs(a, "alert:a-0110"))
	if got, want := r.attempts(), refusals+1; got != want {
		t.Errorf("broker saw %d subscriptions to %s, want %d", got, stateAll, want)
	}
	if got := a.Stats().SubscribeFailures; got != refusals {
		t.Errorf("SubscribeFailures = %d, want %d", got, refusals)
	}
}

// A refused subscription is retried no longer than the agent lives:
// Close returns while the broker keeps refusing.
func TestSubscribeRetryStopsOnClose(t *testing.T) {
	r := &refuser{filter: stateAll, n: 1 << 30}
	b := testbroker.MochiACL(t, r.acl)
	sg := testSigner(t, 1)
	o := baseOptions(t, keyRing(t, sg))
	o.BrokerURL = b.URL
	o.Clock = clock.NewFake(time.Now())
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a) // its cleanup fails the test if Close or Run hang
	waitFor(t, a, "refusal counted", func() bool { return a.Stats().SubscribeFailures >= 1 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := r.attempts(); n != 1 {
		t.Errorf("%d subscribe attempts without advancing the clock, want 1", n)
	}
}

// Options refuse a broker list that cannot work, naming the entry.
func TestBrokerListOptions(t *testing.T) {
	sg := testSigner(t, 1)
	cases := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"both", func(o *Options) { o.BrokerURL, o.BrokerURLs = "tcp://a:1883", []string{"tcp://b:1883"} }, "BrokerURLs: BrokerURL is set too"},
		{"bad entry", func(o *Options) { o.BrokerURLs = []string{"tcp://a:1883", "http://b:80"} }, `BrokerURLs[1]: scheme "http"`},
		{"no host", func(o *Options) { o.BrokerURLs = []string{"tcp://"} }, `BrokerURLs[0]: "tcp://" is not a URL with a host`},
		{"duplicate", func(o *Options) { o.BrokerURLs = []string{"tcp://a:1883", "tcp://a:1883"} }, "BrokerURLs[1]: \"tcp://a:1883\" is listed twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions(t, keyRing(t, sg))
			tc.mod(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
