package vm

import (
	"fmt"
	"slices"
	"strings"
)

// Suite is a Debian release the lab builds one image for.
type Suite struct {
	// Name is the Debian codename (mmdebstrap's SUITE argument).
	Name string
	// Version is the Debian major version, as os-release's VERSION_ID says.
	Version string
	// Packages are installed on top of mmdebstrap's minbase variant (without Recommends).
	Packages []string
	// KernelPattern, when set, is an anchored regular expression over package names: the
	// newest matching linux-image package is installed instead of a metapackage. Debian 11's
	// security archive has served a cloud-kernel metapackage whose versioned dependency was
	// gone, so bullseye names the ABI package itself.
	KernelPattern string
}

// common are the packages every guest gets: systemd with logind and a user manager, the
// session bus a user manager needs (dbus-user-session), ssh for real PAM sessions, and the
// rootless stacks of Docker (docker.io + rootlesskit, whose rootlesskit-docker-proxy publishes
// ports) and Podman, with their helpers. busybox-static is the only binary inside the lab's
// container image. sudo serves the "sudo shell" scenario; kmod and procps are for staging.
var common = []string{
	"systemd-sysv", "udev", "dbus", "dbus-user-session", "libpam-systemd", "openssh-server",
	"uidmap", "slirp4netns", "iptables", "rootlesskit", "docker.io", "podman", "fuse-overlayfs",
	"busybox-static", "sudo", "kmod", "procps", "iproute2",
}

// Suites are the images the lab builds, oldest first.
var Suites = []Suite{
	{Name: "bullseye", Version: "11", Packages: common,
		KernelPattern: `^linux-image-5\.10\.0-[0-9]+-cloud-amd64$`},
	{Name: "bookworm", Version: "12", Packages: append(slices.Clone(common), "linux-image-cloud-amd64")},
	// trixie splits the docker CLI out of docker.io; podman 5 uses pasta (package passt) for
	// rootless networking by default and recommends it, so a normal `apt install podman`
	// brings it (mmdebstrap installs no Recommends).
	{Name: "trixie", Version: "13", Packages: append(slices.Clone(common), "docker-cli", "passt", "linux-image-cloud-amd64")},
}

// SuiteByName returns the suite called name.
func SuiteByName(name string) (Suite, error) {
	for _, s := range Suites {
		if s.Name == name {
			return s, nil
		}
	}
	return Suite{}, fmt.Errorf("unknown suite %q", name)
}

// Guest is one way of booting a suite's image: a name for the matrix, and extra kernel
// parameters.
type Guest struct {
	Name  string
	Suite string
	// Cmdline is appended to the kernel command line.
	Cmdline []string
	// CgroupV1 says the guest boots the legacy hierarchy, where rootless engines set no limits.
	CgroupV1 bool
	// Scenarios are the scenario names run by default on this guest.
	Scenarios []string
}

// Guests are the guests `make vmtest` boots, in order.
var Guests = []Guest{
	{Name: "debian11", Suite: "bullseye", Scenarios: DefaultScenarios},
	// Debian 11's systemd 247 still boots the legacy hierarchy when asked: a real cgroup v1
	// host, where rootless engines ignore --memory and --pids-limit. Only the stock guest runs
	// there: what v1 changes is the limits and cgroup verdicts, which stock compares; the other
	// states (linger, session bus, ids, install) are the same on both hierarchies and run on
	// debian11 already, and a boot plus a scenario cost minutes under TCG.
	{Name: "debian11-cgv1", Suite: "bullseye", CgroupV1: true,
		Cmdline:   []string{"systemd.unified_cgroup_hierarchy=0"},
		Scenarios: []string{"stock"}},
	{Name: "debian12", Suite: "bookworm", Scenarios: DefaultScenarios},
	{Name: "debian13", Suite: "trixie", Scenarios: DefaultScenarios},
}

// GuestByName returns the guest called name.
func GuestByName(name string) (Guest, error) {
	for _, g := range Guests {
		if g.Name == name {
			return g, nil
		}
	}
	names := make([]string, len(Guests))
	for i, g := range Guests {
		names[i] = g.Name
	}
	return Guest{}, fmt.Errorf("unknown guest %q (known: %s)", name, strings.Join(names, ", "))
}
