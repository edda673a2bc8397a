package checks

import (
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// oldRuncPodman is alice's Podman on cgroup v2 with runtime = "runc" in her containers.conf
// and runc 1.0.0-rc10, which has no rootless cgroup v2 support
// (docs/failures/catalogue.json#runc-too-old-for-cgroup-v2).
func oldRuncPodman() *host.Memory {
	return unified(alice()).Env("PATH", "/usr/local/bin:/usr/bin").
		Exec("/usr/bin/podman").Command([]string{"/usr/bin/podman", "--version"}, "podman version 5.3.1\n", 0).
		Exec("/usr/bin/conmon").Exec("/usr/bin/pasta").Exec("/usr/libexec/podman/catatonit").
		Exec("/usr/local/bin/runc").Command([]string{"/usr/local/bin/runc", "--version"}, "runc version 1.0.0-rc10\n", 0).
		File("/home/alice/.config/containers/containers.conf", "[engine]\nruntime = \"runc\"\n").
		File("/etc/containers/policy.json", `{"default":[{"type":"insecureAcceptAnything"}]}`)
}

// The fix for an old runc selects crun, and installs it only where Podman would not find it.
func TestEnginePodmanOldRunc(t *testing.T) {
	for _, tt := range []struct {
		name  string
		host  *host.Memory
		fixes []string
	}{
		{"crun missing", oldRuncPodman(), []string{"package.crun", "userfile.engine.runtime"}},
		{"crun installed", oldRuncPodman().Exec("/usr/bin/crun"), []string{"userfile.engine.runtime"}},
		{"$CONTAINERS_CONF", oldRuncPodman().Exec("/usr/bin/crun").Env("CONTAINERS_CONF", "/home/alice/.config/containers/containers.conf"), []string{"manual.podman-runtime"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := result(t, enginePodman, tt.host, "alice")
			checkResult(t, r, finding.Fail, "runc 1.0.0-rc10 is too old for rootless containers on cgroup v2", tt.fixes)
		})
	}
}

// netavarkPodman is alice's Podman 4.3.1 (Debian 12's) on cgroup v2, whose package does not
// depend on netavark.
func netavarkPodman(version string) *host.Memory {
	return unified(alice()).Env("PATH", "/usr/local/bin:/usr/bin").
		Exec("/usr/bin/podman").Command([]string{"/usr/bin/podman", "--version"}, "podman version "+version+"\n", 0).
		Exec("/usr/bin/conmon").Exec("/usr/bin/crun").Exec("/usr/bin/slirp4netns").Exec("/usr/bin/pasta").Exec("/usr/libexec/podman/catatonit").
		File("/etc/containers/policy.json", `{"default":[{"type":"insecureAcceptAnything"}]}`)
}

// A netavark backend (set in containers.conf or recorded at Podman's first start) without
// netavark in the helper directories stops every podman run: measured with Debian 12's
// Podman 4.3.1 in the engine matrix, after the CNI fix had set netavark where it was not
// installed (docs/failures/catalogue.json#podman-netavark-missing). The CNI fix sets netavark
// only where it is installed.
func TestEnginePodmanNetavark(t *testing.T) {
	const conf = "/home/alice/.config/containers/containers.conf"
	const recorded = "/home/alice/.local/share/containers/storage/defaultNetworkBackend"
	const missing = "netavark is not installed in its helper directories"
	for _, tt := range []struct {
		name    string
		host    *host.Memory
		status  finding.Status
		summary string
		fixes   []string
	}{
		{"set, not installed", netavarkPodman("4.3.1").File(conf, "[network]\nnetwork_backend = \"netavark\"\n"), finding.Fail, missing, []string{"package.netavark"}},
		{"recorded, not installed", netavarkPodman("5.3.1").File(recorded, "netavark"), finding.Fail, missing, []string{"package.netavark"}},
		{"helper_binaries_dir elsewhere", netavarkPodman("4.3.1").File(conf, "[engine]\nhelper_binaries_dir = [\"/opt/podman\"]\n[network]\nnetwork_backend = \"netavark\"\n").Exec("/usr/lib/podman/netavark"), finding.Fail, missing, []string{"package.netavark"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := result(t, enginePodman, tt.host, "alice")
			checkResult(t, r, tt.status, tt.summary, tt.fixes)
		})
	}
	// The CNI warning (this host has no newuidmap, so Podman is not ready for that first: the
	// warning's fix is one of the fixes).
	for _, tt := range []struct {
		name     string
		host     *host.Memory
		fix, not string
	}{
		{"recorded cni, netavark installed", netavarkPodman("4.3.1").File(recorded, "cni").Exec("/usr/lib/podman/netavark"), "userfile.network.network_backend", "manual.podman-netavark"},
		{"recorded cni, no netavark", netavarkPodman("4.3.1").File(recorded, "cni"), "manual.podman-netavark", "userfile.network.network_backend"},
	} {
		r := result(t, enginePodman, tt.host, "alice")
		ids := fixes.FixIDs(r)
		if !slices.Contains(ids, tt.fix) || slices.Contains(ids, tt.not) {
			t.Errorf("%s: want the CNI warning's fix %s, not %s: %s, fixes %q", tt.name, tt.fix, tt.not, r.Summary, ids)
		}
	}
	// Where netavark is installed, or nothing chose it, or Podman predates netavark (4.0),
	// nothing is said about it.
	for name, h := range map[string]*host.Memory{
		"set, installed":              netavarkPodman("4.3.1").File(conf, "[network]\nnetwork_backend = \"netavark\"\n").Exec("/usr/lib/podman/netavark"),
		"recorded, installed":         netavarkPodman("5.3.1").File(recorded, "netavark").Exec("/usr/libexec/podman/netavark"),
		"fresh Podman 4, no netavark": netavarkPodman("4.3.1"),
		"Podman 3":                    netavarkPodman("3.4.4").File(conf, "[network]\nnetwork_backend = \"netavark\"\n"),
	} {
		r := result(t, enginePodman, h, "alice")
		if ids := fixes.FixIDs(r); strings.Contains(r.Summary, "netavark") || slices.Contains(ids, "package.netavark") {
			t.Errorf("%s: %s, fixes %q", name, r.Summary, ids)
		}
	}
}
