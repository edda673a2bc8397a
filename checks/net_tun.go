package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// tunDevice is the TUN/TAP clone device: character device 10,200 (Documentation/admin-guide/devices.txt).
const (
	tunDevice = "/dev/net/tun"
	tunMajor  = 10
	tunMinor  = 200
)

var tunModule = facts.ModuleSpec{Names: []string{"tun"}, Config: []string{"CONFIG_TUN"}}

var netTun = Probe{
	ID:    "net.tun",
	Title: "TUN device",
	Fails: "missing, or not readable and writable by the account",
	Why: "Every rootless network driver gives the container namespace a tap device: slirp4netns, " +
		"pasta, vpnkit and RootlessKit v3's built-in gvisor-tap-vsock all open /dev/net/tun as the " +
		"account. If the node is missing or the account cannot open it read-write, the engine fails " +
		"with `open(\"/dev/net/tun\"): No such device` or `Permission denied` " +
		"(podman#9543, podman#19908, slirp4netns#283).",
	Reads: []string{tunDevice, "/dev/net", "/proc/modules", "/lib/modules/RELEASE/modules.builtin",
		"/proc/config.gz or /boot/config-RELEASE", "/sys/module/tun"},
	Fixes: []finding.Kind{finding.Module, finding.Device, finding.Manual},
	Run:   runNetTun,
}

func runNetTun(_ context.Context, e *facts.Env) finding.Result {
	fi, err := e.Host.Stat(tunDevice)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return tunMissing(e)
	case err != nil:
		return finding.Undecided(err, "cannot stat %s", tunDevice)
	}
	r := finding.Result{}.With(tunDevice, describeNode(fi))
	if !fi.IsCharDevice() {
		return r.WithStatus(finding.Fail, "%s is not a character device", tunDevice).
			Detail("It should be the TUN/TAP clone device, char %d,%d; something created a %s there.", tunMajor, tunMinor, nodeType(fi)).
			Fix(finding.ManualStep("tun-node", fmt.Sprintf("remove %s and recreate it as the tun device (mknod %s c %d %d, mode 0666), or reboot so devtmpfs recreates it", tunDevice, tunDevice, tunMajor, tunMinor)))
	}
	switch {
	case fi.Major == 0 && fi.Minor == 0:
		// Major 0 is never a real character device: the recording did not carry the numbers.
		r = r.Detail("The device numbers were not recorded; assuming %d,%d.", tunMajor, tunMinor)
	case fi.Major != tunMajor || fi.Minor != tunMinor:
		return r.WithStatus(finding.Fail, "%s is char %d,%d, not the tun device %d,%d", tunDevice, fi.Major, fi.Minor, tunMajor, tunMinor).
			Fix(finding.ManualStep("tun-node", fmt.Sprintf("recreate %s as the tun device (mknod %s c %d %d, mode 0666)", tunDevice, tunDevice, tunMajor, tunMinor)))
	}
	if skip, ok := e.NeedUser(); !ok {
		skip.Evidence = r.Evidence
		return skip
	}
	u := e.User
	if dir, err := e.Host.Stat("/dev/net"); err == nil && !netDirSearchable(e, dir) {
		return r.With("/dev/net", describeNode(dir)).WithStatus(finding.Fail, "%s cannot reach %s: /dev/net is mode %s", u.Name, tunDevice, permOctal(dir.Mode)).
			Detail("Opening a path needs search (x) permission on every directory above it.").
			Fix(finding.ManualStep("dev-net-mode", "make /dev/net searchable by everyone (chmod 0755 /dev/net)"))
	}
	if !e.CanReadWrite(fi) {
		return r.WithStatus(finding.Fail, "%s cannot open %s read-write (mode %s, owner %d:%d)", u.Name, tunDevice, permOctal(fi.Mode), fi.UID, fi.GID).
			Detail("slirp4netns and pasta then fail with `open(\"/dev/net/tun\"): Permission denied` (podman#19908, slirp4netns#283).").
			Detail("udev makes it 0666 (50-udev-default.rules); a /dev without udev keeps devtmpfs's 0600. 0666 is safe: creating a tun/tap device still needs CAP_NET_ADMIN over the network namespace, attaching to one needs to own it.").
			Detail("Inside LXC or a container the outer device cgroup must also allow c %d:%d rwm (LXC: lxc.cgroup2.devices.allow; Docker: --device %s).", tunMajor, tunMinor, tunDevice).
			Fix(finding.DeviceMode(tunDevice, "0666", "rootless network drivers open /dev/net/tun as the account to create the tap device"))
	}
	return r.WithStatus(finding.Pass, "%s is the tun device, readable and writable by %s", tunDevice, u.Name).
		Detail("An outer container's device cgroup can still deny the open; only the live proof shows that.")
}

// tunMissing explains a missing /dev/net/tun from what the kernel says about the tun driver.
func tunMissing(e *facts.Env) finding.Result {
	m := e.Module(tunModule)
	r := finding.Failf("%s does not exist", tunDevice).With(tunDevice, "missing").With(m.Evidence.Source, m.Evidence.Value).
		Detail("Rootless network drivers fail with `open(\"/dev/net/tun\"): No such file or directory` (podman#9543, podman#20304).")
	if m.Note != "" {
		r = r.Detail("%s", m.Note)
	}
	switch m.State {
	case facts.ModuleLoaded, facts.ModuleBuiltin:
		return r.Detail("The tun driver is in the kernel (%s) but its device node is not: this is usually a container started without --device %s, or a /dev that is not devtmpfs.", m.State, tunDevice).
			Fix(finding.ManualStep("tun-node", fmt.Sprintf("create the device node (mknod %s c %d %d, mode 0666), or pass --device %s to the container this runs in", tunDevice, tunMajor, tunMinor, tunDevice)))
	case facts.ModuleMissing:
		r.Summary = fmt.Sprintf("%s does not exist and the kernel has no tun driver", tunDevice)
		return r.Fix(finding.ManualStep("kernel-tun", "boot a kernel built with CONFIG_TUN (on OpenWrt: install kmod-tun)"))
	}
	if !e.ModulesLoadable() {
		if m.Note == "" {
			r = r.Detail("This kernel cannot load modules, so tun would have to be built in.")
		}
		return r.Fix(finding.ManualStep("kernel-tun", "boot a kernel built with CONFIG_TUN=y"))
	}
	if dir, ok := e.ModuleDir(); !ok && dir != "" && !strings.Contains(m.Note, "reboot") {
		r = r.Detail("%s does not exist: the kernel was probably upgraded and the machine not rebooted since; reboot before loading tun.", dir)
	}
	return r.Fix(finding.LoadModule("tun", "rootless network drivers need /dev/net/tun, which the tun module provides"))
}

// netDirSearchable reports whether the account may traverse a directory.
func netDirSearchable(e *facts.Env, fi host.FileInfo) bool { return e.Permits(fi, 0o1) }

// describeNode is the evidence line for a path: type, device numbers, mode, owner.
func describeNode(fi host.FileInfo) string {
	s := nodeType(fi)
	if fi.IsCharDevice() || fi.Mode&fs.ModeDevice != 0 {
		s += fmt.Sprintf(" %d,%d", fi.Major, fi.Minor)
	}
	return fmt.Sprintf("%s mode %s owner %d:%d", s, permOctal(fi.Mode), fi.UID, fi.GID)
}

// permOctal is a mode's permission bits as ls -l users read them in chmod terms ("0600").
func permOctal(m fs.FileMode) string { return fmt.Sprintf("%04o", uint32(m.Perm())) }

func nodeType(fi host.FileInfo) string {
	switch {
	case fi.IsCharDevice():
		return "char"
	case fi.Mode&fs.ModeDevice != 0:
		return "block device"
	case fi.IsDir():
		return "directory"
	case fi.Mode&fs.ModeSymlink != 0:
		return "symlink"
	case fi.Mode&fs.ModeSocket != 0:
		return "socket"
	case fi.Mode&fs.ModeNamedPipe != 0:
		return "fifo"
	}
	return "regular file"
}
