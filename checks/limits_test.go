package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func procLimits(nofileSoft, nofileHard, nprocSoft, nprocHard string) string {
	return "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max cpu time              unlimited            unlimited            seconds   \n" +
		"Max processes             " + nprocSoft + "                " + nprocHard + "                processes \n" +
		"Max open files            " + nofileSoft + "                " + nofileHard + "                files     \n" +
		"Max nice priority         0                    0                    \n"
}

func TestLimitsRlimits(t *testing.T) {
	const p = "/proc/self/limits"
	runProbeTests(t, limitsRlimits, []probeTest{
		{name: "generous", host: alice().File(p, procLimits("1024", "524288", "63432", "63432")), status: finding.Pass, fixes: []string{}},
		{name: "unlimited", host: alice().File(p, procLimits("unlimited", "unlimited", "unlimited", "unlimited")), status: finding.Pass},
		{name: "jenkins agent with 4096 files", host: alice().File(p, procLimits("4096", "4096", "63432", "63432")), status: finding.Warn,
			summary: "(open files 4096)", fixes: []string{"manual.rlimits"}},
		{name: "login node with 2048 processes", host: alice().File(p, procLimits("1024", "524288", "1024", "2048")), status: finding.Warn,
			summary: "(processes 2048)"},
		{name: "both low", host: alice().File(p, procLimits("1024", "1024", "512", "512")), status: finding.Warn,
			summary: "(open files 1024, processes 512)", fixes: []string{"manual.rlimits"}},
		{name: "a low soft limit is not judged", host: alice().File(p, procLimits("256", "1048576", "100", "65536")), status: finding.Pass},
		{name: "not recorded", host: alice(), status: finding.Skip},
		{name: "garbage", host: alice().File(p, "\x00\xffMax open files lots\n"), status: finding.Skip},
		{name: "unreadable", host: alice().File(p, "x").Meta(p, host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Warn},
		{name: "on behalf: root's limits are not alice's", host: alice().Self(rootSelf).File(p, procLimits("1024", "1024", "512", "512")), user: "alice", status: finding.Skip},
		{name: "root: skip", host: alice().Self(rootSelf), status: finding.Skip},
	})
}

func TestLimitsTasks(t *testing.T) {
	const slice = "/sys/fs/cgroup/user.slice/user-1000.slice"
	v2 := func() *host.Memory { return unified(alice()).File("/proc/sys/kernel/pid_max", "4194304\n") }
	runProbeTests(t, limitsTasks, []probeTest{
		{name: "no limit", host: v2().File(slice+"/pids.max", "max\n").File(slice+"/pids.current", "57\n"), status: finding.Pass, summary: "no task limit", fixes: []string{}},
		{name: "systemd default on a big pid_max", host: v2().File(slice+"/pids.max", "1384120\n").File(slice+"/pids.current", "57\n"), status: finding.Pass, summary: "allows 1384120 tasks"},
		{name: "hardened 4096", host: v2().File(slice+"/pids.max", "4096\n").File(slice+"/pids.current", "1183\n"), status: finding.Warn,
			summary: "allows only 4096 tasks", fixes: []string{"manual.tasksmax"}},
		{name: "nearly used up", host: v2().File(slice+"/pids.max", "10813\n").File(slice+"/pids.current", "9900\n"), status: finding.Warn,
			summary: "has 9900 of its 10813 tasks in use", fixes: []string{"manual.tasksmax"}},
		{name: "pids.current missing", host: v2().File(slice+"/pids.max", "10813\n"), status: finding.Pass, summary: "allows 10813 tasks"},
		{name: "v1 pids hierarchy", host: hybrid(alice()).File("/sys/fs/cgroup/pids/user.slice/user-1000.slice/pids.max", "2000\n"), status: finding.Warn, summary: "only 2000"},
		{name: "no user slice", host: v2(), status: finding.Skip, summary: "no user slice"},
		{name: "no cgroups", host: alice(), status: finding.Skip},
		{name: "garbage", host: v2().File(slice+"/pids.max", "lots\n"), status: finding.Warn},
		{name: "unreadable", host: v2().File(slice+"/pids.max", "max").Meta(slice+"/pids.max", host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Warn},
		{name: "on behalf: alice's slice", host: v2().Self(rootSelf).File(slice+"/pids.max", "4096\n"), user: "alice", status: finding.Warn, summary: "user-1000.slice"},
	})
}

func TestLimitsKeys(t *testing.T) {
	const p = "/proc/key-users"
	runProbeTests(t, limitsKeys, []probeTest{
		{name: "a few keys", host: alice().File(p, "    0:     9 8/8 3/1000000 96/25000000\n 1000:     2 2/2 2/200 28/20000\n"), status: finding.Pass,
			summary: "key quota (200 keys, 20000 bytes) has room", fixes: []string{}},
		{name: "no line: no keys", host: alice().File(p, "    0:     9 8/8 3/1000000 96/25000000\n"), status: finding.Pass, summary: "owns no keys"},
		{name: "keys nearly used up", host: alice().File(p, " 1000:   193 193/193 193/200 13448/20000\n"), status: finding.Warn,
			summary: "about 7 more keys", fixes: []string{"sysctl.kernel.keys.maxkeys", "sysctl.kernel.keys.maxbytes"}},
		{name: "over quota", host: alice().File(p, " 1000:   210 210/210 210/200 19990/20000\n"), status: finding.Warn, summary: "about 0 more keys"},
		{name: "bytes nearly used up", host: alice().File(p, " 1000:   50 50/50 50/200 19000/20000\n"), status: finding.Warn,
			summary: "only 1000 more bytes", fixes: []string{"sysctl.kernel.keys.maxkeys", "sysctl.kernel.keys.maxbytes"}},
		{name: "quota already raised, still used up", host: alice().File(p, " 1000:   20000 20000/20000 19990/20000 100000/2000000\n"), status: finding.Warn, fixes: []string{}},
		{name: "no key management", host: alice(), status: finding.Skip},
		{name: "garbage", host: alice().File(p, "\x00\xff 1000: x\n"), status: finding.Pass, summary: "owns no keys"},
		{name: "unreadable", host: alice().File(p, "x").Meta(p, host.FileMeta{Mode: "0000", UID: host.Int(0)}), status: finding.Warn},
		{name: "on behalf", host: alice().Self(rootSelf).File(p, "    0:     9 8/8 3/1000000 96/25000000\n 1000:   193 193/193 193/200 13448/20000\n"), user: "alice", status: finding.Warn},
	})
}

func TestLimitsInotify(t *testing.T) {
	const i, w = "/proc/sys/fs/inotify/max_user_instances", "/proc/sys/fs/inotify/max_user_watches"
	runProbeTests(t, limitsInotify, []probeTest{
		{name: "defaults on a big machine", host: alice().File(i, "128\n").File(w, "192543\n"), status: finding.Pass, fixes: []string{}},
		{name: "raised", host: alice().File(i, "8192\n").File(w, "524288\n"), status: finding.Pass},
		{name: "small VM", host: alice().File(i, "128\n").File(w, "15646\n"), status: finding.Warn,
			summary: "max_user_instances is 128 and fs.inotify.max_user_watches is 15646",
			fixes:   []string{"sysctl.fs.inotify.max_user_instances", "sysctl.fs.inotify.max_user_watches"}},
		{name: "instances lowered", host: alice().File(i, "64\n").File(w, "600000\n"), status: finding.Warn, fixes: []string{"sysctl.fs.inotify.max_user_instances"}},
		{name: "not recorded", host: alice().File("/proc/sys/kernel/pid_max", "32768\n"), status: finding.Skip},
		{name: "garbage", host: alice().File(i, "many\n").File(w, "1\n"), status: finding.Warn},
		{name: "unreadable", host: alice().File(i, "128").Meta(i, host.FileMeta{Mode: "0000", UID: host.Int(0)}).File(w, "1\n"), status: finding.Warn},
	})
}
