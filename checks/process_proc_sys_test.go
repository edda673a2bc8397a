package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestProcessProcSys(t *testing.T) {
	const (
		hostProc = "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n"
		// What Docker and Podman give a container: /proc/sys bound read-only over the new procfs.
		outer = "600 590 0:52 / / rw,relatime - overlay overlay rw\n601 600 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n" +
			"602 601 0:55 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw\n"
		userConf = "/home/alice/.config/containers/containers.conf"
	)
	mi := func(m *host.Memory, s string) *host.Memory { return m.File(facts.MountinfoPath, s) }
	podman := func(s string) *host.Memory { return mi(alice(), s).Exec("/usr/bin/podman") }
	runProbeTests(t, processProcSys, []probeTest{
		{name: "host: read-write", host: podman(hostProc), status: finding.Pass, summary: "read-write", fixes: []string{}},
		{name: "podman in a container with the built-in default", host: podman(outer), status: finding.Fail,
			summary: "Podman sets net.ipv4.ping_group_range=0 0 for every container", fixes: []string{"manual.default-sysctls"}},
		{name: "the podman image's setting", host: podman(outer).File(userConf, "[containers]\ndefault_sysctls = []\n"), status: finding.Pass, summary: "default_sysctls is empty"},
		{name: "an administrator's list", host: podman(outer).File("/etc/containers/containers.conf", "[containers]\ndefault_sysctls = [\"net.ipv4.ip_unprivileged_port_start=0\"]\n"),
			status: finding.Fail, summary: "ip_unprivileged_port_start"},
		{name: "unmasked outer container", host: podman(outer[:len(outer)-len("602 601 0:55 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw\n")]), status: finding.Pass},
		{name: "no podman", host: mi(alice(), outer), status: finding.Pass, summary: "not installed"},
		{name: "containers.conf does not decode", host: podman(outer).File(userConf, "[containers\n"), status: finding.Skip},
		{name: "no /proc mount", host: podman("1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n"), status: finding.Pass},
		{name: "mountinfo not recorded", host: alice(), status: finding.Skip},
		{name: "mountinfo unreadable", host: podman(hostProc).Meta(facts.MountinfoPath, host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Warn, summary: "could not check"},
		{name: "garbage mountinfo", host: podman("\x00\xff garbage\n"), status: finding.Warn},
		{name: "root: skip", host: podman(outer).Self(rootSelf), status: finding.Skip},
		{name: "on behalf: alice's podman config", host: podman(outer).Self(rootSelf).File(userConf, "[containers]\ndefault_sysctls = []\n"), user: "alice", status: finding.Pass},
	})
}
