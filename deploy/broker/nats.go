package broker

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/atmguard/kiosk/internal/wire"
)

// NATSBinary is Debian's nats-server.
const NATSBinary = "/usr/sbin/nats-server"

// NATSNode are the values of nats/node.conf.tmpl for one node.
type NATSNode struct {
	Name, ClusterName, Host                     string
	ClientPort, ClusterPort, MQTTPort, HTTPPort int
	Routes                                      []string // host:port of every node's cluster listener (itself included is fine)
	StoreDir                                    string
	MaxFileStore                                string // e.g. "10GB"
	TLSCert, TLSKey                             string // empty: MQTT without TLS (loopback tests only)
}

// RenderNATSNode renders the node template.
func RenderNATSNode(n NATSNode) ([]byte, error) {
	tmpl, err := template.ParseFiles(filepath.Join(ConfigDir(), "nats", "node.conf.tmpl"))
	if err != nil {
		return nil, fmt.Errorf("nats node template: %w", err)
	}
	if n.MaxFileStore == "" {
		n.MaxFileStore = "10GB"
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, n); err != nil {
		return nil, fmt.Errorf("render nats node %s: %w", n.Name, err)
	}
	return b.Bytes(), nil
}

// natsSubjectID is a device id as it appears in a NATS subject: NATS maps
// MQTT's '.' to "//" ('/' is the level separator that becomes '.').
func natsSubjectID(id string) string { return strings.ReplaceAll(id, ".", "//") }

// RenderNATSUsers renders users.conf: "central" may publish and subscribe
// to everything under kiosk.v1; each device (user = device id) may publish
// only its own status and events and subscribe only to the state scopes
// and its own commands, over MQTT only. Passwords are stored as bcrypt
// hashes of the given cost. "$MQTT.sub.>" is where nats-server delivers
// QoS 1 messages from its JetStream consumers to the MQTT connection: without
// it every QoS 1 subscription fails with a permission violation (measured;
// the cluster test also checks a device cannot use it to read another
// device's commands) (bcrypt.DefaultCost for production; NATS checks
// it on every connect, see docs/OPERATIONS.md on reconnect storms).
func RenderNATSUsers(users map[string]string, cost int) ([]byte, error) {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("users: [\n")
	for _, u := range names {
		h, err := bcrypt.GenerateFromPassword([]byte(users[u]), cost)
		if err != nil {
			return nil, fmt.Errorf("nats user %s: %w", u, err)
		}
		if u == "central" {
			fmt.Fprintf(&b, "  {user: central, password: %q, allowed_connection_types: [\"MQTT\"],\n   permissions: {publish: {allow: [\"kiosk.v1.>\"]}, subscribe: {allow: [\"kiosk.v1.>\", \"$MQTT.sub.>\"]}}}\n", h)
			continue
		}
		if err := wire.ValidID(u); err != nil {
			return nil, fmt.Errorf("nats user %q: %w", u, err)
		}
		s := natsSubjectID(u)
		fmt.Fprintf(&b, "  {user: %q, password: %q, allowed_connection_types: [\"MQTT\"],\n   permissions: {publish: {allow: [\"kiosk.v1.device.%s.status\", \"kiosk.v1.device.%s.event\"]},\n                 subscribe: {allow: [\"kiosk.v1.state.all\", \"kiosk.v1.state.pref.*\", \"kiosk.v1.state.branch.*\", \"kiosk.v1.state.device.%s\", \"kiosk.v1.device.%s.cmd\", \"$MQTT.sub.>\"]}}}\n",
			u, h, s, s, s, s)
	}
	b.WriteString("]\n")
	return []byte(b.String()), nil
}

// NATSCluster is a local 3-node cluster for tests and benchmarks.
type NATSCluster struct {
	Nodes []*NATSProc
}

// NATSProc is one running nats-server.
type NATSProc struct {
	Node     NATSNode
	Dir      string
	MQTTAddr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
}

// StartNATSCluster renders and starts n nodes on loopback under dir and
// waits until JetStream reports healthy on every node.
func StartNATSCluster(ctx context.Context, dir string, n int, users map[string]string) (*NATSCluster, error) {
	usersConf, err := RenderNATSUsers(users, bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	c := &NATSCluster{}
	var routes []string
	for i := 0; i < n; i++ {
		var ports [4]int
		for j := range ports {
			if ports[j], err = FreePort(); err != nil {
				return nil, err
			}
		}
		node := NATSNode{Name: "kiosk-" + string(rune('a'+i)), ClusterName: "kiosk", Host: "127.0.0.1",
			ClientPort: ports[0], ClusterPort: ports[1], MQTTPort: ports[2], HTTPPort: ports[3], MaxFileStore: "1GB"}
		routes = append(routes, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])))
		nd := filepath.Join(dir, node.Name)
		node.StoreDir = filepath.Join(nd, "js")
		c.Nodes = append(c.Nodes, &NATSProc{Node: node, Dir: nd, MQTTAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2]))})
	}
	for _, p := range c.Nodes {
		p.Node.Routes = routes
		if err := os.MkdirAll(p.Dir, 0o700); err != nil {
			return nil, err
		}
		conf, err := RenderNATSNode(p.Node)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(p.Dir, "nats.conf"), conf, 0o600); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(p.Dir, "users.conf"), usersConf, 0o600); err != nil {
			return nil, err
		}
		if err := p.Start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, p := range c.Nodes {
		if err := p.WaitHealthy(ctx); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// SetUsers rewrites users.conf on every node and makes the running nodes
// reload it (SIGHUP), as an operator adds enrolled devices.
func (c *NATSCluster) SetUsers(users map[string]string) error {
	conf, err := RenderNATSUsers(users, bcrypt.MinCost)
	if err != nil {
		return err
	}
	for _, p := range c.Nodes {
		if err := os.WriteFile(filepath.Join(p.Dir, "users.conf"), conf, 0o600); err != nil {
			return err
		}
		p.mu.Lock()
		cmd := p.cmd
		p.mu.Unlock()
		if cmd != nil && cmd.ProcessState == nil {
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				return fmt.Errorf("reload %s: %w", p.Node.Name, err)
			}
		}
	}
	return nil
}

// MQTTURLs are the tcp:// URLs of every node's MQTT listener.
func (c *NATSCluster) MQTTURLs() []string {
	var u []string
	for _, p := range c.Nodes {
		u = append(u, "tcp://"+p.MQTTAddr)
	}
	return u
}

// Stop stops every node.
func (c *NATSCluster) Stop() {
	for _, p := range c.Nodes {
		p.Kill(syscall.SIGTERM)
	}
}

// Start runs the node's nats-server (again, after a Kill: same ports, same
// JetStream store).
func (p *NATSProc) Start() error {
	cmd := exec.Command(NATSBinary, "-c", filepath.Join(p.Dir, "nats.conf"))
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: log, mu: &p.mu}, &lockedWriter{w: log, mu: &p.mu}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server %s: %w", p.Node.Name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() // owned by the process: ends when it exits
	p.mu.Lock()
	p.cmd, p.done, p.log = cmd, done, log
	p.mu.Unlock()
	return nil
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Log is the node's output so far.
func (p *NATSProc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log == nil {
		return ""
	}
	return p.log.String()
}

// Kill sends sig (SIGKILL for a crash) and waits for the exit.
func (p *NATSProc) Kill(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// WaitHealthy polls the node's /healthz?js-enabled-only... until JetStream is
// ready (nats-server has no start-up line that says "JetStream and MQTT are
// ready in a cluster"; the health endpoint is the documented signal).
func (p *NATSProc) WaitHealthy(ctx context.Context) error {
	url := fmt.Sprintf("http://%s:%d/healthz", p.Node.Host, p.Node.HTTPPort)
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
			return fmt.Errorf("nats-server %s exited:\n%s", p.Node.Name, p.Log())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			b := new(bytes.Buffer)
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b.String())
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("nats-server %s not healthy after 60 s (last: %s):\n%s", p.Node.Name, last, p.Log())
}
