package checks

import (
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// dockerProc is the /proc of a default Docker container: runc's masked and read-only paths.
const dockerProc = `1000 900 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
1001 1000 0:53 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1002 1001 0:53 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw
1003 1001 0:53 /fs /proc/fs ro,nosuid,nodev,noexec,relatime - proc proc rw
1004 1001 0:53 /irq /proc/irq ro,nosuid,nodev,noexec,relatime - proc proc rw
1005 1001 0:53 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
1006 1001 0:53 /sysrq-trigger /proc/sysrq-trigger ro,nosuid,nodev,noexec,relatime - proc proc rw
1007 1001 0:57 / /proc/acpi ro,relatime - tmpfs tmpfs ro
1008 1001 0:54 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
1009 1001 0:54 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
1010 1001 0:54 /null /proc/timer_list rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
`

// hostProc is a host's /proc with binfmt_misc and nfsd on their permanently empty mount points.
const hostProc = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
40 22 0:35 / /proc/sys/fs/binfmt_misc rw,relatime - autofs systemd-1 rw,fd=30
41 22 0:36 / /proc/fs/nfsd rw,relatime - nfsd nfsd rw
`

// lxcProc is an LXD container without nesting: lxcfs over files of /proc.
const lxcProc = `500 400 0:60 / / rw - zfs pool/c rw
501 500 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
502 501 0:62 /proc/cpuinfo /proc/cpuinfo rw,nosuid,nodev,relatime - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
503 501 0:62 /proc/meminfo /proc/meminfo rw,nosuid,nodev,relatime - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
504 501 0:62 /proc/uptime /proc/uptime rw,nosuid,nodev,relatime - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
`

func TestVirtContainer(t *testing.T) {
	const mi = "/proc/self/mountinfo"
	const st = "/proc/self/status"
	full := "Name:\trootless-doctor\nCapBnd:\t000001ffffffffff\n"
	runProbeTests(t, virtContainer, []probeTest{
		{name: "host", host: alice().File(mi, hostProc).File(st, full), status: finding.Pass, summary: "not inside a container"},
		{name: "privileged docker", host: alice().File(mi, hostProc).File(st, full).File("/.dockerenv", ""), status: finding.Pass, summary: "inside a Docker container"},
		{name: "default docker", host: alice().File(mi, dockerProc).File(st, full).File("/.dockerenv", ""), status: finding.Fail, summary: "no fully visible /proc: /proc/bus, /proc/fs, /proc/irq, /proc/sys and 5 more", fixes: []string{"manual.unmask-proc"}},
		{name: "lxd without nesting", host: alice().File(mi, lxcProc).File(st, full), status: finding.Fail, summary: "inside an LXC/LXD/Incus container", fixes: []string{"manual.lxc-nesting"}},
		{name: "lxd with nesting", host: alice().File(mi, lxcProc+"505 500 0:63 / /dev/.lxc/proc rw,relatime - proc proc rw\n").File(st, full).Dir("/dev/.lxc"), status: finding.Pass},
		{name: "pod dropping all caps", host: alice().File(mi, hostProc).File(st, "CapBnd:\t0000000000000000\n").Env("KUBERNETES_SERVICE_HOST", "10.96.0.1"), status: finding.Fail, summary: "lacks CAP_SETUID", fixes: []string{"manual.cap-bounding-set"}},
		{name: "both", host: alice().File(mi, dockerProc).File(st, "CapBnd:\t0000000000000000\n"), status: finding.Fail, fixes: []string{"manual.unmask-proc", "manual.cap-bounding-set"}},
		{name: "no status", host: alice().File(mi, hostProc), status: finding.Pass},
		{name: "garbage status", host: alice().File(mi, hostProc).File(st, "\x00\xffCapBnd: zz\n"), status: finding.Pass},
		{name: "no proc mount listed", host: alice().File(mi, "27 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), status: finding.Pass},
		{name: "no mountinfo", host: alice(), status: finding.Warn, summary: "could not check"},
		{name: "garbage mountinfo", host: alice().File(mi, "\x00\xff garbage\n"), status: finding.Warn},
		{name: "huge mountinfo", host: alice().File(mi, strings.Repeat("x", 1<<20)), status: finding.Warn},
		{name: "unreadable mountinfo", host: alice().File(mi, hostProc).Meta(mi, host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Warn},
	})
}
