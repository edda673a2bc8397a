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
		{name: "data root on overlayfs, fuse usable", host: withFuse(storageHost("6.8.0").FSType("/", "overlay"), "0666"), status: finding.Pass, summary: "fuse-overlayfs (the data root ~/.local/share/docker is on overlay, which cannot hold an overlay upper layer"},
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

const (
	userConf      = "/home/alice/.config/containers/storage.conf"
	alicePodman   = "/home/alice/.local/share/containers/storage"
	etcStorage    = "/etc/containers/storage.conf"
	xfsHomeMounts = "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 8:2 / /home rw,relatime shared:2 - xfs /dev/sda2 rw\n"
)

// withPodman adds podman to PATH.
func withPodman(m *host.Memory) *host.Memory { return m.Exec("/usr/bin/podman") }

func TestStorageDriverPodman(t *testing.T) {
	ubuntu := "ID=ubuntu\nVERSION_ID=\"20.04\"\n"
	ftype0 := "naming   =version 2              bsize=4096   ascii-ci=0 ftype=0\n"
	ftype1 := "naming   =version 2              bsize=4096   ascii-ci=0, ftype=1\n"
	xfs := func(m *host.Memory, out string) *host.Memory {
		return m.FSType("/home", "xfs").File(facts.MountinfoPath, xfsHomeMounts).Command([]string{"xfs_info", "/home"}, out, 0)
	}
	prior := func(m *host.Memory, d string) *host.Memory {
		return m.Dir(alicePodman).Meta(alicePodman, host.FileMeta{Mode: "0700", UID: host.Int(1000)}).Dir(alicePodman + "/" + d + "-images")
	}
	fedoraDropin := "/usr/share/containers/storage.conf.d/00-vendor.conf"

	runProbeTests(t, storageDriver, []probeTest{
		{name: "native overlay", host: withPodman(storageHost("6.8.0")), status: finding.Pass, summary: "podman: overlay (native overlay in user namespaces, kernel 6.8)"},
		{name: "podman not in use", host: storageHost("6.8.0"), status: finding.Pass, summary: "overlay2 (native"},

		// A kernel without overlay in user namespaces (catalogue overlay-unsupported-kernel).
		{name: "4.18, driver overlay, no fuse-overlayfs", host: withPodman(storageHost("4.18.0-553.el8_10.x86_64")).File(etcStorage, "[storage]\ndriver = \"overlay\"\n"),
			status: finding.Fail, summary: "podman's overlay driver (from /etc/containers/storage.conf) cannot work: kernel 4.18 is older than 5.11",
			fixes: []string{"package.fuse-overlayfs", "module.fuse"}},
		{name: "4.18, driver overlay, fuse usable", host: withFuse(withPodman(storageHost("4.18.0")), "0666").File(etcStorage, "[storage]\ndriver = \"overlay\"\n"),
			status: finding.Pass, summary: "podman: overlay through fuse-overlayfs (from /etc/containers/storage.conf), chosen by containers/storage because kernel 4.18"},
		{name: "4.15, driver overlay", host: withPodman(storageHost("4.15.0")).File(etcStorage, "[storage]\ndriver = \"overlay\"\n"),
			status: finding.Fail, fixes: []string{"manual.upgrade-kernel"}},

		// No driver configured (catalogue silent-vfs-fallback).
		{name: "no driver, 5.4 vanilla, no fuse: silent vfs", host: withPodman(storageHost("5.4.0")), status: finding.Warn, summary: "only vfs"},
		{name: "no driver, 5.11: canUseRootlessOverlay says no, native works", host: withPodman(storageHost("5.11.0")), status: finding.Warn, summary: "podman: vfs, chosen silently",
			fixes: []string{"manual.podman-storage-driver"}},
		{name: "no driver, fuse-overlayfs installed", host: withFuse(withPodman(storageHost("5.4.0")), "0666"), status: finding.Pass, summary: "podman: overlay through fuse-overlayfs"},
		// The VM lab, Debian 12: Podman 4.3.1 without a driver in any storage.conf made
		// vfs-images where this probe had said overlay (containers/storage before 1.48).
		{name: "no driver, podman 4.3", host: withVersionedTool(withFuse(storageHost("6.1.0"), "0666"), "podman", "4.3.1"), status: finding.Warn,
			summary: "podman: vfs (from Podman's default before 4.6 without a storage.conf driver)", fixes: []string{"manual.podman-storage-driver"}},
		{name: "no driver, podman 4.6", host: withVersionedTool(storageHost("6.1.0"), "podman", "4.6.0"), status: finding.Pass, summary: "podman: overlay (native"},
		{name: "existing vfs store on a new kernel", host: prior(withPodman(storageHost("6.8.0")), "vfs"), status: finding.Warn,
			summary: "podman: vfs (from existing state in ~/.local/share/containers/storage/vfs-images)", fixes: []string{"manual.podman-storage-driver"}},
		{name: "existing overlay store", host: prior(withPodman(storageHost("6.8.0")), "overlay"), status: finding.Pass, summary: "podman: overlay (native"},
		{name: "configured vfs", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage]\ndriver = \"vfs\"\n"), status: finding.Warn,
			summary: "podman: vfs (from ~/.config/containers/storage.conf)"},
		{name: "STORAGE_DRIVER", host: withPodman(storageHost("6.8.0")).Env("STORAGE_DRIVER", "vfs"), status: finding.Warn, summary: "vfs (from STORAGE_DRIVER)"},
		{name: "system driver zfs is ignored for rootless", host: withPodman(storageHost("6.8.0")).File(etcStorage, "[storage]\ndriver = \"zfs\"\n"), status: finding.Pass, summary: "podman: overlay (native"},
		{name: "own driver zfs", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage]\ndriver = \"zfs\"\n"), status: finding.Fail, summary: "not one rootless podman can use"},
		{name: "overlay2 is overlay", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage]\ndriver = \"overlay2\"\n"), status: finding.Pass, summary: "podman: overlay (native"},

		// Backing filesystems (catalogue storage-on-zfs, -ecryptfs, -overlayfs, xfs-without-ftype).
		{name: "zfs 2.1 without fuse", host: withPodman(storageHost("6.8.0")).FSType("/home", "zfs").File(zfsVersionPath, "2.1.5-1ubuntu6~22.04.1\n"), status: finding.Fail,
			summary: "is on ZFS 2.1, which cannot hold an overlay upper layer", fixes: []string{"package.fuse-overlayfs", "module.fuse", "manual.move-podman-data-root"}},
		{name: "zfs 2.1 with fuse", host: withFuse(withPodman(storageHost("6.8.0")), "0666").FSType("/home", "zfs").File(zfsVersionPath, "2.1.5\n"), status: finding.Pass,
			summary: "overlay through fuse-overlayfs, chosen by containers/storage because the data root ~/.local/share/containers/storage is on ZFS 2.1"},
		{name: "zfs 2.2", host: withPodman(storageHost("6.8.0")).FSType("/home", "zfs").File(zfsVersionPath, "2.2.2-0ubuntu9\n"), status: finding.Pass, summary: "podman: overlay (native"},
		{name: "zfs, version unreadable", host: withPodman(storageHost("6.8.0")).FSType("/home", "zfs"), status: finding.Warn},
		{name: "ecryptfs home", host: withPodman(storageHost("6.8.0")).FSType("/home/alice", "ecryptfs"), status: finding.Fail, summary: "~/.local/share/containers/storage is on ecryptfs, which cannot hold an overlay upper layer"},
		{name: "overlay root in a container", host: withPodman(storageHost("6.8.0")).FSType("/", "overlay"), status: finding.Fail, summary: "is on overlay"},
		{name: "xfs ftype=0", host: xfs(withPodman(storageHost("5.14.0")), ftype0), status: finding.Fail, summary: "XFS made with ftype=0 (/home)"},
		{name: "xfs ftype=1", host: xfs(withPodman(storageHost("5.14.0")), ftype1), status: finding.Pass, summary: "podman: overlay (native"},
		{name: "xfs, no xfs_info", host: withPodman(storageHost("5.14.0")).FSType("/home", "xfs").File(facts.MountinfoPath, xfsHomeMounts), status: finding.Pass},

		// mount_program (catalogue storage-conf-mount-program-missing, fuse-device-missing).
		{name: "mount_program missing", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n"),
			status: finding.Fail, summary: "podman's mount_program /usr/bin/fuse-overlayfs (from ~/.config/containers/storage.conf) is not installed", fixes: []string{"package.fuse-overlayfs"}},
		{name: "system mount_program is not for rootless", host: withPodman(storageHost("6.8.0")).File(etcStorage, "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n"),
			status: finding.Pass, summary: "podman: overlay (native"},
		{name: "mount_program without /dev/fuse", host: withPodman(storageHost("6.8.0")).Exec("/usr/bin/fuse-overlayfs").File(userConf, "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n"),
			status: finding.Fail, summary: "there is no /dev/fuse", fixes: []string{"module.fuse"}},
		{name: "mount_program works", host: withFuse(withPodman(storageHost("6.8.0")), "0666").File(userConf, "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n"),
			status: finding.Pass, summary: "podman: overlay through /usr/bin/fuse-overlayfs (mount_program from ~/.config/containers/storage.conf)"},
		{name: "store made by fuse-overlayfs, binary gone", host: withPodman(storageHost("6.8.0")).Dir(alicePodman).Meta(alicePodman, host.FileMeta{Mode: "0700", UID: host.Int(1000)}).
			File(alicePodman+"/overlay/.has-mount-program", "true"), status: finding.Warn, summary: "made through fuse-overlayfs", fixes: []string{"package.fuse-overlayfs"}},

		// Ubuntu's pre-5.11 patch (catalogue ubuntu-kernel-native-overlay-pre-5-11).
		{name: "ubuntu 5.4 native overlay", host: withPodman(storageHost("5.4.0-42-generic")).File("/etc/os-release", ubuntu).File(etcStorage, "[storage]\ndriver = \"overlay\"\n"),
			status: finding.Warn, summary: "native overlay through Ubuntu's kernel patch", fixes: []string{"package.fuse-overlayfs", "manual.podman-mount-program"}},
		{name: "ubuntu 5.4 with mount_program", host: withFuse(withPodman(storageHost("5.4.0-42-generic")), "0666").File("/etc/os-release", ubuntu).
			File(userConf, "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n"), status: finding.Pass, summary: "through /usr/bin/fuse-overlayfs"},

		// metacopy=on (catalogue storage-conf-metacopy-rootless).
		{name: "system metacopy is not for rootless (Podman 5)", host: withPodman(storageHost("6.8.0")).File(etcStorage, fedoraStorageConfHead), status: finding.Pass, summary: "podman: overlay (native"},
		{name: "own file copied from the system one", host: withPodman(storageHost("6.8.0")).File(userConf, fedoraStorageConfHead), status: finding.Warn,
			summary: "hold metacopy=on", fixes: []string{"manual.podman-mountopt"}},
		{name: "Podman 6 vendor drop-in", host: withPodman(storageHost("6.8.0")).File("/usr/share/containers/storage.conf", "[storage]\n").File(fedoraDropin, "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmountopt = \"nodev,metacopy=on\"\n"),
			status: finding.Warn, summary: "from /usr/share/containers/storage.conf.d/00-vendor.conf", fixes: []string{"manual.podman-mountopt"}},
		{name: "Podman 6 vendor drop-in overridden by the account", host: withPodman(storageHost("6.8.0")).File(fedoraDropin, "[storage.options.overlay]\nmountopt = \"nodev,metacopy=on\"\n").
			File("/home/alice/.config/containers/storage.conf.d/99-mine.conf", "[storage.options.overlay]\nmountopt = \"nodev\"\n"), status: finding.Pass},
		{name: "Podman 6 same-named drop-in replaces the vendor's", host: withPodman(storageHost("6.8.0")).File(fedoraDropin, "[storage.options.overlay]\nmountopt = \"nodev,metacopy=on\"\n").
			File("/etc/containers/storage.conf.d/00-vendor.conf", "# nothing\n"), status: finding.Pass},
		{name: "metacopy=off", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage.options.overlay]\nmountopt = \"metacopy=on,metacopy=off\"\n"), status: finding.Pass},

		// btrfs.
		{name: "btrfs driver off btrfs", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage]\ndriver = \"btrfs\"\n"), status: finding.Fail, summary: "needs the graphroot on btrfs"},

		// Cannot tell.
		{name: "garbage storage.conf is storage.data-root's", host: withPodman(storageHost("6.8.0")).File(userConf, "[storage\n"), status: finding.Pass, summary: "podman: cannot tell"},
	})
}

// fedoraStorageConfHead is the part of Fedora's storage.conf that matters here.
const fedoraStorageConfHead = "[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n[storage.options.overlay]\nmountopt = \"nodev,metacopy=on\"\n"

func TestStorageDriverBtrfsQuotas(t *testing.T) {
	mounts := "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 8:2 /@home /home rw,relatime shared:2 - btrfs /dev/sda2 rw,ssd,subvol=/@home\n"
	uuid := "/sys/fs/btrfs/2b1c0d2e-5d7e-4e0a-9a51-6c4b2f1e9c11"
	base := func() *host.Memory {
		return withDockerd(storageHost("6.8.0")).FSType("/home", "btrfs").File(facts.MountinfoPath, mounts).
			File(daemonJSONPath, `{"storage-driver":"btrfs"}`).File(uuid+"/devices/sda2", "")
	}
	runProbeTests(t, storageDriver, []probeTest{
		{name: "quotas on", host: base().Dir(uuid + "/qgroups"), status: finding.Warn, summary: "btrfs quotas are on, so rootless dockerd cannot remove images",
			fixes: []string{"manual.btrfs-subvolume-delete"}},
		{name: "quotas off", host: base(), status: finding.Pass, summary: "btrfs (from"},
		{name: "quotas on, user_subvol_rm_allowed", host: base().Dir(uuid+"/qgroups").
			File(facts.MountinfoPath, strings.Replace(mounts, "rw,ssd", "rw,ssd,user_subvol_rm_allowed", 1)), status: finding.Pass},
		{name: "no sysfs", host: withDockerd(storageHost("6.8.0")).FSType("/home", "btrfs").File(facts.MountinfoPath, mounts).File(daemonJSONPath, `{"storage-driver":"btrfs"}`), status: finding.Pass},
	})
	r := runForResult(t, storageDriver, base(), "")
	wantDetailsContain(t, r, "btrfs quotas are off")
	r = runForResult(t, storageDriver, withPodman(storageHost("5.4.0")), "")
	wantDetailsContain(t, r, "also: podman: vfs, chosen silently")
	r = runForResult(t, storageDriver, withPodman(storageHost("6.8.0")).FSType("/home", "zfs"), "")
	wantDetailsContain(t, r, "also: podman's overlay driver cannot work", "/sys/module/zfs/version cannot be read")
}

func withDockerd(m *host.Memory) *host.Memory { return m.Exec("/usr/bin/dockerd") }

// TestEngineDockerFoldsInItsOwnStorage: storage.driver and storage.data-root judge podman's
// storage too, but engine.docker must not be "not ready" because podman's graphroot is on
// NFS or on ZFS 2.1 (engine.podman's concern): it folds in Docker's part only (engineParts).
func TestEngineDockerFoldsInItsOwnStorage(t *testing.T) {
	for _, tt := range []struct{ name, fs, zfs string }{{"podman graphroot on NFS", "nfs", ""}, {"podman graphroot on ZFS 2.1", "zfs", "2.1.5\n"}} {
		t.Run(tt.name, func(t *testing.T) {
			h := withDockerd(withPodman(storageHost("6.8.0"))).FSType("/srv", tt.fs).
				Dir("/srv/alice").Meta("/srv/alice", host.FileMeta{Type: "dir", Mode: "0700", UID: host.Int(1000), GID: host.Int(1000)}).
				File(userConf, "[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/alice/containers\"\n")
			if tt.zfs != "" {
				h = h.File(zfsVersionPath, tt.zfs)
			}
			env := facts.NewEnv(context.Background(), h.Host(), "")
			whole := Run(context.Background(), []Probe{storageDriver, storageDataRoot}, env, Options{Sequential: true})
			if whole[0].Status != finding.Fail && whole[1].Status != finding.Fail {
				t.Fatalf("podman's storage does not fail here: %s %q, %s %q", whole[0].Status, whole[0].Summary, whole[1].Status, whole[1].Summary)
			}
			v := newVerdict(env, facts.EngineDocker)
			v.needs(context.Background(), facts.EngineDocker)
			for _, f := range v.fails {
				if strings.HasPrefix(f, "storage.") {
					t.Errorf("engine.docker fails on podman's storage: %s", f)
				}
			}
		})
	}
}
