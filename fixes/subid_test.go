package fixes

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestSubIDLines: which lines the allocator may match and edit (ok) and which ids it keeps
// clear of (claims). Which lines are valid is parse.ParseSubIDs's call, tested there.
func TestSubIDLines(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		ok     []bool
		claims [][]parse.IDSpan
	}{
		{name: "good", in: "alice:100000:65536\n", ok: []bool{true}, claims: [][]parse.IDSpan{{{First: 100000, Last: 165535}}}},
		{name: "blanks", in: "\n  \nbob:1:2\n", ok: []bool{true}, claims: [][]parse.IDSpan{{{First: 1, Last: 2}}}},
		{name: "comments are avoided, as useradd does", in: "#bob:1:2\n# words\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 1, Last: 2}}}},
		{name: "count missing", in: "alice:200000\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 200000, Last: 200000}}}},
		{name: "count garbage", in: "carol:300000:abc\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 300000, Last: 300000}}}},
		{name: "start garbage", in: "dave:x:10\n", ok: []bool{false}, claims: [][]parse.IDSpan{nil}},
		{name: "negative start", in: "eve:-5:10\n", ok: []bool{false}, claims: [][]parse.IDSpan{nil}},
		{name: "plus sign is shadow's", in: "eve:+5:10\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 5, Last: 14}}}},
		{name: "extra field still avoided", in: "frank:400000:10:extra\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 400000, Last: 400009}}}},
		{name: "zero count avoids its start", in: "gina:500000:0\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 500000, Last: 500000}}}},
		{name: "huge count clipped", in: "hal:4294967000:9223372036854775807\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 4294967000, Last: maxID}}}},
		{name: "count overflows", in: "ian:1:99999999999999999999\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 1, Last: maxID}}}},
		{name: "start past id space", in: "jo:4294967295:1\n", ok: []bool{false}, claims: [][]parse.IDSpan{nil}},
		{name: "last id", in: "kim:4294967294:1\n", ok: []bool{true}, claims: [][]parse.IDSpan{{{First: maxID, Last: maxID}}}},
		// Valid to shadow, but not written the way grep -x would find it.
		{name: "leading zeros: octal to shadow, decimal to Go readers", in: "max:0100:10\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 64, Last: 73}, {First: 100, Last: 109}}}},
		{name: "hex", in: "max:0x64:10\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 100, Last: 109}}}},
		// Invalid to shadow (getsubids does not list them), one repair from valid.
		{name: "CRLF", in: "lee:100:10\r\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 100, Last: 109}}}},
		{name: "trailing blank", in: "lee:100:10 \n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 100, Last: 109}}}},
		{name: "no trailing newline", in: "ned:7:3", ok: []bool{true}, claims: [][]parse.IDSpan{{{First: 7, Last: 9}}}},
		{name: "numeric owner", in: "1000:100000:65536\n", ok: []bool{true}, claims: [][]parse.IDSpan{{{First: 100000, Last: 165535}}}},
		{name: "empty owner", in: ":100000:65536\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 100000, Last: 165535}}}},
		{name: "control character in owner", in: "a\x01b:100000:10\n", ok: []bool{false}, claims: [][]parse.IDSpan{{{First: 100000, Last: 100009}}}},
		{name: "file order kept across good and bad", in: "x\nbob:5:5\ny:1:0\n", ok: []bool{false, true, false},
			claims: [][]parse.IDSpan{nil, {{First: 5, Last: 9}}, {{First: 1, Last: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, nul := subIDLines([]byte(tt.in))
			if nul || len(lines) != len(tt.ok) {
				t.Fatalf("got %d lines (NUL %v), want %d: %+v", len(lines), nul, len(tt.ok), lines)
			}
			for i, l := range lines {
				if l.ok != tt.ok[i] {
					t.Errorf("line %d ok = %v, want %v", i, l.ok, tt.ok[i])
				}
				if !slices.Equal(l.claims, tt.claims[i]) {
					t.Errorf("line %d claims %v, want %v", i, l.claims, tt.claims[i])
				}
			}
		})
	}
	if _, nul := subIDLines([]byte("a:1:1\x00\n")); !nul {
		t.Error("a NUL byte went unnoticed")
	}
}

func TestLimitsFor(t *testing.T) {
	tests := []struct {
		name  string
		defs  string
		want  limits
		notes []string
	}{
		{name: "defaults", want: limits{100000, 600100000, 65536}},
		{name: "set", defs: "SUB_UID_MIN 200000\nSUB_UID_MAX 300000\nSUB_UID_COUNT 1000\n", want: limits{200000, 300000, 1000}},
		{name: "hex and octal like strtoul", defs: "SUB_UID_MIN 0x30000\nSUB_UID_COUNT 0200000\n", want: limits{0x30000, 600100000, 65536}},
		{name: "garbage keeps default", defs: "SUB_UID_MIN lots\nSUB_UID_MAX -1\n", want: limits{100000, 600100000, 65536},
			notes: []string{`/etc/login.defs: SUB_UID_MIN "lots" is not a number; using 100000`, `/etc/login.defs: SUB_UID_MAX "-1" is not a number; using 600100000`}},
		{name: "max clipped to uint32", defs: "SUB_UID_MAX 99999999999\n", want: limits{100000, maxID, 65536}},
		{name: "last wins, comments", defs: "# SUB_UID_MIN 5\nSUB_UID_MIN 1000\nSUB_UID_MIN 2000\n", want: limits{2000, 600100000, 65536}},
		{name: "zero min means 1", defs: "SUB_UID_MIN 0\n", want: limits{1, 600100000, 65536}},
		{name: "gid keys are separate", defs: "SUB_GID_MIN 5000\n", want: limits{100000, 600100000, 65536}},
		{name: "count 0 is kept (the planner falls back itself)", defs: "SUB_UID_COUNT 0\n# x\n", want: limits{100000, 600100000, 0}},
		{name: "max in hex", defs: "SUB_UID_MIN 100000\nSUB_UID_MAX 0x7fffffff\n", want: limits{100000, 0x7fffffff, 65536}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes := limitsFor(parse.ParseLoginDefs([]byte(tt.defs)), "SUB_UID")
			if got != tt.want || !slices.Equal(notes, tt.notes) {
				t.Fatalf("limitsFor = %+v, %q; want %+v, %q", got, notes, tt.want, tt.notes)
			}
		})
	}
}

// TestAllocate runs the whole allocator over host files.
func TestAllocate(t *testing.T) {
	const passwd = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
	tests := []struct {
		name     string
		files    map[string]string
		want     subIDWant
		uid      int64
		wantUID  int64
		wantGID  int64
		failure  string
		problem  bool
		editsUID []lineEdit
	}{
		{
			name:  "empty host",
			files: map[string]string{"/etc/passwd": passwd},
			want:  subIDWant{user: "alice", uids: true, gids: true, count: 65536}, uid: 1000,
			wantUID: 100000, wantGID: 100000,
		},
		{
			name: "full files: each map has a different first gap, the common start is later",
			files: map[string]string{
				"/etc/subuid": "bob:100000:65536\n",
				"/etc/subgid": "carol:165536:65536\n",
			},
			want: subIDWant{user: "alice", uids: true, gids: true, count: 65536}, uid: 1000,
			wantUID: 231072, wantGID: 231072,
		},
		{
			name: "overlapping ranges in the files are all avoided",
			files: map[string]string{
				"/etc/subuid": "bob:100000:65536\ncarol:150000:65536\n",
				"/etc/subgid": "bob:100000:65536\ncarol:150000:65536\n",
			},
			want: subIDWant{user: "alice", uids: true, gids: true, count: 65536}, uid: 1000,
			wantUID: 215536, wantGID: 215536,
		},
		{
			name: "real uids in the range (LDAP users at 100000+) are avoided",
			files: map[string]string{
				"/etc/passwd": passwd + "ldap1:x:100500:100500::/:/bin/sh\n",
				"/etc/group":  "g:x:150000:\n",
			},
			want: subIDWant{user: "alice", uids: true, gids: true, count: 65536}, uid: 1000,
			wantUID: 150001, wantGID: 150001,
		},
		{
			name:  "the user's own uid is avoided even without a passwd entry",
			files: map[string]string{"/etc/login.defs": "SUB_UID_MIN 5000\nSUB_GID_MIN 5000\n"},
			want:  subIDWant{user: "alice", uids: true, gids: true, count: 10}, uid: 5003,
			wantUID: 5004, wantGID: 5004,
		},
		{
			name:  "login.defs limits leave no room",
			files: map[string]string{"/etc/login.defs": "SUB_UID_MIN 100000\nSUB_UID_MAX 100010\n"},
			want:  subIDWant{user: "alice", uids: true, count: 65536}, uid: 1000,
			failure: "no free range of 65536 subordinate uids between SUB_UID_MIN 100000 and SUB_UID_MAX 100010",
		},
		{
			name: "uid and gid limits differ: separate starts",
			files: map[string]string{
				"/etc/login.defs": "SUB_UID_MIN 100000\nSUB_UID_MAX 200000\nSUB_GID_MIN 300000\n",
			},
			want: subIDWant{user: "alice", uids: true, gids: true, count: 65536}, uid: 1000,
			wantUID: 100000, wantGID: 300000,
		},
		{
			name: "only uids wanted: mirror the user's gid range when it is free",
			files: map[string]string{
				"/etc/subuid": "bob:100000:65536\n",
				"/etc/subgid": "alice:300000:65536\n",
			},
			want: subIDWant{user: "alice", uids: true, count: 65536}, uid: 1000,
			wantUID: 300000,
		},
		{
			name: "malformed lines: their numbers are still avoided",
			files: map[string]string{
				"/etc/subuid": "garbage\nbob:100000\ncarol:100001:xyz\n#alice:1:1\ndave:100002:3:4\n",
			},
			want: subIDWant{user: "alice", uids: true, count: 100}, uid: 1000,
			wantUID: 100005,
		},
		{
			name:  "huge count near MaxInt64",
			files: map[string]string{},
			want:  subIDWant{user: "alice", uids: true, count: math.MaxInt64}, uid: 1000,
			failure: "no free range of 9223372036854775807 subordinate uids between SUB_UID_MIN 100000 and SUB_UID_MAX 600100000",
		},
		{
			name:  "up to the uint32 limit",
			files: map[string]string{"/etc/login.defs": "SUB_UID_MIN 4294901759\nSUB_UID_MAX 4294967295\n"},
			want:  subIDWant{user: "alice", uids: true, count: 65536}, uid: 1000,
			wantUID: 4294901759,
		},
		{
			name: "a huge existing range blocks everything above it",
			files: map[string]string{
				"/etc/subuid": "bob:100000:9223372036854775807\n",
			},
			want: subIDWant{user: "alice", uids: true, count: 65536}, uid: 1000,
			failure: "no free range of 65536 subordinate uids between SUB_UID_MIN 100000 and SUB_UID_MAX 600100000",
		},
		{
			name: "remove: the overlapping part goes, the rest stays",
			files: map[string]string{
				"/etc/subuid": "bob:100000:65536\nalice:160000:10000\n",
			},
			want: subIDWant{user: "alice", uids: true, count: 65536, removeUID: []parse.IDSpan{{First: 160000, Last: 165535}}}, uid: 1000,
			wantUID:  170000,
			editsUID: []lineEdit{{line: "alice:160000:10000", removed: []parse.IDSpan{{First: 160000, Last: 165535}}, keep: []string{"alice:165536:4464"}}},
		},
		{
			name: "remove by numeric owner, middle cut leaves two pieces",
			files: map[string]string{
				"/etc/subuid": "1000:100000:100\n",
			},
			want: subIDWant{user: "alice", uids: true, count: 10, removeUID: []parse.IDSpan{{First: 100010, Last: 100019}}}, uid: 1000,
			wantUID:  100100,
			editsUID: []lineEdit{{line: "1000:100000:100", removed: []parse.IDSpan{{First: 100010, Last: 100019}}, keep: []string{"1000:100000:10", "1000:100020:80"}}},
		},
		{
			name:    "unreadable subuid: no allocation",
			files:   map[string]string{"/etc/subuid": "x"},
			want:    subIDWant{user: "alice", uids: true, count: 10},
			problem: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := host.NewMemory().Self(host.Identity{UID: 0, GID: 0, Name: "root"})
			for p, c := range tt.files {
				m.File(p, c)
			}
			if tt.problem {
				m.Meta("/etc/subuid", host.FileMeta{Mode: "0000"})
				m.Self(host.Identity{UID: 1000, GID: 1000, Name: "alice"})
			}
			facts := readIDFacts(m.Host())
			if (facts.problem != "") != tt.problem {
				t.Fatalf("problem = %q, want one: %v", facts.problem, tt.problem)
			}
			if tt.problem {
				return
			}
			got := newAllocator(facts).allocate(tt.want, tt.uid)
			if got.failure != tt.failure {
				t.Fatalf("failure = %q, want %q", got.failure, tt.failure)
			}
			if tt.failure != "" {
				return
			}
			if tt.want.uids && got.uidStart != tt.wantUID {
				t.Errorf("uid start = %d, want %d", got.uidStart, tt.wantUID)
			}
			if tt.want.gids && got.gidStart != tt.wantGID {
				t.Errorf("gid start = %d, want %d", got.gidStart, tt.wantGID)
			}
			if len(got.editsUID) != len(tt.editsUID) {
				t.Fatalf("edits = %+v, want %+v", got.editsUID, tt.editsUID)
			}
			for i := range got.editsUID {
				g, w := got.editsUID[i], tt.editsUID[i]
				if g.line != w.line || strings.Join(g.keep, ",") != strings.Join(w.keep, ",") || len(g.removed) != len(w.removed) {
					t.Errorf("edit %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestAllocateTwoUsers: ranges handed out in one plan do not collide.
func TestAllocateTwoUsers(t *testing.T) {
	a := newAllocator(readIDFacts(host.NewMemory().File("/etc/subuid", "bob:100000:65536\n").Host()))
	r1 := a.allocate(subIDWant{user: "alice", uids: true, gids: true, count: 65536}, 1000)
	r2 := a.allocate(subIDWant{user: "carol", uids: true, gids: true, count: 65536}, 1002)
	if r1.uidStart != 165536 || r2.uidStart != 231072 || r2.gidStart != 231072 {
		t.Fatalf("starts = %d, %d/%d", r1.uidStart, r2.uidStart, r2.gidStart)
	}
}

// FuzzAllocate: whatever /etc/subuid holds, an allocation avoids every id it claims, and a
// line the allocator would edit is one grep -x can find. (The parser's own invariants are
// fuzzed in checks/parse.)
func FuzzAllocate(f *testing.F) {
	for _, s := range []string{"alice:100000:65536\n", "x", "a:1:2:3\n#c\n", "b:4294967294:9999999999999\r\n", ":::\n", "alice:0100000:65536\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines, _ := subIDLines([]byte(in))
		for _, l := range lines {
			for _, c := range l.claims {
				if c.First < 0 || c.Last > maxID || c.First > c.Last {
					t.Fatalf("bad claims %+v for %q", l.claims, l.raw)
				}
			}
			if l.ok {
				if l.raw != strings.TrimSpace(l.raw) || strings.ContainsAny(l.raw, "\n\r") {
					t.Fatalf("ok line with blanks: %q", l.raw)
				}
				s, _ := parse.SpanOf(l.start, l.count)
				if !slices.Equal(l.claims, []parse.IDSpan{s}) || s.Count() != l.count {
					t.Fatalf("ok line %q claims %+v", l.raw, l.claims)
				}
			}
		}
		facts := idFacts{subuid: lines, uidLim: limits{1, maxID, 65536}, gidLim: limits{1, maxID, 65536}}
		a := newAllocator(facts)
		r := a.allocate(subIDWant{user: "alice", uids: true, gids: true, count: 65536}, -1)
		if r.failure != "" {
			return
		}
		got, _ := parse.SpanOf(r.uidStart, 65536)
		for _, l := range facts.subuid {
			for _, c := range l.claims {
				if c.Overlaps(got) {
					t.Fatalf("allocated %v overlaps %q", got, l.raw)
				}
			}
		}
	})
}
