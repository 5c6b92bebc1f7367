// Package sdnotifytest gives tests of daemons a real systemd notification
// socket: start the daemon with NOTIFY_SOCKET=<path> and read what it says
// (READY=1, WATCHDOG=1, STOPPING=1, STATUS=...).
package sdnotifytest

import (
	"net"
	"path/filepath"
	"testing"
)

// Socket creates a unixgram socket in a temporary directory and returns its
// path and the messages received on it, one datagram each. The socket is
// closed, and the reader goroutine ends (closing the channel), at cleanup.
func Socket(tb testing.TB) (path string, msgs <-chan string) {
	tb.Helper()
	path = filepath.Join(tb.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		tb.Fatalf("notify socket: %v", err)
	}
	ch := make(chan string, 100)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			select {
			case ch <- string(buf[:n]):
			case <-stop:
				return
			}
		}
	}()
	tb.Cleanup(func() {
		close(stop)
		conn.Close()
		<-done
	})
	return path, ch
}
