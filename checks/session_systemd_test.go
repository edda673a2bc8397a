package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

func TestSessionSystemd(t *testing.T) {
	private := "/run/user/1000/systemd/private"
	runProbeTests(t, sessionSystemd, []probeTest{
		{name: "no systemd (the dev machine)", host: alice().File("/proc/1/comm", "process_api\n"), status: finding.Skip,
			summary: "systemd is not PID 1: engines run without a user manager; `install` is not available", fixes: []string{}},
		{name: "no systemd, WSL 2", host: alice().Kernel("5.15.153.1-microsoft-standard-WSL2"), status: finding.Warn, summary: "WSL runs without systemd", fixes: []string{"manual.wsl-systemd"}},
		{name: "no systemd, WSL 2 configured", host: alice().Kernel("5.15.153.1-microsoft-standard-WSL2").File("/etc/wsl.conf", "[boot]\nsystemd=true\n"), status: finding.Warn, fixes: []string{"manual.wsl-restart"}},
		{name: "no systemd, WSL 1", host: alice().Kernel("4.4.0-19041-Microsoft"), status: finding.Skip, summary: "systemd is not PID 1"},
		{name: "user manager running", host: socket(v2session(), private, 1000), status: finding.Pass, summary: "the systemd user manager of alice is running", fixes: []string{}},
		{name: "running, XDG unset in this shell", host: socket(v2sd(), private, 1000), status: finding.Pass, summary: "is running"},
		{name: "after sudo su", host: v2session(), status: finding.Fail, summary: "the systemd user manager of alice is not reachable: no /run/user/1000/systemd/private",
			fixes: []string{"manual.login-session", "package.systemd-container"}},
		{name: "after sudo su, no runtime dir", host: v2sd(), status: finding.Fail, summary: "not reachable", fixes: []string{"manual.login-session", "package.systemd-container"}},
		{name: "private is a regular file", host: v2session().File(private, "x"), status: finding.Fail, summary: "not reachable"},
		{name: "XDG_RUNTIME_DIR hides the manager", host: socket(v2sd(), private, 1000).Env("XDG_RUNTIME_DIR", "/tmp/xdg-root"), status: finding.Fail,
			summary: "XDG_RUNTIME_DIR=/tmp/xdg-root hides the running user manager of alice at /run/user/1000", fixes: []string{"manual.xdg-runtime-dir"}},
		{name: "symlink loop", host: v2sd().Symlink("/run/user/1000", "/run/user/1000"), status: finding.Warn, summary: "could not check"},

		{name: "on behalf, running", host: socket(v2sd(), private, 1000).Self(rootSelf), user: "alice", status: finding.Pass},
		{name: "on behalf, not logged in", host: v2sd().Self(rootSelf), user: "alice", status: finding.Warn,
			summary: "alice has no running systemd user manager now", fixes: []string{"linger.enable"}},
		{name: "on behalf, lingering but not started", host: v2sd().Self(rootSelf).File("/var/lib/systemd/linger/alice", ""), user: "alice", status: finding.Warn, fixes: []string{}},
		{name: "on behalf, image build", host: alice().Self(rootSelf), user: "alice", status: finding.Skip},
		{name: "unknown user", host: v2sd().Self(rootSelf), user: "mallory", status: finding.Skip},
	})
}

func TestSessionSystemdWSL(t *testing.T) {
	m := alice().Kernel("5.15.153.1-microsoft-standard-WSL2")
	r := result(t, sessionSystemd, m, "")
	if !hasDetail(r, "systemd=true") || !hasDetail(r, "wsl --shutdown") {
		t.Errorf("WSL details = %q", r.Details)
	}
	m = alice().Kernel("6.6.87.2-microsoft-standard-WSL2").File("/proc/version", "Linux version 6.6.87.2-microsoft-standard-WSL2 (root@439a258ad544)\n").
		File("/etc/wsl.conf", "[automount]\nenabled = true\n\n[boot]\nsystemd = true\n")
	r = result(t, sessionSystemd, m, "")
	if r.Status != finding.Warn || !hasDetail(r, "already asks for systemd") {
		t.Errorf("configured WSL: %s %q", r.Status, r.Details)
	}
	r = result(t, sessionSystemd, alice().File("/proc/version", "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com)\n"), "")
	if r.Status != finding.Skip || !hasDetail(r, "WSL 1") {
		t.Errorf("WSL 1: %s %q", r.Status, r.Details)
	}
	r = result(t, sessionSystemd, alice(), "")
	if hasDetail(r, "WSL") {
		t.Errorf("WSL advice on a non-WSL host: %q", r.Details)
	}
}
