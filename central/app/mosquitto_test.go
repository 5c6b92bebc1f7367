package app_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startMosquitto runs /usr/sbin/mosquitto configured as docs/CENTRAL.md
// recommends for central (no queue limit for central's session, Nagle off),
// on a free loopback port. agent/testbroker's mosquitto keeps the Debian
// default-like max_queued_messages, which drops a burst to central.
func startMosquitto(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	os.Chmod(dir, 0o755)
	addr := freeAddrTB(tb)
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`listener %s 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
max_queued_messages 0
max_inflight_messages 1000
log_dest stderr
log_type error
`, port)), 0o644)
	var out bytes.Buffer
	cmd := exec.Command("/usr/sbin/mosquitto", "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start mosquitto: %v", err)
	}
	tb.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "tcp://" + addr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mosquitto not listening: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // process start-up: nothing to wait on but the port
	}
}

func freeAddrTB(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
