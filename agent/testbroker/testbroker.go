// Package testbroker starts real MQTT brokers for tests: an embedded mochi
// server (github.com/mochi-mqtt/server/v2) or a Debian mosquitto process
// (/usr/sbin/mosquitto), both on a free loopback port, plus a TCP Proxy that
// can cut and restore the network between a client and a broker.
//
// Typical use runs the same test against both brokers:
//
//	testbroker.Each(t, func(t *testing.T, b *testbroker.Broker) {
//		c := connect(t, b.URL)
//		...
//	})
//
// Everything is torn down by t.Cleanup. A missing mosquitto binary fails the
// test with a hint (deploy/scripts/install-deps.sh installs it); it is never
// skipped silently.
//
// Both brokers are configured the way ARCHITECTURE.md says production
// brokers must be: retained messages never expire (mochi's
// MaximumMessageExpiryInterval 0), a small per-client write queue for mochi,
// set_tcp_nodelay and a large max_queued_messages for mosquitto. Both allow
// anonymous clients: tests that need ACLs configure their own broker.
package testbroker

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/atmguard/kiosk/internal/mochilisten"
)

// MosquittoPath is where Debian installs mosquitto.
const MosquittoPath = "/usr/sbin/mosquitto"

// Broker is a running broker.
type Broker struct {
	Kind string // "mochi" or "mosquitto"
	Addr string // host:port
	URL  string // tcp://host:port, for paho

	// Server is the embedded mochi server (nil for mosquitto); tests may use
	// its inline client (Server.Publish).
	Server *mochi.Server

	stopOnce sync.Once
	stop     func()
}

// Close stops the broker (idempotent; also run by t.Cleanup).
func (b *Broker) Close() { b.stopOnce.Do(b.stop) }

// Each runs f as two subtests, "mochi" and "mosquitto", each with a fresh broker.
func Each(t *testing.T, f func(t *testing.T, b *Broker)) {
	t.Helper()
	t.Run("mochi", func(t *testing.T) { f(t, Mochi(t)) })
	t.Run("mosquitto", func(t *testing.T) { f(t, Mosquitto(t)) })
}

// Mochi starts an embedded mochi broker on 127.0.0.1:0.
func Mochi(tb testing.TB) *Broker {
	tb.Helper()
	return startMochi(tb, nil, nil)
}

// ACL decides whether a client may publish (write) to or subscribe to a
// topic or filter. A refused subscription gets SUBACK return code 0x80
// (MQTT 3.1.1), as a NATS node does for a while after a cluster change.
type ACL func(clientID, topic string, write bool) bool

// MochiACL starts an embedded mochi broker whose topic permissions are acl
// (connections are still all accepted).
func MochiACL(tb testing.TB, acl ACL) *Broker {
	tb.Helper()
	return startMochi(tb, nil, acl)
}

// MochiTLS starts an embedded mochi broker with a TLS listener using cfg
// (set ClientAuth and ClientCAs to require client certificates). Its URL
// is ssl://127.0.0.1:<port>.
func MochiTLS(tb testing.TB, cfg *tls.Config) *Broker {
	tb.Helper()
	return startMochi(tb, cfg, nil)
}

func startMochi(tb testing.TB, tlsCfg *tls.Config, acl ACL) *Broker {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	caps := mochi.NewDefaultServerCapabilities()
	// the default (86400 s) also expires MQTT 3.1.1 retained messages
	caps.MaximumMessageExpiryInterval = 0
	caps.MaximumClientWritesPending = 256
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: log, Capabilities: caps})
	if err := s.AddHook(&allowHook{acl: acl}, nil); err != nil {
		tb.Fatalf("testbroker: mochi auth hook: %v", err)
	}
	l := mochilisten.NewTCP(s, listeners.Config{ID: "tcp", Address: "127.0.0.1:0", TLSConfig: tlsCfg})
	if err := s.AddListener(l); err != nil {
		tb.Fatalf("testbroker: mochi listener: %v", err)
	}
	if err := s.Serve(); err != nil {
		tb.Fatalf("testbroker: mochi serve: %v", err)
	}
	addr := l.Address()
	scheme := "tcp://"
	if tlsCfg != nil {
		scheme = "ssl://"
	}
	b := &Broker{Kind: "mochi", Addr: addr, URL: scheme + addr, Server: s, stop: func() { _ = s.Close() }}
	tb.Cleanup(b.Close)
	return b
}

// Mosquitto starts /usr/sbin/mosquitto with a generated config on a free
// loopback port and waits until it accepts connections.
func Mosquitto(tb testing.TB) *Broker {
	tb.Helper()
	if _, err := os.Stat(MosquittoPath); err != nil {
		tb.Fatalf("testbroker: %s not found (apt-get install mosquitto; deploy/scripts/install-deps.sh does it): %v", MosquittoPath, err)
	}
	dir := tb.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("testbroker: %v", err)
		}
		b, err := startMosquitto(tb, dir, port)
		if err == nil {
			return b
		}
		lastErr = err // most likely the port was taken in between; try another
	}
	tb.Fatalf("testbroker: mosquitto did not start: %v", lastErr)
	return nil
}

func startMosquitto(tb testing.TB, dir string, port int) (*Broker, error) {
	conf := filepath.Join(dir, fmt.Sprintf("mosquitto-%d.conf", port))
	body := fmt.Sprintf(`# generated by agent/testbroker
listener %d 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
max_queued_messages 10000
max_inflight_messages 100
log_dest stderr
log_type error
log_type warning
`, port)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	// the config dir must be readable after mosquitto drops root privileges
	_ = os.Chmod(dir, 0o755)
	var out syncBuffer
	cmd := exec.Command(MosquittoPath, "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", MosquittoPath, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case werr := <-exited:
			return nil, fmt.Errorf("mosquitto exited (%v): %s", werr, out.String())
		case <-time.After(20 * time.Millisecond): // poll interval while the process starts
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("mosquitto not listening on %s after 10 s: %s", addr, out.String())
		}
	}
	b := &Broker{Kind: "mosquitto", Addr: addr, URL: "tcp://" + addr, stop: func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}}
	tb.Cleanup(func() {
		b.Close()
		if tb.Failed() {
			tb.Logf("mosquitto output:\n%s", out.String())
		}
	})
	return b, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// allowHook lets every client connect and use every topic (mochi's own
// auth.AllowHook pulls in a YAML dependency this module does not need),
// unless acl says otherwise.
type allowHook struct {
	mochi.HookBase
	acl ACL
}

func (h *allowHook) ID() string { return "testbroker-allow-all" }

func (h *allowHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *allowHook) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (h *allowHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	return h.acl == nil || h.acl(cl.ID, topic, write)
}
