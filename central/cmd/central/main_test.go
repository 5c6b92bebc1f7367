package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atmguard/kiosk/deploy/sdnotify/sdnotifytest"
)

// The test re-executes its own binary as "central serve" (env
// CENTRAL_MAIN_ARGS) to check what a first and a second start print and store.
func TestMain(m *testing.M) {
	if args := os.Getenv("CENTRAL_MAIN_ARGS"); args != "" {
		if err := run(strings.Split(args, "\x1f")); err != nil {
			os.Stderr.WriteString("central: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serve(t *testing.T, args ...string) (lines []string, stop func() error) {
	return serveEnv(t, nil, args...)
}

func serveEnv(t *testing.T, env []string, args ...string) (lines []string, stop func() error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), "CENTRAL_MAIN_ARGS="+strings.Join(args, "\x1f"))
	out, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "central: keys in") {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("central did not start: %s", stderr.String())
	}
	return lines, func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		return cmd.Wait()
	}
}

func TestFirstStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	tok := filepath.Join(t.TempDir(), "token")
	lines, stop := serve(t, "serve", "--data", data, "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--enroll-token-file", tok)
	out := strings.Join(lines, "\n")
	var password string
	for _, l := range lines {
		if _, after, ok := strings.Cut(l, `created user "admin" with password `); ok {
			password = after
		}
	}
	if len(password) < 16 || !strings.Contains(out, "console at http://127.0.0.1:") || !strings.Contains(out, "generated signing key") {
		t.Fatalf("first start output:\n%s", out)
	}
	if err := stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	db, err := os.ReadFile(filepath.Join(data, "central.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(password)) {
		t.Fatal("the admin password is stored in clear")
	}
	if b, err := os.ReadFile(tok); err != nil || !strings.HasPrefix(string(b), "kt_") {
		t.Fatalf("token file: %q %v", b, err)
	}
	for _, f := range []string{"central.db", "broker.db", "keys/keys.json"} {
		if st, err := os.Stat(filepath.Join(data, f)); err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v mode %v", f, err, st.Mode())
		}
	}

	// Second start: no new password, same keys.
	lines, stop = serve(t, "serve", "--data", data, "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	out2 := strings.Join(lines, "\n")
	if strings.Contains(out2, "password") || strings.Contains(out2, "generated") {
		t.Fatalf("second start output:\n%s", out2)
	}
	stop()
}

func TestNoDefaults(t *testing.T) {
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--data", t.TempDir()},
		{"serve", "--data", t.TempDir(), "--http", ":0"},
		{"frobnicate"},
	} {
		if err := run(args); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestSystemdNotify: under systemd (NOTIFY_SOCKET set) central says READY=1
// once it serves and STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	sock, msgs := sdnotifytest.Socket(t)
	_, stop := serveEnv(t, []string{"NOTIFY_SOCKET=" + sock}, "serve", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	want := func(s string) {
		t.Helper()
		select {
		case m := <-msgs:
			if !strings.Contains(m, s) {
				t.Fatalf("notify %q, want %s", m, s)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s", s)
		}
	}
	want("READY=1")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want("STOPPING=1")
}
