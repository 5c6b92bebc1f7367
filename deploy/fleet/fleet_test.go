package fleet

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
)

// collector gathers reports and lets a test wait for a count.
type collector struct {
	mu   sync.Mutex
	cond *sync.Cond
	got  []Report
}

func newCollector() *collector { c := &collector{}; c.cond = sync.NewCond(&c.mu); return c }

func (c *collector) add(r Report) {
	c.mu.Lock()
	c.got = append(c.got, r)
	c.cond.Broadcast()
	c.mu.Unlock()
}

// waitN waits until n reports match; the deadline only bounds a broken run.
func (c *collector) waitN(t *testing.T, n int, match func(Report) bool) []Report {
	t.Helper()
	stop := time.AfterFunc(2*time.Minute, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer stop.Stop()
	deadline := time.Now().Add(2 * time.Minute)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		var m []Report
		for _, r := range c.got {
			if match(r) {
				m = append(m, r)
			}
		}
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d matching reports, want %d", len(m), n)
		}
		c.cond.Wait()
	}
}

// TestSimulatedFleetShowsAlert runs real agent cores and bare paho
// subscribers against a real central (embedded broker) and checks that a
// published alert is reported as shown by every agent and received by every
// subscriber, and that the devices' files and connections are their own.
func TestSimulatedFleetShowsAlert(t *testing.T) {
	const n = 12
	a := app.NewTest(t)
	ctx := context.Background()
	admin, err := Admin(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	staff, err := NewStaff(ctx, a, admin)
	if err != nil {
		t.Fatal(err)
	}
	devs := MakeDevices(2 * n)
	if err := Register(a, devs); err != nil {
		t.Fatal(err)
	}
	// Round trip through the files a child process reads.
	dir := t.TempDir()
	if err := WriteDevices(filepath.Join(dir, "devs"), devs); err != nil {
		t.Fatal(err)
	}
	if devs, err = ReadDevices(filepath.Join(dir, "devs")); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeys(filepath.Join(dir, "keys"), a.Keys.KeyRing(keys.Signing)); err != nil {
		t.Fatal(err)
	}
	kr, err := ReadKeys(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	tgt := Target{BrokerURL: a.BrokerURL(), CentralURL: a.URL(), Keys: kr}

	col := newCollector()
	ps, err := StartPaho(devs[n:], n, tgt, col.add)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Stop()
	as, err := StartAgents(devs[:n], 0, tgt, filepath.Join(dir, "agents"), AgentOptions{}, col.add)
	if err != nil {
		t.Fatal(err)
	}
	defer as.Stop()
	// All agents online at central before publishing.
	changes := a.Registry.Subscribe(ctx)
	for {
		fl, err := a.Registry.Fleet(ctx, admin, centralFleetQuery())
		if err != nil {
			t.Fatal(err)
		}
		if fl.Online >= n {
			break
		}
		select {
		case <-changes:
		case <-time.After(2 * time.Minute):
			t.Fatalf("only %d of %d agents online", fl.Online, n)
		}
	}
	ps.Arm()
	al, t0, err := PublishAlert(ctx, a, staff, "警察を名乗る電話に注意")
	if err != nil {
		t.Fatal(err)
	}
	shown := col.waitN(t, n, func(r Report) bool { return r.Kind == "shown" && r.AlertID == al.ID })
	recv := col.waitN(t, n, func(r Report) bool { return r.Kind == "recv" })
	seen := map[int]bool{}
	for _, r := range shown {
		if r.Index < 0 || r.Index >= n || seen[r.Index] {
			t.Fatalf("bad or duplicate shown report %+v", r)
		}
		seen[r.Index] = true
		if r.At.Before(t0) {
			t.Fatalf("shown before publish: %+v", r)
		}
	}
	for _, r := range recv {
		if r.Index < n {
			t.Fatalf("recv report from an agent index: %+v", r)
		}
	}
	if as.Errors() != 0 {
		t.Fatalf("%d agents failed", as.Errors())
	}
	// Each agent has its own cache file.
	files, _ := filepath.Glob(filepath.Join(dir, "agents", "*.db"))
	if len(files) != n {
		t.Fatalf("%d cache files, want %d", len(files), n)
	}
	var d []time.Duration
	for _, r := range shown {
		d = append(d, r.At.Sub(t0))
	}
	t.Logf("publish->shown %v", Summarise(d))
}

func TestSummarise(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := Summarise(d)
	if l.N != 100 || l.P50 != 50*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Fatalf("Summarise = %+v", l)
	}
	if (Summarise(nil) != Latency{}) {
		t.Fatal("empty input")
	}
}
