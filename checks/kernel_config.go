package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var kernelConfig = Probe{
	ID:    "kernel.config",
	Title: "Kernel build options",
	Fails: "an engine's data root on ext4 with a kernel built without CONFIG_EXT4_FS_SECURITY (warn)",
	Why: "A kernel built without CONFIG_EXT4_FS_SECURITY (OpenWrt and other minimal builds) has no " +
		"security.* extended attributes on ext4: file capabilities in image layers (ping's " +
		"cap_net_raw) and SELinux labels cannot be stored, and containers/storage before " +
		"containers/storage#851 stops copying a layer with a new ID mapping with \"lgetxattr bin: " +
		"operation not supported\" (openwrt/packages#15096, podman-container-tools/podman#9687; " +
		"docs/failures/catalogue.json#ext4-without-security-xattrs).",
	Reads: []string{"/proc/config.gz or /boot/config-RELEASE (CONFIG_EXT4_FS, CONFIG_EXT4_FS_SECURITY)",
		"the filesystems of Docker's and Podman's data roots (as storage.data-root finds them)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runKernelConfig,
}

func runKernelConfig(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	cfg, from := e.KernelConfig()
	if cfg == nil {
		return finding.Skipf("neither /proc/config.gz nor /boot/config-%s could be read and parsed, so the kernel's build options are unknown", orNone(e.Host.KernelRelease()))
	}
	// A config that does not mention the symbols (a trimmed one) proves nothing; a full one
	// says "# CONFIG_EXT4_FS_SECURITY is not set" when it is off (it depends on EXT4_FS).
	if !cfg.Has("CONFIG_EXT4_FS") {
		return finding.Skipf("%s does not mention CONFIG_EXT4_FS, so it tells nothing about ext4", from)
	}
	ext4, sec := cfg.Tristate("CONFIG_EXT4_FS"), cfg.Tristate("CONFIG_EXT4_FS_SECURITY")
	r := finding.Result{}.With(from, fmt.Sprintf("CONFIG_EXT4_FS=%s CONFIG_EXT4_FS_SECURITY=%s", ext4, sec))
	switch {
	case ext4 == "n":
		return r.WithStatus(finding.Pass, "the kernel does not build ext4, so no data root is on it")
	case sec != "n" || !cfg.Has("CONFIG_EXT4_FS_SECURITY"):
		return r.WithStatus(finding.Pass, "ext4 has security extended attributes (CONFIG_EXT4_FS_SECURITY)")
	}
	roots := []facts.DataRoot{e.DockerDataRoot()}
	if p, ok := e.PodmanDataRoot(); ok {
		roots = append(roots, p)
	}
	var on []string
	for _, d := range roots {
		if d.FSType == "ext4" {
			on = append(on, homeRel(e, d.Path))
			r = r.With("statfs "+d.Existing, d.FSType)
		}
	}
	if len(on) == 0 {
		return r.WithStatus(finding.Pass, "the kernel is built without CONFIG_EXT4_FS_SECURITY, but no data root is on ext4")
	}
	return r.WithStatus(finding.Warn, "the kernel is built without CONFIG_EXT4_FS_SECURITY and %s %s on ext4: no security.* extended attributes there", strings.Join(on, " and "), isAre(len(on))).
		Detail("Images whose files carry capabilities lose them (ping's cap_net_raw), SELinux labels cannot be kept, and Podman with containers/storage before containers/storage#851 fails to create containers with \"storage-chown-by-maps: lgetxattr ...: operation not supported\".").
		Fix(finding.ManualStep("kernel-ext4-security", "boot a kernel built with CONFIG_EXT4_FS_SECURITY=y, or move the data root to a filesystem with security extended attributes (xfs, btrfs); on Podman keep containers/storage current"))
}
