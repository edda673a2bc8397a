package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const maxFile = "/proc/sys/user/max_user_namespaces"

func TestUsernsMax(t *testing.T) {
	withMax := func(v string) *host.Memory { return procSys(alice()).File(maxFile, v) }
	centos7 := withMax("0\n").Kernel("3.10.0-1160.el7.x86_64").File("/etc/os-release", osRelease("centos", "7", "CentOS Linux 7 (Core)"))
	fix := []string{"sysctl.user.max_user_namespaces"}
	runProbeTests(t, usernsMax, []probeTest{
		{name: "default", host: withMax("63329\n"), status: finding.Pass, summary: "63329 user namespaces allowed", fixes: []string{}},
		{name: "exactly the threshold", host: withMax("1024"), status: finding.Pass},
		{name: "zero", host: withMax("0\n"), status: finding.Fail, summary: "disabled (user.max_user_namespaces = 0)", fixes: fix},
		{name: "centos 7 default", host: centos7, status: finding.Fail, fixes: fix},
		{name: "negative", host: withMax("-1\n"), status: finding.Fail, fixes: fix},
		{name: "small", host: withMax("100\n"), status: finding.Warn, summary: "only 100 user namespaces", fixes: fix},
		{name: "fine now, boot sets 0", host: withMax("15000").File("/etc/sysctl.d/60-cis.conf", "user.max_user_namespaces = 0\n"),
			status: finding.Warn, summary: "/etc/sysctl.d/60-cis.conf disables them at the next boot", fixes: fix},
		{name: "fine now, boot lowers it", host: withMax("15000").File("/etc/sysctl.conf", "user/max_user_namespaces=500\n"),
			status: finding.Warn, summary: "lowers the limit to 500", fixes: fix},
		{name: "fine now, boot sets a fine value", host: withMax("15000").File("/etc/sysctl.d/60-userns.conf", "user.max_user_namespaces = 28633\n"), status: finding.Pass},
		{name: "fine now, boot value is garbage", host: withMax("15000").File("/etc/sysctl.d/60-userns.conf", "user.max_user_namespaces = lots\n"), status: finding.Pass},
		{name: "zero and boot keeps it zero", host: withMax("0").File("/etc/sysctl.d/60-cis.conf", "user.max_user_namespaces=0\n"), status: finding.Fail, fixes: fix},
		{name: "garbage", host: withMax("\x00\xff"), status: finding.Warn, summary: "not a number"},
		{name: "two fields", host: withMax("1 2\n"), status: finding.Warn, summary: "not a number"},
		{name: "huge", host: withMax("99999999999999999999999\n"), status: finding.Warn, summary: "not a number"},
		{name: "absent on 4.9+", host: host.NewMemory().File("/proc/sys/kernel/osrelease", "6.8.0\n"), status: finding.Skip, summary: "kernel.version checks"},
		{name: "absent on 4.4", host: host.NewMemory().Kernel("4.4.0").File("/proc/sys/kernel/osrelease", "4.4.0\n"), status: finding.Skip, summary: "predates user.max_user_namespaces"},
		{name: "no /proc/sys", host: alice(), status: finding.Warn, summary: "could not check"},
		{name: "unreadable", host: withMax("0").Meta(maxFile, host.FileMeta{Mode: "0000"}), status: finding.Warn, summary: "could not check"},
	})
}

func TestUsernsMaxDetails(t *testing.T) {
	r := probeDetails(t, usernsMax, procSys(alice()).File(maxFile, "0\n").
		File("/etc/os-release", osRelease("centos", "7", "CentOS Linux 7 (Core)")).
		File("/etc/sysctl.d/60-cis.conf", "user.max_user_namespaces=0\n"), "")
	for _, want := range []string{"access.redhat.com/solutions/6418011", "no space left on device", "/etc/sysctl.d/60-cis.conf:1", "28633"} {
		if !hasDetail(r, want) {
			t.Errorf("details %q lack %q", r.Details, want)
		}
	}
	if len(r.Intents) != 1 || r.Intents[0].Value != "28633" {
		t.Errorf("intents = %+v", r.Intents)
	}
}

func TestUsernsMaxBootProblems(t *testing.T) {
	r := probeDetails(t, usernsMax, procSys(alice()).File(maxFile, "15000\n").
		File("/etc/sysctl.d/60-secret.conf", "user.max_user_namespaces=0\n").Meta("/etc/sysctl.d/60-secret.conf", host.FileMeta{Mode: "0000"}), "")
	if r.Status != finding.Pass || !hasDetail(r, "Could not read /etc/sysctl.d/60-secret.conf") {
		t.Errorf("%s %q details %q", r.Status, r.Summary, r.Details)
	}
}
