package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestMountProc(t *testing.T) {
	proc := func(opts string) *host.Memory {
		return alice().File(facts.MountinfoPath, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n23 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc "+opts+"\n")
	}
	runProbeTests(t, mountProc, []probeTest{
		{name: "no hidepid", host: proc("rw"), status: finding.Pass, summary: "every process"},
		{name: "hidepid=0", host: proc("rw,hidepid=0"), status: finding.Pass},
		{name: "hidepid=2", host: proc("rw,hidepid=2"), status: finding.Warn, summary: "/proc is mounted hidepid=2: other users' processes are hidden", fixes: []string{"manual.proc-hidepid"}},
		{name: "hidepid=invisible, gid of another group", host: proc("rw,hidepid=invisible,gid=27"), status: finding.Warn, summary: "alice is not in its exempt group 27"},
		{name: "hidepid=invisible, gid the account is in", host: proc("rw,hidepid=invisible,gid=104"), status: finding.Pass, summary: "in its exempt group (gid=104)"},
		{name: "hidepid=invisible, gid the primary group", host: proc("rw,hidepid=invisible,gid=1000"), status: finding.Pass},
		{name: "hidepid=1", host: proc("rw,hidepid=1"), status: finding.Warn, summary: "cannot be read"},
		{name: "hidepid=ptraceable", host: proc("rw,hidepid=ptraceable"), status: finding.Warn},
		{name: "root with --user", host: proc("rw,hidepid=2").Self(host.Identity{Name: "root"}), user: "alice", status: finding.Warn},
		{name: "checking root", host: proc("rw,hidepid=2").Self(host.Identity{Name: "root"}), status: finding.Skip},
		{name: "no /proc in the table", host: alice().File(facts.MountinfoPath, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n"), status: finding.Skip},
		{name: "no mountinfo", host: alice(), status: finding.Warn, summary: "could not check"},
		{name: "garbage mountinfo", host: alice().File(facts.MountinfoPath, "garbage\n"), status: finding.Warn, summary: "could not check"},
		{name: "unknown account", host: proc("rw,hidepid=2").Self(host.Identity{Name: "root"}), user: "mallory", status: finding.Skip},
	})
}
