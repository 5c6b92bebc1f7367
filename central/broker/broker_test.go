package broker_test

import (
	"context"
	"crypto/subtle"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/central/broker"
	"github.com/atmguard/kiosk/internal/wire"
)

type passwords map[string]string

func (p passwords) CheckDevicePassword(id, pw string) bool {
	want, ok := p[id]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pw)) == 1
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startBroker(t *testing.T, dir string) *broker.Embedded {
	t.Helper()
	e, err := broker.StartEmbedded(broker.Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: quiet(),
		Auth: passwords{"d1": "pw1", "d2": "pw2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

type recorder struct {
	mu   sync.Mutex
	msgs map[string][]string
	ch   chan string
}

func newRecorder() *recorder {
	return &recorder{msgs: map[string][]string{}, ch: make(chan string, 100)}
}

func (r *recorder) handle(topic string, payload []byte) {
	r.mu.Lock()
	r.msgs[topic] = append(r.msgs[topic], string(payload))
	r.mu.Unlock()
	r.ch <- topic
}

func (r *recorder) get(topic string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs[topic]...)
}

func dialCentral(t *testing.T, e *broker.Embedded, subs map[string]broker.Handler) *broker.Client {
	t.Helper()
	u, p := e.CentralCredentials()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := broker.Dial(ctx, broker.ClientConfig{URL: e.URL(), ClientID: "central-test", Username: u, Password: p,
		Subscriptions: subs, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func device(t *testing.T, e *broker.Embedded, clientID, user, pass string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(e.URL()).SetClientID(clientID).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	tok.WaitTimeout(20 * time.Second)
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(0) })
	}
	return c, tok.Error()
}

func TestDeviceAuthentication(t *testing.T) {
	e := startBroker(t, "")
	for _, tc := range []struct {
		name, id, user, pass string
		ok                   bool
	}{
		{"right password", "kiosk-d1", "d1", "pw1", true},
		{"client id = device id", "d1", "d1", "pw1", true},
		{"wrong password", "kiosk-d1", "d1", "nope", false},
		{"other device's client id", "kiosk-d2", "d1", "pw1", false},
		{"unknown device", "kiosk-d9", "d9", "pw1", false},
		{"no credentials", "anon", "", "", false},
		{"central name with device password", "x", broker.CentralUser, "pw1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := device(t, e, tc.id, tc.user, tc.pass)
			if (err == nil) != tc.ok {
				t.Fatalf("connect: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestDeviceACL(t *testing.T) {
	e := startBroker(t, "")
	rec := newRecorder()
	central := dialCentral(t, e, map[string]broker.Handler{
		wire.AllStatusFilter:         rec.handle,
		wire.AllEventFilter:          rec.handle,
		wire.TopicPrefix + "state/#": rec.handle,
	})
	ctx := context.Background()
	if err := central.Publish(ctx, wire.StateTopic(wire.All), []byte("good"), true); err != nil {
		t.Fatal(err)
	}
	waitTopic(t, rec, wire.StateTopic(wire.All))

	// Allowed: own status.
	d1, err := device(t, e, "kiosk-d1", "d1", "pw1")
	if err != nil {
		t.Fatal(err)
	}
	d1.Publish(wire.StatusTopic("d1"), 1, true, "s1").Wait()
	waitTopic(t, rec, wire.StatusTopic("d1"))

	// Forbidden publishes: another device's topics, state, cmd. A 3.1.1 client
	// is disconnected on a refused QoS 1 publish; reconnect for each.
	for _, topic := range []string{wire.StatusTopic("d2"), wire.EventTopic("d2"), wire.StateTopic(wire.All), wire.CmdTopic("d1"), "other/topic"} {
		d, err := device(t, e, "kiosk-d1", "d1", "pw1")
		if err != nil {
			t.Fatal(err)
		}
		d.Publish(topic, 1, true, "forged").WaitTimeout(5 * time.Second)
		d.Disconnect(0)
	}
	// A marker from central proves earlier messages had their chance to arrive.
	central.Publish(ctx, wire.StatusTopic("marker"), []byte("m"), false)
	waitTopic(t, rec, wire.StatusTopic("marker"))
	if got := rec.get(wire.StatusTopic("d2")); len(got) != 0 {
		t.Errorf("d1 published to d2's status: %v", got)
	}
	if got := rec.get(wire.EventTopic("d2")); len(got) != 0 {
		t.Errorf("d1 published to d2's event: %v", got)
	}
	if got := rec.get(wire.StateTopic(wire.All)); len(got) != 1 || got[0] != "good" {
		t.Errorf("state/all after forged publish: %v", got)
	}

	// Subscriptions: state and own cmd allowed; others refused (SUBACK 0x80).
	d, err := device(t, e, "kiosk-d1", "d1", "pw1")
	if err != nil {
		t.Fatal(err)
	}
	for filter, ok := range map[string]bool{
		wire.StateTopic(wire.All):        true,
		wire.TopicPrefix + "state/#":     true,
		wire.CmdTopic("d1"):              true,
		wire.CmdTopic("d2"):              false,
		wire.AllStatusFilter:             false,
		wire.TopicPrefix + "device/d2/#": false,
		"#":                              false,
		"$SYS/#":                         false,
	} {
		tok := d.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
		tok.WaitTimeout(10 * time.Second)
		res := tok.(*paho.SubscribeToken).Result()[filter]
		if got := res != 0x80; got != ok {
			t.Errorf("subscribe %s: granted=%v (code %#x), want %v", filter, got, res, ok)
		}
	}
	if !broker.DeviceMay("d1", wire.EventTopic("d1"), true) || broker.DeviceMay("d1/+", wire.EventTopic("d1"), true) {
		t.Error("DeviceMay table")
	}
}

func TestRetainedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := startBroker(t, dir)
	c := dialCentral(t, e, nil)
	if err := c.Publish(context.Background(), wire.StateTopic(wire.All), []byte("snap-7"), true); err != nil {
		t.Fatal(err)
	}
	c.Close()
	e.Close()

	e2 := startBroker(t, dir)
	rec := newRecorder()
	dialCentral(t, e2, map[string]broker.Handler{wire.StateTopic(wire.All): rec.handle})
	waitTopic(t, rec, wire.StateTopic(wire.All))
	if got := rec.get(wire.StateTopic(wire.All)); len(got) != 1 || got[0] != "snap-7" {
		t.Fatalf("retained after restart: %v", got)
	}
}

func waitTopic(t *testing.T, r *recorder, topic string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		if len(r.get(topic)) > 0 {
			return
		}
		select {
		case <-r.ch:
		case <-timeout:
			t.Fatalf("no message on %s", topic)
		}
	}
}

// rawConnect sends an MQTT 3.1.1 CONNECT with a retained QoS 1 will and
// returns the CONNACK return code; the connection is then dropped without
// DISCONNECT, which is what makes a broker publish the will.
func rawConnect(t *testing.T, e *broker.Embedded, clientID, user, pass, willTopic, willMsg string) byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.URL(), "tcp://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	var body []byte
	body = append(body, str("MQTT")...)
	body = append(body, 4, 0x80|0x40|0x20|0x08|0x04|0x02, 0, 30)
	for _, s := range []string{clientID, willTopic, willMsg, user, pass} {
		body = append(body, str(s)...)
	}
	pkt := append([]byte{0x10, byte(len(body))}, body...) // len < 128
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		return 0xff // closed without CONNACK: refused too
	}
	return ack[3]
}

func TestWillOutsideOwnStatusRefused(t *testing.T) {
	e := startBroker(t, "")
	rec := newRecorder()
	central := dialCentral(t, e, map[string]broker.Handler{
		wire.TopicPrefix + "state/#": rec.handle,
		wire.AllStatusFilter:         rec.handle,
		wire.AllEventFilter:          rec.handle,
	})
	ctx := context.Background()
	if err := central.Publish(ctx, wire.StateTopic(wire.All), []byte("good"), true); err != nil {
		t.Fatal(err)
	}
	waitTopic(t, rec, wire.StateTopic(wire.All))

	for _, topic := range []string{wire.StateTopic(wire.All), wire.StatusTopic("d2"), wire.EventTopic("d2"), wire.EventTopic("d1")} {
		if rc := rawConnect(t, e, "kiosk-d1", "d1", "pw1", topic, "forged"); rc == 0 {
			t.Errorf("connect with a will on %s accepted", topic)
		}
	}
	// The device's real will (own status) still works; it is published after
	// the forged attempts were dropped, so once it arrives they had their chance.
	if rc := rawConnect(t, e, "kiosk-d1", "d1", "pw1", wire.StatusTopic("d1"), "offline"); rc != 0 {
		t.Fatalf("connect with a will on its own status: rc %d", rc)
	}
	waitTopic(t, rec, wire.StatusTopic("d1"))
	if got := rec.get(wire.StateTopic(wire.All)); len(got) != 1 || got[0] != "good" {
		t.Errorf("state/all after forged wills: %v", got)
	}
	if got := rec.get(wire.StatusTopic("d2")); len(got) != 0 {
		t.Errorf("d2 status forged by will: %v", got)
	}
	// A fresh subscriber sees the retained state/all unchanged.
	rec2 := newRecorder()
	dialCentral2 := func() {
		u, p := e.CentralCredentials()
		c, err := broker.Dial(ctx, broker.ClientConfig{URL: e.URL(), ClientID: "central-test-2", Username: u, Password: p,
			Subscriptions: map[string]broker.Handler{wire.StateTopic(wire.All): rec2.handle}, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
	}
	dialCentral2()
	waitTopic(t, rec2, wire.StateTopic(wire.All))
	if got := rec2.get(wire.StateTopic(wire.All)); got[0] != "good" {
		t.Errorf("retained state/all: %v", got)
	}
}
