package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/internal/wire"
)

// realisticSnapshot: 4 alerts in 6 languages and 10 campaign items with 2
// images each (~20 KiB signed).
func realisticSnapshot(tb testing.TB, sg *wire.Signer, seq uint64, now time.Time) []byte {
	langs := []string{"ja", "en", "zh", "ko", "vi", "pt"}
	var alerts []wire.Alert
	for i := 0; i < 4; i++ {
		a := alert(fmt.Sprintf("a-%d", i), 40+10*i, time.Time{}, now.Add(time.Hour), langs...)
		for j := range a.Texts {
			a.Texts[j].Body = strings.Repeat("警察を名乗る電話に注意。", 10)
			a.Texts[j].Instruction = "電話を切り、自分で調べた番号で警察署に確認してください。#9110"
		}
		alerts = append(alerts, a)
	}
	var items []wire.CampaignItem
	for i := 0; i < 10; i++ {
		items = append(items, item(fmt.Sprintf("it-%d", i), 10, time.Time{}, now.Add(time.Hour),
			blobRef([]byte(fmt.Sprintf("img-%d-a", i))), blobRef([]byte(fmt.Sprintf("img-%d-b", i)))))
	}
	return sealSnap(tb, sg, wire.All, seq, now, withAlerts(alerts...), withItems(items...))
}

// BenchmarkVerifyPersist is the per-snapshot cost on the agent: signature
// check, strict decode and validation, seq and expiry rules, and the bbolt
// transaction (fsync included) that stores envelope + seq + GC.
func BenchmarkVerifyPersist(b *testing.B) {
	sg := testSigner(b, 1)
	o := baseOptions(b, keyRing(b, sg))
	a, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	now := time.Now().UTC()
	envs := make([][]byte, b.N)
	for i := range envs {
		envs[i] = realisticSnapshot(b, sg, uint64(i+1), now)
	}
	b.SetBytes(int64(len(envs[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !a.handleSnapshot(stateAll, wire.All, envs[i]) {
			b.Fatalf("snapshot %d rejected: %+v", i, a.Stats().Rejected)
		}
	}
}

// BenchmarkVerifyOnly is the verification part alone (no disk).
func BenchmarkVerifyOnly(b *testing.B) {
	sg := testSigner(b, 1)
	kr := keyRing(b, sg)
	env := realisticSnapshot(b, sg, 1, time.Now().UTC())
	b.SetBytes(int64(len(env)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := wire.OpenSnapshot(env, kr, wire.All); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstScreen is New + Run until the presenter shows the cached
// screen (broker unreachable): the "first screen within 1 s" budget.
func BenchmarkFirstScreen(b *testing.B) {
	sg := testSigner(b, 1)
	o := baseOptions(b, keyRing(b, sg))
	o.BrokerURL = "tcp://127.0.0.1:1"
	seed, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	env := realisticSnapshot(b, sg, 1, time.Now().UTC())
	if !seed.handleSnapshot(stateAll, wire.All, env) {
		b.Fatal("seed snapshot rejected")
	}
	seed.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		ch := a.Changed()
		done := make(chan error, 1)
		go func() { done <- a.Run(context.Background()) }()
		for a.Stats().Shown == 0 {
			<-ch
			ch = a.Changed()
		}
		b.StopTimer()
		a.Close()
		<-done
		b.StartTimer()
	}
}

// BenchmarkAgentRSS starts one agent in a child process (this test binary
// with AGENT_RSS_CHILD=1) connected to an embedded mochi broker here, with a
// realistic snapshot stored and shown, and reports the child's VmRSS and Go
// heap. Run with -benchtime=1x.
func BenchmarkAgentRSS(b *testing.B) {
	sg := testSigner(b, 1)
	br := testbroker.Mochi(b)
	env := realisticSnapshot(b, sg, 1, time.Now().UTC())
	if err := br.Server.Publish(stateAll, env, true, 1); err != nil {
		b.Fatal(err)
	}
	child := func(mode string) (rss, heap float64) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AGENT_RSS_CHILD="+mode, "AGENT_BROKER="+br.URL,
			"AGENT_CACHE="+b.TempDir()+"/cache.db", "AGENT_SEED=1")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "RSS" {
				rss, _ = strconv.ParseFloat(f[1], 64)
				heap, _ = strconv.ParseFloat(f[2], 64)
			}
		}
		if rss == 0 {
			b.Fatalf("child reported nothing:\n%s", out)
		}
		return rss, heap
	}
	var rss, heap, base float64
	for i := 0; i < b.N; i++ {
		rss, heap = child("1")
		base, _ = child("baseline") // the same test binary without an agent
	}
	b.ReportMetric(rss, "rss-KiB")
	b.ReportMetric(base, "baseline-rss-KiB")
	b.ReportMetric(heap, "heap-KiB")
}

// TestRSSChild is the child role of BenchmarkAgentRSS; without
// AGENT_RSS_CHILD it checks that the measurement itself works in-process.
func TestRSSChild(t *testing.T) {
	switch os.Getenv("AGENT_RSS_CHILD") {
	case "1":
	case "baseline":
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("RSS %d %d\n", vmRSS(t), ms.HeapAlloc/1024)
		return
	default:
		if kib := vmRSS(t); kib <= 0 {
			t.Fatalf("VmRSS not readable: %d", kib)
		}
		return
	}
	seed, _ := strconv.Atoi(os.Getenv("AGENT_SEED"))
	kr := keyRing(t, testSigner(t, byte(seed)))
	o := baseOptions(t, kr)
	o.BrokerURL = os.Getenv("AGENT_BROKER")
	o.CachePath = os.Getenv("AGENT_CACHE")
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	waitFor(t, a, "snapshot shown", func() bool { sc, _ := a.Current(); return a.Stats().Accepted == 1 && sc.ID() != "standing" })
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("RSS %d %d\n", vmRSS(t), ms.HeapAlloc/1024)
}

func vmRSS(tb testing.TB) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// BenchmarkAgentsInOneProcess starts 50 agents (the simulator's setup: one
// process, one broker, headless presenters) and reports the Go heap per
// agent once all are connected and showing the snapshot. Run with
// -benchtime=1x.
func BenchmarkAgentsInOneProcess(b *testing.B) {
	const n = 50
	sg := testSigner(b, 1)
	br := testbroker.Mochi(b)
	env := realisticSnapshot(b, sg, 1, time.Now().UTC())
	if err := br.Server.Publish(stateAll, env, true, 1); err != nil {
		b.Fatal(err)
	}
	for it := 0; it < b.N; it++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var agents []*Agent
		for i := 0; i < n; i++ {
			o := baseOptions(b, keyRing(b, sg))
			o.DeviceID = fmt.Sprintf("sim-%04d", i)
			o.BrokerURL = br.URL
			a, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			startAgent(b, a)
			agents = append(agents, a)
		}
		for _, a := range agents {
			waitFor(b, a, "shown", func() bool { return a.Stats().Accepted == 1 && a.Stats().Shown > 0 })
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n/1024, "heap-KiB/agent")
		b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/agent")
		for _, a := range agents {
			a.Close()
		}
	}
}
