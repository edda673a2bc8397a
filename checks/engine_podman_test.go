package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
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
