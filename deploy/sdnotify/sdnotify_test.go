package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atmguard/kiosk/internal/clock"
)

// listen creates a real notification socket, as systemd would, and points
// NOTIFY_SOCKET at it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	// The deadline only bounds a broken test; every message read here is
	// sent before or by the step the test just triggered.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestReadyAndStopping(t *testing.T) {
	c := listen(t)
	if ok, err := Ready(); !ok || err != nil {
		t.Fatalf("Ready = %v, %v", ok, err)
	}
	if got := read(t, c); got != "READY=1" {
		t.Fatalf("got %q, want READY=1", got)
	}
	if ok, err := Stopping(); !ok || err != nil {
		t.Fatalf("Stopping = %v, %v", ok, err)
	}
	if got := read(t, c); got != "STOPPING=1" {
		t.Fatalf("got %q, want STOPPING=1", got)
	}
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	if ok, err := Ready(); ok || err != nil {
		t.Fatalf("Ready without socket = %v, %v; want false, nil", ok, err)
	}
	// Watchdog must return at once, not block until ctx ends.
	if err := Watchdog(context.Background(), clock.NewFake(time.Unix(0, 0)), func() error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
}

func TestWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(int((20 * time.Second).Microseconds())))
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if iv, err := Interval(); err != nil || iv != 10*time.Second {
		t.Fatalf("Interval = %v, %v; want 10s", iv, err)
	}

	clk := clock.NewFake(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	var sick atomic.Bool
	healthy := func() error {
		if sick.Load() {
			return errors.New("scheduler stalled\nfor 40s")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watchdog(ctx, clk, healthy, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watchdog: %v", err)
		}
	}()
	if !clk.BlockUntil(1, nil) {
		t.Fatal("ticker never armed")
	}

	clk.Advance(10 * time.Second)
	if got := read(t, c); got != "WATCHDOG=1" {
		t.Fatalf("healthy tick sent %q, want WATCHDOG=1", got)
	}
	// Sick: the ping is withheld; the only datagram is the status line.
	// Datagrams on one socket keep their order, so if a ping had been sent
	// it would be read here instead.
	sick.Store(true)
	clk.Advance(10 * time.Second)
	if got := read(t, c); got != "STATUS=unhealthy: scheduler stalled for 40s" {
		t.Fatalf("sick tick sent %q, want the status line and no ping", got)
	}
	sick.Store(false)
	clk.Advance(10 * time.Second)
	if got := read(t, c); got != "STATUS=healthy" {
		t.Fatalf("recovery sent %q, want STATUS=healthy", got)
	}
	if got := read(t, c); got != "WATCHDOG=1" {
		t.Fatalf("recovered tick sent %q, want WATCHDOG=1", got)
	}
}

func TestWatchdogForAnotherPIDIsOff(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "20000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if iv, err := Interval(); err != nil || iv != 0 {
		t.Fatalf("Interval for another pid = %v, %v; want 0", iv, err)
	}
}
