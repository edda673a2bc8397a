package report

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// osRelease gives the detected Info of a distribution, through the real parser.
func osRelease(t testing.TB, text string) distro.Info {
	t.Helper()
	info, err := distro.Parse([]byte(text))
	if err != nil {
		t.Fatalf("parsing os-release: %v", err)
	}
	return info
}

var releases = map[string]string{
	"ubuntu-24.04":   "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n",
	"debian-10":      "ID=debian\nVERSION_ID=\"10\"\nPRETTY_NAME=\"Debian GNU/Linux 10 (buster)\"\n",
	"debian-12":      "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
	"fedora-41":      "ID=fedora\nVERSION_ID=41\nPRETTY_NAME=\"Fedora Linux 41 (Server Edition)\"\n",
	"centos-7":       "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n",
	"opensuse-tw":    "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\nVERSION_ID=\"20240901\"\nPRETTY_NAME=\"openSUSE Tumbleweed\"\n",
	"arch":           "ID=arch\nPRETTY_NAME=\"Arch Linux\"\n",
	"alpine-3.20":    "ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
	"unknown-distro": "ID=plan9ish\nPRETTY_NAME=\"Some Linux\"\n",
}

const (
	passwdBase = "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" +
		"alice:x:1000:1000:Alice:/home/alice:/bin/bash\n" +
		"bob:x:1001:1001:Bob:/home/bob:/bin/bash\n"
	groupBase = "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nbob:x:1001:\n"
)

func req(probe string, in finding.Intent) fixes.Request {
	return fixes.Request{ProbeID: probe, Intent: in}
}

func debian(t *testing.T) distro.Info { return osRelease(t, releases["debian-12"]) }

// scenario is one representative run: a distribution, a host and the intents its probes
// would give.
type scenario struct {
	name    string
	release string
	host    *host.Memory
	reqs    []fixes.Request
	// formats lists the extra golden renderings (script is always checked).
	formats []string
}

func scenarios() []scenario {
	subidAlice := func(which string) finding.Intent {
		return finding.AddSubIDs("alice", which, 65536, nil, "alice has no subordinate "+which+" range")
	}
	return []scenario{
		{
			// Ubuntu 24.04 desktop, rootless Docker from get.docker.com in ~/bin: AppArmor
			// restriction, bob already holds 100000-165535, everything else missing too.
			name: "ubuntu-24.04-everything", release: "ubuntu-24.04",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase).File("/etc/group", groupBase).
				File("/etc/subuid", "bob:100000:65536\n").File("/etc/subgid", "bob:100000:65536\n").
				File("/etc/login.defs", "# shadow\nSUB_UID_MIN\t\t  100000\nSUB_UID_MAX\t\t600100000\nSUB_UID_COUNT\t\t  65536\n").
				File("/etc/sysctl.d/10-network-security.conf", "net.ipv4.conf.default.rp_filter=2\n").
				Symlink("/home/alice/bin/rootlesskit", "/opt/docker/rootlesskit").Exec("/opt/docker/rootlesskit"),
			reqs: []fixes.Request{
				req("idmap.newuidmap", finding.InstallTool(string(distro.ToolNewuidmap), "newuidmap and newgidmap are not installed")),
				req("net.driver", finding.InstallTool(string(distro.ToolSlirp4netns), "no network driver for rootlesskit")),
				req("session.dbus", finding.InstallTool(string(distro.ToolDBusUser), "alice has no D-Bus session bus")),
				req("idmap.subuid", subidAlice("uid")),
				req("idmap.subgid", subidAlice("gid")),
				req("idmap.subgid", finding.StripCR("/etc/subgid", "/etc/subgid has CRLF line ends")),
				req("userns.apparmor", finding.AppArmorProfile("/home/alice/bin/rootlesskit", "AppArmor blocks user namespaces for rootlesskit")),
				req("userns.apparmor", finding.AppArmorProfile("/usr/local/bin/rootless-doctor", "rootless-doctor embeds rootlesskit")),
				req("cgroup.delegation", finding.DelegateControllers([]string{"cpu", "cpuset", "io"}, "cpu, cpuset and io are not delegated")),
				req("net.tun", finding.DeviceMode("/dev/net/tun", "0666", "/dev/net/tun is mode 0600")),
				req("session.linger", finding.EnableLinger("alice", "the daemon stops when alice logs out")),
				req("storage.data-root", finding.ManualStep("data-root-nfs", "move ~/.local/share/docker off NFS (set data-root in ~/.config/docker/daemon.json)")),
				req("cgroup.delegation", finding.AskRelogin("delegation takes effect in a new session")),
				req("net.ping", finding.SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "ping does not work in containers").Optionally()),
				req("net.privileged-ports", finding.SetSysctl("net.ipv4.ip_unprivileged_port_start", "0", "ports below 1024 cannot be published").Optionally()),
			},
			formats: []string{"text", "json", "ansible", "root"},
		},
		{
			// Debian 10: the userns clone switch, uidmap, and ids for alice.
			name: "debian-10-userns-clone", release: "debian-10",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase).File("/etc/group", groupBase).
				File("/etc/subuid", "").File("/etc/subgid", ""),
			reqs: []fixes.Request{
				req("userns.clone", finding.SetSysctl("kernel.unprivileged_userns_clone", "1", "unprivileged user namespaces are off")),
				req("idmap.newuidmap", finding.InstallTool(string(distro.ToolNewuidmap), "newuidmap is not installed")),
				req("storage.driver", finding.InstallTool(string(distro.ToolFuseOverlayfs), "kernel 4.19 cannot mount overlay in a user namespace")),
				req("idmap.subuid", finding.AddSubIDs("alice", "both", 65536, nil, "alice has no subordinate ids")),
			},
		},
		{
			// The dev machine: Debian 12, /dev/net/tun 0600, no systemd. Only the device.
			name: "debian-12-tun", release: "debian-12",
			host: host.NewMemory().File("/etc/passwd", passwdBase),
			reqs: []fixes.Request{
				req("net.tun", finding.DeviceMode("/dev/net/tun", "0666", "/dev/net/tun is mode 0600")),
			},
			formats: []string{"text", "json", "ansible"},
		},
		{
			// Fedora 41: alice's range overlaps bob's; remove it and allocate anew. SUB_UID_MIN
			// raised in login.defs, LDAP users in the 200000s appear in /etc/passwd.
			name: "fedora-41-overlap", release: "fedora-41",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase+"ldapuser:x:200000:200000::/home/ldapuser:/bin/bash\n").
				File("/etc/group", groupBase).
				File("/etc/subuid", "bob:165536:65536\nalice:200000:65536\nalice:150000:20000\n").
				File("/etc/subgid", "bob:165536:65536\nalice:150000:20000\n").
				File("/etc/login.defs", "SUB_UID_MIN 150000\nSUB_GID_MIN 150000\n"),
			reqs: []fixes.Request{
				req("idmap.newuidmap", finding.InstallTool(string(distro.ToolNewuidmap), "newuidmap lost its file capabilities")),
				req("net.driver", finding.InstallTool(string(distro.ToolPasta), "no network driver")),
				req("idmap.subuid", finding.AddSubIDs("alice", "uid", 65536, []string{"165536-169999"}, "alice's range overlaps bob's")),
				req("idmap.subgid", finding.AddSubIDs("alice", "gid", 65536, []string{"165536-169999"}, "alice's range overlaps bob's")),
				req("cgroup.delegation", finding.DelegateControllers([]string{"cpu", "cpuset", "io", "memory", "pids", "hugetlb"}, "hugetlb limits are asked for")),
				req("session.linger", finding.EnableLinger("alice", "the daemon stops at logout")),
				req("net.ping", finding.SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "RHEL's default 1 0 disables ping").Optionally()),
			},
		},
		{
			// CentOS 7: max_user_namespaces 0, undone at boot by a CIS hardening file.
			name: "centos-7-hardened", release: "centos-7",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase).File("/etc/group", groupBase).
				File("/etc/sysctl.d/99-cis.conf", "# CIS 3.x\nuser.max_user_namespaces = 0\nkernel.kptr_restrict=2\n").
				File("/etc/sysctl.conf", "user/max_user_namespaces=0\n").
				Symlink("/etc/sysctl.d/99-sysctl.conf", "../sysctl.conf").
				File("/etc/subuid", "alice:100000:65536\n").File("/etc/subgid", "alice:100000:65536\n"),
			reqs: []fixes.Request{
				req("userns.max", finding.SetSysctl("user.max_user_namespaces", "28633", "user namespaces are disabled (0)")),
				req("net.driver", finding.InstallTool(string(distro.ToolSlirp4netns), "no network driver")),
				req("net.driver", finding.InstallTool(string(distro.ToolPasta), "pasta is faster")),
				req("storage.driver", finding.InstallTool(string(distro.ToolFuseOverlayfs), "kernel 3.10 has no overlay in user namespaces")),
				req("cgroup.version", finding.ManualStep("cgroup-v2", "boot with systemd.unified_cgroup_hierarchy=1 for resource limits (needs a newer kernel than 3.10)")),
			},
		},
		{
			name: "opensuse-tumbleweed", release: "opensuse-tw",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase).File("/etc/group", groupBase),
			reqs: []fixes.Request{
				req("net.driver", finding.InstallTool(string(distro.ToolSlirp4netns), "no network driver")),
				req("idmap.subuid", finding.AddSubIDs("alice", "both", 65536, nil, "no /etc/subuid at all")),
				req("session.linger", finding.EnableLinger("alice", "the daemon stops at logout")),
				req("cgroup.delegation", finding.DelegateControllers(nil, "nothing is delegated")),
			},
		},
		{
			// Arch after a kernel upgrade: tun not loaded, pacman.
			name: "arch-modules", release: "arch",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase).File("/etc/group", groupBase).
				File("/etc/subuid", "alice:100000:65536\n").File("/etc/subgid", "alice:100000:65536\n").
				File("/etc/modules-load.d/rootless-doctor.conf", "# old\nip_tables\n"),
			reqs: []fixes.Request{
				req("net.iptables", finding.LoadModule("iptable_nat", "NAT for published ports")),
				req("net.tun", finding.LoadModule("tun", "tun is not loaded")),
				req("net.tun", finding.DeviceMode("/dev/net/tun", "0666", "/dev/net/tun is missing")),
				req("net.iptables", finding.InstallTool(string(distro.ToolIptables), "iptables is missing")),
			},
		},
		{
			// Alpine: busybox, no usermod; alice's old range is partly bob's; malformed lines.
			name: "alpine-3.20", release: "alpine-3.20",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase).File("/etc/group", groupBase).
				File("/etc/subuid", "bob:100000:65536\nalice:160000:10000\ngarbage line\ncarol:300000:abc\n").
				File("/etc/subgid", "bob:100000:65536"),
			reqs: []fixes.Request{
				req("idmap.newuidmap", finding.InstallTool(string(distro.ToolNewuidmap), "newuidmap is not installed")),
				req("session.systemd", finding.InstallTool(string(distro.ToolSystemdCont), "machinectl gives a real session")),
				req("idmap.subuid", finding.AddSubIDs("alice", "uid", 65536, []string{"160000-165535"}, "alice's range overlaps bob's")),
				req("idmap.subgid", finding.AddSubIDs("alice", "gid", 65536, nil, "alice has no subordinate gids")),
				req("net.tun", finding.DeviceMode("/dev/net/tun", "0666", "/dev/net/tun is mode 0600")),
			},
			formats: []string{"text", "json", "ansible", "root"},
		},
		{
			// Debian 12: a playbook appended alice's range to /etc/subuid a second time. The
			// later copy goes, the first stays: her container storage is mapped with it.
			name: "debian-12-duplicate-range", release: "debian-12",
			host: host.NewMemory().
				File("/etc/passwd", passwdBase).File("/etc/group", groupBase).
				File("/etc/subuid", "alice:100000:65536\nbob:165536:65536\nalice:100000:65536\n").
				File("/etc/subgid", "alice:100000:65536\nbob:165536:65536\n"),
			reqs: []fixes.Request{
				req("idmap.subuid", finding.DedupeSubIDs("alice", "uid", []string{"100000-165535"}, "each of alice's subordinate uid ranges must be listed once")),
			},
			formats: []string{"text", "ansible"},
		},
		{
			// A distribution rootless-doctor does not know, and a directory user.
			name: "unknown-distro", release: "unknown-distro",
			host: host.NewMemory().File("/etc/passwd", passwdBase),
			reqs: []fixes.Request{
				req("idmap.newuidmap", finding.InstallTool(string(distro.ToolNewuidmap), "newuidmap is not installed")),
				req("idmap.subuid", finding.AddSubIDs("ldap_user", "both", 0, nil, "ldap_user has no subordinate ids")),
			},
		},
		{
			name: "only-optional", release: "debian-12",
			host: host.NewMemory(),
			reqs: []fixes.Request{
				req("net.privileged-ports", finding.SetSysctl("net.ipv4.ip_unprivileged_port_start", "80", "port 80 cannot be published").Optionally()),
			},
			formats: []string{"text", "ansible"},
		},
		{
			// Nothing a script can do: only steps for a person.
			name: "manual-only", release: "debian-12", host: host.NewMemory(),
			reqs: []fixes.Request{
				req("identity.user", finding.ManualStep("create-home", "create the home directory /home/alice owned by alice (mkhomedir_helper alice)")),
				req("session.systemd", finding.AskRelogin("log in through ssh or machinectl shell alice@ instead of su")),
			},
			formats: []string{"text"},
		},
		{
			name: "empty", release: "debian-12", host: host.NewMemory(),
			formats: []string{"text", "json", "ansible"},
		},
	}
}
