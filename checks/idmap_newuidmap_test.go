package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// withHelpers adds newuidmap and newgidmap under dir with the given metadata.
func withHelpers(m *host.Memory, dir string, uid, gid host.FileMeta) *host.Memory {
	return m.Exec(dir+"/newuidmap").Meta(dir+"/newuidmap", uid).
		Exec(dir+"/newgidmap").Meta(dir+"/newgidmap", gid)
}

func TestIdmapNewuidmap(t *testing.T) {
	setuid := host.FileMeta{Mode: "4755", UID: host.Int(0)}
	plain := host.FileMeta{Mode: "0755"}
	caps := func(c string) host.FileMeta { return host.FileMeta{Mode: "0755", Caps: c} }
	helpers := func(uid, gid host.FileMeta) *host.Memory { return withHelpers(alice(), "/usr/bin", uid, gid) }
	mountinfo := "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
		"40 27 0:50 / /usr rw,nosuid,relatime - ext4 /dev/vdb rw\n"
	install := []string{"package.newuidmap"}
	restore := []string{"manual.newuidmap-privilege"}

	runProbeTests(t, idmapNewuidmap, []probeTest{
		{name: "setuid root", host: helpers(setuid, setuid), status: finding.Pass, summary: "newuidmap and newgidmap are setuid root", fixes: []string{}},
		{name: "file capabilities =ep", host: helpers(caps("cap_setuid=ep"), caps("cap_setgid=ep")), status: finding.Pass, summary: "newuidmap has cap_setuid; newgidmap has cap_setgid"},
		{name: "file capabilities +ep", host: helpers(caps("cap_setuid+ep"), caps("= cap_setgid+ep")), status: finding.Pass},
		{name: "mixed", host: helpers(setuid, caps("cap_setgid,cap_setuid=ep")), status: finding.Pass, summary: "newuidmap is setuid root; newgidmap has cap_setgid"},
		{name: "both missing", host: alice(), status: finding.Fail, summary: "newuidmap and newgidmap are not installed", fixes: install},
		{name: "newgidmap missing", host: alice().Exec("/usr/bin/newuidmap").Meta("/usr/bin/newuidmap", setuid),
			status: finding.Fail, summary: "newgidmap is not installed", fixes: install},
		{name: "installed but not on PATH", host: withHelpers(alice().Env("PATH", "/usr/local/bin:/usr/bin"), "/usr/sbin", setuid, setuid),
			status: finding.Fail, summary: "/usr/sbin/newuidmap and /usr/sbin/newgidmap are installed but not on PATH", fixes: []string{"manual.newuidmap-path"}},
		{name: "one missing, one off PATH", host: alice().Env("PATH", "/usr/bin").Exec("/sbin/newgidmap"),
			status: finding.Fail, summary: "newuidmap is not installed", fixes: install},
		{name: "not privileged (caps lost)", host: helpers(plain, plain), status: finding.Fail, summary: "/usr/bin/newuidmap is neither setuid root nor has the file capability cap_setuid", fixes: restore},
		{name: "only newgidmap lost its caps", host: helpers(caps("cap_setuid=ep"), plain), status: finding.Fail, summary: "newgidmap is neither", fixes: restore},
		{name: "setuid but not root's", host: helpers(host.FileMeta{Mode: "4755", UID: host.Int(1000)}, setuid), status: finding.Fail, summary: "neither setuid root", fixes: restore},
		{name: "wrong capability", host: helpers(caps("cap_setgid=ep"), setuid), status: finding.Fail, summary: "cap_setuid", fixes: restore},
		{name: "namespaced capability", host: helpers(caps("cap_setuid=ep [rootid=1001]"), setuid), status: finding.Fail, summary: "neither", fixes: restore},
		{name: "garbage capabilities", host: helpers(caps("\x00cap_setuid=ep=ep="), setuid), status: finding.Fail, summary: "neither", fixes: restore},
		{name: "permitted only", host: helpers(caps("cap_setuid=p"), setuid), status: finding.Warn, summary: "only in the permitted set", fixes: restore},
		{name: "nosuid mount", host: helpers(setuid, setuid).File("/proc/self/mountinfo", mountinfo),
			status: finding.Fail, summary: "mounted nosuid", fixes: []string{"manual.newuidmap-nosuid"}},
		{name: "not on a nosuid mount", host: helpers(setuid, setuid).File("/proc/self/mountinfo", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n40 27 0:50 / /usr/local rw,nosuid - ext4 /dev/vdb rw\n"),
			status: finding.Pass},
		{name: "garbage mountinfo", host: helpers(setuid, setuid).File("/proc/self/mountinfo", "garbage\n\x00"), status: finding.Pass},
		{name: "not executable by the account", host: helpers(host.FileMeta{Mode: "4750", UID: host.Int(0), GID: host.Int(0)}, setuid),
			status: finding.Fail, summary: "not executable by alice", fixes: restore},
		{name: "executable through a group", host: helpers(host.FileMeta{Mode: "4750", UID: host.Int(0), GID: host.Int(104)}, setuid), status: finding.Pass},
		{name: "self-built copy first on PATH", host: withHelpers(helpers(setuid, setuid).Env("PATH", "/home/alice/bin:/usr/bin"), "/home/alice/bin", plain, plain),
			status: finding.Fail, summary: "/home/alice/bin/newuidmap is neither", fixes: restore},
		{name: "symlink to a setuid binary", host: alice().Exec("/usr/libexec/shadow/newuidmap").Meta("/usr/libexec/shadow/newuidmap", setuid).
			Symlink("/usr/bin/newuidmap", "/usr/libexec/shadow/newuidmap").Exec("/usr/bin/newgidmap").Meta("/usr/bin/newgidmap", setuid), status: finding.Pass},
		{name: "unknown account still checks the binaries", host: helpers(setuid, setuid).Self(host.Identity{UID: 0, Name: "root"}), user: "mallory", status: finding.Pass},
	})
}

func TestIdmapNewuidmapDetails(t *testing.T) {
	m := withHelpers(alice(), "/usr/bin", host.FileMeta{Mode: "0755"}, host.FileMeta{Mode: "4755"})
	r := idmapRun(t, idmapNewuidmap, m, "")
	if len(r.Evidence) != 2 || r.Evidence[0].Source != "/usr/bin/newuidmap" || r.Evidence[0].Value != "mode=0755 owner=0 caps=none" {
		t.Errorf("evidence = %+v", r.Evidence)
	}
	if !idmapHasDetail(r.Details, "chmod u+s") || !idmapHasDetail(r.Details, "setcap cap_setuid+ep") {
		t.Errorf("details do not name the manual alternatives: %q", r.Details)
	}
}

// idmapRun runs one probe over a memory host with the runner's policies, for tests that look
// at more than runProbeTests checks (evidence, details, intent fields).
func idmapRun(t *testing.T, p Probe, m *host.Memory, user string) finding.Result {
	t.Helper()
	env := facts.NewEnv(context.Background(), m.Host(), user)
	return Run(context.Background(), []Probe{p}, env, Options{Sequential: true})[0]
}

// idmapHasDetail reports whether a detail line contains sub.
func idmapHasDetail(details []string, sub string) bool {
	for _, d := range details {
		if strings.Contains(d, sub) {
			return true
		}
	}
	return false
}
