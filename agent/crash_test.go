package agent

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/internal/wire"
)

// TestCrashSafety runs the agent as a child process (this test binary with
// AGENT_CHILD=1), feeds it a stream of signed snapshots with images over a
// real broker and SIGKILLs it at random points, several times. Afterwards
// the cache must open without being moved aside and hold a complete,
// verified set: the stored snapshot verifies against the pinned key, its seq
// is the persisted seq, and every stored blob matches its hash and is
// referenced.
func TestCrashSafety(t *testing.T) {
	if os.Getenv("AGENT_CHILD") == "1" {
		crashChild(t)
		return
	}
	sg := testSigner(t, 1)
	b := testbroker.Mochi(t)
	cs := newContentServer(t)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	var pool []wire.ContentRef
	for i := 0; i < 12; i++ {
		data := make([]byte, 1024+rng.IntN(40<<10))
		for j := range data {
			data[j] = byte(rng.IntN(256))
		}
		r := blobRef(data)
		cs.put(r.SHA256, data)
		pool = append(pool, r)
	}
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache.db")

	// publisher: a new retained snapshot every 2 ms until stopped
	stop := make(chan struct{})
	var pubWG sync.WaitGroup
	var mu sync.Mutex
	published := uint64(0)
	pubWG.Add(1)
	go func() {
		defer pubWG.Done()
		prng := rand.New(rand.NewPCG(2, 3))
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for seq := uint64(1); ; seq++ {
			now := time.Now().UTC()
			var items []wire.CampaignItem
			for i := 0; i < 1+prng.IntN(4); i++ {
				// a working set of images that moves every 400 updates, so
				// blobs are fetched, kept for a while, and collected: the
				// first item always shows two of them, others pick at random
				set := int(seq/400) % 3 * 4
				imgs := []wire.ContentRef{pool[set], pool[set+1]}
				if i > 0 {
					imgs = []wire.ContentRef{pool[set+prng.IntN(4)]}
				}
				imgs = dedupRefs(imgs)
				items = append(items, item(fmt.Sprintf("it-%d-%d", seq, i), 10, time.Time{}, now.Add(time.Hour), imgs...))
			}
			env := sealSnap(t, sg, wire.All, seq, now, withItems(items...),
				withAlerts(alert(fmt.Sprintf("a-%d", seq), 50+prng.IntN(50), time.Time{}, now.Add(time.Hour))))
			if err := b.Server.Publish(stateAll, env, true, 1); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			mu.Lock()
			published = seq
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); pubWG.Wait() }()

	kills := 0
	totalPresent, lastSeq := 0, uint64(0)
	for round := 0; round < 8; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AGENT_CHILD=1", "AGENT_BROKER="+b.URL, "AGENT_CENTRAL="+cs.URL,
			"AGENT_CACHE="+cache, "AGENT_KEY="+hex.EncodeToString(sg.PublicKey()))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "CHILD-READY") {
					ready <- nil
					for sc.Scan() { // drain
					}
					return
				}
			}
			ready <- fmt.Errorf("child exited before it was ready")
		}()
		select {
		case err := <-ready:
			if err != nil {
				cmd.Wait()
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("child not ready after 30 s")
		}
		// a random kill point while updates stream in
		<-time.After(time.Duration(50+rng.IntN(500)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		kills++
		checkCrashedCache(t, cache, sg, round, &totalPresent, &lastSeq)
	}
	mu.Lock()
	pub := published
	mu.Unlock()
	t.Logf("%d kills; %d snapshots published, last persisted seq %d; %d referenced blobs verified over all checks", kills, pub, lastSeq, totalPresent)
	if lastSeq < 100 {
		t.Errorf("only %d updates got through; the test did not exercise hundreds of updates", lastSeq)
	}
	if totalPresent == 0 {
		t.Errorf("no blob was ever present after a kill; the blob path was not exercised")
	}
}

// checkCrashedCache reopens the cache a killed child left behind.
func checkCrashedCache(t *testing.T, cache string, sg *wire.Signer, round int, totalPresent *int, lastSeq *uint64) {
	t.Helper()
	c, err := OpenCache(cache, keyRing(t, sg), time.Now(), testLogger(t))
	if err != nil {
		t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
	}
	defer c.Close()
	if m, _ := filepath.Glob(cache + ".corrupt-*"); len(m) > 0 {
		t.Fatalf("round %d: cache was moved aside as corrupt: %v", round, m)
	}
	snap := c.Snapshots()[wire.All]
	if snap == nil {
		t.Fatalf("round %d: no verified snapshot in the cache", round)
	}
	if seq := c.Seq(wire.All); seq != snap.Seq {
		t.Fatalf("round %d: persisted seq %d != stored snapshot seq %d (not one transaction)", round, seq, snap.Seq)
	}
	if snap.Seq < *lastSeq {
		t.Fatalf("round %d: seq went back from %d to %d", round, *lastSeq, snap.Seq)
	}
	*lastSeq = snap.Seq
	refs := map[string]wire.ContentRef{}
	for _, it := range snap.Campaign {
		for _, r := range it.Images {
			refs[r.SHA256] = r
		}
	}
	n, _ := c.BlobStats()
	present := 0
	for sha, r := range refs {
		if c.HasBlob(sha) {
			if _, ok := c.Blob(r); !ok {
				t.Errorf("round %d: stored blob %s does not match its hash", round, sha)
			}
			present++
		}
	}
	if n != present {
		t.Errorf("round %d: %d blobs stored, %d of them referenced: GC not atomic with the snapshot", round, n, present)
	}
	*totalPresent += present
}

func dedupRefs(rs []wire.ContentRef) []wire.ContentRef {
	seen := map[string]bool{}
	var out []wire.ContentRef
	for _, r := range rs {
		if !seen[r.SHA256] {
			seen[r.SHA256] = true
			out = append(out, r)
		}
	}
	return out
}

// crashChild is the child role: a real agent on the shared cache file.
func crashChild(t *testing.T) {
	pub, err := hex.DecodeString(os.Getenv("AGENT_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := wire.NewKeyRing(ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	o := baseOptions(t, kr)
	o.CachePath = os.Getenv("AGENT_CACHE")
	o.BrokerURL = os.Getenv("AGENT_BROKER")
	o.CentralURL = os.Getenv("AGENT_CENTRAL")
	o.ClientID = fmt.Sprintf("crash-child-%d", os.Getpid())
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		waitFor(t, a, "connected", func() bool { return a.Stats().Connects > 0 })
		fmt.Println("CHILD-READY")
	}()
	_ = a.Run(context.Background()) // until SIGKILL
}
