package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

func TestSessionLinger(t *testing.T) {
	const linger = "/var/lib/systemd/linger/alice"
	killYes := "[Login]\nKillUserProcesses=yes\n"
	runProbeTests(t, sessionLinger, []probeTest{
		{name: "lingering", host: v2sd().File(linger, ""), status: finding.Pass, summary: "lingering is enabled for alice", fixes: []string{}},
		{name: "lingering without systemd (image prepared for boot)", host: alice().File(linger, ""), status: finding.Pass},
		{name: "off, systemd", host: v2sd(), status: finding.Warn, summary: "lingering is off for alice: the engine stops at logout", fixes: []string{"linger.enable"}},
		{name: "off, hybrid with systemd", host: withSystemd(hybrid(alice())), status: finding.Warn, fixes: []string{"linger.enable"}},
		{name: "off, no systemd (the dev machine)", host: hybrid(alice()), status: finding.Skip, summary: "systemd is not PID 1"},
		{name: "on behalf, off", host: v2sd().Self(rootSelf), user: "alice", status: finding.Warn, fixes: []string{"linger.enable"}},
		{name: "on behalf, on", host: v2sd().Self(rootSelf).File(linger, ""), user: "alice", status: finding.Pass},

		// logind.conf: KillUserProcesses.
		{name: "on, KillUserProcesses=yes", host: v2sd().File(linger, "").File("/etc/systemd/logind.conf", killYes), status: finding.Warn,
			summary: "lingering is on, but logind kills alice's session processes at logout (KillUserProcesses=yes)", fixes: []string{"manual.user-service"}},
		{name: "off, KillUserProcesses=yes in a drop-in", host: v2sd().File("/etc/systemd/logind.conf.d/kill.conf", killYes), status: finding.Warn,
			summary: "lingering is off", fixes: []string{"linger.enable", "manual.user-service"}},
		{name: "main file in /usr/lib (systemd 256+)", host: v2sd().File(linger, "").File("/usr/lib/systemd/logind.conf", killYes), status: finding.Warn, fixes: []string{"manual.user-service"}},
		{name: "/etc drop-in hides /usr/lib drop-in", host: v2sd().File(linger, "").File("/usr/lib/systemd/logind.conf.d/50-kill.conf", killYes).
			File("/etc/systemd/logind.conf.d/50-kill.conf", "[Login]\n"), status: finding.Pass},
		{name: "later drop-in turns it off", host: v2sd().File(linger, "").File("/etc/systemd/logind.conf", killYes).
			File("/etc/systemd/logind.conf.d/90-nokill.conf", "[Login]\nKillUserProcesses=no\n"), status: finding.Pass},
		{name: "alice excluded", host: v2sd().File(linger, "").File("/etc/systemd/logind.conf", killYes+"KillExcludeUsers=root alice\n"), status: finding.Pass},
		{name: "KillOnlyUsers names alice", host: v2sd().File(linger, "").File("/etc/systemd/logind.conf", "[Login]\nKillOnlyUsers=alice\n"), status: finding.Warn,
			summary: "KillOnlyUsers includes alice", fixes: []string{"manual.user-service"}},
		{name: "commented default file", host: v2sd().File(linger, "").File("/etc/systemd/logind.conf", "[Login]\n#KillUserProcesses=no\n"), status: finding.Pass},
		{name: "garbage logind.conf", host: v2sd().File(linger, "").File("/etc/systemd/logind.conf", "\x00\xff[Login\nno equals"), status: finding.Pass},

		{name: "linger path is a loop", host: v2sd().Symlink(linger, linger), status: finding.Warn, summary: "could not check"},
		{name: "unknown user", host: v2sd().Self(rootSelf), user: "mallory", status: finding.Skip},
	})
}
