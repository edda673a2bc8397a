package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func withTun(m *host.Memory, mode string, uid, gid int) *host.Memory {
	return m.Meta("/dev/net/tun", host.FileMeta{Type: "char", Mode: mode, UID: host.Int(uid), GID: host.Int(gid), Major: 10, Minor: 200})
}

// loadableKernel has module support and a /lib/modules for the running kernel (6.8.0) that
// knows tun as a module, but tun is not loaded.
func loadableKernel(m *host.Memory) *host.Memory {
	return m.File("/proc/modules", "overlay 151552 0 - Live 0x0\n").
		File("/lib/modules/6.8.0/modules.builtin", "kernel/fs/ext4/ext4.ko\n").
		File("/lib/modules/6.8.0/modules.dep", "kernel/drivers/net/tun.ko.zst:\nkernel/fs/overlayfs/overlay.ko.zst:\n")
}

func TestNetTun(t *testing.T) {
	root := host.Identity{UID: 0, GID: 0, Name: "root"}
	runProbeTests(t, netTun, []probeTest{
		{name: "0666 device", host: withTun(alice(), "0666", 0, 0), status: finding.Pass, summary: "readable and writable by alice", fixes: []string{}},
		{name: "0600 root device (this dev machine), checking alice", host: withTun(alice(), "0600", 0, 0).Self(root), user: "alice",
			status: finding.Fail, summary: "alice cannot open /dev/net/tun read-write (mode 0600, owner 0:0)", fixes: []string{"device.tun"}},
		{name: "0600 root device, running as root", host: withTun(alice(), "0600", 0, 0).Self(root), status: finding.Skip, summary: "root"},
		{name: "0660 group kvm, alice in kvm", host: withTun(alice(), "0660", 0, 104), status: finding.Pass},
		{name: "0660 group bob", host: withTun(alice(), "0660", 0, 1001), status: finding.Fail, fixes: []string{"device.tun"}},
		{name: "0600 owned by alice", host: withTun(alice(), "0600", 1000, 1000), status: finding.Pass},
		{name: "device numbers not recorded", host: alice().Meta("/dev/net/tun", host.FileMeta{Type: "char", Mode: "0666"}), status: finding.Pass},
		{name: "wrong device numbers", host: alice().Meta("/dev/net/tun", host.FileMeta{Type: "char", Mode: "0666", Major: 1, Minor: 3}),
			status: finding.Fail, summary: "is char 1,3, not the tun device 10,200", fixes: []string{"manual.tun-node"}},
		{name: "a regular file", host: alice().File("/dev/net/tun", "oops"), status: finding.Fail, summary: "not a character device", fixes: []string{"manual.tun-node"}},
		{name: "a directory", host: alice().Dir("/dev/net/tun"), status: finding.Fail, summary: "not a character device"},
		{name: "/dev/net not searchable", host: withTun(alice().Dir("/dev/net").Meta("/dev/net", host.FileMeta{Mode: "0700"}), "0666", 0, 0),
			status: finding.Fail, summary: "/dev/net is mode 0700", fixes: []string{"manual.dev-net-mode"}},
		{name: "unknown account", host: withTun(alice(), "0666", 0, 0), user: "mallory", status: finding.Skip},

		{name: "missing, tun loadable", host: loadableKernel(alice()), status: finding.Fail, summary: "does not exist", fixes: []string{"module.tun"}},
		{name: "missing, kernel upgraded without reboot", host: alice().File("/proc/modules", "overlay 151552 0 - Live 0x0\n"),
			status: finding.Fail, summary: "does not exist", fixes: []string{"module.tun"}},
		{name: "missing, tun built in (container without --device)", host: loadableKernel(alice()).File("/lib/modules/6.8.0/modules.builtin", "kernel/drivers/net/tun.ko\n"),
			status: finding.Fail, summary: "does not exist", fixes: []string{"manual.tun-node"}},
		{name: "missing, tun loaded", host: alice().File("/proc/modules", "tun 61440 0 - Live 0x0\n"), status: finding.Fail, fixes: []string{"manual.tun-node"}},
		{name: "missing, kernel without module support or config", host: alice(), status: finding.Fail, fixes: []string{"manual.kernel-tun"}},
		{name: "missing, kernel config without tun", host: alice().File("/boot/config-6.8.0", "CONFIG_MODULES=y\n# CONFIG_TUN is not set\n").File("/proc/modules", ""),
			status: finding.Fail, summary: "the kernel has no tun driver", fixes: []string{"manual.kernel-tun"}},
		{name: "missing, not in modules.dep", host: loadableKernel(alice()).File("/lib/modules/6.8.0/modules.dep", "kernel/fs/overlayfs/overlay.ko.zst:\n"),
			status: finding.Fail, summary: "no tun driver", fixes: []string{"manual.kernel-tun"}},
		{name: "missing, garbage everywhere", host: alice().File("/proc/modules", "\x00\xff\n\n").File("/lib/modules/6.8.0/modules.builtin", "\x00").
			File("/proc/config.gz", "\x1f\x8bnot gzip"), status: finding.Fail, fixes: []string{"module.tun"}},
	})
}

func TestNetTunDetails(t *testing.T) {
	r := result(t, netTun, alice().File("/proc/modules", "overlay 151552 0 - Live 0x0\n"), "")
	if !netHasDetail(r, "/lib/modules/6.8.0 does not exist") || !netHasDetail(r, "reboot") {
		t.Errorf("no reboot-pending hint: %q", r.Details)
	}
	r = result(t, netTun, loadableKernel(alice()), "")
	if netHasDetail(r, "reboot") {
		t.Errorf("reboot hint although /lib/modules/6.8.0 exists: %q", r.Details)
	}
	r = result(t, netTun, withTun(alice(), "0600", 0, 0), "")
	if !netHasDetail(r, "device cgroup") || len(r.Evidence) == 0 || r.Evidence[0].Value != "char 10,200 mode 0600 owner 0:0" {
		t.Errorf("0600: details %q, evidence %v", r.Details, r.Evidence)
	}
}
