package kiosk

import (
	"bufio"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"
)

// startXvfb starts a private X server with the same reset behaviour as the
// production Xorg command line (-noreset) but the server's default screen
// saver settings, so the test sees what the session script changes.
func startXvfb(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("Xvfb not installed (deploy/scripts/install-deps.sh installs xvfb)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-noreset", "-screen", "0", "640x480x24")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if err != nil {
		t.Fatalf("Xvfb did not report its display number: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

func xrun(t *testing.T, display string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestSessionDisablesBlankingAndRestrictsAccess(t *testing.T) {
	for _, tool := range []string{"xset", "xhost"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian x11-xserver-utils)", tool)
		}
	}
	d := startXvfb(t)
	before := xrun(t, d, "xset", "q")
	if !strings.Contains(before, "timeout:  600") {
		t.Fatalf("fresh Xvfb should have the default 600 s screen saver; xset q:\n%s", before)
	}

	cmd := exec.Command("./kiosk-session.sh")
	cmd.Env = append(os.Environ(), "DISPLAY="+d, "KIOSK_SESSION_ONESHOT=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kiosk-session.sh: %v\n%s", err, out)
	}

	after := xrun(t, d, "xset", "q")
	for _, want := range []string{"prefer blanking:  no", "timeout:  0"} {
		if !strings.Contains(after, want) {
			t.Errorf("after the session script, xset q lacks %q:\n%s", want, after)
		}
	}
	// Xvfb has no DPMS extension; on Xorg the script's `xset -dpms` and the
	// server's -dpms flag (checked below) turn it off.
	if strings.Contains(after, "DPMS is Enabled") {
		t.Errorf("DPMS still enabled:\n%s", after)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	acl := xrun(t, d, "xhost")
	if !strings.Contains(acl, "access control enabled") || !strings.Contains(acl, "SI:localuser:"+u.Username) {
		t.Errorf("xhost after the session script: want access control on and only localuser:%s:\n%s", u.Username, acl)
	}
}

func TestXServerFlags(t *testing.T) {
	unit, err := os.ReadFile("kiosk-x.service")
	if err != nil {
		t.Fatal(err)
	}
	var exec string
	for _, l := range strings.Split(string(unit), "\n") {
		if strings.HasPrefix(l, "ExecStart=") {
			exec = l
		}
	}
	for _, flag := range []string{"/usr/local/lib/kiosk/kiosk-session.sh", " -nolisten tcp", " -nocursor", " -s 0", " -dpms", " -noreset"} {
		if !strings.Contains(exec, flag) {
			t.Errorf("kiosk-x.service ExecStart lacks %q: %s", flag, exec)
		}
	}
	for _, want := range []string{"Restart=always", "User=kiosk", "PAMName=login"} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("kiosk-x.service lacks %s", want)
		}
	}
}
