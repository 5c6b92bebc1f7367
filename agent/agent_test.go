package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

var stateAll = wire.StateTopic(wire.All)

// Expiry is judged on central time (issued + monotonic elapsed), not on the
// display's wall clock: a wall clock that jumps 5 hours ahead neither voids
// the alert early nor keeps it past its expiry, and a clock warning is logged.
func TestExpiryWithWrongWallClock(t *testing.T) {
	sg := testSigner(t, 1)
	var logs syncBuf
	a, fc, _ := fakeAgent(t, sg, t0, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	waitFor(t, a, "standing at start", screenIs(a, "standing"))
	inject(t, a, stateAll, sealSnap(t, sg, wire.All, 1, t0,
		withAlerts(alert("a-0110", 90, time.Time{}, t0.Add(30*time.Minute)))))
	waitFor(t, a, "alert shown", screenIs(a, "alert:a-0110"))

	fc.SetWall(t0.Add(5 * time.Hour)) // the display's clock jumps; no time passes
	fc.Advance(29 * time.Minute)
	barrier(t, a)
	if sc, _ := a.Current(); sc.ID() != "alert:a-0110" {
		t.Fatalf("wall clock 5 h ahead must not void the alert early; screen %s", sc.ID())
	}
	if !strings.Contains(logs.String(), "clock warning") {
		t.Errorf("no clock warning logged; logs:\n%s", logs.String())
	}
	fc.Advance(2 * time.Minute) // 31 min of central time: expired
	waitFor(t, a, "alert expired on central time", screenIs(a, "standing"))

	// a fresh snapshot is judged on central time too, not the wrong wall clock
	inject(t, a, stateAll, sealSnap(t, sg, wire.All, 2, t0.Add(31*time.Minute),
		withAlerts(alert("a-2", 90, time.Time{}, t0.Add(2*time.Hour)))))
	waitFor(t, a, "fresh snapshot accepted despite wall clock", screenIs(a, "alert:a-2"))
}

// A fresh device whose clock is far behind (RTC reset) accepts a snapshot
// issued "in the future" of its clock (central signed that time) and then
// expires it after its lifetime of elapsed time.
func TestWallClockBehindWithoutReference(t *testing.T) {
	sg := testSigner(t, 1)
	a, fc, _ := fakeAgent(t, sg, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	inject(t, a, stateAll, sealSnap(t, sg, wire.All, 1, t0, withWindow(t0, t0.Add(10*time.Minute)),
		withAlerts(alert("a-0110", 90, time.Time{}, t0.Add(time.Hour)))))
	waitFor(t, a, "alert shown", screenIs(a, "alert:a-0110"))
	fc.Advance(10 * time.Minute)
	waitFor(t, a, "snapshot expired after its lifetime", screenIs(a, "standing"))
}

func TestFirstScreenBeforeConnecting(t *testing.T) {
	sg := testSigner(t, 1)
	o := baseOptions(t, keyRing(t, sg))
	// a port nothing listens on: the first screen must not wait for MQTT
	o.BrokerURL = "tcp://127.0.0.1:1"
	p := NewHeadlessPresenter()
	o.Presenter = p
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	waitFor(t, a, "standing warning with no broker and no cache", screenIs(a, "standing"))
	if a.Stats().Connects != 0 {
		t.Fatal("connected to a port nothing listens on?")
	}
}

func TestCachedStateShownAfterRestart(t *testing.T) {
	sg := testSigner(t, 1)
	o := baseOptions(t, keyRing(t, sg))
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	now := time.Now().UTC()
	inject(t, a, stateAll, sealSnap(t, sg, wire.All, 7, now, withAlerts(alert("a-0110", 90, time.Time{}, now.Add(time.Hour)))))
	waitFor(t, a, "alert", screenIs(a, "alert:a-0110"))
	a.Close()
	<-done

	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, b)
	waitFor(t, b, "cached alert after restart", screenIs(b, "alert:a-0110"))
	if got := b.Cache().Seq(wire.All); got != 7 {
		t.Fatalf("persisted seq: got %d want 7", got)
	}
	// the replay rule uses the persisted seq
	inject(t, b, stateAll, sealSnap(t, sg, wire.All, 7, now.Add(time.Second)))
	if b.Stats().Rejected[wire.ReasonReplay] != 1 {
		t.Fatalf("equal seq with different bytes must be a replay: %+v", b.Stats())
	}
}

func TestLocalTriggerAPI(t *testing.T) {
	sg := testSigner(t, 1)
	a, fc, _ := fakeAgent(t, sg, t0, func(o *Options) { o.LocalAPIAddr = "127.0.0.1:0" })
	base := "http://" + a.LocalAddr()
	post := func(path, ct, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("/v1/trigger", "text/plain", `{"event":"phone-detected"}`); c != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain trigger: got %d", c)
	}
	if c := post("/v1/trigger", "application/json", `{"event":"dance"}`); c != http.StatusBadRequest {
		t.Errorf("unknown event: got %d", c)
	}
	if c := post("/v1/trigger", "application/json", `{"event":"phone-detected"}`); c != http.StatusAccepted {
		t.Fatalf("phone-detected: got %d", c)
	}
	waitFor(t, a, "phone screen", screenIs(a, "phone"))
	fc.Advance(19 * time.Second)
	barrier(t, a)
	if sc, _ := a.Current(); sc.ID() != "phone" {
		t.Fatalf("phone screen ended early: %s", sc.ID())
	}
	fc.Advance(2 * time.Second)
	waitFor(t, a, "phone screen ends after 20 s", screenIs(a, "standing"))

	if c := post("/v1/identify", "application/json", `{"seconds":5}`); c != http.StatusAccepted {
		t.Fatalf("identify: got %d", c)
	}
	waitFor(t, a, "identify screen", screenIs(a, "identify"))
	sc, _ := a.Current()
	if sc.Identify == nil || sc.Identify.DeviceID != testDevice || sc.Identify.Branch != testBranch {
		t.Fatalf("identify info: %+v", sc.Identify)
	}
	resp, err := http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Status wire.Status `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Status.Device != testDevice || st.Status.Screen != "identify" {
		t.Fatalf("status: %+v %v", st, err)
	}
}

func TestOptionsErrorsNameTheField(t *testing.T) {
	sg := testSigner(t, 1)
	o := baseOptions(t, keyRing(t, sg))
	o.DeviceID = "bad/id"
	o.LocalAPIAddr = "0.0.0.0:8765"
	o.Keys = nil
	_, err := New(o)
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	for _, f := range []string{"DeviceID", "LocalAPIAddr", "Keys"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
}

func TestNoEbitenInAgent(t *testing.T) {
	// every package under agent/ except the kiosk main (agent/cmd/...),
	// which is where the Ebiten presenter is wired in
	out, err := exec.Command("go", "list", "github.com/atmguard/kiosk/agent/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var core []string
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/atmguard/kiosk/agent/cmd/") {
			core = append(core, p)
		}
	}
	if len(core) == 0 {
		t.Fatal("no agent packages listed")
	}
	out, err = exec.Command("go", append([]string{"list", "-deps"}, core...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		// examples/resources/fonts is font bytes only (display/ embeds a
		// Japanese face from it); anything else of ebiten needs a GL context.
		if strings.HasPrefix(p, "github.com/hajimehoshi/ebiten") && !strings.Contains(p, "/examples/resources/") {
			t.Errorf("%v depend on %s: the agent core must run headless", core, p)
		}
	}
}

// recordingPresenter also takes screenshots, for the screenshot command.
type recordingPresenter struct {
	*HeadlessPresenter
}

func (recordingPresenter) Screenshot() ([]byte, error) { return []byte("\x89PNG\r\n\x1a\nfake"), nil }

func TestCommandsIdentifyScreenshotReplay(t *testing.T) {
	sg := testSigner(t, 1)
	uploads := make(chan string, 4)
	srv := newContentServer(t)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		uploads <- r.Method + " " + r.URL.Path + " " + u + ":" + p + " " + r.Header.Get("Content-Type") + " " + b.String()[:4]
		w.WriteHeader(http.StatusNoContent)
	})
	a, _, _ := fakeAgent(t, sg, t0, func(o *Options) {
		o.CentralURL = srv.URL
		o.Username, o.Password = testDevice, "s3cret"
		o.Presenter = recordingPresenter{NewHeadlessPresenter()}
	})
	cmdTopic := wire.CmdTopic(testDevice)
	inject(t, a, cmdTopic, sealCmd(t, sg, "c1", testDevice, wire.CmdIdentify, t0, map[string]string{"seconds": "30"}))
	waitFor(t, a, "identify screen", screenIs(a, "identify"))
	inject(t, a, cmdTopic, sealCmd(t, sg, "c1", testDevice, wire.CmdIdentify, t0, nil))
	inject(t, a, cmdTopic, sealCmd(t, sg, "c2", "atm-99", wire.CmdIdentify, t0, nil))
	st := a.Stats()
	if st.Rejected[wire.ReasonReplay] != 1 || st.Rejected[wire.ReasonWrongDevice] != 1 || st.Commands != 1 {
		t.Fatalf("replayed / misaddressed commands: %+v", st)
	}
	inject(t, a, cmdTopic, sealCmd(t, sg, "c3", testDevice, wire.CmdScreenshot, t0, nil))
	var got string
	select {
	case got = <-uploads:
	case <-time.After(20 * time.Second):
		t.Fatal("no screenshot upload")
	}
	want := "POST /api/v1/devices/" + testDevice + "/screenshot " + testDevice + ":s3cret image/png \x89PNG"
	if got != want {
		t.Fatalf("upload: got %q want %q", got, want)
	}
}

var _ = display.KindPhone

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A full disk (here: the cache file at its size cap) refuses the update
// with a rejected event and keeps the last good state, on screen and on
// disk.
func TestFullDiskKeepsLastGoodState(t *testing.T) {
	sg := testSigner(t, 1)
	var path string
	a, _, _ := fakeAgent(t, sg, t0, func(o *Options) {
		o.CacheMaxFileBytes = 128 << 10
		path = o.CachePath
	})
	lastOK := uint64(0)
	for seq := uint64(1); seq <= 60; seq++ {
		var items []wire.CampaignItem
		for i := 0; i < int(seq); i++ { // grows every time
			it := item(fmt.Sprintf("it-%d-%d", seq, i), 10, time.Time{}, t0.Add(time.Hour))
			it.Texts[0].Body = strings.Repeat("携帯電話で話しながらATMを操作しないでください。", 12)
			it.Texts[1].Body = strings.Repeat("Do not talk on a cell phone at the ATM. ", 9)
			items = append(items, it)
			if len(items) == wire.MaxCampaignItems {
				break
			}
		}
		before := a.Stats().Rejected[wire.ReasonInternal]
		inject(t, a, stateAll, sealSnap(t, sg, wire.All, seq, t0, withAlerts(alert(fmt.Sprintf("a-%d", seq), 90, time.Time{}, t0.Add(time.Hour))), withItems(items...)))
		if a.Stats().Rejected[wire.ReasonInternal] > before {
			break
		}
		lastOK = seq
	}
	if lastOK == 0 || lastOK == 60 {
		t.Fatalf("the size cap never refused an update (last ok %d)", lastOK)
	}
	want := fmt.Sprintf("alert:a-%d", lastOK)
	waitFor(t, a, "last good alert still shown", screenIs(a, want))
	if a.Cache().Seq(wire.All) != lastOK {
		t.Fatalf("seq %d, want %d", a.Cache().Seq(wire.All), lastOK)
	}
	a.Close()
	c, err := OpenCache(path, keyRing(t, sg), t0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := c.Snapshots()[wire.All]; s == nil || s.Seq != lastOK || c.Seq(wire.All) != lastOK {
		t.Fatalf("on disk after the failed write: %+v seq %d, want %d", s, c.Seq(wire.All), lastOK)
	}
}
