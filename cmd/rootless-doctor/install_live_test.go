package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// Live test of install against a real systemd user manager of a throwaway account
// (livetest.UserManager: systemd --user in a private mount namespace, the account's commands
// in a session group beside it), with a 0666 tun node over /dev/net/tun there.

func runAs(t *testing.T, m *livetest.Manager, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := m.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), errOut.String(), code
}

// Issue 12, problem 2: install said "started" and exited 0 for a service that died at once.
// An engine that exits 1 must make install report the unit's failure and its journal, exit 1.
func TestLiveInstallReportsAFailedService(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "newuidmap", "journalctl")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	livetest.UserManager(t, user, map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o666)}, func(m *livetest.Manager) {
		out, errOut, code := runAs(t, m, bin, "install", "--wait", "90s", "--", "/bin/false")
		t.Logf("install -- /bin/false: exit %d\n%s%s", code, out, errOut)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, want := range []string{"the engine did not come up", "rootless-doctor.service: ", "journalctl --user -u rootless-doctor.service"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q", want)
			}
		}
		if strings.Contains(out, "is up") {
			t.Errorf("install said the service is up:\n%s", out)
		}
		if out, errOut, code := runAs(t, m, bin, "uninstall"); code != 0 {
			t.Errorf("uninstall: exit %d\n%s%s", code, out, errOut)
		}
	})
}

// install waits for the engine and leaves a running service that survives the user manager
// re-executing itself (systemctl --user daemon-reexec, what an upgrade of systemd does);
// uninstall stops it. The engine is one without an API socket (sleep), taken as up once it
// has kept running after rootlesskit started it; dockerd's socket is TestLiveDaemonDockerd's.
func TestLiveInstallUpAndAfterReexec(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "newuidmap", "systemctl")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	livetest.UserManager(t, user, map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o666)}, func(m *livetest.Manager) {
		out, errOut, code := runAs(t, m, bin, "install", "--wait", "90s", "--", "/bin/sleep", "infinity")
		if code != 0 || !strings.Contains(out, "rootless-doctor.service is up") {
			t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
		}
		active := func() string {
			o, _, _ := runAs(t, m, "/bin/systemctl", "--user", "is-active", "rootless-doctor.service")
			return strings.TrimSpace(o)
		}
		if s := active(); s != "active" {
			t.Errorf("after install: %s, want active", s)
		}
		if o, e, c := runAs(t, m, "/bin/systemctl", "--user", "daemon-reexec"); c != 0 {
			t.Fatalf("daemon-reexec: exit %d\n%s%s", c, o, e)
		}
		if s := active(); s != "active" {
			t.Errorf("after daemon-reexec: %s, want active", s)
		}
		if out, errOut, code := runAs(t, m, bin, "uninstall"); code != 0 {
			t.Errorf("uninstall: exit %d\n%s%s", code, out, errOut)
		}
		if s := active(); s == "active" {
			t.Errorf("after uninstall: %s", s)
		}
	})
}
