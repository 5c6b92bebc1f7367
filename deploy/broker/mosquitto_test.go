package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

const (
	dev1 = "atm-13-0001"
	dev2 = "atm-13-0002"
)

type msg struct {
	topic    string
	payload  []byte
	retained bool
}

type client struct {
	t  *testing.T
	c  mqtt.Client
	in chan msg
}

// connect opens a paho client over the TLS listener (or plain when tlsCfg is
// nil, against addr). It returns the connect error instead of failing so
// refusals can be asserted.
func connect(t *testing.T, addr string, tlsCfg *tls.Config, user, pass, clientID string) (*client, error) {
	t.Helper()
	scheme := "tcp://"
	if tlsCfg != nil {
		scheme = "ssl://"
	}
	in := make(chan msg, 100)
	o := mqtt.NewClientOptions().AddBroker(scheme + addr).
		SetClientID(clientID).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectRetry(false).SetConnectTimeout(20 * time.Second).SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			in <- msg{m.Topic(), append([]byte(nil), m.Payload()...), m.Retained()}
		})
	if tlsCfg != nil {
		o.SetTLSConfig(tlsCfg)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(30 * time.Second) {
		return nil, fmt.Errorf("connect %s: timeout", user)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &client{t: t, c: c, in: in}, nil
}

func mustConnect(t *testing.T, m *Mosquitto, user, pass string) *client {
	t.Helper()
	c, err := connect(t, m.TLSAddr, m.ClientTLS(), user, pass, "kiosk-"+user)
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	return c
}

func (c *client) sub(filter string) byte {
	c.t.Helper()
	tok := c.c.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		c.t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return tok.(*mqtt.SubscribeToken).Result()[filter]
}

func (c *client) pub(topic string, retained bool, payload []byte) error {
	c.t.Helper()
	tok := c.c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(20 * time.Second) {
		return fmt.Errorf("publish %s: no PUBACK", topic)
	}
	return tok.Error()
}

func (c *client) mustPub(topic string, retained bool, payload string) {
	c.t.Helper()
	if err := c.pub(topic, retained, []byte(payload)); err != nil {
		c.t.Fatal(err)
	}
}

// until reads messages until one with the sentinel payload arrives and
// returns everything before it. MQTT keeps the order of one publisher's QoS 1
// messages to one subscriber, so a message the broker let through before the
// sentinel would be in the result: no timing is involved in proving a drop.
func (c *client) until(sentinel string) []msg {
	c.t.Helper()
	var got []msg
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-c.in:
			if string(m.payload) == sentinel {
				return got
			}
			got = append(got, m)
		case <-timeout:
			c.t.Fatalf("sentinel %q never arrived; got %d other messages", sentinel, len(got))
		}
	}
}

func start(t *testing.T) (*Mosquitto, map[string]string) {
	t.Helper()
	if _, err := os.Stat(MosquittoBinary); err != nil {
		t.Skip("mosquitto not installed (deploy/scripts/install-deps.sh installs it)")
	}
	users := map[string]string{"central": "pw-central-Zq8", dev1: "pw-dev1-Xk2", dev2: "pw-dev2-Lm5"}
	var log bytes.Buffer
	m, err := StartMosquitto(context.Background(), MosquittoOptions{Dir: t.TempDir(), Users: users, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
		// Read the log only after Stop: it waits for the log reader.
		// Exactly the two listeners of the config per start, on loopback.
		starts := strings.Count(log.String(), " starting")
		if n := strings.Count(log.String(), "Opening ipv4 listen socket"); n != 2*starts || strings.Contains(log.String(), "ipv6") {
			t.Errorf("mosquitto opened %d IPv4 listeners in %d starts (want 2 each) or an IPv6 one", n, starts)
		}
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", log.String())
		}
	})
	return m, users
}

func TestMosquittoProductionACL(t *testing.T) {
	m, pw := start(t)
	central := mustConnect(t, m, "central", pw["central"])
	central.sub("kiosk/v1/#")
	d1 := mustConnect(t, m, dev1, pw[dev1])

	// A device may publish its own status and events.
	d1.mustPub("kiosk/v1/device/"+dev1+"/status", true, `{"state":"online"}`)
	d1.mustPub("kiosk/v1/device/"+dev1+"/event", false, `own-event`)
	// Denied: another device's topics, central's state and commands, and
	// anything outside the protocol. 3.1.1 acknowledges and drops them.
	forbidden := []string{
		"kiosk/v1/device/" + dev2 + "/status",
		"kiosk/v1/device/" + dev2 + "/event",
		"kiosk/v1/device/" + dev1 + "/cmd",
		"kiosk/v1/state/all",
		"kiosk/v1/state/device/" + dev1,
		"kiosk/v1/other",
	}
	for _, topic := range forbidden {
		if err := d1.pub(topic, true, []byte("forged:"+topic)); err != nil {
			t.Logf("publish to %s: %v (a refusal is fine too)", topic, err)
		}
	}
	d1.mustPub("kiosk/v1/device/"+dev1+"/event", false, "sentinel-1")
	got := central.until("sentinel-1")
	var topics []string
	for _, g := range got {
		topics = append(topics, g.topic+"="+string(g.payload))
	}
	want := []string{"kiosk/v1/device/" + dev1 + "/status={\"state\":\"online\"}", "kiosk/v1/device/" + dev1 + "/event=own-event"}
	if strings.Join(topics, "\n") != strings.Join(want, "\n") {
		t.Fatalf("central received:\n%s\nwant exactly:\n%s", strings.Join(topics, "\n"), strings.Join(want, "\n"))
	}
}

func TestMosquittoDeviceReads(t *testing.T) {
	m, pw := start(t)
	central := mustConnect(t, m, "central", pw["central"])
	central.mustPub("kiosk/v1/state/all", true, "snapshot-all")
	central.mustPub("kiosk/v1/state/device/"+dev2, true, "snapshot-dev2")

	d1 := mustConnect(t, m, dev1, pw[dev1])
	for _, f := range []string{"kiosk/v1/state/all", "kiosk/v1/state/pref/13", "kiosk/v1/state/branch/shinjuku-01", "kiosk/v1/state/device/" + dev1, "kiosk/v1/device/" + dev1 + "/cmd"} {
		if q := d1.sub(f); q != 1 {
			t.Errorf("subscribe %s granted %#x, want QoS 1", f, q)
		}
	}
	// Subscriptions to another device's topics may be refused at SUBACK or
	// granted and then never delivered; either way nothing may arrive.
	for _, f := range []string{"kiosk/v1/device/" + dev2 + "/cmd", "kiosk/v1/state/device/" + dev2, "kiosk/v1/device/+/status"} {
		t.Logf("subscribe %s: SUBACK %#x", f, d1.sub(f))
	}
	central.mustPub("kiosk/v1/device/"+dev2+"/status", true, "dev2-status")
	central.mustPub("kiosk/v1/device/"+dev2+"/cmd", false, "cmd-for-dev2")
	central.mustPub("kiosk/v1/device/"+dev1+"/cmd", false, "sentinel-cmd")
	got := d1.until("sentinel-cmd")
	if len(got) != 1 || string(got[0].payload) != "snapshot-all" || !got[0].retained {
		var s []string
		for _, g := range got {
			s = append(s, g.topic+"="+string(g.payload))
		}
		t.Fatalf("device 1 received %q before its own command; want only the retained snapshot-all", s)
	}
}

func TestMosquittoRefusesBadClients(t *testing.T) {
	m, pw := start(t)
	cases := []struct {
		name, addr, user, pass string
		tls                    bool
	}{
		{"wrong password", m.TLSAddr, dev1, pw[dev2], true},
		{"unknown user", m.TLSAddr, "atm-99-9999", "x", true},
		{"anonymous", m.TLSAddr, "", "", true},
		{"anonymous on loopback", m.PlainAddr, "", "", false},
		{"plain text on the TLS port", m.TLSAddr, dev1, pw[dev1], false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg *tls.Config
			if c.tls {
				cfg = m.ClientTLS()
			}
			if _, err := connect(t, c.addr, cfg, c.user, c.pass, "x-"+c.name); err == nil {
				t.Fatal("connected; want refusal")
			}
		})
	}
	// A device cannot reach the loopback listener's "central" rights with
	// its own credentials: the same ACL applies on every listener.
	d, err := connect(t, m.PlainAddr, nil, dev1, pw[dev1], "loop")
	if err != nil {
		t.Fatalf("device on loopback listener: %v", err)
	}
	central := mustConnect(t, m, "central", pw["central"])
	central.sub("kiosk/v1/#")
	d.mustPub("kiosk/v1/state/all", true, "forged")
	d.mustPub("kiosk/v1/device/"+dev1+"/event", false, "sentinel")
	if got := central.until("sentinel"); len(got) != 0 {
		t.Fatalf("forged state via loopback listener reached central: %v", got)
	}
}

func TestMosquittoSessionTakeoverAndOversize(t *testing.T) {
	m, pw := start(t)
	central := mustConnect(t, m, "central", pw["central"])
	central.sub("kiosk/v1/device/+/event")

	// Device 2 presents device 1's client id. With use_username_as_clientid
	// the broker keys sessions by username, so device 1 is not kicked off.
	d1, err := connect(t, m.TLSAddr, m.ClientTLS(), dev1, pw[dev1], "kiosk-"+dev1)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := connect(t, m.TLSAddr, m.ClientTLS(), dev2, pw[dev2], "kiosk-"+dev1)
	if err != nil {
		t.Fatal(err)
	}
	d1.mustPub("kiosk/v1/device/"+dev1+"/event", false, "still-here")
	if got := central.until("still-here"); len(got) != 0 {
		t.Fatalf("unexpected %v", got)
	}

	// A packet beyond max_packet_size is refused (the client is dropped);
	// a full-size signed envelope still passes.
	big := bytes.Repeat([]byte("x"), 300_000)
	d1.pub("kiosk/v1/device/"+dev1+"/event", false, big) // error or silent drop
	ok := bytes.Repeat([]byte("y"), 256<<10)
	d2.mustPub("kiosk/v1/device/"+dev2+"/event", false, string(ok))
	d2.mustPub("kiosk/v1/device/"+dev2+"/event", false, "sentinel")
	got := central.until("sentinel")
	if len(got) != 1 || len(got[0].payload) != len(ok) {
		t.Fatalf("got %d messages before the sentinel (want only the 256 KiB one)", len(got))
	}
}

func TestMosquittoPersistence(t *testing.T) {
	m, pw := start(t)
	d1 := mustConnect(t, m, dev1, pw[dev1])
	d1.mustPub("kiosk/v1/device/"+dev1+"/status", true, "online-v7")
	central := mustConnect(t, m, "central", pw["central"])
	central.mustPub("kiosk/v1/state/all", true, "snapshot-seq-42")
	d1.c.Disconnect(100)
	central.c.Disconnect(100)

	if err := m.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := mustConnect(t, m, "central", pw["central"])
	c2.sub("kiosk/v1/device/+/status")
	c2.sub("kiosk/v1/state/all")
	c2.mustPub("kiosk/v1/device/"+dev1+"/event", false, "sentinel")
	c2.sub("kiosk/v1/device/+/event")
	c2.mustPub("kiosk/v1/device/"+dev1+"/event", false, "sentinel")
	got := c2.until("sentinel")
	have := map[string]string{}
	for _, g := range got {
		if g.retained {
			have[g.topic] = string(g.payload)
		}
	}
	if have["kiosk/v1/device/"+dev1+"/status"] != "online-v7" || have["kiosk/v1/state/all"] != "snapshot-seq-42" {
		t.Fatalf("after restart, retained = %v; want the device status and the state snapshot (persistence on)", have)
	}
}

func TestRewriteRefusesUnknownListener(t *testing.T) {
	_, err := RewriteMosquittoConf("listener 9999\n", t.TempDir(), 1, 2)
	if err == nil || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("err = %v, want a complaint naming listener 9999", err)
	}
}
