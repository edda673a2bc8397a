package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestKernelConfig(t *testing.T) {
	const rel = "5.15.150"
	cfg := "/boot/config-" + rel
	noSec := "CONFIG_EXT4_FS=y\n# CONFIG_EXT4_FS_SECURITY is not set\n"
	withSec := "CONFIG_EXT4_FS=y\nCONFIG_EXT4_FS_SECURITY=y\n"
	k := func(fs, config string) *host.Memory {
		return alice().Kernel(rel).FSType("/", fs).FSType("/home/alice", fs).File(cfg, config)
	}
	runProbeTests(t, kernelConfig, []probeTest{
		{name: "distribution kernel", host: k("ext4", withSec), status: finding.Pass, summary: "has security extended attributes", fixes: []string{}},
		{name: "openwrt: no security xattrs, docker data root on ext4", host: k("ext4", noSec), status: finding.Warn,
			summary: "~/.local/share/docker is on ext4", fixes: []string{"manual.kernel-ext4-security"}},
		{name: "podman too", host: k("ext4", noSec).Exec("/usr/bin/podman"), status: finding.Warn,
			summary: "~/.local/share/docker and ~/.local/share/containers/storage are on ext4"},
		{name: "no security xattrs, data root on xfs", host: k("xfs", noSec), status: finding.Pass, summary: "no data root is on ext4"},
		{name: "ext4 as a module", host: k("ext4", "CONFIG_EXT4_FS=m\n# CONFIG_EXT4_FS_SECURITY is not set\n"), status: finding.Warn},
		{name: "no ext4 at all", host: k("ext4", "# CONFIG_EXT4_FS is not set\n"), status: finding.Pass, summary: "does not build ext4"},
		{name: "a trimmed config proves nothing", host: k("ext4", "CONFIG_USER_NS=y\n"), status: finding.Skip},
		{name: "no config", host: alice().Kernel(rel), status: finding.Skip},
		{name: "garbage config", host: k("ext4", "\x00\xff\n"), status: finding.Skip},
		{name: "unreadable config", host: k("ext4", noSec).Meta(cfg, host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Skip},
		{name: "root: skip", host: k("ext4", noSec).Self(rootSelf), status: finding.Skip},
	})
}
