package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const (
	svcCgroup   = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service"
	ownInSvc    = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker.service\n"
	allCtl      = "cpuset cpu io memory pids\n"
	delegateAll = "[Service]\nDelegate=cpu cpuset io memory pids\n"
)

// v2sd is a cgroup v2 host with systemd, checking alice from her own shell.
func v2sd() *host.Memory { return withSystemd(unified(alice())) }

func TestCgroupDelegation(t *testing.T) {
	delegateFixes := []string{"systemd.delegate", "session.relogin"}
	runProbeTests(t, cgroupDelegation, []probeTest{
		{name: "hybrid: skip", host: withSystemd(hybrid(alice())), status: finding.Skip, summary: "only on cgroup v2"},
		{name: "legacy: skip", host: legacy(alice()), status: finding.Skip, summary: "legacy"},
		{name: "unavailable: skip", host: alice(), status: finding.Skip},
		{name: "unknown user: skip", host: unified(host.NewMemory()).Self(rootSelf), user: "mallory", status: finding.Skip, summary: "unknown"},

		// Running account, read from its own cgroup under user@1000.service.
		{name: "own cgroup, all delegated", host: v2sd().File("/proc/self/cgroup", ownInSvc).File(svcCgroup+"/cgroup.controllers", allCtl),
			status: finding.Pass, summary: "cpu cpuset io memory pids delegated to user@1000.service (the account's own cgroup)", fixes: []string{}},
		{name: "own cgroup, systemd default memory pids", host: v2sd().File("/proc/self/cgroup", ownInSvc).File(svcCgroup+"/cgroup.controllers", "memory pids\n"),
			status: finding.Warn, summary: "only memory pids delegated to user@1000.service (the account's own cgroup): cpu cpuset io missing", fixes: delegateFixes},
		{name: "own cgroup, systemd 252 default", host: v2sd().File("/proc/self/cgroup", ownInSvc).File(svcCgroup+"/cgroup.controllers", "cpu memory pids\n"),
			status: finding.Warn, summary: "cpuset io missing", fixes: delegateFixes},
		{name: "own cgroup, none delegated, systemd: fail", host: v2sd().File("/proc/self/cgroup", ownInSvc).File(svcCgroup+"/cgroup.controllers", "\n"),
			status: finding.Fail, summary: "no cgroup controllers are delegated to user@1000.service", fixes: delegateFixes},
		{name: "only non-required controllers: fail", host: v2sd().File("/proc/self/cgroup", ownInSvc).File(svcCgroup+"/cgroup.controllers", "hugetlb rdma\n"),
			status: finding.Fail, summary: "no cgroup controllers", fixes: delegateFixes},
		{name: "session scope: standard path used", host: v2sd().File("/proc/self/cgroup", "0::/user.slice/user-1000.slice/session-4.scope\n").
			File(svcCgroup+"/cgroup.controllers", allCtl), status: finding.Pass, summary: "delegated to user@1000.service"},
		{name: "garbage /proc/self/cgroup: standard path used", host: v2sd().File("/proc/self/cgroup", "\x00garbage\n").File(svcCgroup+"/cgroup.controllers", allCtl),
			status: finding.Pass, summary: "delegated to user@1000.service"},
		{name: "no /proc/self/cgroup: standard path used", host: v2sd().File(svcCgroup+"/cgroup.controllers", "memory pids"),
			status: finding.Warn, summary: "only memory pids", fixes: delegateFixes},
		{name: "kernel lacks cpuset", host: v2sd().File("/proc/self/cgroup", ownInSvc).File("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n").
			File(svcCgroup+"/cgroup.controllers", "cpu io memory pids\n"), status: finding.Warn, summary: "cpuset missing", fixes: []string{}},
		// docs/failures/catalogue.json#memory-cgroup-disabled-by-cmdline
		{name: "memory off on the command line, Raspberry Pi", host: v2sd().File("/proc/self/cgroup", ownInSvc).File("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n").
			File(svcCgroup+"/cgroup.controllers", "cpuset cpu io pids\n").File("/proc/cmdline", "console=tty1 root=PARTUUID=1-02 cgroup_disable=memory rootwait\n").
			File("/boot/firmware/cmdline.txt", "console=tty1 root=PARTUUID=1-02 rootwait\n"), status: finding.Warn, summary: "memory missing", fixes: []string{"manual.cgroup-enable"}},
		{name: "memory off, another controller not delegated", host: v2sd().File("/proc/self/cgroup", ownInSvc).File("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n").
			File(svcCgroup+"/cgroup.controllers", "cpu pids\n").File("/proc/cmdline", "cgroup_disable=memory\n"),
			status: finding.Warn, summary: "cpuset io memory missing", fixes: []string{"manual.cgroup-enable", "systemd.delegate", "session.relogin"}},
		{name: "memory off then on again", host: v2sd().File("/proc/self/cgroup", ownInSvc).File("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n").
			File(svcCgroup+"/cgroup.controllers", "cpuset cpu io pids\n").File("/proc/cmdline", "cgroup_disable=memory cgroup_enable=memory\n"),
			status: finding.Warn, summary: "memory missing", fixes: []string{}},
		{name: "cgroup_disable after -- is init's", host: v2sd().File("/proc/self/cgroup", ownInSvc).File("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n").
			File(svcCgroup+"/cgroup.controllers", "cpuset cpu io pids\n").File("/proc/cmdline", "quiet -- cgroup_disable=memory\n"),
			status: finding.Warn, fixes: []string{}},

		// A cgroup owned by the account outside user@ (a container's delegated cgroup namespace).
		{name: "own delegated cgroup without systemd, all", host: unified(alice()).File("/proc/self/cgroup", "0::/\n").
			Dir("/sys/fs/cgroup").Meta("/sys/fs/cgroup", host.FileMeta{Type: "dir", UID: host.Int(1000)}).
			File("/sys/fs/cgroup/cgroup.controllers", allCtl), status: finding.Pass, summary: "the account's own cgroup /"},
		{name: "own delegated cgroup without systemd, none: warn not fail", host: unified(alice()).File("/proc/self/cgroup", "0::/ci/job\n").
			Dir("/sys/fs/cgroup/ci").Meta("/sys/fs/cgroup/ci", host.FileMeta{Type: "dir", UID: host.Int(1000)}).
			Dir("/sys/fs/cgroup/ci/job").Meta("/sys/fs/cgroup/ci/job", host.FileMeta{Type: "dir", UID: host.Int(1000)}).
			File("/sys/fs/cgroup/ci/cgroup.controllers", ""), status: finding.Warn, summary: "no cgroup controllers are delegated to the account's own cgroup /ci", fixes: []string{"manual.cgroup-delegation"}},

		// On behalf: root --user alice; root's own cgroup says nothing about alice.
		{name: "on behalf, running manager", host: v2sd().Self(rootSelf).File("/proc/self/cgroup", "0::/init.scope\n").File(svcCgroup+"/cgroup.controllers", allCtl),
			user: "alice", status: finding.Pass, summary: "delegated to user@1000.service"},
		{name: "on behalf ignores root's cgroup", host: v2sd().Self(rootSelf).File("/proc/self/cgroup", "0::/user.slice/user-1000.slice/user@1000.service\n").
			File(svcCgroup+"/cgroup.controllers", "memory pids"), user: "alice", status: finding.Warn, summary: "only memory pids delegated to user@1000.service:", fixes: delegateFixes},

		// The user manager is not running: read user@.service's configuration.
		{name: "not running, upstream unit (252)", host: v2sd().File("/usr/lib/systemd/system/user@.service", "[Unit]\nDescription=User Manager\n[Service]\nDelegate=pids memory cpu\n"),
			status: finding.Warn, summary: "configured to delegate only cpu memory pids: cpuset io missing", fixes: []string{"systemd.delegate"}},
		{name: "not running, drop-in delegates all", host: v2sd().File("/lib/systemd/system/user@.service", "[Service]\nDelegate=pids memory\n").
			File("/etc/systemd/system/user@.service.d/delegate.conf", delegateAll), status: finding.Pass, summary: "configured to delegate cpu cpuset io memory pids"},
		{name: "not running, instance drop-in", host: v2sd().File("/usr/lib/systemd/system/user@.service", "[Service]\nDelegate=pids memory\n").
			File("/etc/systemd/system/user@1000.service.d/delegate.conf", "[Service]\nDelegate=yes\n"), user: "alice", status: finding.Pass, summary: "configured"},
		{name: "not running, /etc drop-in hides /usr/lib one", host: v2sd().File("/usr/lib/systemd/system/user@.service", "[Service]\nDelegate=pids memory\n").
			File("/usr/lib/systemd/system/user@.service.d/delegate.conf", delegateAll).
			File("/etc/systemd/system/user@.service.d/delegate.conf", "# disabled\n"), status: finding.Warn, summary: "only memory pids", fixes: []string{"systemd.delegate"}},
		{name: "not running, garbage drop-in", host: v2sd().File("/usr/lib/systemd/system/user@.service", "[Service]\nDelegate=pids memory\n").
			File("/etc/systemd/system/user@.service.d/x.conf", "\x00\xff no equals\n"), status: finding.Warn, summary: "only memory pids"},
		{name: "not running, no unit", host: v2sd(), status: finding.Warn, summary: "user@1000.service is not running", fixes: []string{}},

		// No systemd: nothing delegates; warn, never fail.
		{name: "no systemd, no unit", host: unified(alice()).Self(rootSelf), user: "alice", status: finding.Warn, summary: "systemd is not running: no user manager delegates cgroup controllers to alice", fixes: []string{"manual.cgroup-owned"}},
		{name: "no systemd, unit delegates all", host: unified(alice()).Self(rootSelf).File("/usr/lib/systemd/system/user@.service", "[Service]\nDelegate=pids memory\n").
			File("/etc/systemd/system/user@.service.d/delegate.conf", delegateAll), user: "alice", status: finding.Skip, summary: "for when it does"},
		{name: "no systemd, default unit", host: unified(alice()).File("/usr/lib/systemd/system/user@.service", "[Service]\nDelegate=pids memory cpu\n"),
			status: finding.Warn, summary: "would delegate only cpu memory pids", fixes: []string{}},

		// Unreadable and garbage files.
		{name: "unreadable controllers", host: v2sd().File("/proc/self/cgroup", ownInSvc).File(svcCgroup+"/cgroup.controllers", allCtl).
			Meta(svcCgroup+"/cgroup.controllers", host.FileMeta{Mode: "0000"}), status: finding.Warn, summary: "could not check"},
		{name: "garbage controllers", host: v2sd().File("/proc/self/cgroup", ownInSvc).File(svcCgroup+"/cgroup.controllers", "\x00\xff+memory"),
			status: finding.Warn, summary: "could not check"},
	})
}

func TestCgroupDelegationDetails(t *testing.T) {
	m := v2sd().File("/proc/self/cgroup", ownInSvc).File("/sys/fs/cgroup/cgroup.controllers", "cpu io memory pids\n").
		File(svcCgroup+"/cgroup.controllers", "memory pids\n")
	r := result(t, cgroupDelegation, m, "")
	if !hasDetail(r, "kernel offers no cpuset") {
		t.Errorf("details %q lack the missing kernel controller", r.Details)
	}
	if !hasDetail(r, "--cpuset-cpus") || !hasDetail(r, "systemd 252") {
		t.Errorf("details %q lack the consequences or the systemd default", r.Details)
	}
	if len(r.Evidence) == 0 || r.Evidence[len(r.Evidence)-1].Source != "/sys/fs/cgroup/cgroup.controllers" {
		t.Errorf("evidence = %+v", r.Evidence)
	}
	if got := r.Intents[0].Controllers; len(got) != 5 {
		t.Errorf("delegate intent controllers = %q", got)
	}
}

// The kernel command line fix names the boot setup the host has.
func TestCmdlineStep(t *testing.T) {
	memOff := func(m *host.Memory) *host.Memory {
		return withSystemd(unified(m)).File("/proc/self/cgroup", ownInSvc).File("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n").
			File(svcCgroup+"/cgroup.controllers", "cpuset cpu io pids\n").File("/proc/cmdline", "cgroup_disable=memory\n")
	}
	for _, tt := range []struct {
		name string
		host *host.Memory
		want string
	}{
		{"raspberry pi", memOff(alice()).File("/boot/firmware/cmdline.txt", "x\n"), "edit the single line of /boot/firmware/cmdline.txt"},
		{"old raspberry pi", memOff(alice()).File("/boot/cmdline.txt", "x\n"), "/boot/cmdline.txt"},
		{"fedora", memOff(alice()).File("/etc/os-release", "ID=fedora\nVERSION_ID=41\n"), `grubby --update-kernel=ALL --args="cgroup_enable=memory cgroup_memory=1"`},
		{"debian", memOff(alice()).File("/etc/os-release", "ID=debian\nVERSION_ID=12\n"), "GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub"},
		{"opensuse", memOff(alice()).File("/etc/os-release", "ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\nVERSION_ID=15.6\n"), "grub2-mkconfig -o /boot/grub2/grub.cfg"},
		{"unknown", memOff(alice()), "update-grub (Debian, Ubuntu), grub2-mkconfig"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := result(t, cgroupDelegation, tt.host, "")
			for _, in := range r.Intents {
				if in.Name == "cgroup-enable" {
					if !strings.Contains(in.Reason, tt.want) {
						t.Errorf("step = %q, want %q", in.Reason, tt.want)
					}
					return
				}
			}
			t.Errorf("no cgroup-enable step: %+v", r.Intents)
		})
	}
}
