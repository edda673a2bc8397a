package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestSessionXDGRuntimeDir(t *testing.T) {
	good := func() *host.Memory { return runtimeDir(alice(), 1000, "0700").Env("XDG_RUNTIME_DIR", "/run/user/1000") }
	tmpDir := func(m *host.Memory, p string) *host.Memory {
		return m.Dir(p).Meta(p, host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(1000)}).Env("XDG_RUNTIME_DIR", p)
	}
	runProbeTests(t, sessionXDGRuntimeDir, []probeTest{
		// The running account.
		{name: "pam_systemd session", host: withSystemd(good()), status: finding.Pass, summary: "XDG_RUNTIME_DIR=/run/user/1000 (owned by alice, mode 0700)", fixes: []string{}},
		{name: "home-based dir without systemd", host: tmpDir(alice(), "/home/alice/.docker/run"), status: finding.Pass},
		{name: "unset after su, systemd", host: withSystemd(runtimeDir(alice(), 1000, "0700")), status: finding.Fail, summary: "XDG_RUNTIME_DIR is not set",
			fixes: []string{"manual.login-session", "package.systemd-container"}},
		{name: "empty, systemd", host: withSystemd(alice()).Env("XDG_RUNTIME_DIR", ""), status: finding.Fail, summary: "not set",
			fixes: []string{"manual.login-session", "package.systemd-container"}},
		{name: "unset, no systemd", host: alice(), status: finding.Fail, summary: "not set", fixes: []string{"manual.xdg-runtime-dir"}},
		{name: "relative", host: alice().Env("XDG_RUNTIME_DIR", "run/user/1000"), status: finding.Fail, summary: "not an absolute path", fixes: []string{"manual.xdg-runtime-dir"}},
		{name: "missing", host: withSystemd(alice()).Env("XDG_RUNTIME_DIR", "/run/user/1000"), status: finding.Fail, summary: "does not exist", fixes: []string{"manual.xdg-runtime-dir"}},
		{name: "inherited from root", host: runtimeDir(alice(), 0, "0700").Env("XDG_RUNTIME_DIR", "/run/user/0"), status: finding.Fail, summary: "owned by uid 0, not by alice"},
		{name: "mode 0755", host: runtimeDir(alice(), 1000, "0755").Env("XDG_RUNTIME_DIR", "/run/user/1000"), status: finding.Fail, summary: "mode 0755, not 0700"},
		{name: "not a directory", host: alice().File("/run/user/1000", "x").Meta("/run/user/1000", host.FileMeta{UID: host.Int(1000), Mode: "0700"}).
			Env("XDG_RUNTIME_DIR", "/run/user/1000"), status: finding.Fail, summary: "not a directory"},
		{name: "under /tmp", host: tmpDir(alice(), "/tmp/docker-1000"), status: finding.Warn, summary: "under /tmp or /var/tmp", fixes: []string{"manual.xdg-runtime-dir"}},
		{name: "under /var/tmp", host: tmpDir(alice(), "/var/tmp/run-1000"), status: finding.Warn, summary: "under /tmp"},
		{name: "/tmpfoo is not /tmp", host: tmpDir(alice(), "/tmpfoo/run"), status: finding.Pass},
		{name: "symlink into /tmp", host: tmpDir(alice(), "/tmp/r").Symlink("/home/alice/run", "/tmp/r").Env("XDG_RUNTIME_DIR", "/home/alice/run"),
			status: finding.Warn, summary: "under /tmp"},
		{name: "under /tmp and another account's", host: runtimeDir(alice(), 0, "0700").Dir("/tmp/run-0").Meta("/tmp/run-0", host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(0)}).
			Env("XDG_RUNTIME_DIR", "/tmp/run-0"), status: finding.Fail, summary: "owned by uid 0"},
		// docs/failures/catalogue.json#runtime-path-too-long
		{name: "65 bytes is still short enough", host: tmpDir(alice(), "/home/alice/"+strings.Repeat("r", 65-len("/home/alice/"))), status: finding.Pass},
		{name: "66 bytes is too long for rootlessport", host: tmpDir(alice(), "/home/alice/"+strings.Repeat("r", 66-len("/home/alice/"))), status: finding.Warn,
			summary: "is 66 bytes long: socket paths under it pass the 108-byte limit", fixes: []string{"manual.xdg-runtime-dir"}},
		{name: "symlink loop", host: alice().Symlink("/home/alice/run", "/home/alice/run").Env("XDG_RUNTIME_DIR", "/home/alice/run"), status: finding.Warn, summary: "could not check"},
		{name: "root's env ignored on behalf", host: withSystemd(runtimeDir(alice(), 1000, "0700")).Self(rootSelf).Env("XDG_RUNTIME_DIR", "/run/user/0"),
			user: "alice", status: finding.Pass, summary: "/run/user/1000 (owned by alice, mode 0700)"},

		// On behalf of alice (root --user alice, an image build).
		{name: "on behalf, absent, systemd", host: withSystemd(alice()).Self(rootSelf), user: "alice", status: finding.Warn,
			summary: "/run/user/1000 does not exist yet: it is created when alice logs in", fixes: []string{"linger.enable"}},
		{name: "on behalf, absent, image build", host: alice().Self(rootSelf), user: "alice", status: finding.Warn, summary: "does not exist yet", fixes: []string{"manual.xdg-runtime-dir"}},
		{name: "on behalf, wrong mode", host: runtimeDir(alice(), 1000, "0750").Self(rootSelf), user: "alice", status: finding.Fail, summary: "/run/user/1000 has mode 0750"},
		{name: "on behalf, wrong owner", host: runtimeDir(alice(), 1001, "0700").Dir("/run/user/1000").
			Meta("/run/user/1000", host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(1001)}).Self(rootSelf), user: "alice", status: finding.Fail, summary: "owned by uid 1001"},
		{name: "unknown user", host: alice().Self(rootSelf), user: "mallory", status: finding.Skip},
	})
}
