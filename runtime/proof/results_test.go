package proof

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

func statuses(res []finding.Result) []finding.Status {
	var out []finding.Status
	for _, r := range res {
		out = append(out, r.Status)
	}
	return out
}

func okPayload() map[string]stepReport {
	m := map[string]stepReport{}
	for _, id := range StepIDs()[:6] {
		m[id] = stepReport{ID: id, Status: finding.Pass, Summary: id + " ok", Duration: time.Millisecond}
	}
	m[StepIDMap] = m[StepIDMap].with("/proc/self/uid_map", "0 1000 1; 1 100000 65536").with("/proc/self/gid_map", "0 1000 1; 1 100000 65536")
	return m
}

func TestAssemble(t *testing.T) {
	P, F, S := finding.Pass, finding.Fail, finding.Skip
	okParent := func() *parentReport {
		return &parentReport{Net: rootlesskit.NetAuto, Driver: rootlesskit.NetSlirp4netns,
			Runs:   []runReport{{Net: rootlesskit.NetSlirp4netns, UsernsDur: 5 * time.Millisecond, IDMapDur: 9 * time.Millisecond, SubUIDs: "[{100000 65536}]", SubGIDs: "[{100000 65536}]"}},
			Port:   &portReport{OK: true, Reply: "PONG x", RTT: time.Millisecond},
			Cgroup: &stepReport{ID: StepCgroup, Status: finding.Skip, Summary: "hybrid"},
			Config: payloadConfig{ParentPort: 40000}}
	}
	tests := []struct {
		name string
		c    func() collected
		want []finding.Status
		// check looks at one result further.
		check func(t *testing.T, by map[string]finding.Result)
	}{
		{
			name: "everything passes",
			c: func() collected {
				return collected{parent: okParent(), payload: map[int]map[string]stepReport{0: okPayload()}}
			},
			want: []finding.Status{P, P, P, P, P, P, S},
			check: func(t *testing.T, by map[string]finding.Result) {
				if d := by[StepUserNS].Duration; d != 6*time.Millisecond {
					t.Errorf("userns duration %v: want rootlesskit's 5ms plus the payload's 1ms", d)
				}
			},
		},
		{
			name: "network failed: the second start proves the rest",
			c: func() collected {
				p := okParent()
				p.Port = nil
				p.Runs[0].Err = &wireError{Phase: phaseNetwork, Message: "setting up tap tap0: exit status 1"}
				p.Facts = facts{User: "alice", TunErrno: "EACCES"}
				p.Runs = append(p.Runs, runReport{Net: rootlesskit.NetHost})
				second := okPayload()
				delete(second, StepNetwork)
				delete(second, StepPort)
				return collected{parent: p, payload: map[int]map[string]stepReport{1: second}}
			},
			want: []finding.Status{P, P, P, P, F, S, S},
			check: func(t *testing.T, by map[string]finding.Result) {
				if r := by[StepNetwork]; !strings.Contains(r.Summary, "net.tun") || !slices.Contains(fixes.FixIDs(r), "device.tun") {
					t.Errorf("network: %s %v", r.Summary, fixes.FixIDs(r))
				}
				if !slices.ContainsFunc(by[StepMount].Details, func(d string) bool { return strings.Contains(d, "second start") }) {
					t.Error("mount does not say it was proven in the second start")
				}
			},
		},
		{
			name: "idmap failed: userns passes from rootlesskit's side, the rest is not reached",
			c: func() collected {
				p := okParent()
				p.Port.OK = false
				p.Runs[0].Err = &wireError{Phase: phaseIDMap, Message: `failed to setup UID/GID map: failed to compute uid/gid map: no subuid ranges found for user 1000 ("alice")`}
				return collected{parent: p, payload: map[int]map[string]stepReport{}}
			},
			want: []finding.Status{P, F, S, S, S, S, S},
		},
		{
			name: "the clone failed",
			c: func() collected {
				p := okParent()
				p.Runs[0] = runReport{Err: &wireError{Phase: phaseUserNS, Errno: "ENOSPC", Message: "failed to start the child: fork/exec /proc/self/exe: no space left on device"}}
				return collected{parent: p, payload: map[int]map[string]stepReport{}}
			},
			want: []finding.Status{F, S, S, S, S, S, S},
		},
		{
			name: "timeout after two steps",
			c: func() collected {
				m := okPayload()
				for _, id := range StepIDs()[2:6] {
					delete(m, id)
				}
				return collected{payload: map[int]map[string]stepReport{0: m}, terminal: &wireError{Phase: phaseTimeout, Message: "no result after 1s"}}
			},
			want: []finding.Status{P, P, F, S, S, S, S},
			check: func(t *testing.T, by map[string]finding.Result) {
				if !strings.Contains(by[StepMount].Summary, "did not finish") {
					t.Errorf("mount: %s", by[StepMount].Summary)
				}
			},
		},
		{
			name: "the host could not reach the listener",
			c: func() collected {
				p := okParent()
				p.Port = &portReport{OK: false, Err: "connection reset", Attempts: 9}
				return collected{parent: p, payload: map[int]map[string]stepReport{0: okPayload()}}
			},
			want: []finding.Status{P, P, P, P, P, F, S},
		},
		{
			name: "the maps inside do not cover the subordinate range",
			c: func() collected {
				m := okPayload()
				m[StepIDMap] = stepReport{ID: StepIDMap, Status: finding.Pass, Summary: "ok"}.with("/proc/self/uid_map", "0 1000 1; 1 100000 1000").with("/proc/self/gid_map", "0 1000 1; 1 100000 65536")
				return collected{parent: okParent(), payload: map[int]map[string]stepReport{0: m}}
			},
			want: []finding.Status{P, F, P, P, P, P, S},
		},
		{
			name: "the own id inside the range is not counted",
			c: func() collected {
				m := okPayload()
				m[StepIDMap] = stepReport{ID: StepIDMap, Status: finding.Pass, Summary: "ok"}.with("/proc/self/uid_map", "0 100005 1; 1 100000 5; 6 100006 65530").with("/proc/self/gid_map", "0 1000 1; 1 100000 65536")
				return collected{parent: okParent(), payload: map[int]map[string]stepReport{0: m}}
			},
			want: []finding.Status{P, P, P, P, P, P, S},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := assemble(tt.c())
			if got := statuses(res); !slices.Equal(got, tt.want) {
				for _, r := range res {
					t.Logf("%s %s %s", r.ID, r.Status, r.Summary)
				}
				t.Fatalf("statuses %v, want %v", got, tt.want)
			}
			if ids := idsOf(res); !slices.Equal(ids, StepIDs()) {
				t.Fatalf("ids %v", ids)
			}
			by := map[string]finding.Result{}
			for _, r := range res {
				by[r.ID] = r
				if r.Summary == "" || r.Title == "" {
					t.Errorf("%s: empty summary or title", r.ID)
				}
				if r.Status == finding.Fail && !slices.ContainsFunc(r.Details, func(string) bool { return true }) && r.ID != StepPort {
					t.Errorf("%s fails without details", r.ID)
				}
			}
			if tt.check != nil {
				tt.check(t, by)
			}
		})
	}
}

func idsOf(res []finding.Result) []string {
	var ids []string
	for _, r := range res {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestParseLogs(t *testing.T) {
	in := `{"level":"debug","msg":"Sending \u0026{Name:ParentHello}","role":"parent","time":"1"}
{"level":"info","msg":"rootless-doctor: starting rootlesskit","run":1}
{"level":"warning","msg":"/proc/sys/user/max_user_namespaces=100 may be low. Consider setting to \u003e= 1024.","role":"parent"}
{"level":"warning","msg":"Mounting /etc/resolv.conf without copying-up /etc. Note…","role":"child"}
{"level":"error","msg":"rootlesskit child failed","error":"EOF","role":"child"}
open: Permission denied
{"level":"debug","driver":"network/slirp4netns","msg":"sent tapfd=5 for tap0"}
not json {
`
	logs := parseLogs([]byte(in))
	if len(logs) != 7 {
		t.Fatalf("%d lines: %+v", len(logs), logs)
	}
	if !logs[0].Chatter || logs[0].Run != 0 || logs[1].Run != 1 {
		t.Errorf("runs/chatter: %+v", logs[:2])
	}
	if got := warnings(logs); len(got) != 2 || !strings.Contains(got[0], "may be low") || !strings.Contains(got[1], "child failed: EOF") {
		t.Errorf("warnings = %q", got)
	}
	tail := logTail(logs, 1, 3)
	if len(tail) != 3 || tail[0] != "open: Permission denied" || !strings.Contains(tail[1], "network/slirp4netns: sent tapfd") || tail[2] != "not json {" {
		t.Errorf("tail = %q", tail)
	}
	if got := logTexts(logs, 0); len(got) != 1 {
		t.Errorf("run 0 texts = %q", got)
	}
}

func FuzzParseLogs(f *testing.F) {
	f.Add([]byte(`{"level":"warning","msg":"x"}` + "\nraw\n" + `{"msg":"rootless-doctor: starting rootlesskit","run":1e99}`))
	f.Add([]byte("{\n{}\n{\"level\":null}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		logs := parseLogs(b)
		for _, l := range logs {
			if l.Run < 0 || strings.Contains(l.Text, "\n") {
				t.Fatalf("bad line %+v", l)
			}
		}
		if n := len(logTail(logs, 0, 5)); n > 5 {
			t.Fatalf("tail of %d lines", n)
		}
	})
}

func TestCgroupProve(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "user.slice/user-1000.slice/user@1000.service/app.slice/cgroup.subtree_control"), "cpu memory\n")
	write(filepath.Join(dir, "user.slice/user-1000.slice/user@1000.service/app.slice/cgroup.procs"), "")
	own := func(g string) func() (string, error) { return func() (string, error) { return g, nil } }
	delegated := func(p string) bool { return strings.Contains(p, "user@1000.service") }
	tests := []struct {
		name   string
		h      cgroupHost
		want   finding.Status
		substr string
		fixes  []string
	}{
		{"hybrid", cgroupHost{mode: cgroups.Hybrid}, finding.Skip, "hybrid", nil},
		{"legacy", cgroupHost{mode: cgroups.Legacy}, finding.Skip, "cgroup v1", nil},
		{"unavailable", cgroupHost{mode: cgroups.Unavailable}, finding.Skip, "no cgroup filesystem", nil},
		{"own group unknown", cgroupHost{mode: cgroups.Unified, own: func() (string, error) { return "", errors.New("garbage") }}, finding.Skip, "cannot find", nil},
		{"session scope, not delegated", cgroupHost{mode: cgroups.Unified, root: dir, own: own("/user.slice/user-1000.slice/session-3.scope"), writable: delegated}, finding.Skip, "not delegated", nil},
		{"root of a cgroup namespace", cgroupHost{mode: cgroups.Unified, root: dir, own: own("/"), writable: func(string) bool { return true }}, finding.Skip, "not delegated", nil},
		{"delegated without pids", cgroupHost{mode: cgroups.Unified, root: dir, own: own("/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope"), writable: delegated}, finding.Warn, "pids controller", []string{"systemd.delegate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := cgroupProve(tt.h)
			if s.Status != tt.want || !strings.Contains(s.Summary, tt.substr) {
				t.Errorf("got %s %q, want %s containing %q", s.Status, s.Summary, tt.want, tt.substr)
			}
			var ids []string
			for _, in := range s.Intents {
				ids = append(ids, fixes.IntentID(in))
			}
			if !slices.Equal(ids, tt.fixes) {
				t.Errorf("fixes %v, want %v", ids, tt.fixes)
			}
		})
	}
}

// enforcePids against plain files: nothing enforces pids.max there, so the fork goes through and
// the step must say limits are not enforced (and clean up its group and its shell).
func TestEnforcePidsWithoutAKernelLimit(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	parent := t.TempDir()
	s := enforcePids(stepReport{}, parent, nil)
	if s.Status != finding.Fail || !strings.Contains(s.Summary, "not enforced") {
		t.Errorf("got %s %q", s.Status, s.Summary)
	}
	if got := evidenceOf(s, "fork in the group"); got != "forked" {
		t.Errorf("fork in the group = %q", got)
	}
	// On cgroupfs the group's files are virtual and rmdir removes it; on a plain directory the
	// written pids.max and cgroup.procs keep it (t.TempDir removes it). Nothing else is left.
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "rootless-doctor-proof-") {
			t.Errorf("unexpected %s", e.Name())
		}
	}
}

// TestAssembleKilledMidway: a proof killed at its time limit before the parent role wrote
// parent.json is judged from its progress events — the phase still running is blamed, the
// ones before it kept — instead of "runtime.userns: the proof did not finish in time" and
// every later step not reached (issue 15).
func TestAssembleKilledMidway(t *testing.T) {
	terminal := &wireError{Phase: phaseTimeout, Message: "no result after 30s", Exit: -1}
	status := func(rs []finding.Result) map[string]finding.Status {
		m := map[string]finding.Status{}
		for _, r := range rs {
			m[r.ID] = r.Status
		}
		return m
	}
	for _, tt := range []struct {
		name   string
		events []progressEvent
		want   map[string]finding.Status
		blame  string
	}{
		{"network driver hung", []progressEvent{{Event: evUserNS, At: 3e6}, {Event: evNetStart, At: 9e6, Driver: "slirp4netns"}},
			map[string]finding.Status{StepUserNS: finding.Pass, StepIDMap: finding.Pass, StepNetwork: finding.Fail, StepPort: finding.Skip}, "net.driver"},
		{"newuidmap hung", []progressEvent{{Event: evUserNS, At: 3e6}},
			map[string]finding.Status{StepUserNS: finding.Pass, StepIDMap: finding.Fail, StepMount: finding.Skip}, "idmap.subuid"},
		{"nothing reported", nil,
			map[string]finding.Status{StepUserNS: finding.Fail, StepIDMap: finding.Skip}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := assemble(collected{payload: map[int]map[string]stepReport{}, progress: tt.events, terminal: terminal})
			got := status(rs)
			for id, want := range tt.want {
				if got[id] != want {
					t.Errorf("%s = %s, want %s", id, got[id], want)
				}
			}
			for _, r := range rs {
				if r.Status == finding.Fail {
					if tt.blame != "" && !strings.Contains(r.Summary, "(see "+tt.blame+")") {
						t.Errorf("%s: %q does not name %s", r.ID, r.Summary, tt.blame)
					}
					if len(r.Intents) != 0 {
						t.Errorf("%s asks for a fix for a hang: %v", r.ID, r.Intents)
					}
				}
			}
		})
	}
}
