package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MosquittoBinary is Debian's broker.
const MosquittoBinary = "/usr/sbin/mosquitto"

// ConfigDir is this package's directory in the source tree, where the
// production configs live (deploy/broker).
func ConfigDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "deploy/broker"
	}
	return filepath.Dir(file)
}

// MosquittoOptions describe a local run of the production configuration.
type MosquittoOptions struct {
	// Dir holds the generated config, password file, certificates and
	// persistence; it must exist. It survives Stop, so Start on the same
	// Dir is a broker restart with its persisted state.
	Dir string
	// Conf and ACL default to the production files in ConfigDir()/mosquitto.
	Conf, ACL string
	// Users are username -> password. The password file is (re)written on
	// every Start.
	Users map[string]string
	// TLSPort and PlainPort are the loopback ports replacing 8883 and 1883;
	// 0 picks free ones (kept across restarts of the same *Mosquitto).
	TLSPort, PlainPort int
	// Log receives mosquitto's log (stderr); nil discards it.
	Log io.Writer
	// Extra lines appended to the config (e.g. different limits for a bench).
	Extra []string
}

// Mosquitto is a running /usr/sbin/mosquitto.
type Mosquitto struct {
	opt       MosquittoOptions
	TLSAddr   string // 127.0.0.1:port of the TLS device listener
	PlainAddr string // 127.0.0.1:port of the loopback listener
	CAFile    string
	CertPool  *x509.CertPool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit error
}

// StartMosquitto writes the rewritten config and credentials into
// opt.Dir, starts mosquitto and returns once it logs that it is running.
func StartMosquitto(ctx context.Context, opt MosquittoOptions) (*Mosquitto, error) {
	if opt.Conf == "" {
		opt.Conf = filepath.Join(ConfigDir(), "mosquitto", "mosquitto.conf")
	}
	if opt.ACL == "" {
		opt.ACL = filepath.Join(ConfigDir(), "mosquitto", "acl")
	}
	var err error
	for _, p := range []*int{&opt.TLSPort, &opt.PlainPort} {
		if *p == 0 {
			if *p, err = FreePort(); err != nil {
				return nil, err
			}
		}
	}
	m := &Mosquitto{opt: opt,
		TLSAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(opt.TLSPort)),
		PlainAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(opt.PlainPort)),
	}
	if err := m.prepare(); err != nil {
		return nil, err
	}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RewriteMosquittoConf turns the production config into a local one: the
// listeners move to loopback ports, every file path into dir, logging to
// stderr, and the run-as user to the current one. Every other line is kept
// as written, so the tests exercise the deployed settings.
func RewriteMosquittoConf(prod string, dir string, tlsPort, plainPort int) (string, error) {
	var out []string
	seenTLS, seenPlain := false, false
	user := "root"
	if os.Geteuid() != 0 {
		user = "" // mosquitto only switches user when started as root
	}
	paths := map[string]string{
		"password_file":        filepath.Join(dir, "passwd"),
		"acl_file":             filepath.Join(dir, "acl"),
		"cafile":               filepath.Join(dir, "ca.crt"),
		"certfile":             filepath.Join(dir, "server.crt"),
		"keyfile":              filepath.Join(dir, "server.key"),
		"persistence_location": filepath.Join(dir, "data") + "/",
	}
	for i, line := range strings.Split(prod, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			out = append(out, line)
			continue
		}
		switch key := f[0]; {
		case key == "listener" && len(f) >= 2 && f[1] == "8883":
			out = append(out, fmt.Sprintf("listener %d 127.0.0.1", tlsPort))
			seenTLS = true
		case key == "listener" && len(f) >= 2 && f[1] == "1883":
			out = append(out, fmt.Sprintf("listener %d 127.0.0.1", plainPort))
			seenPlain = true
		case key == "listener":
			return "", fmt.Errorf("mosquitto config line %d: unexpected listener %q (the rewrite knows 8883 and 1883)", i+1, line)
		case paths[key] != "":
			out = append(out, key+" "+paths[key])
		case key == "log_dest":
			// "running" (how StartMosquitto knows it is up) is logged at
			// level information.
			if !strings.Contains(strings.Join(out, "\n"), "log_dest stderr") {
				out = append(out, "log_dest stderr", "log_type information")
			}
		case key == "user":
			if user != "" {
				out = append(out, "user "+user)
			}
		default:
			out = append(out, line)
		}
	}
	if !seenTLS || !seenPlain {
		return "", fmt.Errorf("mosquitto config: want listeners 8883 (TLS) and 1883 (loopback), found tls=%v plain=%v", seenTLS, seenPlain)
	}
	return strings.Join(out, "\n") + "\n", nil
}

func (m *Mosquitto) prepare() error {
	dir := m.opt.Dir
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return fmt.Errorf("mosquitto dir: %w", err)
	}
	prod, err := os.ReadFile(m.opt.Conf)
	if err != nil {
		return fmt.Errorf("read mosquitto config: %w", err)
	}
	conf, err := RewriteMosquittoConf(string(prod), dir, m.opt.TLSPort, m.opt.PlainPort)
	if err != nil {
		return fmt.Errorf("%s: %w", m.opt.Conf, err)
	}
	conf += strings.Join(m.opt.Extra, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	acl, err := os.ReadFile(m.opt.ACL)
	if err != nil {
		return fmt.Errorf("read mosquitto acl: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acl"), acl, 0o600); err != nil {
		return err
	}
	names := make([]string, 0, len(m.opt.Users))
	for u := range m.opt.Users {
		names = append(names, u)
	}
	sort.Strings(names)
	var pw strings.Builder
	for _, u := range names {
		line, err := MosquittoPasswordLine(u, m.opt.Users[u])
		if err != nil {
			return err
		}
		pw.WriteString(line + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(pw.String()), 0o600); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err != nil {
		if err := WriteTestPKI(dir); err != nil {
			return err
		}
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return err
	}
	m.CAFile = filepath.Join(dir, "ca.crt")
	m.CertPool = x509.NewCertPool()
	if !m.CertPool.AppendCertsFromPEM(caPEM) {
		return errors.New("mosquitto test CA: no certificate in ca.crt")
	}
	return nil
}

var runningRe = regexp.MustCompile(`mosquitto version \S+ running`)

func (m *Mosquitto) start(ctx context.Context) error {
	cmd := exec.Command(MosquittoBinary, "-c", filepath.Join(m.opt.Dir, "mosquitto.conf"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", MosquittoBinary, err)
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	var tail []string
	var tailMu sync.Mutex
	scanDone := make(chan struct{})
	go func() { // owned by the process: ends when mosquitto closes stderr
		defer close(scanDone)
		sc := bufio.NewScanner(stderr)
		isReady := false
		for sc.Scan() {
			line := sc.Text()
			if m.opt.Log != nil {
				fmt.Fprintln(m.opt.Log, line)
			}
			tailMu.Lock()
			if tail = append(tail, line); len(tail) > 20 {
				tail = tail[1:]
			}
			tailMu.Unlock()
			if !isReady && runningRe.MatchString(line) {
				isReady = true
				close(ready)
			}
		}
	}()
	m.mu.Lock()
	m.cmd, m.done, m.err = cmd, done, nil
	m.mu.Unlock()
	go func() {
		<-scanDone
		err := cmd.Wait()
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(done)
	}()
	lastLines := func() string {
		tailMu.Lock()
		defer tailMu.Unlock()
		return strings.Join(tail, "\n")
	}
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("mosquitto exited at start (%v):\n%s", m.err, lastLines())
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("mosquitto not running: %w:\n%s", ctx.Err(), lastLines())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("mosquitto did not report running within 30 s:\n%s", lastLines())
	}
}

// Stop sends SIGTERM (mosquitto then saves its persistence file) and
// waits for the process to exit.
func (m *Mosquitto) Stop() error {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return errors.New("mosquitto ignored SIGTERM for 30 s; killed")
	}
	return nil
}

// Restart stops mosquitto and starts it again on the same ports and
// directory (the password file is rewritten from Users).
func (m *Mosquitto) Restart(ctx context.Context) error {
	if err := m.Stop(); err != nil {
		return err
	}
	if err := m.prepare(); err != nil {
		return err
	}
	return m.start(ctx)
}

// PID of the running process (for RSS measurements).
func (m *Mosquitto) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// ClientTLS is the TLS config a client uses against the TLS listener.
func (m *Mosquitto) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: m.CertPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
