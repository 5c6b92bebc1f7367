package agent

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/internal/wire"
)

// The inbox holds at most 4 MiB whatever the message sizes: 64 whole
// envelopes would be 16 MiB.
func TestInboxByteBudget(t *testing.T) {
	b := inbox{signal: make(chan struct{}, 1)}
	for i := range 64 {
		p := bytes.Repeat([]byte{byte(i)}, wire.MaxEnvelopeBytes)
		b.put(message{topic: "t", payload: p})
	}
	got := b.drain()
	total := 0
	for _, m := range got {
		total += len(m.payload)
	}
	if total > 4<<20 {
		t.Fatalf("inbox holds %d messages, %d bytes; budget is 4 MiB", len(got), total)
	}
	if len(got) == 0 || got[len(got)-1].payload[0] != 63 {
		t.Fatal("the newest message must be kept")
	}
	b.put(message{topic: "t", payload: []byte("x")})
	if got := b.drain(); len(got) != 1 {
		t.Fatalf("after drain the budget is free again; got %d messages", len(got))
	}
}

type rawMessage struct {
	topic   string
	payload []byte
}

func (m rawMessage) Duplicate() bool   { return false }
func (m rawMessage) Qos() byte         { return 1 }
func (m rawMessage) Retained() bool    { return false }
func (m rawMessage) Topic() string     { return m.topic }
func (m rawMessage) MessageID() uint16 { return 1 }
func (m rawMessage) Payload() []byte   { return m.payload }
func (m rawMessage) Ack()              {}

// A message larger than an envelope is refused in paho's handler without
// being copied or queued.
func TestOversizedMessageNotCopied(t *testing.T) {
	sg := testSigner(t, 1)
	a, _, _ := fakeAgent(t, sg, t0, nil)
	huge := bytes.Repeat([]byte(" "), 8<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	a.onMessage(nil, rawMessage{topic: stateAll, payload: huge})
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("handling an 8 MiB message allocated %d bytes; it must be dropped before copying", d)
	}
	waitFor(t, a, "counted", func() bool { return a.Stats().Rejected[wire.ReasonLimit] == 1 })
	barrier(t, a)
	if sc, _ := a.Current(); sc.ID() != "standing" {
		t.Fatalf("screen changed to %s", sc.ID())
	}
}

// A real broker delivering a 1 MiB message: the connection cap drops the
// connection before paho reads the packet, the agent reconnects, keeps its
// screen and still accepts the next good snapshot.
func TestBrokerOversizedPacketDropsConnection(t *testing.T) {
	b := testbroker.Mochi(t)
	sg := testSigner(t, 1)
	central := mqttClient(t, b.URL, "central")
	events := subscribeEvents(t, central, testDevice)
	a := brokerAgent(t, sg, b.URL, nil)
	now := time.Now().UTC()
	publish(t, central, stateAll, sealSnap(t, sg, wire.All, 1, now, withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour)))), true)
	waitFor(t, a, "alert", screenIs(a, "alert:a-0110"))

	// QoS 0: a broker re-sending it after every reconnect would only keep
	// the agent reconnecting (on its last good state)
	if tok := central.Publish(stateAll, 0, false, bytes.Repeat([]byte(" "), 1<<20)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	waitFor(t, a, "oversized packet refused", func() bool { return a.Stats().Rejected[wire.ReasonLimit] == 1 })
	waitFor(t, a, "reconnected", func() bool { return a.Stats().Connects >= 2 && a.connected.Load() })
	if sc, _ := a.Current(); sc.ID() != "alert:a-0110" {
		t.Fatalf("screen changed to %s", sc.ID())
	}
	events.waitEvent(t, "rejected limit", func(e wire.Event) bool {
		return e.Kind == wire.EventRejected && e.Reason == wire.ReasonLimit && strings.Contains(e.Detail, "MQTT packet")
	})

	// an envelope just over the limit fits the connection cap and is
	// refused in the handler, with the scope from the topic
	publish(t, central, stateAll, bytes.Repeat([]byte(" "), wire.MaxEnvelopeBytes+1), false)
	waitFor(t, a, "oversized envelope refused", func() bool { return a.Stats().Rejected[wire.ReasonLimit] == 2 })
	if got := a.Stats().Connects; got != 2 {
		t.Fatalf("an envelope-sized message must not cost the connection (connects %d)", got)
	}

	publish(t, central, stateAll, sealSnap(t, sg, wire.All, 2, time.Now().UTC()), true)
	waitFor(t, a, "next good snapshot", screenIs(a, "standing"))
}

// A hostile broker announcing a 200 MiB packet: the agent drops the
// connection at the header instead of letting paho allocate 200 MiB.
func TestHugePacketAnnouncementNotAllocated(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hungUp := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close() // one connection only; reconnects are refused
		if err != nil {
			hungUp <- err
			return
		}
		defer c.Close()
		// read CONNECT: header byte, remaining length, body
		var h [1]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			hungUp <- err
			return
		}
		n, mult := 0, 1
		for {
			if _, err := io.ReadFull(c, h[:]); err != nil {
				hungUp <- err
				return
			}
			n += int(h[0]&0x7f) * mult
			mult *= 128
			if h[0]&0x80 == 0 {
				break
			}
		}
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			hungUp <- err
			return
		}
		// CONNACK accepted, then PUBLISH announcing 200 MiB and a little of it
		l := 200 << 20
		pub := []byte{0x30}
		for {
			d := byte(l % 128)
			l /= 128
			if l > 0 {
				d |= 0x80
			}
			pub = append(pub, d)
			if l == 0 {
				break
			}
		}
		c.Write(append([]byte{0x20, 0x02, 0x00, 0x00}, append(pub, "\x00\x0ekiosk/v1/state/all"...)...))
		// close our side: without a cap paho would now allocate and wait
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		_, err = io.Copy(io.Discard, c)
		hungUp <- err
	}()

	sg := testSigner(t, 1)
	o := baseOptions(t, keyRing(t, sg))
	o.BrokerURL = "tcp://" + ln.Addr().String()
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	startAgent(t, a)
	select { // the agent hangs up: at the header (capped) or at EOF (not)
	case <-hungUp:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent never hung up")
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Fatalf("the agent allocated %d MiB for a packet it must refuse", d>>20)
	}
	waitFor(t, a, "announcement counted", func() bool { return a.Stats().Rejected[wire.ReasonLimit] > 0 })
	// The first screen is presented by the agent's loop, which may still be
	// on its way when the connection is already refused: wait for it, and
	// it must be the standing warning (nothing from the hostile broker).
	waitFor(t, a, "standing warning shown", func() bool { sc, _ := a.Current(); return sc.ID() == "standing" })
}
