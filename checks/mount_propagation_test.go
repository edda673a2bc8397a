package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestMountPropagation(t *testing.T) {
	mi := func(lines ...string) *host.Memory {
		return alice().File(facts.MountinfoPath, strings.Join(lines, "\n")+"\n")
	}
	const (
		shared    = "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw"
		private   = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard"
		slave     = "600 500 0:50 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w"
		proc      = "22 27 0:21 / /proc rw,relatime - proc proc rw"
		kcore     = "602 22 0:53 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw"
		rootfs    = "1 1 0:1 / / rw - rootfs rootfs rw"
		home      = "40 27 0:40 / /home rw,relatime shared:30 - btrfs /dev/sda3 rw"
		sysdMount = "28 22 0:25 / /proc/sys/fs/binfmt_misc rw,relatime shared:13 - autofs systemd-1 rw"
	)
	runProbeTests(t, mountPropagation, []probeTest{
		{name: "shared", host: mi(shared, proc, home), status: finding.Pass, summary: "/ is shared (peer group 1)"},
		{name: "private (no systemd)", host: mi(proc, private), status: finding.Warn, summary: "/ is private, not shared", fixes: []string{"manual.make-root-shared"}},
		{name: "slave inside a container", host: mi(slave, proc, kcore), status: finding.Warn, summary: "/ is private,slave, not shared"},
		{name: "shared and slave", host: mi("27 1 254:0 / / rw shared:3 master:1 - ext4 /dev/vda rw"), status: finding.Pass, summary: "peer group 3"},
		{name: "stacked /: the visible one counts", host: mi(rootfs, shared), status: finding.Pass},
		{name: "stacked /: shared below, private on top", host: mi("1 1 0:1 / / rw shared:1 - rootfs rootfs rw", private), status: finding.Warn},
		{name: "no entry for / (chroot)", host: mi(proc, home), status: finding.Warn, summary: "has no entry for / (a chroot?)", fixes: []string{"manual.make-root-shared"}},
		{name: "as root for alice", host: mi(shared).Self(host.Identity{Name: "root"}), user: "alice", status: finding.Pass},
		{name: "unknown account does not matter", host: mi(shared).Self(host.Identity{Name: "root"}), user: "mallory", status: finding.Pass},
		{name: "mountinfo missing", host: alice(), status: finding.Warn, summary: "could not check: /proc/self/mountinfo is missing"},
		{name: "mountinfo empty", host: mi(), status: finding.Warn, summary: "could not check"},
		{name: "mountinfo garbage", host: alice().File(facts.MountinfoPath, "\x00\x01 garbage\n"), status: finding.Warn, summary: "could not check: /proc/self/mountinfo is not a mount table"},
		{name: "mountinfo unreadable", host: mi(shared).Meta(facts.MountinfoPath, host.FileMeta{Mode: "0000"}), status: finding.Warn, summary: "could not check: cannot read the mount table"},
		{name: "mountinfo huge line", host: alice().File(facts.MountinfoPath, "1 2 3:4 / /"+strings.Repeat("x", 100000)+" rw - ext4 x rw\n"), status: finding.Warn, summary: "could not check"},
		{name: "systemd binfmt_misc automount is not a masked /proc", host: mi(shared, proc, sysdMount).Dir("/run/systemd/system"), status: finding.Pass},
	})
}

func TestMountPropagationDetails(t *testing.T) {
	r := runForResult(t, mountPropagation, alice().File(facts.MountinfoPath,
		"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n22 27 0:21 / /proc rw - proc proc rw\n602 22 0:53 /null /proc/kcore rw - tmpfs tmpfs rw\n603 22 0:21 /sys /proc/sys ro - proc proc rw\n"), "")
	if r.Status != finding.Pass {
		t.Errorf("masked /proc changes the verdict: %s", r.Status)
	}
	wantDetailsContain(t, r, "/proc has mounts over /proc/kcore, /proc/sys", "--oci-worker-no-process-sandbox", "systemd is not PID 1 here")
	if len(r.Evidence) != 1 || r.Evidence[0].Value != "/ rw,relatime shared:1 - ext4 /dev/vda" {
		t.Errorf("evidence = %+v", r.Evidence)
	}

	r = runForResult(t, mountPropagation, alice().File(facts.MountinfoPath, "27 1 254:0 / / rw - ext4 /dev/vda rw\n"), "")
	wantDetailsContain(t, r, "mounted as \"\"")

	r = runForResult(t, mountPropagation, alice().Dir("/run/systemd/system").File(facts.MountinfoPath, "27 1 254:0 / / rw shared:1 - ext4 /dev/vda rw\n"), "")
	for _, d := range r.Details {
		if strings.Contains(d, "systemd is not PID 1") {
			t.Errorf("systemd host told systemd is not running: %q", d)
		}
	}
}
