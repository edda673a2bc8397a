package checks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// subids is alice() with the given /etc/subuid and /etc/subgid, and getsubids installed.
func subids(subuid, subgid string) *host.Memory {
	return alice().File("/etc/subuid", subuid).File("/etc/subgid", subgid).Exec("/usr/bin/getsubids")
}

const (
	aliceRange = "alice:100000:65536\n"
	bobRange   = "bob:165536:65536\n"
	sssSwitch  = "passwd: files sss\nsubid: sss\n"
)

func TestIdmapSubuid(t *testing.T) {
	ok := aliceRange + bobRange
	add := []string{"subid.add"}
	fixLines := []string{"manual.fix-subuid"}
	many := strings.Builder{}
	for i := range 100000 {
		fmt.Fprintf(&many, "user%d:%d:10\n", i, 1000000+i*10)
	}
	hostile := strings.Builder{}
	for i := range 20000 {
		fmt.Fprintf(&hostile, "alice:%d:1\nbob:%d:1\n", 100000+2*i, 100001+2*i)
	}
	runProbeTests(t, idmapSubuid, []probeTest{
		{name: "thousands of own lines", host: subids(hostile.String(), ""), status: finding.Fail, summary: "alice has 20000 subordinate uid ranges", fixes: add},
		{name: "one range", host: subids(ok, ok), status: finding.Pass, summary: "alice has 65536 subordinate uids (100000-165535)", fixes: []string{}},
		{name: "by numeric uid", host: subids("1000:100000:65536\n", ok), status: finding.Pass},
		{name: "comments and blank lines", host: subids("# subordinate uids\n\n \t\nalice:100000:65536\n"+bobRange, ok), status: finding.Pass},
		// Issue 10: shadow reads the numbers with strtoul base 0 and takes the CR of a CRLF line
		// as garbage after the count (lib/getulong.c, lib/commonio.c).
		{name: "CRLF file", host: subids("alice:100000:65536\r\nbob:165536:65536\r\n", ok), status: finding.Fail,
			summary: "/etc/subuid has CRLF line ends: line 1 of alice's ranges ends in a carriage return, which shadow reads as garbage after the count, so getsubids and newuidmap skip 100000-165535", fixes: []string{"crlf.subuid"}},
		{name: "CRLF file, range too small once repaired", host: subids("alice:100000:1000\r\n", ok), status: finding.Fail, summary: "CRLF line ends", fixes: []string{"subid.add", "crlf.subuid"}},
		{name: "CRLF in someone else's line", host: subids(aliceRange+"bob:165536:65536\r\n", ok), status: finding.Warn, summary: `line 2 of /etc/subuid (owner "bob") ends in a carriage return`, fixes: []string{"crlf.subuid"}},
		{name: "CRLF on an own line that is malformed anyway", host: subids("alice:100000\r\n", ok), status: finding.Fail, summary: "(and it ends in a carriage return)", fixes: []string{"subid.add", "manual.fix-subuid", "crlf.subuid"}},
		{name: "own octal line", host: subids("alice:0303240:0200000\n", ok), status: finding.Pass, summary: "alice has 65536 subordinate uids (100000-165535)"},
		{name: "own octal line, RootlessKit reading the file", host: alice().File("/etc/subuid", "alice:0303240:0200000\n").File("/etc/subgid", ok), status: finding.Warn,
			summary: "line 1 of /etc/subuid holds 100000-165535 as shadow reads it, but RootlessKit without getsubids reads it as decimal, 303240-503239", fixes: []string{"package.getsubids"}},
		{name: "someone else's octal line overlaps", host: subids("alice:165536:65536\nrdX:0503240:0200000\n", ok), status: finding.Warn, summary: "overlaps rdX's range 165536-231071 (line 2", fixes: add},
		{name: "blanks before the owner are no match", host: subids("  alice:100000:65536\n", ok), status: finding.Fail, summary: "alice has no subordinate uid range", fixes: []string{"subid.add", "manual.fix-subuid"}},
		{name: "blank after the count is garbage to shadow", host: subids("alice:100000:65536 \n", ok), status: finding.Fail, summary: `count "65536 " has " " after the number`, fixes: []string{"subid.add", "manual.fix-subuid"}},
		{name: "two ranges adding up", host: subids("alice:100000:32768\nalice:300000:32768\n", ok), status: finding.Pass, summary: "65536 subordinate uids (100000-132767, 300000-332767)"},
		{name: "file missing", host: alice().File("/etc/subgid", ok), status: finding.Fail, summary: "/etc/subuid does not exist", fixes: add},
		{name: "no line for alice", host: subids(bobRange, ok), status: finding.Fail, summary: "alice has no subordinate uid range in /etc/subuid", fixes: add},
		{name: "empty file", host: subids("", ok), status: finding.Fail, summary: "no subordinate uid range", fixes: add},
		{name: "binary garbage", host: subids("\x00\xff\xfe:::\n\x01", ok), status: finding.Fail, summary: "no subordinate uid range", fixes: []string{"subid.add", "manual.fix-subuid"}},
		{name: "unreadable", host: subids(ok, ok).Meta("/etc/subuid", host.FileMeta{Mode: "0000"}), status: finding.Warn, summary: "could not check: cannot read /etc/subuid"},
		{name: "directory", host: alice().Dir("/etc/subuid"), status: finding.Warn, summary: "could not check"},
		{name: "too small", host: subids("alice:100000:2000\n", ok), status: finding.Fail, summary: "alice has 2000 subordinate uids, fewer than the 65536", fixes: add},
		{name: "one id", host: subids("alice:21204:1\n", ok), status: finding.Fail, summary: "1 subordinate uids", fixes: add},
		{name: "overlaps bob", host: subids("alice:100000:65536\nbob:150000:65536\n", ok), status: finding.Warn, summary: "overlaps bob's range 150000-215535 (line 2", fixes: add},
		{name: "overlaps a numeric owner", host: subids("1001:100000:10\n"+aliceRange, ok), status: finding.Warn, summary: "overlaps 1001's range", fixes: add},
		{name: "own ranges overlap", host: subids("alice:100000:65536\nalice:150000:65536\n", ok), status: finding.Fail, summary: "overlap: the kernel rejects the id map", fixes: add},
		// Issue 10: a duplicated line asked for a fresh range, unmapping the account's storage.
		{name: "own range listed twice", host: subids("alice:100000:65536\n"+bobRange+"alice:100000:65536\n", ok), status: finding.Fail,
			summary: "alice's subordinate uid range 100000-165535 is listed twice (lines 1 and 3)", fixes: []string{"subid.dedupe"}},
		{name: "contains own uid", host: subids("alice:1000:65536\n", ok), status: finding.Fail, summary: "contains its own uid 1000", fixes: add},
		{name: "contains real uids", host: subids("alice:1001:65536\n", ok), status: finding.Warn, summary: "contains uids of /etc/passwd: bob (1001)", fixes: add},
		{name: "contains root", host: subids("alice:0:1000\nalice:100000:65536\n", ok), status: finding.Warn, summary: "root (0)", fixes: add},
		{name: "own line malformed, no other", host: subids("alice:100000\n", ok), status: finding.Fail, summary: "line 1 of /etc/subuid, an entry of alice, has 2 colon-separated fields", fixes: []string{"subid.add", "manual.fix-subuid"}},
		{name: "own line malformed beside a good one", host: subids(aliceRange+"alice:x:1\n", ok), status: finding.Fail, summary: "line 2 of /etc/subuid, an entry of alice, start \"x\"", fixes: fixLines},
		{name: "own hex line", host: subids(aliceRange+"1000:0x30d40:65536\n", ok), status: finding.Pass, summary: "131072 subordinate uids (100000-165535, 200000-265535)"},
		{name: "someone else's malformed line", host: subids(aliceRange+"carol:200000\ndave:1:0\n", ok), status: finding.Warn, summary: `line 2 of /etc/subuid (owner "carol") has 2 colon-separated fields, want 3 (NAME:START:COUNT) (and 1 more`, fixes: fixLines},
		{name: "malformed line breaks RootlessKit without getsubids", host: alice().File("/etc/subuid", aliceRange+"carol:200000\n").File("/etc/subgid", ok),
			status: finding.Fail, summary: `(owner "carol")`, fixes: []string{"manual.fix-subuid", "package.getsubids"}},
		{name: "zero count is harmless to RootlessKit", host: alice().File("/etc/subuid", aliceRange+"carol:200000:0\n").File("/etc/subgid", ok), status: finding.Warn, fixes: fixLines},
		{name: "huge file", host: subids(many.String()+aliceRange, ok), status: finding.Pass},
		{name: "outside login.defs limits is only a note", host: subids("alice:700000000:65536\n", ok).File("/etc/login.defs", "SUB_UID_MAX 600100000\n"), status: finding.Pass},
		{name: "too many extents for an old kernel", host: subids("alice:100000:20000\nalice:200000:20000\nalice:300000:20000\nalice:400000:20000\nalice:500000:20000\n", ok).Kernel("4.14.0"),
			status: finding.Fail, summary: "at most 5 extents in a uid_map", fixes: add},
		{name: "five ranges are fine on a new kernel", host: subids("alice:100000:20000\nalice:200000:20000\nalice:300000:20000\nalice:400000:20000\nalice:500000:20000\n", ok), status: finding.Pass},
		// The file itself (docs/failures/catalogue.json#subid-file-is-symlink): shadow opens it
		// with O_NOFOLLOW.
		{name: "symlink to a shared file", host: subids("", ok).File("/shared/subuid", ok).Symlink("/etc/subuid", "/shared/subuid"), status: finding.Fail,
			summary: "/etc/subuid is a symbolic link (to /shared/subuid): newuidmap opens it with O_NOFOLLOW and refuses it", fixes: []string{"manual.subid-file-uid"}},
		{name: "dangling symlink", host: subids("", ok).Symlink("/etc/subuid", "/shared/subuid"), status: finding.Fail, summary: "/etc/subuid does not exist"},
		{name: "writable by its owner alice", host: subids(ok, ok).Meta("/etc/subuid", host.FileMeta{UID: host.Int(1000), Mode: "0644"}), status: finding.Warn,
			summary: "/etc/subuid (owner uid 1000, mode 0644) can be written by an account other than root", fixes: []string{"manual.subid-file-uid"}},
		{name: "group-writable", host: subids(ok, ok).Meta("/etc/subuid", host.FileMeta{Mode: "0664"}), status: finding.Warn, summary: "mode 0664"},
		{name: "read-only to all is fine", host: subids(ok, ok).Meta("/etc/subuid", host.FileMeta{Mode: "0444"}), status: finding.Pass},
		// The user namespace the doctor runs in (docs/failures/catalogue.json#nested-userns-map-too-small).
		{name: "initial namespace", host: subids(ok, ok).File("/proc/self/uid_map", "         0          0 4294967295\n"), status: finding.Pass},
		{name: "rootless container of 65537 ids, image default range", host: subids(ok, ok).File("/proc/self/uid_map", "0 1000 1\n1 100000 65536\n"), status: finding.Fail,
			summary: "alice's subordinate uid range 100000-165535 (first unmapped id 100000) lies outside the 65537 uids of the user namespace this runs in", fixes: []string{"manual.subid-parent-uid"}},
		{name: "rootless container, ranges inside", host: subids("alice:1:999\nalice:1001:64536\n", ok).File("/proc/self/uid_map", "0 1000 1\n1 100000 65536\n").
			File("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n"), status: finding.Warn,
			summary: "alice has 65535 subordinate uids, all the user namespace this runs in can give"},
		{name: "too few ids where the namespace has more", host: subids("alice:1:999\nalice:1001:64536\n", ok).File("/proc/self/uid_map", "0 1000 1\n1 100000 200000\n"), status: finding.Fail,
			summary: "alice has 65535 subordinate uids, fewer than the 65536"},
		{name: "partly outside", host: subids("alice:60000:10000\n", ok).File("/proc/self/uid_map", "0 1000 1\n1 100000 65536\n"), status: finding.Fail,
			summary: "60000-69999 (first unmapped id 65537)"},
		{name: "LXD guest of 1e9 ids", host: subids(ok, ok).File("/proc/self/uid_map", "0 1000000 1000000000\n"), status: finding.Pass},
		{name: "tiny namespace", host: subids(ok, ok).File("/proc/self/uid_map", "0 1000 1\n"), status: finding.Fail, summary: "outside the 1 uids", fixes: []string{"manual.subid-parent-uid"}},
		{name: "garbled uid_map is ignored", host: subids(ok, ok).File("/proc/self/uid_map", "x y z\n"), status: finding.Pass},
		{name: "root checking alice", host: subids(ok, ok).Self(host.Identity{Name: "root"}), user: "alice", status: finding.Pass},
		{name: "unknown account", host: subids(ok, ok).Self(host.Identity{Name: "root"}), user: "mallory", status: finding.Skip},
		{name: "nsswitch says files", host: subids(ok, ok).File("/etc/nsswitch.conf", "subid: files\n"), status: finding.Pass},

		{name: "sss module", host: subids("", "").File("/etc/nsswitch.conf", sssSwitch).
			Command([]string{"getsubids", "alice"}, "0: alice 200000 65536\n", 0),
			status: finding.Pass, summary: `alice has 65536 subordinate uids (200000-265535) from the "sss" module`},
		{name: "sss module by uid only", host: subids("", "").File("/etc/nsswitch.conf", sssSwitch).
			Command([]string{"getsubids", "alice"}, "", 1).Command([]string{"getsubids", "1000"}, "0: 1000 200000 65536\n", 0),
			status: finding.Pass},
		{name: "sss module, directory account", host: host.NewMemory().Exec("/usr/bin/getsubids").File("/etc/nsswitch.conf", sssSwitch).
			Command([]string{"getent", "passwd", "1000"}, "alice:*:1000:1000::/home/alice:/bin/sh\n", 0).
			Command([]string{"getsubids", "alice"}, "0: alice 200000 65536\n", 0),
			status: finding.Pass, summary: `from the "sss" module`},
		// shadow's nss_init falls back to the files when libsubid_NAME.so cannot be loaded
		// (lib/nss.c): the files are what newuidmap uses then.
		{name: "sss named but its module missing: shadow uses the files", host: subids(ok, ok).File("/etc/nsswitch.conf", sssSwitch).Dir("/usr/lib"),
			status: finding.Warn, summary: `names the subid module "sss", but libsubid_sss.so is not installed (looked in /usr/lib): shadow falls back to /etc/subuid; alice has 65536 subordinate uids (100000-165535)`,
			fixes: []string{"manual.subid-module"}},
		{name: "module missing and no range in the files", host: subids(bobRange, ok).File("/etc/nsswitch.conf", sssSwitch).Dir("/usr/lib"),
			status: finding.Fail, summary: "alice has no subordinate uid range in /etc/subuid", fixes: []string{"subid.add", "manual.subid-module"}},
		{name: "an action item is no module to shadow", host: subids(ok, ok).File("/etc/nsswitch.conf", "subid: [NOTFOUND=return] sss\n").Dir("/usr/lib"),
			status: finding.Warn, summary: `libsubid_[NOTFOUND=return].so is not installed`, fixes: []string{"manual.subid-module"}},
		{name: "sss module found through ld.so.conf", host: subids("", "").File("/etc/nsswitch.conf", sssSwitch).Dir("/usr/lib").
			File("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n").File("/etc/ld.so.conf.d/x86_64-linux-gnu.conf", "# multiarch\n/usr/lib/x86_64-linux-gnu\n").
			File("/usr/lib/x86_64-linux-gnu/libsubid_sss.so", "\x7fELF").Command([]string{"getsubids", "alice"}, "0: alice 200000 65536\n", 0),
			status: finding.Pass, summary: `(200000-265535) from the "sss" module`},
		{name: "sss module without getsubids", host: alice().File("/etc/nsswitch.conf", sssSwitch).File("/etc/subuid", ok),
			status: finding.Fail, summary: `come from the nsswitch module "sss", but getsubids is not installed`, fixes: []string{"package.getsubids"}},
		{name: "sss module has no range", host: subids(ok, ok).File("/etc/nsswitch.conf", sssSwitch).
			Command([]string{"getsubids", "alice"}, "", 1).Command([]string{"getsubids", "1000"}, "", 1),
			status: finding.Fail, summary: `the nsswitch module "sss" has no subordinate uid range for alice`, fixes: []string{"manual.subid-provider"}},
		{name: "sss module range too small", host: subids("", "").File("/etc/nsswitch.conf", sssSwitch).
			Command([]string{"getsubids", "alice"}, "0: alice 200000 1000\n", 0),
			status: finding.Fail, summary: "1000 subordinate uids", fixes: []string{"manual.subid-provider"}},
		{name: "sss module, getsubids output garbage", host: subids("", "").File("/etc/nsswitch.conf", sssSwitch).
			Command([]string{"getsubids", "alice"}, "\x00garbage\n", 0),
			status: finding.Fail, fixes: []string{"manual.subid-provider"}},
		{name: "sss module, getsubids not recorded", host: subids("", "").File("/etc/nsswitch.conf", sssSwitch),
			status: finding.Warn, summary: "could not check: cannot run getsubids for alice"},

		{name: "stale Podman namespace", host: subids(ok, ok).
			File("/run/user/1000/libpod/tmp/pause.pid", "4242\n").File("/proc/4242/uid_map", "         0       1000          1\n"),
			status: finding.Fail, summary: "Podman's pause process (pid 4242) still maps only the uid of alice from when it started; the current ranges are 100000-165535", fixes: []string{"manual.podman-migrate"}},
		{name: "stale dockerd namespace", host: subids(ok, ok).
			File("/run/user/1000/dockerd-rootless/child_pid", "77").File("/proc/77/uid_map", "0 1000 1\n1 200000 65536\n"),
			status: finding.Warn, summary: "rootless dockerd (pid 77)", fixes: []string{"manual.docker-restart"}},
		{name: "current Podman namespace", host: subids(ok, ok).
			File("/run/user/1000/libpod/tmp/pause.pid", "4242").File("/proc/4242/uid_map", "0 1000 1\n1 100000 65536\n"),
			status: finding.Pass},
		{name: "pid reused by a host process", host: subids(ok, ok).
			File("/run/user/1000/libpod/tmp/pause.pid", "4242").File("/proc/4242/uid_map", "0 0 4294967295\n"),
			status: finding.Pass},
		{name: "pid file garbage", host: subids(ok, ok).File("/run/user/1000/libpod/tmp/pause.pid", "nope"), status: finding.Pass},
	})
}

func TestIdmapSubgid(t *testing.T) {
	ok := aliceRange + bobRange
	runProbeTests(t, idmapSubgid, []probeTest{
		{name: "one range", host: subids(ok, ok), status: finding.Pass, summary: "alice has 65536 subordinate gids"},
		{name: "subuid but no subgid", host: subids(ok, bobRange), status: finding.Fail, summary: "no subordinate gid range in /etc/subgid", fixes: []string{"subid.add"}},
		{name: "subgid missing", host: alice().File("/etc/subuid", ok), status: finding.Fail, summary: "/etc/subgid does not exist"},
		{name: "contains a real gid", host: subids(ok, "alice:100:500\nalice:200000:65536\n").File("/etc/group", "root:x:0:\nalice:x:1000:\nusers:x:100:\n"),
			status: finding.Warn, summary: "contains gids of /etc/group: users (100)"},
		{name: "contains the primary gid", host: subids(ok, "alice:1000:65536\n"), status: finding.Fail, summary: "contains its own gid 1000"},
		{name: "malformed line names subgid", host: subids(ok, aliceRange+"x\n"), status: finding.Warn, summary: "of /etc/subgid", fixes: []string{"manual.fix-subgid"}},
		{name: "sss module asks getsubids -g", host: subids("", "").File("/etc/nsswitch.conf", sssSwitch).
			Command([]string{"getsubids", "-g", "alice"}, "0: alice 300000 65536\n", 0),
			status: finding.Pass, summary: "alice has 65536 subordinate gids (300000-365535)"},
		{name: "stale gid map", host: subids(ok, ok).
			File("/run/user/1000/libpod/tmp/pause.pid", "4242").File("/proc/4242/gid_map", "0 1000 1\n"),
			status: finding.Fail, fixes: []string{"manual.podman-migrate"}},
		{name: "stale gid map of enough ids", host: subids(ok, ok).
			File("/run/user/1000/libpod/tmp/pause.pid", "4242").File("/proc/4242/gid_map", "0 1000 1\n1 300000 65536\n"),
			status: finding.Warn, fixes: []string{"manual.podman-migrate"}},
	})
}

// TestIdmapSubidIntents checks what the fix intents carry, beyond their ids.
func TestIdmapSubidIntents(t *testing.T) {
	tests := []struct {
		name   string
		host   *host.Memory
		probe  Probe
		want   finding.Intent
		detail string
	}{
		{name: "missing range", host: subids(bobRange, bobRange), probe: idmapSubuid,
			want: finding.AddSubIDs("alice", "uid", 65536, nil, "")},
		{name: "small range replaced", host: subids("alice:100000:2000\n", aliceRange), probe: idmapSubuid,
			want: finding.AddSubIDs("alice", "uid", 65536, []string{"100000-101999"}, ""), detail: "lchown"},
		{name: "overlapping range replaced", host: subids(aliceRange, "alice:100000:65536\nbob:150000:65536\n"), probe: idmapSubgid,
			want: finding.AddSubIDs("alice", "gid", 65536, []string{"100000-165535"}, "")},
		{name: "duplicate own ranges both removed", host: subids(aliceRange+"alice:165000:1000\n", aliceRange), probe: idmapSubuid,
			want: finding.AddSubIDs("alice", "uid", 65536, []string{"100000-165535", "165000-165999"}, "")},
		{name: "own range listed twice kept once", host: subids(aliceRange+aliceRange+aliceRange, aliceRange), probe: idmapSubuid,
			want: finding.DedupeSubIDs("alice", "uid", []string{"100000-165535"}, "")},
		{name: "own range listed twice, and too small", host: subids("alice:100000:1000\nalice:100000:1000\n", aliceRange), probe: idmapSubuid,
			want: finding.AddSubIDs("alice", "uid", 65536, []string{"100000-100999"}, "")},
		{name: "own range listed twice, another one overlapping bob", host: subids(aliceRange+"bob:300000:65536\nalice:300000:10\n"+aliceRange, aliceRange), probe: idmapSubuid,
			want: finding.Intent{Kind: finding.SubIDs, User: "alice", Map: "uid", Count: 65536, Remove: []string{"300000-300009"}, Keep: []string{"100000-165535"}}},
		{name: "outside login.defs noted", host: subids("alice:50000:1000\n", aliceRange), probe: idmapSubuid,
			want: finding.AddSubIDs("alice", "uid", 65536, []string{"50000-50999"}, ""), detail: "outside SUB_UID_MIN..SUB_UID_MAX (100000-600100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := idmapRun(t, tt.probe, tt.host, "")
			if len(r.Intents) == 0 {
				t.Fatalf("no intents: %+v", r)
			}
			got := r.Intents[0]
			if got.Kind != tt.want.Kind || got.User != tt.want.User || got.Map != tt.want.Map || got.Count != tt.want.Count ||
				!slices.Equal(got.Remove, tt.want.Remove) || !slices.Equal(got.Keep, tt.want.Keep) || got.Reason == "" {
				t.Errorf("intent = %+v, want %+v", got, tt.want)
			}
			if tt.detail != "" && !idmapHasDetail(r.Details, tt.detail) {
				t.Errorf("details %q lack %q", r.Details, tt.detail)
			}
		})
	}
}

// TestIdmapSubidEvidence checks that evidence names the lines it quotes.
func TestIdmapSubidEvidence(t *testing.T) {
	r := idmapRun(t, idmapSubuid, subids("# x\nalice:100000:65536\nbob:150000:65536\n", aliceRange), "")
	want := []finding.Evidence{
		{Source: "/etc/subuid:2", Value: "alice:100000:65536"},
		{Source: "/etc/subuid:3", Value: "bob:150000:65536"},
	}
	if !slices.Equal(r.Evidence, want) {
		t.Errorf("evidence = %+v, want %+v", r.Evidence, want)
	}
}

// TestOverlapIndex compares the index with the obvious quadratic search.
func TestOverlapIndex(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var rs []parse.SubIDRange
		for range rnd.IntN(20) {
			rs = append(rs, parse.SubIDRange{Start: rnd.Int64N(1000), Count: 1 + rnd.Int64N(100)})
		}
		idx := newOverlapIndex(rs)
		for range 20 {
			q := parse.SubIDRange{Start: rnd.Int64N(1100), Count: 1 + rnd.Int64N(50)}
			want := slices.ContainsFunc(rs, q.Overlaps)
			o, got := idx.find(q)
			if got != want || got && !o.Overlaps(q) {
				t.Fatalf("round %d: find(%v) = %v, %v; want overlap %v in %v", round, q, o, got, want, rs)
			}
		}
	}
}
