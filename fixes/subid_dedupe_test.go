package fixes

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestDedupeStep: an account that lists its range twice keeps the range, on its first line
// (issue 10: the fix removed every line of the range and gave a fresh one, so the files the
// account's containers own were no longer mapped). The commands run with sh (and busybox sh,
// where installed) on a copy: the later copies go, every other line is kept byte for byte,
// the file parses to the same ranges once, and a second run changes nothing.
func TestDedupeStep(t *testing.T) {
	const passwd = "root:x:0:0::/:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\njohn.doe:x:1001:1001::/:/bin/sh\n"
	tests := []struct {
		name     string
		subuid   string
		user     string
		keep     []string
		want     string
		stuck    string // a Why line naming lines left for a person
		noChange bool   // no step: nothing is listed twice
	}{
		{name: "twice", subuid: "alice:100000:65536\nbob:165536:65536\nalice:100000:65536\n", user: "alice", keep: []string{"100000-165535"},
			want: "alice:100000:65536\nbob:165536:65536\n"},
		{name: "three times, another own range between", subuid: "alice:100000:65536\nalice:300000:10\nalice:100000:65536\n# c\nalice:100000:65536\n", user: "alice", keep: []string{"100000-165535"},
			want: "alice:100000:65536\nalice:300000:10\n# c\n"},
		{name: "by name and by uid", subuid: "alice:100000:65536\n1000:100000:65536\nalice:100000:65536\n", user: "alice", keep: []string{"100000-165535"},
			want: "alice:100000:65536\n"},
		{name: "octal first, decimal copy", subuid: "alice:0303240:0200000\nalice:100000:65536\n", user: "alice", keep: []string{"100000-165535"},
			want: "alice:0303240:0200000\n"},
		{name: "someone else's copy stays", subuid: "alice:100000:65536\nbob:100000:65536\nalice:100000:65536\n", user: "alice", keep: []string{"100000-165535"},
			want: "alice:100000:65536\nbob:100000:65536\n"},
		{name: "a dot in the name matches only itself", subuid: "john.doe:100000:65536\njohnXdoe:100000:65536\njohn.doe:100000:65536\n", user: "john.doe", keep: []string{"100000-165535"},
			want: "john.doe:100000:65536\njohnXdoe:100000:65536\n"},
		{name: "a blank the script cannot match", subuid: "alice:100000:65536\nalice: 100000:65536\n", user: "alice", keep: []string{"100000-165535"},
			want: "alice:100000:65536\nalice: 100000:65536\n", stuck: "delete line(s) 2 of /etc/subuid by hand"},
		{name: "listed once", subuid: "alice:100000:65536\n", user: "alice", keep: []string{"100000-165535"}, noChange: true},
	}
	shells := [][]string{{"sh"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "sh"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := host.NewMemory().File("/etc/passwd", passwd).File("/etc/subuid", tt.subuid).File("/etc/subgid", "")
			p, err := Build(Input{Env: &facts.Env{Distro: debian(t), Host: h.Host()}, Requests: []Request{
				req("idmap.subuid", finding.DedupeSubIDs(tt.user, "uid", tt.keep, "listed twice")),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if tt.noChange {
				if !p.Empty() {
					t.Fatalf("a plan for a range listed once: %+v", p.Steps)
				}
				return
			}
			if len(p.Steps) != 1 || p.Steps[0].ID != "subid.dedupe" {
				t.Fatalf("steps: %+v", p.Steps)
			}
			s := p.Steps[0]
			if err := CheckPlan(p); err != nil {
				t.Fatal(err)
			}
			for _, c := range s.Commands {
				if strings.Contains(c, "usermod") || strings.Contains(c, "--add-sub") {
					t.Errorf("the step gives or removes ranges: %s", c)
				}
			}
			if tt.stuck != "" && !slices.ContainsFunc(s.Why, func(w string) bool { return strings.Contains(w, tt.stuck) }) {
				t.Errorf("why %q lacks %q", s.Why, tt.stuck)
			}
			for _, sh := range shells {
				f := filepath.Join(t.TempDir(), "subuid")
				if err := os.WriteFile(f, []byte(tt.subuid), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := strings.ReplaceAll(strings.Join(s.Commands, "\n"), "/etc/subuid", f)
				for run := 1; run <= 2; run++ {
					if out, err := exec.Command(sh[0], append(sh[1:], "-ec", cmd)...).CombinedOutput(); err != nil {
						t.Fatalf("%v, run %d: %v %s\n%s", sh, run, err, out, cmd)
					}
					got, _ := os.ReadFile(f)
					if string(got) != tt.want {
						t.Fatalf("%v, run %d: %q, want %q\n%s", sh, run, got, tt.want, cmd)
					}
				}
			}
		})
	}
}

// TestDedupeWithFreshRange: when the account needs a fresh range as well (another of its
// ranges overlaps someone else's), the range it lists twice stays once and only the bad
// range is removed; a range that is listed twice and removed anyway needs no deduplication.
func TestDedupeWithFreshRange(t *testing.T) {
	h := host.NewMemory().File("/etc/passwd", "alice:x:1000:1000::/:/bin/sh\n").
		File("/etc/subuid", "alice:100000:65536\nbob:300000:65536\nalice:300000:10\nalice:100000:65536\n").File("/etc/subgid", "")
	in := finding.AddSubIDs("alice", "uid", 65536, []string{"300000-300009"}, "overlaps bob")
	in.Keep = []string{"100000-165535"}
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t), Host: h.Host()}, Requests: []Request{req("idmap.subuid", in)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 1 || p.Steps[0].ID != "subid.add" {
		t.Fatalf("steps: %+v", p.Steps)
	}
	all := strings.Join(p.Steps[0].Commands, "\n")
	for _, want := range []string{"grep -cxF alice:100000:65536 /etc/subuid", "--del-subuids 300000-300009", "--add-subuids"} {
		if !strings.Contains(all, want) {
			t.Errorf("commands lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "--del-subuids 100000") {
		t.Errorf("the range listed twice is removed:\n%s", all)
	}
	// Removed anyway: no dedupe command.
	in.Remove = []string{"100000-165535"}
	p, err = Build(Input{Env: &facts.Env{Distro: debian(t), Host: h.Host()}, Requests: []Request{req("idmap.subuid", in)}})
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(p.Steps[0].Commands, "\n"); strings.Contains(all, "grep -cxF") {
		t.Errorf("a removed range is deduplicated too:\n%s", all)
	}
}

// TestDedupeIntentMerges: one account's uid map needs a fresh range and its gid map only a
// deduplication: one step, a fresh range of uids only.
func TestDedupeIntentMerges(t *testing.T) {
	h := host.NewMemory().File("/etc/passwd", "alice:x:1000:1000::/:/bin/sh\n").
		File("/etc/subuid", "").File("/etc/subgid", "alice:100000:65536\nalice:100000:65536\n")
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t), Host: h.Host()}, Requests: []Request{
		req("idmap.subuid", finding.AddSubIDs("alice", "uid", 65536, nil, "none")),
		req("idmap.subgid", finding.DedupeSubIDs("alice", "gid", []string{"100000-165535"}, "twice")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 1 || p.Steps[0].ID != "subid.add" || !slices.Equal(p.Steps[0].Intents, []string{"subid.add", "subid.dedupe"}) {
		t.Fatalf("steps: %+v", p.Steps)
	}
	all := strings.Join(p.Steps[0].Commands, "\n")
	if strings.Contains(all, "--add-subgids") || !strings.Contains(all, "--add-subuids") || !strings.Contains(all, "grep -cxF alice:100000:65536 /etc/subgid") {
		t.Errorf("commands:\n%s", all)
	}
}
