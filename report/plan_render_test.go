package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestBuildIsStable: the plan does not depend on the order the probes ran in.
func TestBuildIsStable(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			want := renderPlan(t, buildScenario(t, sc), "json")
			r := rand.New(rand.NewPCG(1, 2))
			for range 20 {
				sc2 := sc
				sc2.reqs = slices.Clone(sc.reqs)
				r.Shuffle(len(sc2.reqs), func(i, j int) { sc2.reqs[i], sc2.reqs[j] = sc2.reqs[j], sc2.reqs[i] })
				if got := renderPlan(t, buildScenario(t, sc2), "json"); got != want {
					t.Fatalf("plan changed with request order:\n%s\nwant:\n%s", got, want)
				}
			}
		})
	}
}

// TestOrder: steps come in the order of the kinds table (fixes/kinds.go), manual steps and relogin last, optional
// steps after everything.
func TestOrder(t *testing.T) {
	for _, sc := range scenarios() {
		p := buildScenario(t, sc)
		rank := func(s fixes.Step) int {
			switch {
			case s.Optional:
				return 100
			case s.ID == "session.relogin":
				return 99
			case strings.HasPrefix(s.ID, "manual."):
				return 98
			case strings.HasPrefix(s.ID, "package"):
				return 0
			case strings.HasPrefix(s.ID, "modules"):
				return 1
			case strings.HasPrefix(s.ID, "sysctl"):
				return 2
			case strings.HasPrefix(s.ID, "crlf"):
				return 3
			case strings.HasPrefix(s.ID, "subid"):
				return 3
			case strings.HasPrefix(s.ID, "apparmor"):
				return 4
			case strings.HasPrefix(s.ID, "systemd"):
				return 5
			case strings.HasPrefix(s.ID, "device"):
				return 6
			case strings.HasPrefix(s.ID, "linger"):
				return 7
			}
			t.Fatalf("%s: unexpected step id %s", sc.name, s.ID)
			return 0
		}
		ids := map[string]bool{}
		for i, s := range p.Steps {
			if ids[s.ID] {
				t.Errorf("%s: step id %s twice", sc.name, s.ID)
			}
			ids[s.ID] = true
			if i > 0 && rank(p.Steps[i-1]) > rank(s) {
				t.Errorf("%s: step %s comes after %s", sc.name, s.ID, p.Steps[i-1].ID)
			}
			if s.Manual && len(s.Commands) != 0 {
				t.Errorf("%s: manual step %s has commands", sc.name, s.ID)
			}
			if len(s.Fixes) == 0 {
				t.Errorf("%s: step %s fixes no probe", sc.name, s.ID)
			}
		}
	}
}

// TestRenderersRefuseUnsafePlans: a plan decoded from JSON is checked again.
func TestRenderersRefuseUnsafePlans(t *testing.T) {
	bad := []fixes.Plan{
		{Steps: []fixes.Step{{ID: "x", Title: "a\nrm -rf /", Fixes: []string{"p"}}}},
		{Steps: []fixes.Step{{ID: "x", Title: "t", Commands: []string{"EOF"}}}},
		{Steps: []fixes.Step{{ID: "x", Title: "t", Files: []fixes.File{{Path: "/etc/x", Mode: "0644", Content: "a\nEOF\nb\n"}}}}},
		{Steps: []fixes.Step{{ID: "x", Title: "t", Files: []fixes.File{{Path: "/etc/x", Mode: "0644", Content: "ROOTLESS_DOCTOR_FILE\n"}}}}},
		{Steps: []fixes.Step{{ID: "x", Title: "t", Files: []fixes.File{{Path: "/etc/x", Mode: "0644", Content: "no newline"}}}}},
		{Steps: []fixes.Step{{ID: "x", Title: "t", Files: []fixes.File{{Path: "etc/x", Mode: "0644", Content: "a\n"}}}}},
		{Steps: []fixes.Step{{ID: "x", Title: "t", Files: []fixes.File{{Path: "/etc/x", Mode: "0644; rm", Content: "a\n"}}}}},
		{Steps: []fixes.Step{{ID: "x", Title: ""}}},
	}
	for i, p := range bad {
		var b bytes.Buffer
		for name, fn := range map[string]func() error{
			"script":  func() error { return WritePlanScript(&b, p, false) },
			"text":    func() error { return WritePlanText(&b, p) },
			"ansible": func() error { return WritePlanAnsible(&b, p) },
		} {
			if err := fn(); !errors.Is(err, fixes.ErrUnsafe) {
				t.Errorf("plan %d, %s: err = %v", i, name, err)
			}
		}
	}
}

// TestJSONRoundTrip: the JSON holds everything the script needs, and a plan read back from
// JSON renders the same script and still gives a valid playbook (without the typed tasks).
func TestJSONRoundTrip(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			p := buildScenario(t, sc)
			var back fixes.Plan
			if err := json.Unmarshal([]byte(renderPlan(t, p, "json")), &back); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"script", "root", "text", "json"} {
				if a, b := renderPlan(t, p, f), renderPlan(t, back, f); a != b {
					t.Errorf("%s differs after a JSON round trip:\n%s\n---\n%s", f, a, b)
				}
			}
			var b bytes.Buffer
			if err := WritePlanAnsible(&b, back); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "hosts: all") {
				t.Fatalf("playbook:\n%s", b.String())
			}
		})
	}
}

// TestQuoting: values that are safe but special to the shell come out quoted.
func TestQuoting(t *testing.T) {
	h := host.NewMemory().File("/etc/passwd", "host$:x:1500:1500::/:/bin/false\n").Host()
	p, err := fixes.Build(fixes.Input{Env: &facts.Env{Distro: debian(t), Host: h}, Requests: []fixes.Request{
		req("session.linger", finding.EnableLinger("host$", "r")),
		req("idmap.subuid", finding.AddSubIDs("host$", "both", 10, nil, "r")),
		req("userns.apparmor", finding.AppArmorProfile("/opt/my tools/rootlesskit", "r")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	script := renderPlan(t, p, "root")
	for _, want := range []string{
		"[ -e '/var/lib/systemd/linger/host$' ] || loginctl enable-linger 'host$'",
		"usermod --add-subuids 100000-100009 --add-subgids 100000-100009 'host$'",
		"grep -qxF 'host$:100000:10' /etc/subuid",
		`profile rootless-doctor.opt.my_tools.rootlesskit "/opt/my tools/rootlesskit" flags=(unconfined) {`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	checkShell(t, p)
	for _, tt := range []struct{ in, want string }{
		{"alice", "alice"}, {"", "''"}, {"a b", "'a b'"}, {"it's", `'it'\''s'`}, {"$HOME", "'$HOME'"},
		{"a;b", "'a;b'"}, {"~x", "'~x'"}, {"*", "'*'"}, {"/usr/bin/x", "/usr/bin/x"},
	} {
		if got := fixes.ShellQuote(tt.in); got != tt.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestEmptyPlan(t *testing.T) {
	if got := renderPlan(t, fixes.Plan{}, "json"); got != "{\n  \"steps\": []\n}\n" {
		t.Fatalf("zero plan JSON = %q", got)
	}
	if got := renderPlan(t, fixes.Plan{}, "text"); got != "Nothing to fix.\n" {
		t.Fatalf("zero plan text = %q", got)
	}
}
