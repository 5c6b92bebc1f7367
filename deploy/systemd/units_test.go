package units

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var units = []string{"kiosk-central.service", "kiosk-agent.service", "../kiosk/kiosk-x.service"}

// stage copies the units into a temp dir with each ExecStart binary replaced
// by a link to /bin/true under the temp dir: verify checks that Exec paths
// exist, and the real binaries are not installed on a build machine.
func stage(t *testing.T) (dir string, names []string) {
	t.Helper()
	dir = t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	execRe := regexp.MustCompile(`(?m)^(Exec(?:Start|StartPre|Stop|Reload)=[-@:+!]*)(/\S+)`)
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		out := execRe.ReplaceAllStringFunc(string(b), func(m string) string {
			p := execRe.FindStringSubmatch(m)
			if p[2] == "/bin/sh" {
				return m
			}
			link := filepath.Join(bin, filepath.Base(p[2]))
			if _, err := os.Lstat(link); err != nil {
				if err := os.Symlink("/bin/true", link); err != nil {
					t.Fatal(err)
				}
			}
			return p[1] + link
		})
		name := filepath.Base(u)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, "./"+name)
	}
	return dir, names
}

func analyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	return p
}

func TestVerify(t *testing.T) {
	sa := analyze(t)
	dir, names := stage(t)
	cmd := exec.Command(sa, append([]string{"verify"}, names...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: err=%v, output (must be empty):\n%s", err, out)
	}
}

// TestSecurityExposure fails if a change loosens the sandbox: the exposure
// score (0 = locked down, 10 = none) measured with systemd 252 is 1.4 for
// central and 1.8 for the agent; 2.5 leaves room for scoring changes in
// other systemd versions, not for dropping a protection.
func TestSecurityExposure(t *testing.T) {
	sa := analyze(t)
	dir, names := stage(t)
	for _, n := range names[:2] {
		cmd := exec.Command(sa, "security", "--offline=true", "--threshold=25", "--no-pager", n)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Errorf("%s: exposure above 2.5 (or analyze failed: %v): %s", n, err, lines[len(lines)-1])
		}
	}
}

// TestContract checks the directives the daemons and operations rely on.
func TestContract(t *testing.T) {
	want := map[string][]string{
		"kiosk-central.service": {"Type=notify", "WatchdogSec=30s", "Restart=always", "StartLimitIntervalSec=0",
			"User=kiosk-central", "StateDirectory=kiosk-central", "ProtectSystem=strict", "NoNewPrivileges=yes",
			"PrivateTmp=yes", "LimitNOFILE=262144", "MemoryDenyWriteExecute=yes"},
		"kiosk-agent.service": {"Type=notify", "WatchdogSec=20s", "Restart=always", "StartLimitIntervalSec=0",
			"User=kiosk", "StateDirectory=kiosk-agent", "ProtectSystem=strict", "NoNewPrivileges=yes",
			"BindsTo=kiosk-x.service", "Environment=DISPLAY=:0", "BindReadOnlyPaths=-/tmp/.X11-unix", "DeviceAllow=char-drm rw"},
	}
	for file, directives := range want {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, d := range directives {
			if !lines[d] {
				t.Errorf("%s lacks %q", file, d)
			}
		}
	}
}
