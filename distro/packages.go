package distro

import "slices"

// Tool is something a fix may need to install. Its value is what intents carry.
type Tool string

// The tools fixes install.
const (
	ToolNewuidmap     Tool = "newuidmap" // newuidmap + newgidmap
	ToolGetsubids     Tool = "getsubids" // subordinate ids from nsswitch (SSSD, LDAP)
	ToolSlirp4netns   Tool = "slirp4netns"
	ToolPasta         Tool = "pasta"
	ToolFuseOverlayfs Tool = "fuse-overlayfs"
	ToolFuse          Tool = "fuse" // fusermount3 and the fuse userspace
	ToolDBusUser      Tool = "dbus-user-session"
	ToolIptables      Tool = "iptables"
	ToolIproute       Tool = "ip"
	ToolNsenter       Tool = "nsenter"
	ToolSystemdCont   Tool = "systemd-container" // machinectl shell user@ gives a real session
	ToolApparmor      Tool = "apparmor_parser"
	ToolRootlesskit   Tool = "rootlesskit"
	// The engines and their parts (the engine.* probes, docs/engines.md).
	ToolPodman        Tool = "podman"
	ToolDocker        Tool = "dockerd" // the rootless Docker daemon and its scripts
	ToolNerdctl       Tool = "nerdctl"
	ToolBuildkit      Tool = "buildkitd"
	ToolCrun          Tool = "crun"
	ToolRunc          Tool = "runc"
	ToolConmon        Tool = "conmon"
	ToolCatatonit     Tool = "catatonit"
	ToolCNIPlugins    Tool = "cni-plugins"
	ToolNetavark      Tool = "netavark"          // Podman's network backend, with aardvark-dns
	ToolContainersPol Tool = "containers-policy" // /etc/containers/policy.json
)

// Tools lists every tool, for tests and documentation.
var Tools = []Tool{
	ToolNewuidmap, ToolGetsubids, ToolSlirp4netns, ToolPasta, ToolFuseOverlayfs, ToolFuse,
	ToolDBusUser, ToolIptables, ToolIproute, ToolNsenter, ToolSystemdCont, ToolApparmor, ToolRootlesskit,
	ToolPodman, ToolDocker, ToolNerdctl, ToolBuildkit, ToolCrun, ToolRunc, ToolConmon, ToolCatatonit,
	ToolCNIPlugins, ToolNetavark, ToolContainersPol,
}

// packages holds the package name of each tool per family. A missing entry means the family
// has no package for it (the planner then says so instead of guessing).
//
// Sources: Docker's rootless docs (https://docs.docker.com/engine/security/rootless/), the distros'
// package indexes (packages.debian.org, packages.fedoraproject.org, software.opensuse.org,
// archlinux.org/packages, pkgs.alpinelinux.org).
var packages = map[Family]map[Tool]string{
	FamilyDebian: {
		ToolNewuidmap: "uidmap", ToolGetsubids: "uidmap", ToolSlirp4netns: "slirp4netns",
		ToolPasta: "passt", ToolFuseOverlayfs: "fuse-overlayfs", ToolFuse: "fuse3",
		ToolDBusUser: "dbus-user-session", ToolIptables: "iptables", ToolIproute: "iproute2",
		ToolNsenter: "util-linux", ToolSystemdCont: "systemd-container", ToolApparmor: "apparmor",
		ToolRootlesskit: "rootlesskit",
		ToolPodman:      "podman", ToolDocker: "docker.io", ToolCrun: "crun", ToolRunc: "runc", ToolConmon: "conmon", ToolCatatonit: "catatonit", ToolCNIPlugins: "containernetworking-plugins", ToolNetavark: "netavark", ToolContainersPol: "golang-github-containers-common",
	},
	FamilyFedora: {
		ToolNewuidmap: "shadow-utils", ToolGetsubids: "shadow-utils-subid", ToolSlirp4netns: "slirp4netns",
		ToolPasta: "passt", ToolFuseOverlayfs: "fuse-overlayfs", ToolFuse: "fuse3",
		ToolDBusUser: "dbus-daemon", ToolIptables: "iptables", ToolIproute: "iproute",
		ToolNsenter: "util-linux", ToolSystemdCont: "systemd-container", ToolRootlesskit: "rootlesskit",
		ToolPodman: "podman", ToolDocker: "moby-engine", ToolCrun: "crun", ToolRunc: "runc", ToolConmon: "conmon", ToolCatatonit: "catatonit", ToolCNIPlugins: "containernetworking-plugins", ToolNetavark: "netavark", ToolContainersPol: "containers-common", ToolBuildkit: "buildkit",
	},
	FamilySUSE: {
		ToolNewuidmap: "shadow", ToolGetsubids: "shadow", ToolSlirp4netns: "slirp4netns",
		ToolPasta: "passt", ToolFuseOverlayfs: "fuse-overlayfs", ToolFuse: "fuse3",
		ToolDBusUser: "dbus-1", ToolIptables: "iptables", ToolIproute: "iproute2",
		ToolNsenter: "util-linux", ToolSystemdCont: "systemd-container", ToolApparmor: "apparmor-parser",
		ToolRootlesskit: "rootlesskit",
		ToolPodman:      "podman", ToolDocker: "docker-rootless-extras", ToolCrun: "crun", ToolRunc: "runc", ToolConmon: "conmon", ToolCatatonit: "catatonit", ToolCNIPlugins: "cni-plugins", ToolNetavark: "netavark", ToolContainersPol: "libcontainers-common", ToolNerdctl: "nerdctl", ToolBuildkit: "buildkit",
	},
	FamilyArch: {
		ToolNewuidmap: "shadow", ToolGetsubids: "shadow", ToolSlirp4netns: "slirp4netns",
		ToolPasta: "passt", ToolFuseOverlayfs: "fuse-overlayfs", ToolFuse: "fuse3",
		ToolDBusUser: "dbus", ToolIptables: "iptables", ToolIproute: "iproute2",
		ToolNsenter: "util-linux", ToolSystemdCont: "systemd", ToolApparmor: "apparmor",
		ToolRootlesskit: "rootlesskit",
		ToolPodman:      "podman", ToolDocker: "docker", ToolCrun: "crun", ToolRunc: "runc", ToolConmon: "conmon", ToolCatatonit: "catatonit", ToolCNIPlugins: "cni-plugins", ToolNetavark: "netavark", ToolContainersPol: "containers-common", ToolNerdctl: "nerdctl", ToolBuildkit: "buildkit",
	},
	FamilyAlpine: {
		ToolNewuidmap: "shadow-uidmap", ToolGetsubids: "shadow-subids", ToolSlirp4netns: "slirp4netns",
		ToolPasta: "passt", ToolFuseOverlayfs: "fuse-overlayfs", ToolFuse: "fuse3",
		ToolDBusUser: "dbus", ToolIptables: "iptables", ToolIproute: "iproute2",
		ToolNsenter: "util-linux-misc", ToolRootlesskit: "rootlesskit",
		ToolPodman: "podman", ToolDocker: "docker-rootless-extras", ToolCrun: "crun", ToolRunc: "runc", ToolConmon: "conmon", ToolCatatonit: "catatonit", ToolCNIPlugins: "cni-plugins", ToolNetavark: "netavark", ToolContainersPol: "containers-common", ToolNerdctl: "nerdctl", ToolBuildkit: "buildkit",
	},
}

// Package names the package that provides t on this distribution.
func (i Info) Package(t Tool) (string, bool) {
	// RHEL/CentOS 7 and Amazon Linux 2 have no passt and no fuse3.
	if i.PackageManager == Yum && (t == ToolPasta || t == ToolFuse) {
		if t == ToolFuse {
			return "fuse", true
		}
		return "", false
	}
	// Fedora ≥ 41 and RHEL ≥ 9 ship iptables as the nftables front end.
	if t == ToolIptables && i.Family == FamilyFedora && i.PackageManager == Dnf {
		return "iptables-nft", true
	}
	p, ok := packages[i.Family][t]
	return p, ok
}

// InstallCommand is the non-interactive command that installs pkgs, or nil when the
// distribution is unknown. The names are sorted and deduplicated so a plan is byte-stable.
func (i Info) InstallCommand(pkgs []string) []string {
	pkgs = slices.Clone(pkgs)
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	var cmd []string
	switch i.PackageManager {
	case Apt:
		cmd = []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends"}
	case Dnf:
		cmd = []string{"dnf", "install", "-y"}
	case Yum:
		cmd = []string{"yum", "install", "-y"}
	case Zypper:
		cmd = []string{"zypper", "--non-interactive", "install", "--no-recommends"}
	case Pacman:
		// -Syu, not -Sy then -S: Arch does not support partial upgrades
		// (https://wiki.archlinux.org/title/System_maintenance#Partial_upgrades_are_unsupported).
		cmd = []string{"pacman", "-Syu", "--needed", "--noconfirm"}
	case Apk:
		cmd = []string{"apk", "add", "--no-cache"}
	default:
		return nil
	}
	return append(cmd, pkgs...)
}

// RefreshCommand updates the package index before an install, where the manager needs it.
func (i Info) RefreshCommand() []string {
	switch i.PackageManager {
	case Apt:
		return []string{"apt-get", "update"}
	}
	return nil
}
