package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const (
	debianRelease = "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
	dpkgWithDBus  = "Package: dbus\nStatus: install ok installed\n\nPackage: dbus-user-session\nStatus: install ok installed\nArchitecture: amd64\n"
	dpkgNoDBus    = "Package: dbus\nStatus: install ok installed\n\nPackage: dbus-user-session\nStatus: deinstall ok config-files\n"
)

// v2session is a cgroup v2 + systemd host where alice's shell has XDG_RUNTIME_DIR.
func v2session() *host.Memory {
	return runtimeDir(v2sd(), 1000, "0700").Env("XDG_RUNTIME_DIR", "/run/user/1000")
}

func debian(m *host.Memory, dpkgStatus string) *host.Memory {
	m = m.File("/etc/os-release", debianRelease)
	if dpkgStatus != "" {
		m = m.File("/var/lib/dpkg/status", dpkgStatus)
	}
	return m
}

func TestSessionDBus(t *testing.T) {
	installFixes := []string{"package.dbus-user-session", "session.relogin"}
	loginFixes := []string{"manual.login-session", "package.systemd-container"}
	runProbeTests(t, sessionDBus, []probeTest{
		{name: "user bus present", host: socket(v2session(), "/run/user/1000/bus", 1000), status: finding.Pass, summary: "session bus at /run/user/1000/bus", fixes: []string{}},
		{name: "address names the user bus", host: socket(v2session(), "/run/user/1000/bus", 1000).Env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"),
			status: finding.Pass, summary: "/run/user/1000/bus"},
		{name: "address with escapes and guid", host: socket(v2session(), "/run/user/1000/my bus", 1000).Env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/my%20bus,guid=abc"),
			status: finding.Pass, summary: "my bus"},
		{name: "autolaunch: falls back to the runtime dir", host: socket(v2session(), "/run/user/1000/bus", 1000).Env("DBUS_SESSION_BUS_ADDRESS", "autolaunch:"),
			status: finding.Pass, summary: "/run/user/1000/bus"},
		{name: "garbage address falls back", host: socket(v2session(), "/run/user/1000/bus", 1000).Env("DBUS_SESSION_BUS_ADDRESS", "\x00%%%;;::"),
			status: finding.Pass, summary: "/run/user/1000/bus"},
		{name: "no XDG_RUNTIME_DIR: /run/user/UID", host: socket(v2sd(), "/run/user/1000/bus", 1000), status: finding.Pass, summary: "/run/user/1000/bus"},

		// Missing where it matters (cgroup v2 + systemd).
		{name: "Debian without dbus-user-session", host: debian(v2session(), dpkgNoDBus), status: finding.Fail,
			summary: "no session bus at /run/user/1000/bus: the systemd cgroup driver cannot reach alice's user manager", fixes: installFixes},
		{name: "Debian with dbus-user-session: no session (sudo su)", host: debian(v2session(), dpkgWithDBus), status: finding.Fail, summary: "no session bus", fixes: loginFixes},
		{name: "Debian with dbus-broker", host: debian(v2session(), "Package: dbus-broker\nStatus: install ok installed\n"), status: finding.Fail, fixes: loginFixes},
		{name: "Debian without dbus-user-session, manager down too", host: debian(v2session(), dpkgNoDBus), status: finding.Fail, fixes: installFixes},
		{name: "Debian, no dpkg database, no user manager", host: debian(v2session(), ""), status: finding.Fail, fixes: loginFixes},
		{name: "Debian, no dpkg database, manager without bus", host: socket(debian(v2session(), ""), "/run/user/1000/systemd/private", 1000), status: finding.Fail, fixes: installFixes},
		{name: "Debian, garbage dpkg database, manager without bus", host: socket(debian(v2session(), "\x00\xff\n\n::"), "/run/user/1000/systemd/private", 1000), status: finding.Fail, fixes: installFixes},
		{name: "unknown distro, no user manager (sudo su)", host: v2session(), status: finding.Fail, fixes: loginFixes},
		{name: "unknown distro, manager without bus", host: socket(v2session(), "/run/user/1000/systemd/private", 1000), status: finding.Fail, fixes: installFixes},
		{name: "bus is a regular file", host: v2session().File("/run/user/1000/bus", "x"), status: finding.Fail, summary: "no session bus"},
		{name: "address points to a stale socket, user bus exists", host: socket(v2session(), "/run/user/1000/bus", 1000).
			Env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/dbus-old"), status: finding.Fail, summary: "DBUS_SESSION_BUS_ADDRESS points to /tmp/dbus-old", fixes: []string{"manual.dbus-address"}},
		{name: "address inherited from another account", host: socket(v2session(), "/run/user/1001/bus", 1001).
			Env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1001/bus"), status: finding.Fail, summary: "belongs to uid 1001, not to alice", fixes: loginFixes},
		{name: "abstract socket, user bus exists", host: socket(v2session(), "/run/user/1000/bus", 1000).
			Env("DBUS_SESSION_BUS_ADDRESS", "unix:abstract=/tmp/dbus-XyZ,guid=1"), status: finding.Pass},
		{name: "abstract socket only", host: v2session().Env("DBUS_SESSION_BUS_ADDRESS", "unix:abstract=/tmp/dbus-XyZ,guid=1"),
			status: finding.Warn, summary: "abstract socket @/tmp/dbus-XyZ", fixes: installFixes},
		{name: "tcp bus only", host: debian(v2session(), dpkgWithDBus).Env("DBUS_SESSION_BUS_ADDRESS", "tcp:host=localhost,port=4000"),
			status: finding.Warn, summary: "the tcp transport", fixes: loginFixes},

		// Not needed: never a failure.
		{name: "hybrid (dev machine), no bus", host: debian(runtimeDir(hybrid(alice()), 1000, "0700"), dpkgNoDBus), status: finding.Skip, summary: "no session bus at /run/user/1000/bus; not needed here: on cgroup hybrid"},
		{name: "unified without systemd, no bus", host: unified(alice()), status: finding.Skip, summary: "systemd is not PID 1"},
		{name: "hybrid, inherited bus", host: socket(withSystemd(hybrid(alice())), "/run/user/1001/bus", 1001).Env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1001/bus"),
			status: finding.Skip, summary: "belongs to uid 1001"},
		{name: "hybrid, abstract", host: hybrid(alice()).Env("DBUS_SESSION_BUS_ADDRESS", "unix:abstract=/tmp/x"), status: finding.Skip},
		{name: "hybrid, stale address", host: socket(hybrid(alice()), "/run/user/1000/bus", 1000).Env("XDG_RUNTIME_DIR", "/run/user/1000").
			Env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/gone"), status: finding.Skip, summary: "missing socket"},
		{name: "hybrid, bus present", host: socket(hybrid(alice()), "/run/user/1000/bus", 1000), status: finding.Pass},

		// On behalf: root's environment says nothing; alice may simply not be logged in.
		{name: "on behalf, bus present", host: socket(v2sd(), "/run/user/1000/bus", 1000).Self(rootSelf).Env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus"),
			user: "alice", status: finding.Pass, summary: "/run/user/1000/bus"},
		{name: "on behalf, not logged in, package installed", host: debian(v2sd(), dpkgWithDBus).Self(rootSelf), user: "alice", status: finding.Warn,
			summary: "no session bus at /run/user/1000/bus now", fixes: []string{"linger.enable"}},
		{name: "on behalf, lingering, package unknown", host: v2sd().Self(rootSelf).File("/var/lib/systemd/linger/alice", ""), user: "alice", status: finding.Warn,
			fixes: []string{"package.dbus-user-session"}},
		{name: "on behalf, package missing", host: debian(v2sd(), dpkgNoDBus).Self(rootSelf), user: "alice", status: finding.Fail, fixes: installFixes},
		{name: "on behalf, image build without systemd", host: debian(unified(alice()), dpkgNoDBus).Self(rootSelf), user: "alice", status: finding.Skip},
		{name: "unknown user", host: v2sd().Self(rootSelf), user: "mallory", status: finding.Skip},
	})
}
