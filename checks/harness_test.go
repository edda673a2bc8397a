package checks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// The probes' test harness: one way to run a probe over a host in a table test (result,
// runProbeTests, checkResult, through the runner and its policies, as a report sees it) and
// one way to call it directly (callDirect, where a panic is the test's failure, not a
// result), and the host every table starts from (alice).

// probeTest is one row of a probe's table test: a host, an optional --user, and what the
// result must be.
type probeTest struct {
	name    string
	host    *host.Memory
	user    string
	status  finding.Status
	summary string   // substring of the summary ("" = not checked)
	fixes   []string // exact FixIDs (nil = not checked)
}

// runProbeTests runs a probe over each row with the runner's policies applied.
func runProbeTests(t *testing.T, p Probe, tests []probeTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := facts.NewEnv(context.Background(), tt.host.Host(), tt.user)
			r := Run(context.Background(), []Probe{p}, env, Options{Sequential: true})[0]
			checkResult(t, r, tt.status, tt.summary, tt.fixes)
		})
	}
}

func checkResult(t *testing.T, r finding.Result, status finding.Status, summary string, wantFixes []string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %s, want %s (summary %q, details %q)", r.Status, status, r.Summary, r.Details)
	}
	if summary != "" && !strings.Contains(r.Summary, summary) {
		t.Errorf("summary = %q, want it to contain %q", r.Summary, summary)
	}
	if wantFixes != nil {
		got := fixes.FixIDs(r)
		if len(got) != len(wantFixes) {
			t.Errorf("fixes = %q, want %q", got, wantFixes)
			return
		}
		for i := range got {
			if got[i] != wantFixes[i] {
				t.Errorf("fixes = %q, want %q", got, wantFixes)
				return
			}
		}
	}
}

// alice is a host with an ordinary account alice (1000) whose home exists and is hers.
func alice() *host.Memory {
	return host.NewMemory().
		File("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n").
		File("/etc/group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\nkvm:x:104:alice\n").
		Dir("/home/alice").Meta("/home/alice", host.FileMeta{Mode: "0750", UID: host.Int(1000), GID: host.Int(1000)}).
		Dir("/root").Meta("/root", host.FileMeta{Mode: "0700"})
}

// result runs p once over m for tests that look at details and evidence, with the runner's
// policies applied.
func result(t *testing.T, p Probe, m *host.Memory, user string) finding.Result {
	t.Helper()
	env := facts.NewEnv(context.Background(), m.Host(), user)
	return Run(context.Background(), []Probe{p}, env, Options{Sequential: true})[0]
}

// callDirect calls p.Run itself, without the runner that would turn a panic into a result:
// a panic fails the test. The result is the probe's own, before the runner's policies.
func callDirect(t *testing.T, p Probe, env *facts.Env) (r finding.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("%s panicked: %v", p.ID, v)
		}
	}()
	return p.Run(ctx, env)
}
