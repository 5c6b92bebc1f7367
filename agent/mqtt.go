package agent

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/internal/mqttstore"
	"github.com/atmguard/kiosk/internal/wire"
)

func (a *Agent) mqttOptions() *mqtt.ClientOptions {
	o := mqtt.NewClientOptions()
	// paho walks the list in order on every connect and reconnect attempt
	// (client.attemptConnection) and hands each URL to openConn
	for _, u := range a.o.brokers {
		o.AddBroker(u)
	}
	o.SetClientID(a.o.ClientID).
		SetUsername(a.o.Username).
		SetPassword(a.o.Password).
		SetProtocolVersion(4).
		// persistent session: QoS 1 commands sent while we were away are
		// delivered on reconnect
		SetCleanSession(false).
		// paho's MemoryStore shares packets with resume() (upstream race, see mqttstore)
		SetStore(mqttstore.New()).
		SetResumeSubs(false). // we subscribe on every connect instead
		// the handler only appends to a bounded inbox and never blocks, so
		// in-order delivery cannot starve keepalive
		SetOrderMatters(true).
		SetKeepAlive(30*time.Second).
		SetPingTimeout(10*time.Second).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(10*time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(a.o.MaxReconnectInterval).
		SetConnectRetry(true).
		SetConnectRetryInterval(2*time.Second).
		SetBinaryWill(wire.StatusTopic(a.o.DeviceID), a.statusJSON(wire.StateOffline), 1, true).
		// queued session messages can arrive before our subscriptions exist
		SetDefaultPublishHandler(a.onMessage).
		SetOnConnectHandler(a.onConnect).
		SetConnectionLostHandler(a.onLost).
		SetReconnectingHandler(a.onReconnecting).
		// caps packet sizes below paho, which allocates whatever a
		// broker announces (up to 256 MiB) before reading it
		SetCustomOpenConnectionFn(a.openConn)
	if a.o.TLS != nil {
		o.SetTLSConfig(a.o.TLS.Clone())
	}
	return o
}

func (a *Agent) onMessage(_ mqtt.Client, m mqtt.Message) {
	select {
	case <-a.stop:
		return
	default:
	}
	if n := len(m.Payload()); n > wire.MaxEnvelopeBytes {
		// not worth a copy nor a place in the inbox; the scope comes from
		// the topic so central can attribute the rejection
		scope := ""
		if t, err := wire.ParseTopic(m.Topic()); err == nil && t.Kind == wire.TopicState {
			scope = t.Scope.String()
		}
		a.reject(m.Topic(), scope, 0, &wire.LimitError{Limit: "envelope bytes", Max: wire.MaxEnvelopeBytes, Got: n})
		return
	}
	// paho reuses nothing here, but copy anyway: the loop keeps the bytes
	p := append([]byte(nil), m.Payload()...)
	if n := a.inbox.put(message{topic: m.Topic(), payload: p}); n > 0 {
		a.inboxDropped(m.Topic(), n)
	}
}

// inboxDropped logs dropped messages at most once a minute, with a count.
func (a *Agent) inboxDropped(topic string, n int) {
	now := a.clk.Mono()
	a.dropLog.Lock()
	a.dropLog.n += n
	if a.dropLog.logged && now-a.dropLog.at < time.Minute {
		a.dropLog.Unlock()
		return
	}
	total := a.dropLog.n
	a.dropLog.n, a.dropLog.at, a.dropLog.logged = 0, now, true
	a.dropLog.Unlock()
	a.log.Warn("inbox full; dropped older messages", "dropped", total, "topic", topic)
}

// onConnect runs in its own goroutine (paho starts it). Subscribing here
// means every reconnect re-subscribes and the broker re-sends the retained
// state, so the agent converges on the current truth.
func (a *Agent) onConnect(c mqtt.Client) {
	select {
	case <-a.stop:
		return
	default:
	}
	a.link.Lock()
	down, broker := a.link.down, a.link.url
	a.link.Unlock()
	filters := map[string]byte{wire.CmdTopic(a.o.DeviceID): 1}
	for _, sc := range a.scopes {
		filters[wire.StateTopic(sc)] = 1
	}
	if !a.subscribe(c, filters, down) {
		return // stopping, or the connection went; the next connect runs this again
	}
	a.connected.Store(true)
	a.bump(func(s *Stats) { s.Connects++ })
	a.log.Info("connected", "broker", broker)
	c.Publish(wire.StatusTopic(a.o.DeviceID), 1, true, a.statusJSON(wire.StateOnline))
	a.reportOversize()
	signal(a.connSig)
}

// subAckFailure is the SUBACK return code of a refused subscription.
const subAckFailure = 0x80

// subscribe subscribes to filters until the broker has granted every one,
// retrying what failed with a backoff on the agent's clock. A session
// without its subscriptions would silently keep stale content, and a
// refusal does not come back as an error: paho reports a SUBACK return
// code 0x80 only in the token's Result (NATS refuses this way for a while
// after losing a cluster node). It returns false if the agent stops or the
// connection is lost (down closes) first.
func (a *Agent) subscribe(c mqtt.Client, filters map[string]byte, down <-chan struct{}) bool {
	pending := filters
	wait := a.o.SubscribeRetryMin
	for attempt := 1; ; attempt++ {
		t := c.SubscribeMultiple(pending, a.onMessage)
		var err error
		var refused []string
		switch {
		case !t.WaitTimeout(10 * time.Second):
			err = errors.New("no SUBACK within 10 s")
		case t.Error() != nil:
			err = t.Error()
		default:
			granted := map[string]byte{}
			if st, ok := t.(*mqtt.SubscribeToken); ok {
				granted = st.Result()
			}
			for f := range pending {
				if code, ok := granted[f]; !ok || code > 2 {
					refused = append(refused, f)
				}
			}
			if len(refused) == 0 {
				return true
			}
			sort.Strings(refused)
			err = fmt.Errorf("broker refused %s (SUBACK 0x%02x)", strings.Join(refused, ", "), subAckFailure)
			next := make(map[string]byte, len(refused))
			for _, f := range refused {
				next[f] = pending[f]
			}
			pending = next
		}
		if !c.IsConnectionOpen() {
			return false
		}
		// the timer exists before the count moves, so whoever sees the
		// count can advance a fake clock past it
		timer := a.clk.NewTimer(wait)
		a.bump(func(s *Stats) { s.SubscribeFailures++ })
		a.log.Error("subscribe failed; retrying", "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-timer.C():
		case <-a.stop:
			timer.Stop()
			return false
		case <-down:
			timer.Stop()
			return false
		}
		wait = min(2*wait, a.o.SubscribeRetryMax)
	}
}

func (a *Agent) onLost(_ mqtt.Client, err error) {
	a.connected.Store(false)
	a.bump(func(*Stats) {})
	a.log.Warn("connection lost", "err", err)
	signal(a.connSig)
}

// onReconnecting adds jitter before each reconnect attempt (paho's own
// backoff doubles up to MaxReconnectInterval but has none).
func (a *Agent) onReconnecting(_ mqtt.Client, _ *mqtt.ClientOptions) {
	if a.o.ReconnectJitter <= 0 {
		return
	}
	t := time.NewTimer(rand.N(a.o.ReconnectJitter))
	defer t.Stop()
	select {
	case <-t.C:
	case <-a.stop:
	}
}
