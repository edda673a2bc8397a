package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// procSys adds a few sysctls every kernel has, so /proc/sys is visible.
func procSys(m *host.Memory) *host.Memory {
	return m.File("/proc/sys/kernel/osrelease", "6.8.0\n").File("/proc/sys/user/max_user_namespaces", "63329\n")
}

const cloneFile = "/proc/sys/kernel/unprivileged_userns_clone"

func TestUsernsClone(t *testing.T) {
	debian := func(version, clone string) *host.Memory {
		return procSys(alice()).File("/etc/os-release", osRelease("debian", version, "Debian GNU/Linux "+version)).File(cloneFile, clone)
	}
	fix := []string{"sysctl.kernel.unprivileged_userns_clone"}
	runProbeTests(t, usernsClone, []probeTest{
		{name: "no such switch (upstream kernel)", host: procSys(alice()), status: finding.Pass, summary: "has no kernel.unprivileged_userns_clone switch", fixes: []string{}},
		{name: "no switch, boot file sets 0 anyway", host: procSys(alice()).File("/etc/sysctl.d/10-x.conf", "kernel.unprivileged_userns_clone=0\n"), status: finding.Pass},
		{name: "allowed", host: debian("12", "1\n"), status: finding.Pass, summary: "allowed (kernel.unprivileged_userns_clone = 1)", fixes: []string{}},
		{name: "non-zero allows", host: debian("12", "2\n"), status: finding.Pass, summary: "= 2"},
		{name: "debian 10 default", host: debian("10", "0\n"), status: finding.Fail, summary: "disabled (kernel.unprivileged_userns_clone = 0)", fixes: fix},
		{name: "0 and a boot file keeps it 0", host: debian("12", "0").File("/etc/sysctl.d/99-hardening.conf", "kernel.unprivileged_userns_clone = 0\n"), status: finding.Fail, fixes: fix},
		{name: "1 now, boot file sets 0", host: debian("12", "1").File("/etc/sysctl.d/99-hardening.conf", "# CIS\nkernel.unprivileged_userns_clone = 0\n"),
			status: finding.Warn, summary: "/etc/sysctl.d/99-hardening.conf turns them off at the next boot", fixes: fix},
		{name: "1 now, slash key in boot file sets 0", host: debian("12", "1").File("/usr/lib/sysctl.d/50-harden.conf", "-kernel/unprivileged_userns_clone=0\n"),
			status: finding.Warn, summary: "/usr/lib/sysctl.d/50-harden.conf", fixes: fix},
		{name: "1 now, later file sets 1 again", host: debian("12", "1").
			File("/etc/sysctl.d/10-harden.conf", "kernel.unprivileged_userns_clone=0\n").
			File("/usr/lib/sysctl.d/60-rootless.conf", "kernel.unprivileged_userns_clone=1\n"), status: finding.Pass},
		{name: "vendor file masked in /etc", host: debian("12", "1").
			File("/usr/lib/sysctl.d/50-harden.conf", "kernel.unprivileged_userns_clone=0\n").
			Symlink("/etc/sysctl.d/50-harden.conf", "/dev/null"), status: finding.Pass},
		{name: "vendor file overridden in /etc", host: debian("12", "1").
			File("/usr/lib/sysctl.d/50-harden.conf", "kernel.unprivileged_userns_clone=0\n").
			File("/etc/sysctl.d/50-harden.conf", "# nothing\n"), status: finding.Pass},
		{name: "sysctl.conf is applied last", host: debian("12", "1").
			File("/etc/sysctl.d/99-rootless.conf", "kernel.unprivileged_userns_clone=1\n").
			File("/etc/sysctl.conf", "kernel.unprivileged_userns_clone=0\n"), status: finding.Warn, summary: "/etc/sysctl.conf"},
		{name: "99-sysctl.conf link to sysctl.conf counts once", host: debian("12", "1").
			Symlink("/etc/sysctl.d/99-sysctl.conf", "../sysctl.conf").
			File("/etc/sysctl.d/99-zz-rootless.conf", "kernel.unprivileged_userns_clone=1\n").
			File("/etc/sysctl.conf", "kernel.unprivileged_userns_clone=0\n"), status: finding.Pass},
		{name: "garbage value", host: debian("12", "yes please\n"), status: finding.Warn, summary: "not a number"},
		{name: "empty value", host: debian("12", ""), status: finding.Warn, summary: "not a number"},
		{name: "unreadable value", host: debian("12", "0").Meta(cloneFile, host.FileMeta{Mode: "0200"}), status: finding.Warn, summary: "could not check"},
		{name: "no /proc/sys at all", host: alice(), status: finding.Warn, summary: "could not check"},
	})
}

func TestUsernsCloneDetails(t *testing.T) {
	r := probeDetails(t, usernsClone, procSys(alice()).File("/etc/os-release", osRelease("debian", "10", "Debian GNU/Linux 10 (buster)")).File(cloneFile, "0\n"), "")
	if !hasDetail(r, "Debian 11 turned it on") || !hasDetail(r, "operation not permitted") {
		t.Errorf("Debian 10 details = %q", r.Details)
	}
	r = probeDetails(t, usernsClone, procSys(alice()).Kernel("6.9.1-hardened1-1-hardened").File(cloneFile, "0\n"), "")
	if !hasDetail(r, "linux-hardened") {
		t.Errorf("linux-hardened details = %q", r.Details)
	}
	// Inside a container with Docker's default seccomp profile: the kernel allows, the
	// container may not. A hint, not a failure.
	r = probeDetails(t, usernsClone, procSys(alice()).File(cloneFile, "1\n").File("/.dockerenv", "").
		File("/proc/self/status", "Name:\trootless-doctor\nNoNewPrivs:\t1\nSeccomp:\t2\nCapBnd:\t00000000a80425fb\n").
		File("/proc/self/attr/apparmor/current", "docker-default (enforce)\n"), "")
	if r.Status != finding.Pass || !hasDetail(r, "seccomp filter") || !hasDetail(r, "no_new_privs") || !hasDetail(r, "docker-default") || !hasDetail(r, "--privileged") {
		t.Errorf("container: %s %q details %q", r.Status, r.Summary, r.Details)
	}
	if hasDetail(r, "CAP_SETUID") {
		t.Errorf("Docker's default bounding set has CAP_SETUID and CAP_SETGID: %q", r.Details)
	}
	r = probeDetails(t, usernsClone, procSys(alice()).Env("container", "podman").
		File("/proc/self/status", "CapBnd:\t0000000000000000\n"), "")
	if !hasDetail(r, "container=podman") || !hasDetail(r, "CAP_SETUID") {
		t.Errorf("podman container details = %q", r.Details)
	}
	r = probeDetails(t, usernsClone, procSys(alice()).File("/.dockerenv", "").
		File("/proc/self/status", "CapBnd:\t000001fffeffffff\nNoNewPrivs:\t0\nSeccomp:\t0\n"), "")
	if !hasDetail(r, "should not block") {
		t.Errorf("unconfined container details = %q", r.Details)
	}
}
