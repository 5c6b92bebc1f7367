package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/internal/clock"
	"github.com/atmguard/kiosk/internal/wire"
)

// restartable is a /usr/sbin/mosquitto that a test can stop (SIGTERM, which
// saves its persistence file, or SIGKILL) and start again on the same port.
// agent/testbroker picks a new port per start, which a client configured
// with one broker URL never finds again.
type restartable struct {
	t       *testing.T
	dir     string
	conf    string
	addr    string
	persist bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    strings.Builder
}

func startRestartable(t *testing.T, persist bool) *restartable {
	t.Helper()
	m := &restartable{t: t, dir: t.TempDir(), persist: persist}
	os.Chmod(m.dir, 0o777) // mosquitto drops root: it must read the config and write its db
	m.addr = freeAddrTB(t)
	_, port, _ := net.SplitHostPort(m.addr)
	m.conf = filepath.Join(m.dir, "mosquitto.conf")
	conf := fmt.Sprintf(`listener %s 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_queued_messages 0
max_inflight_messages 1000
log_dest stderr
log_type error
log_type warning
`, port)
	if persist {
		conf += fmt.Sprintf("persistence true\npersistence_location %s/\n", m.dir)
	} else {
		conf += "persistence false\n"
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(func() {
		m.stop(syscall.SIGTERM)
		if t.Failed() {
			m.mu.Lock()
			t.Logf("mosquitto output:\n%s", m.out.String())
			m.mu.Unlock()
		}
	})
	return m
}

func (m *restartable) URL() string { return "tcp://" + m.addr }

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// start runs mosquitto and waits until it accepts connections.
func (m *restartable) start() {
	m.t.Helper()
	cmd := exec.Command("/usr/sbin/mosquitto", "-c", m.conf)
	cmd.Stdout, cmd.Stderr = lockedWriter{&m.mu, &m.out}, lockedWriter{&m.mu, &m.out}
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	m.cmd, m.exited = cmd, exited
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			m.mu.Lock()
			defer m.mu.Unlock()
			m.t.Fatalf("mosquitto exited at start: %s", m.out.String())
		case <-time.After(20 * time.Millisecond): // process start-up: nothing to wait on but the port
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto not listening on %s", m.addr)
		}
	}
}

// stop signals mosquitto and waits for it to exit.
func (m *restartable) stop(sig syscall.Signal) {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(sig)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// waitFor polls cond (state that has no event to wait on) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// retainedSnapshots connects a fresh clean-session subscriber and returns
// the retained snapshot of each scope in scopes, verified.
func retainedSnapshots(t *testing.T, brokerURL string, kr wire.KeyRing, scopes ...string) map[string]*wire.Snapshot {
	t.Helper()
	type got struct {
		scope string
		snap  *wire.Snapshot
		err   error
	}
	ch := make(chan got, 100)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID(fmt.Sprintf("kiosk-probe-%d", time.Now().UnixNano())).
		SetProtocolVersion(4).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("probe connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	tok := c.Subscribe(wire.TopicPrefix+"state/#", 1, func(_ paho.Client, m paho.Message) {
		if !m.Retained() {
			return
		}
		tp, err := wire.ParseTopic(m.Topic())
		if err != nil {
			ch <- got{err: err}
			return
		}
		s, err := wire.OpenSnapshot(m.Payload(), kr, tp.Scope)
		ch <- got{tp.Scope.String(), s, err}
	})
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("probe subscribe: %v", tok.Error())
	}
	out := map[string]*wire.Snapshot{}
	timeout := time.After(30 * time.Second)
	for len(out) < len(scopes) {
		select {
		case g := <-ch:
			if g.err != nil {
				t.Fatalf("retained snapshot refused: %v", g.err)
			}
			out[g.scope] = g.snap
		case <-timeout:
			t.Fatalf("retained snapshots: got %d of %v", len(out), scopes)
		}
	}
	return out
}

func hasAlert(s *wire.Snapshot, id string) bool {
	for _, a := range s.Alerts {
		if a.ID == id {
			return true
		}
	}
	return false
}

// TestExternalBrokerOutage: with central on an external mosquitto, an alert
// approved while the broker is down ("saved, will be published") must reach
// the displays once the broker is back on its address, and a broker that
// came back without its retained messages must get every scope again, also
// the ones acknowledged before the outage. Finally the broker must retain
// the newest snapshot of each scope (an older one resent from central's
// session must not overwrite it).
func TestExternalBrokerOutage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		persist bool
		sig     syscall.Signal
	}{
		{"restart-persistent", true, syscall.SIGTERM},
		{"kill9-no-persistence", false, syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mq := startRestartable(t, tc.persist)
			fake := clock.NewFake(time.Now())
			a := app.NewTest(t, func(c *app.Config) {
				c.BrokerURL, c.MQTTAddr = mq.URL(), ""
				c.Clock = fake
				c.NoFitCheck = true
				c.Snapshot.TTL = 6 * time.Hour
				c.Snapshot.RetryInterval = 10 * time.Second
				c.Snapshot.PublishTimeout = 2 * time.Second
			})
			ctx := context.Background()
			kr := a.Keys.KeyRing(keys.Signing)
			snaps := watch(t, mq.URL(), "-", kr)
			pub, _ := a.NewTestUser(t, "pub", central.RolePublisher)
			appr, _ := a.NewTestUser(t, "appr", central.RoleApprover)

			// Before the outage: alert A on branch br-1, acknowledged.
			inA := alertInput(central.Target{Branches: []string{"br-1"}}, "支店の注意")
			inA.Expires = fake.Now().Add(3 * time.Hour)
			alA, err := a.Alerts.CreateDraft(ctx, pub, inA)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Alerts.Publish(ctx, pub, alA.ID, alA.Version); err != nil {
				t.Fatalf("publish before the outage: %v", err)
			}
			before := waitSnap(t, snaps, fake, 0, func(s *wire.Snapshot) bool { return s.Scope.String() == "branch/br-1" && hasAlert(s, alA.ID) })

			// Outage.
			mq.stop(tc.sig)
			waitFor(t, "central to notice the broker is gone", func() bool { return !a.MQTT.Connected() })

			inB := alertInput(central.Target{All: true}, "全国の注意")
			inB.Expires = fake.Now().Add(3 * time.Hour)
			alB, err := a.Alerts.CreateDraft(ctx, pub, inB)
			if err != nil {
				t.Fatal(err)
			}
			if alB, err = a.Alerts.SubmitForApproval(ctx, pub, alB.ID, alB.Version); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Alerts.Approve(ctx, appr, alB.ID, alB.Version); !errors.Is(err, central.ErrUnavailable) {
				t.Fatalf("approve while the broker is down: %v, want unavailable", err)
			}
			published := a.Alerts.Published()

			// The broker comes back on the same address.
			mq.start()
			waitFor(t, "central to reconnect", a.MQTT.Connected)
			all := waitSnap(t, snaps, fake, time.Second, func(s *wire.Snapshot) bool { return s.Scope.String() == "all" && hasAlert(s, alB.ID) })
			br := waitSnap(t, snaps, fake, time.Second, func(s *wire.Snapshot) bool {
				return s.Scope.String() == "branch/br-1" && hasAlert(s, alA.ID) && s.Seq > before.Seq
			})
			if a.Alerts.Published() <= published {
				t.Fatalf("published counter stayed at %d", published)
			}

			// Quiet: every scope acknowledged, and the broker retains the
			// newest signed snapshot of each.
			var seqs map[string]uint64
			waitFor(t, "all scopes acknowledged", func() bool {
				seqs = map[string]uint64{}
				acked := true
				a.DB.View(func(tx *store.Tx) error {
					return tx.Scopes(func(st *store.ScopeState) error {
						seqs[st.Scope] = st.Seq
						acked = acked && st.Acked
						return nil
					})
				})
				return acked
			})
			if seqs["all"] < all.Seq || seqs["branch/br-1"] < br.Seq {
				t.Fatalf("stored seqs %v behind received all=%d br-1=%d", seqs, all.Seq, br.Seq)
			}
			ret := retainedSnapshots(t, mq.URL(), kr, "all", "branch/br-1")
			for sc, s := range ret {
				if s.Seq != seqs[sc] {
					t.Errorf("broker retains %s seq %d, central's newest acknowledged is %d", sc, s.Seq, seqs[sc])
				}
			}
			if !hasAlert(ret["all"], alB.ID) || !hasAlert(ret["branch/br-1"], alA.ID) {
				t.Errorf("retained snapshots miss an alert: all=%+v br-1=%+v", ret["all"].Alerts, ret["branch/br-1"].Alerts)
			}
		})
	}
}
