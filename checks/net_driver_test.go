package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// netResult runs one probe over a host, with the runner's policies, for assertions on details.

// netHasDetail reports whether some detail contains sub.
func netHasDetail(r finding.Result, sub string) bool {
	for _, d := range r.Details {
		if strings.Contains(d, sub) {
			return true
		}
	}
	return false
}

const (
	slirpHelpNew = "Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]\n-c, --configure          bring up the interface\n--netns-type=TYPE \t specify network namespace type ([path|pid], default=pid)\n"
	slirpHelpOld = "Usage: slirp4netns [OPTION]... PID TAPNAME\n-c, --configure          bring up the interface\n-e, --exit-fd=FD\n"
	pastaLicence = "Copyright Red Hat\nGNU Affero GPL version 3 or later <https://www.gnu.org/licenses/agpl-3.0.html>\n"
)

func withSlirp(m *host.Memory, version string) *host.Memory {
	return m.Exec("/usr/bin/slirp4netns").
		Command([]string{"slirp4netns", "--version"}, "slirp4netns version "+version+"\ncommit: 656041d45cfca7a4176f6b7eed9e4fe6c11e8383\nlibslirp: 4.7.0\n", 0)
}

func withPasta(m *host.Memory, version string) *host.Memory {
	return m.Exec("/usr/bin/pasta").Command([]string{"pasta", "--version"}, "pasta "+version+"\n"+pastaLicence, 0)
}

func withVersionedTool(m *host.Memory, name, version string) *host.Memory {
	return m.Exec("/usr/bin/"+name).Command([]string{name, "--version"}, name+" version "+version+"\n", 0)
}

// debian12 is this project's dev machine as far as net.driver sees it: slirp4netns 1.2.0,
// passt 0.0~git20230309 (which prints "unknown version"), RootlessKit 1.1.0.
func debian12() *host.Memory {
	m := withSlirp(alice(), "1.2.0")
	m = withPasta(m, "unknown version")
	return withVersionedTool(m, "rootlesskit", "1.1.0")
}

func TestNetDriver(t *testing.T) {
	root := host.Identity{UID: 0, GID: 0, Name: "root"}
	override := "/home/alice/.config/systemd/user/docker.service.d/override.conf"
	runProbeTests(t, netDriver, []probeTest{
		{name: "debian 12: slirp4netns 1.2.0, old pasta aside", host: debian12(), status: finding.Pass, summary: "slirp4netns 1.2.0 will be used", fixes: []string{}},
		{name: "nothing installed", host: alice(), status: finding.Fail, summary: "no rootless network driver", fixes: []string{"package.slirp4netns"}},
		{name: "slirp4netns 0.3.0 alone", host: withSlirp(alice(), "0.3.0").Command([]string{"slirp4netns", "--help"}, slirpHelpOld, 0),
			status: finding.Fail, summary: "slirp4netns 0.3.0 is older than 0.4.0 and no other", fixes: []string{"package.slirp4netns"}},
		{name: "slirp4netns 0.3.0, --help not recorded", host: withSlirp(alice(), "0.3.0"), status: finding.Fail, summary: "slirp4netns 0.3.0 is older than 0.4.0"},
		{name: "0.4.0 pre-release with --netns-type", host: withSlirp(alice(), "0.4.0-beta.3").Command([]string{"slirp4netns", "--help"}, slirpHelpNew, 0),
			status: finding.Pass, summary: "slirp4netns 0.4.0-beta.3 will be used"},
		{name: "no --version output, --help has --netns-type", host: alice().Exec("/usr/bin/slirp4netns").
			Command([]string{"slirp4netns", "--version"}, "", 1).Command([]string{"slirp4netns", "--help"}, slirpHelpNew, 0),
			status: finding.Pass, summary: "slirp4netns (version not recorded) will be used"},
		{name: "no --version output, --help without --netns-type", host: alice().Exec("/usr/bin/slirp4netns").
			Command([]string{"slirp4netns", "--version"}, "", 1).Command([]string{"slirp4netns", "--help"}, slirpHelpOld, 1),
			status: finding.Fail, summary: "older than 0.4.0", fixes: []string{"package.slirp4netns"}},
		{name: "nothing recorded for slirp4netns", host: alice().Exec("/usr/bin/slirp4netns"), status: finding.Pass, summary: "slirp4netns"},
		{name: "slirp4netns does not run", host: alice().Exec("/usr/bin/slirp4netns").
			CommandError([]string{"slirp4netns", "--version"}, "exec format error").CommandError([]string{"slirp4netns", "--help"}, "exec format error"),
			status: finding.Fail, summary: "does not run", fixes: []string{"package.slirp4netns"}},
		{name: "garbage --version, help lists --netns-type", host: alice().Exec("/usr/bin/slirp4netns").
			Command([]string{"slirp4netns", "--version"}, "\x00\xffslirp4netns version ☃\n", 0).Command([]string{"slirp4netns", "--help"}, slirpHelpNew, 0),
			status: finding.Pass},
		{name: "old slirp4netns, vpnkit", host: withSlirp(alice(), "0.3.0").Command([]string{"slirp4netns", "--help"}, slirpHelpOld, 0).Exec("/usr/bin/vpnkit"),
			status: finding.Warn, summary: "falls back to vpnkit", fixes: []string{"package.slirp4netns"}},
		{name: "vpnkit only", host: alice().Exec("/usr/bin/vpnkit"), status: finding.Pass, summary: "vpnkit will be used"},
		{name: "new pasta only", host: withPasta(alice(), "2024_06_07.8a83b53"), status: finding.Pass, summary: "pasta 2024_06_07 will be used"},
		{name: "old pasta only, RootlessKit 3", host: withVersionedTool(withPasta(alice(), "0^20230309.gee7d0b6-1.fc38.x86_64"), "rootlesskit", "3.0.1"),
			status: finding.Fail, summary: "pasta 2023_03_09 will be used", fixes: []string{"package.pasta"}},
		{name: "pasta without a version only", host: withPasta(alice(), "unknown version"), status: finding.Warn, summary: "does not say its version", fixes: []string{"package.pasta"}},
		{name: "pasta only, RootlessKit 1", host: withVersionedTool(withPasta(alice(), "2024_06_07.8a83b53"), "rootlesskit", "1.1.0"),
			status: finding.Warn, summary: "only pasta is usable", fixes: []string{"package.slirp4netns"}},
		{name: "old slirp4netns, new pasta", host: withPasta(withSlirp(alice(), "0.3.1").Command([]string{"slirp4netns", "--help"}, slirpHelpOld, 0), "2024_06_07.8a83b53"),
			status: finding.Warn, summary: "pasta 2024_06_07 will be used instead", fixes: []string{"package.slirp4netns"}},
		{name: "pasta does not run", host: alice().Exec("/usr/bin/pasta").CommandError([]string{"pasta", "--version"}, "permission denied"),
			status: finding.Fail, summary: "does not run", fixes: []string{"package.pasta"}},
		{name: "RootlessKit 3 alone", host: withVersionedTool(alice(), "rootlesskit", "3.3.0"), status: finding.Pass, summary: "gvisor-tap-vsock, built into RootlessKit 3.3.0"},
		{name: "RootlessKit 3, old slirp4netns skipped", host: withVersionedTool(withSlirp(alice(), "0.3.0").Command([]string{"slirp4netns", "--help"}, slirpHelpOld, 0), "rootlesskit", "3.0.0"),
			status: finding.Pass, summary: "gvisor-tap-vsock"},

		{name: "drop-in asks for pasta, pasta old", host: withVersionedTool(withPasta(withSlirp(alice(), "1.2.0"), "2023_03_09.ee7d0b6"), "rootlesskit", "2.3.6").
			File(override, "[Service]\nEnvironment=\"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\"\n"),
			status: finding.Fail, summary: "pasta 2023_03_09 will be used", fixes: []string{"package.pasta"}},
		{name: "drop-in overrides the unit", host: withVersionedTool(withPasta(withSlirp(alice(), "1.2.0"), "2024_06_07.8a83b53"), "rootlesskit", "2.3.6").
			File("/home/alice/.config/systemd/user/docker.service", "[Service]\nEnvironment=PATH=/usr/bin DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns\n").
			File(override, "[Service]\nEnvironment=\"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\"\n"),
			status: finding.Pass, summary: "pasta 2024_06_07 will be used (DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta in " + override},
		{name: "env asks for pasta, pasta new", host: withVersionedTool(withPasta(alice(), "2024_06_07.8a83b53"), "rootlesskit", "2.3.6").Env(netEnvKey, "pasta"),
			status: finding.Pass, summary: "pasta 2024_06_07 will be used (DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta in $DOCKERD_ROOTLESS_ROOTLESSKIT_NET)"},
		{name: "env of root is not alice's", host: withVersionedTool(withPasta(alice(), "2024_06_07.8a83b53"), "rootlesskit", "1.1.0").Env(netEnvKey, "pasta").Self(root), user: "alice",
			status: finding.Warn, summary: "only pasta is usable"},
		{name: "asks for pasta, RootlessKit 1", host: debian12().Env(netEnvKey, "pasta"), status: finding.Fail, summary: "has no pasta driver", fixes: []string{"manual.net-driver"}},
		{name: "asks for pasta, none installed", host: withSlirp(alice(), "1.2.0").Env(netEnvKey, "pasta"), status: finding.Fail, summary: "not installed", fixes: []string{"package.pasta"}},
		{name: "asks for gvisor, RootlessKit 1", host: debian12().Env(netEnvKey, "gvisor-tap-vsock"), status: finding.Fail, summary: "has no gvisor-tap-vsock", fixes: []string{"manual.net-driver"}},
		{name: "asks for gvisor, RootlessKit 3", host: withVersionedTool(alice(), "rootlesskit", "3.3.0").Env(netEnvKey, "gvisor-tap-vsock"), status: finding.Pass, summary: "gvisor-tap-vsock"},
		{name: "asks for slirp4netns, missing", host: alice().File(override, "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns\n"),
			status: finding.Fail, summary: "slirp4netns is not installed", fixes: []string{"package.slirp4netns"}},
		{name: "asks for slirp4netns, present", host: debian12().Env(netEnvKey, "slirp4netns"), status: finding.Pass, summary: "slirp4netns 1.2.0 will be used (DOCKERD"},
		{name: "asks for vpnkit, missing", host: debian12().Env(netEnvKey, "vpnkit"), status: finding.Fail, summary: "vpnkit is not installed", fixes: []string{"manual.net-driver"}},
		{name: "asks for vpnkit, present", host: debian12().Exec("/usr/bin/vpnkit").Env(netEnvKey, "vpnkit"), status: finding.Pass, summary: "vpnkit will be used"},
		{name: "asks for lxc-user-nic", host: debian12().Env(netEnvKey, "lxc-user-nic"), status: finding.Pass, summary: "lxc-user-nic"},
		{name: "asks for host", host: debian12().Env(netEnvKey, "host"), status: finding.Warn, summary: "host networking", fixes: []string{"manual.net-driver"}},
		{name: "asks for nonsense", host: debian12().Env(netEnvKey, "carrier-pigeon"), status: finding.Warn, summary: "unknown network driver", fixes: []string{"manual.net-driver"}},

		// docs/failures/catalogue.json#pasta-missing
		{name: "podman 5 without pasta", host: withVersionedTool(withSlirp(alice(), "1.2.0"), "podman", "5.0.2"),
			status: finding.Fail, summary: "podman 5.0.2 needs pasta (its default network since podman 5), which is not installed: Podman is the only rootless engine here", fixes: []string{"package.pasta"}},
		{name: "podman 5 without pasta, Docker beside it", host: withVersionedTool(withSlirp(alice(), "1.2.0"), "podman", "5.0.2").Exec("/usr/bin/dockerd"),
			status: finding.Warn, summary: "podman 5.0.2 needs pasta", fixes: []string{"package.pasta"}},
		{name: "podman 5 told to use slirp4netns", host: withVersionedTool(withSlirp(alice(), "1.2.0"), "podman", "5.0.2").
			File("/home/alice/.config/containers/containers.conf", "[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n"),
			status: finding.Pass, summary: "slirp4netns 1.2.0"},
		{name: "podman 5 with old pasta", host: withVersionedTool(withPasta(withSlirp(alice(), "1.2.0"), "2023_03_09.ee7d0b6"), "podman", "5.0.2"),
			status: finding.Warn, summary: "uses pasta 2023_03_09", fixes: []string{"package.pasta"}},
		{name: "podman 5 with new pasta", host: withVersionedTool(withPasta(withSlirp(alice(), "1.2.0"), "2024_06_07.8a83b53"), "podman", "5.0.2"),
			status: finding.Pass, summary: "slirp4netns 1.2.0"},
		// On Debian the version comes from dpkg's database: no `podman --version` is recorded.
		{name: "podman 5 from dpkg status, without pasta", host: withSlirp(alice(), "1.2.0").Exec("/usr/bin/podman").
			File("/etc/os-release", "ID=debian\nVERSION_ID=13\n").
			File("/var/lib/dpkg/status", "Package: podman\nStatus: install ok installed\nVersion: 5.4.2+ds1-1\n"),
			status: finding.Fail, summary: "podman 5.4.2 needs pasta", fixes: []string{"package.pasta"}},
		{name: "podman 4 with slirp4netns", host: withVersionedTool(debian12(), "podman", "4.3.1"), status: finding.Pass, summary: "slirp4netns 1.2.0"},
		{name: "podman 5, no driver at all", host: withVersionedTool(alice(), "podman", "5.0.2"), status: finding.Fail, summary: "needs pasta",
			fixes: []string{"package.slirp4netns", "package.pasta"}},

		// docs/failures/catalogue.json#slirp4netns-sandbox-pivot-root
		{name: "initramfs root, Docker sandboxes slirp4netns", host: dockerSlirp(alice(), "1.2.0").File("/proc/self/mountinfo", "1 1 0:2 / / rw - rootfs rootfs rw,size=8126464k\n"),
			status: finding.Fail, summary: "cannot pivot_root here", fixes: []string{"manual.docker-slirp-sandbox"}},
		{name: "initramfs root, sandbox off", host: dockerSlirp(alice(), "1.2.0").File("/proc/self/mountinfo", "1 1 0:2 / / rw - rootfs rootfs rw\n").
			File(override, "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX=false\n"), status: finding.Pass},
		{name: "initramfs root, Docker 29.5 detaches", host: newScript(dockerSlirp(alice(), "1.2.0")).File("/proc/self/mountinfo", "1 1 0:2 / / rw - rootfs rootfs rw\n"), status: finding.Pass},
		{name: "disk root", host: dockerSlirp(alice(), "1.2.0").File("/proc/self/mountinfo", "27 1 254:0 / / rw shared:1 - ext4 /dev/vda rw\n"), status: finding.Pass},

		// docs/failures/catalogue.json#slirp4netns-mtu-override-1500
		{name: "slirp4netns named, no MTU, old script", host: dockerSlirp(alice(), "1.2.0").File(override, "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns\n"),
			status: finding.Warn, summary: "without DOCKERD_ROOTLESS_ROOTLESSKIT_MTU", fixes: []string{"manual.docker-slirp-mtu"}},
		{name: "slirp4netns named with MTU", host: dockerSlirp(alice(), "1.2.0").File(override, "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520\n"),
			status: finding.Pass},
		{name: "slirp4netns named, Docker 29 script", host: dockerSlirp(alice(), "1.2.0").File(override, "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns\n").
			File("/usr/bin/dockerd-rootless.sh", "if [ -z \"$mtu\" ]; then\n\tcase \"$net\" in\n\t\tslirp4netns | pasta | gvisor-tap-vsock)\n\t\t\tmtu=65520\n\t\t\t;;\n\tesac\nfi\n").
			Meta("/usr/bin/dockerd-rootless.sh", host.FileMeta{Mode: "0755"}), status: finding.Pass},
		{name: "slirp4netns chosen by the script", host: dockerSlirp(alice(), "1.2.0"), status: finding.Pass},
	})
}

func TestNetDriverDetails(t *testing.T) {
	r := result(t, netDriver, debian12(), "")
	if !netHasDetail(r, "pasta is also installed (pasta unknown version)") || !netHasDetail(r, "2023_12_04") {
		t.Errorf("debian 12: the unused pasta is not explained: %q", r.Details)
	}
	// Debian 13's passt 2025_05_03 prints --version with stdio and leaves with _exit(): through
	// a pipe stdout is empty (the VM lab: "pasta is also installed ()"); dpkg has the date.
	trixie := func() *host.Memory {
		return withSlirp(alice(), "1.2.0").Exec("/usr/bin/pasta").Command([]string{"pasta", "--version"}, "", 0).
			File("/etc/os-release", "ID=debian\nVERSION_ID=13\n")
	}
	r = result(t, netDriver, trixie().File("/var/lib/dpkg/status", "Package: passt\nStatus: install ok installed\nVersion: 0.0~git20250503.587980c-2+deb13u1\n"), "")
	if !netHasDetail(r, "pasta 2025_05_03 is also installed") {
		t.Errorf("debian 13: pasta's version not read from dpkg: %q", r.Details)
	}
	r = result(t, netDriver, trixie(), "")
	if !netHasDetail(r, "pasta is also installed (`pasta --version` printed nothing)") {
		t.Errorf("debian 13 without dpkg status: %q", r.Details)
	}
	r = result(t, netDriver, withPasta(withSlirp(alice(), "1.2.0"), "2023_03_09.ee7d0b6"), "")
	if r.Status != finding.Pass || !netHasDetail(r, "pasta 2023_03_09 is also installed but older than 2023_12_04") {
		t.Errorf("old pasta beside slirp4netns: %s %q %q", r.Status, r.Summary, r.Details)
	}
	r = result(t, netDriver, withPasta(alice(), "2024_06_07.8a83b53"), "")
	if !netHasDetail(r, "before Docker 29.5 does not fall back to pasta") {
		t.Errorf("pasta without RootlessKit: no word on older dockerd-rootless.sh: %q", r.Details)
	}
	r = result(t, netDriver, withVersionedTool(withSlirp(alice(), "1.2.0"), "podman", "4.3.1").Command([]string{"slirp4netns", "--version"}, "slirp4netns version 1.2.0\n", 0), "")
	if r.Status != finding.Pass {
		t.Errorf("podman 4: %s %q", r.Status, r.Summary)
	}
	// Evidence names what was run and what it said.
	r = result(t, netDriver, debian12(), "")
	want := map[string]string{
		"/usr/bin/slirp4netns --version": "slirp4netns version 1.2.0",
		"/usr/bin/pasta --version":       "pasta unknown version",
		"/usr/bin/rootlesskit --version": "rootlesskit version 1.1.0",
	}
	for _, ev := range r.Evidence {
		if w, ok := want[ev.Source]; ok && ev.Value == w {
			delete(want, ev.Source)
		}
	}
	if len(want) > 0 {
		t.Errorf("evidence %v lacks %v", r.Evidence, want)
	}
}
