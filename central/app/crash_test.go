package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/internal/wire"
)

// The crash test re-executes this test binary as a child that runs a real
// central (env CENTRAL_CRASH_CHILD=<data dir>) and kills it with SIGKILL.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CENTRAL_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild publishes alerts in a loop and prints "ACK <id> <branch>" after
// each publish the broker acknowledged and "ACKCANCEL <id>" after each
// acknowledged cancel. With CENTRAL_CRASH_SELFKILL=n it SIGKILLs itself
// right after the n-th commit, before that change is published.
func crashChild(dir string) {
	var commits atomic.Int64
	selfKill, _ := strconv.Atoi(os.Getenv("CENTRAL_CRASH_SELFKILL"))
	cfg := app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", MQTTAddr: os.Getenv("CENTRAL_CRASH_MQTT"), Logger: app.QuietLogger(), NoFitCheck: true,
		AfterCommit: func() {
			if n := commits.Add(1); selfKill > 0 && n == int64(selfKill) {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}}
	a, err := app.Start(context.Background(), cfg)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	pw := "-"
	if _, err := a.Registry.Get(ctx, central.System, "watch-1"); err != nil { // first start only: keep the password
		if pw, err = a.RegisterDevice("watch-1", "br-0", "13"); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(2)
		}
	}
	fmt.Println("READY", pw)
	if os.Getenv("CENTRAL_CRASH_PUBLISH") == "" {
		select {} // verify run: serve until killed
	}
	pub := central.Actor{UserID: "u-crash", Name: "crash", Role: central.RolePublisher}
	var ids []string
	for i := 0; ; i++ {
		branch := fmt.Sprintf("br-%d", i%3)
		in := alertInput(central.Target{Branches: []string{branch}}, fmt.Sprintf("注意 %d", i))
		al, err := a.Alerts.CreateDraft(ctx, pub, in)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(2)
		}
		if _, err := a.Alerts.Publish(ctx, pub, al.ID, al.Version); err == nil {
			fmt.Println("ACK", al.ID, branch)
		}
		ids = append(ids, al.ID)
		if i >= 6 { // keep at most 6 live alerts per branch
			if _, err := a.Alerts.Cancel(ctx, pub, ids[i-6], "rotate"); err == nil {
				fmt.Println("ACKCANCEL", ids[i-6])
			}
		}
	}
}

type childProc struct {
	cmd   *exec.Cmd
	lines chan string
	pw    string
}

func startChild(t *testing.T, dir, mqttAddr string, env ...string) *childProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"CENTRAL_CRASH_CHILD=" + dir, "CENTRAL_CRASH_MQTT=" + mqttAddr}, env...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childProc{cmd: cmd, lines: make(chan string, 10000)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatal("child exited before READY")
			}
			if pw, ok := strings.CutPrefix(l, "READY "); ok {
				c.pw = pw
				return c
			}
			if strings.HasPrefix(l, "ERROR") {
				t.Fatalf("child: %s", l)
			}
		case <-timeout:
			t.Fatal("child not ready after 60 s")
		}
	}
}

type snapMsg struct {
	scope string
	snap  *wire.Snapshot
	err   error
}

// watch subscribes to every state scope as a device would, verifying each
// snapshot's signature.
func watch(t *testing.T, brokerURL, pw string, kr wire.KeyRing) <-chan snapMsg {
	t.Helper()
	ch := make(chan snapMsg, 10000)
	o := paho.NewClientOptions().AddBroker(brokerURL).SetClientID("kiosk-watch-1").SetUsername("watch-1").SetPassword(pw).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(500 * time.Millisecond)
	o.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(wire.TopicPrefix+"state/#", 1, func(_ paho.Client, m paho.Message) {
			tp, err := wire.ParseTopic(m.Topic())
			if err != nil {
				ch <- snapMsg{err: err}
				return
			}
			s, err := wire.OpenSnapshot(m.Payload(), kr, tp.Scope)
			ch <- snapMsg{scope: tp.Scope.String(), snap: s, err: err}
		})
	})
	c := paho.NewClient(o)
	c.Connect().WaitTimeout(30 * time.Second)
	t.Cleanup(func() { c.Disconnect(0) })
	return ch
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestKill9MidPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts central three times")
	}
	dir := filepath.Join(t.TempDir(), "data")
	mqttAddr := freeAddr(t)
	brokerURL := "tcp://" + mqttAddr

	acked := map[string]string{} // alert id -> branch scope
	cancelled := map[string]bool{}
	maxSeq := map[string]uint64{}
	check := func(m snapMsg) {
		t.Helper()
		if m.err != nil {
			t.Fatalf("snapshot refused: %v", m.err)
		}
		if m.snap.Seq < maxSeq[m.scope] {
			t.Fatalf("scope %s: seq went back from %d to %d", m.scope, maxSeq[m.scope], m.snap.Seq)
		}
		maxSeq[m.scope] = m.snap.Seq
	}
	readAcks := func(c *childProc, n int, snaps <-chan snapMsg) {
		t.Helper()
		timeout := time.After(120 * time.Second)
		got := 0
		for got < n {
			select {
			case l, ok := <-c.lines:
				if !ok {
					return // the child died (self-kill)
				}
				f := strings.Fields(l)
				switch f[0] {
				case "ACK":
					acked[f[1]] = "branch/" + f[2]
					got++
				case "ACKCANCEL":
					cancelled[f[1]] = true
				case "ERROR":
					t.Fatalf("child: %s", l)
				}
			case m := <-snaps:
				check(m)
			case <-timeout:
				t.Fatalf("only %d of %d acks", got, n)
			}
		}
	}

	// Run 1: killed by us at an arbitrary point of its publish loop.
	c1 := startChild(t, dir, mqttAddr, "CENTRAL_CRASH_PUBLISH=1")
	kr := loadRing(t, dir)
	snaps := watch(t, brokerURL, c1.pw, kr)
	readAcks(c1, 12, snaps)
	c1.cmd.Process.Signal(syscall.SIGKILL)
	c1.cmd.Wait()
	for l := range c1.lines { // acks printed before the kill still count
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "ACK" {
			acked[f[1]] = "branch/" + f[2]
		} else if len(f) == 2 && f[0] == "ACKCANCEL" {
			cancelled[f[1]] = true
		}
	}

	// Run 2: kills itself between a commit and its publish.
	c2 := startChild(t, dir, mqttAddr, "CENTRAL_CRASH_PUBLISH=1", "CENTRAL_CRASH_SELFKILL=5")
	readAcks(c2, 1000, snaps) // returns when the child dies
	c2.cmd.Wait()

	// Run 3: no publishing; after start every acknowledged change must be
	// in the retained snapshots, with seqs that never went back.
	startChild(t, dir, mqttAddr)
	want := map[string]map[string]bool{}
	for id, scope := range acked {
		if want[scope] == nil {
			want[scope] = map[string]bool{}
		}
		if !cancelled[id] {
			want[scope][id] = true
		}
	}
	latest := map[string]*wire.Snapshot{}
	ok := func() bool {
		for scope, ids := range want {
			s := latest[scope]
			if s == nil {
				return false
			}
			have := map[string]bool{}
			for _, a := range s.Alerts {
				have[a.ID] = true
			}
			for id := range ids {
				if !have[id] {
					return false
				}
			}
			for id := range have {
				if cancelled[id] {
					return false
				}
			}
		}
		return true
	}
	timeout := time.After(60 * time.Second)
	for !ok() {
		select {
		case m := <-snaps:
			check(m)
			latest[m.scope] = m.snap
		case <-timeout:
			for scope, ids := range want {
				t.Logf("scope %s want %v got %+v", scope, ids, latest[scope])
			}
			t.Fatalf("acknowledged changes missing after restart (acked %d, cancelled %d)", len(acked), len(cancelled))
		}
	}
	t.Logf("acked %d publishes and %d cancels across two kill -9; max seqs %v", len(acked), len(cancelled), maxSeq)
}

func loadRing(t *testing.T, dir string) wire.KeyRing {
	r, _, err := keys.Load(filepath.Join(dir, "keys"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return r.KeyRing(keys.Signing)
}
