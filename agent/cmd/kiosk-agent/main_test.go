package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atmguard/kiosk/deploy/sdnotify/sdnotifytest"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/internal/wire"
)

// These tests run the real kiosk binary on the X server of xvfb-run (make
// test): the presenter, the agent core and the wiring between them.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func kioskBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("the kiosk needs an X server and DISPLAY is unset: run the tests under xvfb-run -a (make test does)")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kiosk-agent-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kiosk-agent")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// kiosk is a running kiosk-agent process whose log lines the test reads.
type kiosk struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	done  chan error
	mu    sync.Mutex
	log   []string
}

func startKiosk(t *testing.T, args ...string) *kiosk {
	t.Helper()
	return startKioskEnv(t, nil, args...)
}

func startKioskEnv(t *testing.T, env []string, args ...string) *kiosk {
	t.Helper()
	cmd := exec.Command(kioskBinary(t), args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &kiosk{t: t, cmd: cmd, lines: make(chan string, 1000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			k.mu.Lock()
			k.log = append(k.log, sc.Text())
			k.mu.Unlock()
			select {
			case k.lines <- sc.Text():
			default:
			}
		}
		close(k.lines)
		k.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-k.done
		}
		if t.Failed() {
			k.mu.Lock()
			t.Logf("kiosk log:\n%s", strings.Join(k.log, "\n"))
			k.mu.Unlock()
		}
	})
	return k
}

// waitLine waits for a log line matching re and returns its submatches.
func (k *kiosk) waitLine(re string) []string {
	k.t.Helper()
	rx := regexp.MustCompile(re)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-k.lines:
			if !ok {
				k.t.Fatalf("kiosk exited before logging %q", re)
			}
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			k.t.Fatalf("no log line %q within 60s", re)
		}
	}
}

func (k *kiosk) stop() error {
	k.t.Helper()
	if err := k.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		k.t.Fatal(err)
	}
	select {
	case err := <-k.done:
		return err
	case <-time.After(30 * time.Second):
		k.t.Fatal("kiosk did not stop within 30s of SIGTERM")
		return nil
	}
}

func renderHash(t *testing.T, s display.Screen, w, h int) string {
	t.Helper()
	img, err := display.Render(s, w, h)
	if err != nil {
		t.Fatal(err)
	}
	return display.FrameHash(img)
}

func TestParseFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string
	}{
		{nil, ""},
		{[]string{"--windowed", "--alert-file", "a.json", "--unsigned-demo"}, ""},
		{[]string{"--windowed", "--alert-file", "a.json"}, "needs --unsigned-demo"},
		{[]string{"--config", "d.toml", "--provisioning-key", "p", "--unsigned-demo"}, "refused with --config"},
		{[]string{"--config", "d.toml"}, "needs --provisioning-key"},
		{[]string{"--config", "d.toml", "--provisioning-key", "p", "--alert-file", "a.json"}, "without --config"},
		{[]string{"--lang-dwell", "10ms"}, "at least 1s"},
		{[]string{"stray"}, "unexpected arguments"},
		{[]string{"--no-such-flag"}, "not defined"},
	} {
		_, err := parseFlags(c.args)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("parseFlags(%q) = %v, want error containing %q", c.args, err, c.err)
		}
	}
}

func TestFirstFrameAndExit(t *testing.T) {
	k := startKiosk(t, "--windowed", "--width", "640", "--height", "360", "--exit-after-first-frame")
	m := k.waitLine(`first frame on screen" since_process_start=(\S+)`)
	t.Logf("first frame after %s", m[1])
	select {
	case err := <-k.done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not exit after the first frame")
	}
}

// TestAlertFile: without a config, and only with --unsigned-demo, the kiosk
// shows a local alert in each of its languages, its issuer replaced by the
// DEMO mark, and the frames are exactly the renderer's.
func TestAlertFile(t *testing.T) {
	src, err := os.ReadFile("../../../display/testdata/alert-0110.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alert.json")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := display.DecodeScreenJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	markDemo(&s)
	if s.Alert.Issuer != DemoMark {
		t.Fatalf("issuer %q, want the demo mark", s.Alert.Issuer)
	}
	k := startKiosk(t, "--windowed", "--width", "640", "--height", "360", "--alert-file", path, "--unsigned-demo", "--lang-dwell", "1s")
	seen := map[string]bool{}
	for len(seen) < 2 {
		m := k.waitLine(`msg=displayed screen=alert:a-0110 lang=(\w+) frame_hash=([0-9a-f]{64})`)
		s.Lang = m[1]
		if want := renderHash(t, s, 640, 360); m[2] != want {
			t.Fatalf("lang %s: presented frame %s, renderer says %s", m[1], m[2], want)
		}
		seen[m[1]] = true
	}
	if !seen["ja"] || !seen["en"] {
		t.Fatalf("languages shown: %v", seen)
	}
	if err := k.stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// signedConfig writes a device config signed by a fresh provisioning key;
// the broker address has nothing listening (the agent keeps retrying, and
// the kiosk still shows the standing warning and takes local triggers).
func signedConfig(t *testing.T, localAPI string) (cfgPath, pubPath, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	c := config.Example()
	c.Broker = config.Broker{URL: "tcp://" + freePort(t), Username: "atm-13-0001", Password: "test-password-not-default"}
	c.Central = config.Central{ContentURL: "http://127.0.0.1:1", APIURL: "http://127.0.0.1:1", InsecureHTTP: true}
	c.Display.Font = ""
	c.Display.BurnInProtection = false
	c.Schedule.Hours = nil
	c.Schedule.Quiet = nil
	c.LocalAPI.Listen = localAPI
	c.Cache.Path = filepath.Join(dir, "unused-cache.db")
	data := c.Marshal()
	if _, err := config.Parse(data, "test.toml"); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	priv, err := config.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := wire.NewSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := config.Sign(data, signer)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "device.toml")
	pubPath = filepath.Join(dir, "provisioning.pub")
	for p, b := range map[string][]byte{cfgPath: data, config.SigPath(cfgPath): sig, pubPath: config.MarshalPublicKey(priv.Public().(ed25519.PublicKey))} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cfgPath, pubPath, filepath.Join(dir, "data")
}

// TestAgentCore: with a signed config the agent core drives the presenter:
// it starts on the standing warning, and a local "phone-detected" trigger
// puts the hang-up screen up; both frames are the renderer's.
func TestAgentCore(t *testing.T) {
	api := freePort(t)
	cfgPath, pub, data := signedConfig(t, api)
	k := startKiosk(t, "--config", cfgPath, "--provisioning-key", pub, "--data", data, "--windowed", "--width", "640", "--height", "360")
	m := k.waitLine(`msg=screen .*screen=standing lang="?(\w*)"? frame=([0-9a-f]+)`)
	if want := renderHash(t, display.Screen{Kind: display.KindStanding, Lang: m[1]}, 640, 360); !strings.HasPrefix(want, m[2]) {
		t.Fatalf("standing frame %s, renderer says %s", m[2], want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+api+"/v1/trigger", strings.NewReader(`{"event":"phone-detected"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("trigger: %s %s", resp.Status, body)
	}
	m = k.waitLine(`msg=screen .*screen=phone lang="?(\w*)"? frame=([0-9a-f]+)`)
	if want := renderHash(t, display.Screen{Kind: display.KindPhone, Lang: m[1]}, 640, 360); !strings.HasPrefix(want, m[2]) {
		t.Fatalf("phone frame %s, renderer says %s", m[2], want)
	}
	if err := k.stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "cache.db")); err != nil {
		t.Fatalf("--data: %v", err)
	}
}

// TestTamperedConfig: a config edited after signing is refused, the
// standing warning is shown all the same (never a blank screen), and the
// exit status reports the refusal.
func TestTamperedConfig(t *testing.T) {
	cfgPath, pub, data := signedConfig(t, freePort(t))
	b, _ := os.ReadFile(cfgPath)
	if err := os.WriteFile(cfgPath, append(b, []byte("\n# edited after signing\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	k := startKiosk(t, "--config", cfgPath, "--provisioning-key", pub, "--data", data, "--windowed", "--width", "640", "--height", "360")
	k.waitLine(`device config refused`)
	k.waitLine(`first frame on screen`)
	err := k.stop()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !strings.Contains(strings.Join(k.log, "\n"), "signature") {
		t.Error("the log does not say the signature was wrong")
	}
}

// TestSystemdNotify: under systemd (Type=notify) the kiosk says READY=1 only
// once the first frame is on the screen, pings the watchdog while it runs
// and says STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	sock, msgs := sdnotifytest.Socket(t)
	// WATCHDOG_USEC of 200 ms: the kiosk pings every 100 ms.
	k := startKioskEnv(t, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000", "WATCHDOG_PID="},
		"--windowed", "--width", "320", "--height", "240")
	k.waitLine("first frame on screen")
	seen := map[string]bool{}
	deadline := time.After(60 * time.Second)
	for !(seen["READY=1"] && seen["WATCHDOG=1"]) {
		select {
		case m := <-msgs:
			for _, l := range strings.Split(m, "\n") {
				seen[l] = true
			}
		case <-deadline:
			t.Fatalf("notify messages so far %v: want READY=1 and WATCHDOG=1", seen)
		}
	}
	if err := k.stop(); err != nil {
		t.Fatalf("kiosk exit: %v", err)
	}
	for !seen["STOPPING=1"] {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("notify socket closed before STOPPING=1")
			}
			for _, l := range strings.Split(m, "\n") {
				seen[l] = true
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no STOPPING=1; saw %v", seen)
		}
	}
}
