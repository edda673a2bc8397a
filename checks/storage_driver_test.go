package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// runProbe runs one probe over a host with the runner's policies, for tests that look at
// details or evidence beyond what probeTest checks.
func runForResult(t *testing.T, p Probe, h *host.Memory, user string) finding.Result {
	t.Helper()
	env := facts.NewEnv(context.Background(), h.Host(), user)
	return Run(context.Background(), []Probe{p}, env, Options{Sequential: true})[0]
}

// wantDetail fails unless some detail of r contains each of substrs.
func wantDetailsContain(t *testing.T, r finding.Result, substrs ...string) {
	t.Helper()
	for _, s := range substrs {
		found := false
		for _, d := range r.Details {
			if strings.Contains(d, s) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no detail contains %q; details: %q", s, r.Details)
		}
	}
}

// storageHost is alice on kernel k with an ext4 root filesystem.
func storageHost(k string) *host.Memory {
	return alice().Kernel(k).FSType("/", "ext4")
}

// withFuse adds the fuse-overlayfs binary and a /dev/fuse of the given mode.
func withFuse(m *host.Memory, mode string) *host.Memory {
	return m.Exec("/usr/bin/fuse-overlayfs").
		Meta("/dev/fuse", host.FileMeta{Type: "char", Mode: mode, UID: host.Int(0), GID: host.Int(0), Major: 10, Minor: 229})
}

const (
	daemonJSONPath = "/home/alice/.config/docker/daemon.json"
	aliceDocker    = "/home/alice/.local/share/docker"
)

func TestStorageDriver(t *testing.T) {
	root := host.Identity{UID: 0, GID: 0, Name: "root"}
	ubuntu := "ID=ubuntu\nVERSION_ID=\"20.04\"\n"
	debian := "ID=debian\nVERSION_ID=\"10\"\n"
	enforcing := selinuxEnforcing
	withDockerd := func(m *host.Memory) *host.Memory { return m.Exec("/usr/bin/dockerd") }
	priorState := func(m *host.Memory, drivers ...string) *host.Memory {
		m = m.Dir(aliceDocker).Meta(aliceDocker, host.FileMeta{Mode: "0710", UID: host.Int(1000)})
		for _, d := range drivers {
			m = m.File(aliceDocker+"/"+d+"/l/x", "")
		}
		return m
	}

	runProbeTests(t, storageDriver, []probeTest{
		// Native overlay.
		{name: "kernel 6.8", host: storageHost("6.8.0"), status: finding.Pass, summary: "overlay2 (native overlay in user namespaces, kernel 6.8)"},
		{name: "kernel 5.11 exactly", host: storageHost("5.11.0-300.fc34.x86_64"), status: finding.Pass, summary: "overlay2 (native"},
		{name: "ubuntu kernel 5.4", host: storageHost("5.4.0-42-generic").File("/etc/os-release", ubuntu), status: finding.Pass, summary: "overlay2 (Ubuntu's kernel patch"},
		{name: "ubuntu userland, vanilla 5.4 kernel", host: storageHost("5.4.0").File("/etc/os-release", ubuntu), status: finding.Warn, summary: "only vfs"},
		{name: "root with --user", host: storageHost("6.8.0").Self(root), user: "alice", status: finding.Pass, summary: "overlay2"},

		// Debian's permit_mounts_in_userns before 5.11.
		{name: "debian permit_mounts_in_userns=Y", host: storageHost("4.19.0-20-amd64").File("/etc/os-release", debian).
			File(permitMountsPath, "Y\n"), status: finding.Warn, summary: "permit_mounts_in_userns on kernel 4.19: unstable",
			fixes: []string{"package.fuse-overlayfs", "manual.docker-storage-driver"}},
		{name: "debian permit_mounts_in_userns=Y, fuse-overlayfs installed", host: withFuse(storageHost("4.19.0-20-amd64").
			File(permitMountsPath, "Y\n"), "0666"), status: finding.Warn, summary: "unstable", fixes: []string{"manual.docker-storage-driver"}},
		{name: "debian permit_mounts_in_userns=N, fuse usable", host: withFuse(storageHost("4.19.0-20-amd64").
			File(permitMountsPath, "N\n"), "0666"), status: finding.Pass, summary: "fuse-overlayfs (kernel 4.19 is older than 5.11"},
		{name: "permit_mounts_in_userns garbage", host: storageHost("4.19.0").File(permitMountsPath, "\x00maybe"), status: finding.Warn, summary: "only vfs"},
		{name: "permit_mounts_in_userns on 5.11 is ignored", host: storageHost("5.11.0").File(permitMountsPath, "Y\n"), status: finding.Pass, summary: "overlay2 (native"},

		// fuse-overlayfs.
		{name: "kernel 4.18 with fuse-overlayfs", host: withFuse(storageHost("4.18.0-348.el8.x86_64"), "0666"), status: finding.Pass, summary: "fuse-overlayfs (kernel 4.18"},
		{name: "/dev/fuse 0600 root", host: withFuse(storageHost("4.18.0"), "0600"), status: finding.Warn, summary: "only vfs", fixes: []string{"device.fuse"}},
		{name: "/dev/fuse 0600 but checking root", host: withFuse(storageHost("4.18.0"), "0600").Self(root), status: finding.Skip, summary: "root"},
		{name: "no fuse-overlayfs, no /dev/fuse", host: storageHost("4.18.0"), status: finding.Warn, summary: "only vfs: every layer is a full copy: slow, disk-hungry",
			fixes: []string{"package.fuse-overlayfs", "module.fuse"}},
		{name: "/dev/fuse is not the fuse device", host: storageHost("4.18.0").Exec("/usr/bin/fuse-overlayfs").
			Meta("/dev/fuse", host.FileMeta{Type: "char", Mode: "0666", Major: 1, Minor: 3}), status: finding.Warn, summary: "only vfs", fixes: []string{"manual.fuse-device"}},
		{name: "/dev/fuse is a regular file", host: storageHost("4.18.0").Exec("/usr/bin/fuse-overlayfs").File("/dev/fuse", ""), status: finding.Warn, summary: "only vfs", fixes: []string{"manual.fuse-device"}},
		{name: "kernel 4.15: only a new kernel helps", host: withFuse(storageHost("4.15.0"), "0666"), status: finding.Warn, summary: "only vfs", fixes: []string{"manual.upgrade-kernel"}},

		// btrfs.
		{name: "kernel 4.19, data root on btrfs", host: storageHost("4.19.0").FSType("/home", "btrfs"), status: finding.Pass, summary: "btrfs (kernel 4.19 is older"},
		{name: "kernel 4.15 btrfs without user_subvol_rm_allowed", host: storageHost("4.15.0").FSType("/home", "btrfs"), status: finding.Warn, summary: "only vfs"},
		{name: "kernel 4.15 btrfs with user_subvol_rm_allowed", host: storageHost("4.15.0").FSType("/home", "btrfs").
			File(facts.MountinfoPath, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 8:2 / /home rw shared:2 - btrfs /dev/sda2 rw,user_subvol_rm_allowed\n"), status: finding.Pass, summary: "btrfs"},

		// Data root on overlayfs (an engine inside a container).
		{name: "data root on overlayfs, fuse usable", host: withFuse(storageHost("6.8.0").FSType("/", "overlay"), "0666"), status: finding.Pass, summary: "fuse-overlayfs (the data root is on overlayfs"},
		{name: "data root on overlayfs, no fuse", host: storageHost("6.8.0").FSType("/", "overlay"), status: finding.Warn, summary: "only vfs"},

		// SELinux.
		{name: "selinux, dockerd, fuse usable", host: withDockerd(enforcing(withFuse(storageHost("6.8.0"), "0666"))), status: finding.Pass, summary: "fuse-overlayfs (SELinux is on"},
		{name: "selinux, dockerd, no fuse", host: withDockerd(enforcing(storageHost("6.8.0"))), status: finding.Warn, summary: "only vfs", fixes: []string{"package.fuse-overlayfs", "module.fuse"}},
		{name: "selinux permissive, dockerd, no fuse", host: withDockerd(storageHost("6.8.0").File("/sys/fs/selinux/enforce", "0\n")), status: finding.Warn, summary: "only vfs"},
		{name: "selinux without docker (podman)", host: enforcing(storageHost("6.8.0")), status: finding.Pass, summary: "overlay2 (native"},
		{name: "selinux enforcing on 5.12", host: enforcing(storageHost("5.12.0-200.fc34.x86_64")), status: finding.Warn, summary: "early bugs", fixes: []string{"manual.upgrade-kernel"}},
		{name: "selinux permissive on 5.12", host: storageHost("5.12.0").File("/sys/fs/selinux/enforce", "0"), status: finding.Pass},
		{name: "selinux enforcing on 5.13", host: enforcing(storageHost("5.13.0")), status: finding.Pass},
		{name: "selinux enforcing on 5.12 with docker on fuse", host: withDockerd(enforcing(withFuse(storageHost("5.12.0"), "0666"))), status: finding.Warn, summary: "fuse-overlayfs (SELinux is on"},

		// daemon.json storage-driver.
		{name: "configured fuse-overlayfs", host: withFuse(storageHost("6.8.0"), "0666").File(daemonJSONPath, `{"storage-driver":"fuse-overlayfs"}`), status: finding.Pass, summary: "fuse-overlayfs (from ~/.config/docker/daemon.json)"},
		{name: "configured overlay2 on 4.18 with fuse", host: withFuse(storageHost("4.18.0"), "0666").File(daemonJSONPath, `{"storage-driver":"overlay2"}`), status: finding.Fail,
			summary: `selects storage-driver "overlay2", which cannot work here`, fixes: []string{"manual.docker-storage-driver"}},
		{name: "configured fuse-overlayfs without fuse", host: storageHost("4.18.0").File(daemonJSONPath, `{"storage-driver":"fuse-overlayfs"}`), status: finding.Fail,
			summary: "fuse-overlayfs is not installed", fixes: []string{"package.fuse-overlayfs", "module.fuse"}},
		{name: "configured zfs", host: storageHost("6.8.0").File(daemonJSONPath, `{"storage-driver":"zfs"}`), status: finding.Fail, summary: "needs root"},
		{name: "configured devicemapper", host: storageHost("6.8.0").File(daemonJSONPath, `{"storage-driver":"devicemapper"}`), status: finding.Fail, summary: "no such driver"},
		{name: "configured vfs", host: storageHost("6.8.0").File(daemonJSONPath, `{"storage-driver":"vfs"}`), status: finding.Warn, summary: "vfs (from ~/.config/docker/daemon.json)",
			fixes: []string{"manual.docker-storage-driver"}},
		{name: "configured vfs, nothing better", host: storageHost("4.18.0").File(daemonJSONPath, `{"storage-driver":"vfs"}`), status: finding.Warn, summary: "vfs (from",
			fixes: []string{"package.fuse-overlayfs", "module.fuse"}},
		{name: "garbage daemon.json is storage.data-root's finding", host: storageHost("6.8.0").File(daemonJSONPath, "{"), status: finding.Pass, summary: "overlay2"},

		// State of an earlier driver in the data root.
		{name: "prior overlay2", host: priorState(storageHost("6.8.0"), "overlay2"), status: finding.Pass, summary: "overlay2 (native"},
		{name: "prior vfs on a kernel with overlay", host: priorState(storageHost("6.8.0"), "vfs"), status: finding.Warn, summary: "vfs (from existing state in ~/.local/share/docker/vfs)",
			fixes: []string{"manual.docker-storage-driver"}},
		{name: "prior overlay2 on a kernel without it", host: priorState(storageHost("4.18.0"), "overlay2"), status: finding.Fail, summary: "rootless dockerd will not start"},
		{name: "prior fuse-overlayfs, usable", host: priorState(withFuse(storageHost("6.8.0"), "0666"), "fuse-overlayfs"), status: finding.Pass, summary: "fuse-overlayfs (from existing state"},
		{name: "several priors", host: priorState(storageHost("6.8.0"), "overlay2", "vfs"), status: finding.Warn, summary: "several storage drivers (overlay2, vfs)"},
		{name: "empty prior directory does not count", host: priorState(storageHost("6.8.0")).Dir(aliceDocker + "/vfs"), status: finding.Pass, summary: "overlay2"},
		{name: "configured driver wins over prior state", host: priorState(withFuse(storageHost("6.8.0"), "0666"), "vfs").
			File(daemonJSONPath, `{"storage-driver":"fuse-overlayfs"}`), status: finding.Pass, summary: "fuse-overlayfs (from ~/.config"},

		// Cannot tell.
		{name: "garbage kernel release", host: storageHost("garbage"), status: finding.Warn, summary: "could not check"},
		{name: "unknown account", host: storageHost("6.8.0").Self(root), user: "mallory", status: finding.Skip},
	})
}

func TestStorageDriverDetails(t *testing.T) {
	r := runForResult(t, storageDriver, storageHost("4.18.0"), "")
	wantDetailsContain(t, r, "overlay2: kernel 4.18 is older than 5.11", "fuse-overlayfs: fuse-overlayfs is not installed; there is no /dev/fuse")

	r = runForResult(t, storageDriver, withFuse(storageHost("4.18.0"), "0600"), "")
	wantDetailsContain(t, r, "/dev/fuse is mode 0600 owned by 0:0: alice cannot open it")
	if len(r.Intents) != 1 || r.Intents[0].Mode != "0666" || r.Intents[0].Path != "/dev/fuse" {
		t.Errorf("intents = %+v, want /dev/fuse 0666", r.Intents)
	}

	r = runForResult(t, storageDriver, selinuxEnforcing(storageHost("6.8.0")), "")
	wantDetailsContain(t, r, "rootless Docker, if installed, would not use native overlay2")

	r = runForResult(t, storageDriver, storageHost("6.8.0").File(daemonJSONPath, `{"storage-driver":"vfs"}`), "")
	wantDetailsContain(t, r, "overlay2 would work here", "Without it dockerd would pick overlay2")
	for _, d := range r.Details {
		if strings.HasPrefix(d, "overlay2: ") {
			t.Errorf("usable overlay2 explained as unusable: %q", d)
		}
	}
}

// selinuxEnforcing adds an enforcing SELinux.
func selinuxEnforcing(m *host.Memory) *host.Memory { return m.File("/sys/fs/selinux/enforce", "1\n") }
