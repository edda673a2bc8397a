package checks

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Host builders shared by the cgroup and session probe tests.

var rootSelf = host.Identity{UID: 0, GID: 0, Name: "root"}

// unified mounts cgroup v2 at /sys/fs/cgroup.
func unified(m *host.Memory) *host.Memory { return m.FSType("/sys/fs/cgroup", "cgroup2") }

// hybrid is systemd's hybrid layout: tmpfs with v1 hierarchies, an empty v2 at unified/.
func hybrid(m *host.Memory) *host.Memory {
	return m.FSType("/sys/fs/cgroup", "tmpfs").FSType("/sys/fs/cgroup/unified", "cgroup2").Dir("/sys/fs/cgroup/unified")
}

// legacy is cgroup v1 only.
func legacy(m *host.Memory) *host.Memory { return m.FSType("/sys/fs/cgroup", "tmpfs") }

// withSystemd makes systemd PID 1 (sd_booted: /run/systemd/system is a directory).
func withSystemd(m *host.Memory) *host.Memory { return m.Dir("/run/systemd/system") }

// runtimeDir adds /run/user/UID owned by uid with mode.
func runtimeDir(m *host.Memory, uid int, mode string) *host.Memory {
	p := "/run/user/" + strconv.Itoa(uid)
	return m.Dir(p).Meta(p, host.FileMeta{Type: "dir", Mode: mode, UID: host.Int(uid), GID: host.Int(uid)})
}

// socket records a socket owned by uid.
func socket(m *host.Memory, p string, uid int) *host.Memory {
	return m.Meta(p, host.FileMeta{Type: "socket", Mode: "0666", UID: host.Int(uid)})
}

func TestCgroupVersion(t *testing.T) {
	runProbeTests(t, cgroupVersion, []probeTest{
		{name: "unified", host: unified(alice()).File("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n"), status: finding.Pass, summary: "cgroup v2", fixes: []string{}},
		{name: "unified, controllers file missing", host: unified(alice()), status: finding.Pass, summary: "cgroup v2"},
		{name: "hybrid with systemd", host: withSystemd(hybrid(alice())), status: finding.Warn, summary: "--pids-limit) are ignored in rootless mode on cgroup v1 (hybrid hierarchy)", fixes: []string{"manual.cgroup-v2"}},
		{name: "hybrid without systemd (the dev machine)", host: hybrid(alice()), status: finding.Warn, summary: "hybrid", fixes: []string{"manual.cgroup-v2"}},
		{name: "legacy", host: withSystemd(legacy(alice())), status: finding.Warn, summary: "legacy hierarchy", fixes: []string{"manual.cgroup-v2"}},
		{name: "hybrid, garbage cmdline", host: withSystemd(hybrid(alice())).File("/proc/cmdline", "\x00\xff\"\"\"=="), status: finding.Warn, summary: "hybrid"},
		{name: "on behalf", host: hybrid(alice()).Self(rootSelf), user: "alice", status: finding.Warn, summary: "hybrid"},
		{name: "unavailable", host: alice(), status: finding.Warn, summary: "could not check"},
		{name: "unknown user does not matter", host: unified(host.NewMemory()), status: finding.Pass},
	})
}

// On cgroup v1 rootless Podman refuses a container with --memory (exit 126) rather than
// dropping the limit as Docker does; the detail must not promise that containers with limits
// still run (the VM lab's debian11-cgv1 guest found it).
func TestCgroupVersionV1PodmanRefusesLimits(t *testing.T) {
	r := result(t, cgroupVersion, withSystemd(legacy(alice())), "")
	if !hasDetail(r, "rootless Podman refuses it") || hasDetail(r, "only the limits are lost") {
		t.Errorf("details = %q", r.Details)
	}
}

func TestCgroupVersionCmdlineForcesV1(t *testing.T) {
	m := withSystemd(hybrid(alice())).File("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro systemd.unified_cgroup_hierarchy=0 quiet\n")
	r := result(t, cgroupVersion, m, "")
	if r.Status != finding.Warn || !hasDetail(r, "forces cgroup v1") {
		t.Fatalf("got %s %q %q", r.Status, r.Summary, r.Details)
	}
	if len(r.Intents) != 1 || !strings.Contains(r.Intents[0].Reason, "remove systemd.unified_cgroup_hierarchy=0") {
		t.Errorf("intents = %+v", r.Intents)
	}
}
