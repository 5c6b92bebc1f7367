package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary play the child role: bench re-executes
// os.Executable() with "child", which here is this test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		if err := runChild(context.Background(), os.Args[2:]); err != nil {
			os.Stderr.WriteString("child: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchSmall runs the whole benchmark machinery at a tiny size: central
// with its embedded broker, child processes of real agent cores and paho
// subscribers, the storm, and the ingest run; every phase must complete.
func TestBenchSmall(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	stdout := captureStdout(t, func() error {
		return runBench(context.Background(), []string{"-n", "12", "-per-child", "5", "-ingest", "300", "-ingest-msgs", "400",
			"-json", out, "-work", t.TempDir()})
	})
	if !strings.Contains(stdout, "| broker | measurement |") {
		t.Fatalf("no table printed:\n%s", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res []Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range res {
		if r.Failed {
			t.Errorf("incomplete: %+v", r)
		}
		seen[r.Name] = true
		if strings.Contains(r.Name, "->") && strings.Contains(r.Name, "displayed (real core)") && r.Lat.N != 12 {
			t.Errorf("%s: %d latencies, want 12", r.Name, r.Lat.N)
		}
	}
	for _, want := range []string{"bare paho fan-out (publish -> received)", "agents publish -> displayed (real core)",
		"reconnect storm: central+broker restart -> all show new alert", "central ingest status(retained)+events via broker"} {
		if !seen[want] {
			t.Errorf("no result %q in %v", want, res)
		}
	}
}

func captureStdout(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var buf bytes.Buffer
		buf.ReadFrom(r)
		done <- buf.String()
	}()
	ferr := f()
	os.Stdout = old
	w.Close()
	s := <-done
	if ferr != nil {
		t.Fatalf("bench: %v\n%s", ferr, s)
	}
	return s
}
