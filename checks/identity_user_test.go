package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

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

func TestIdentityUser(t *testing.T) {
	root := host.Identity{UID: 0, GID: 0, Name: "root"}
	runProbeTests(t, identityUser, []probeTest{
		{name: "ordinary account", host: alice(), status: finding.Pass, summary: "alice (uid 1000)"},
		{name: "root without --user", host: alice().Self(root), status: finding.Fail, summary: "running as root"},
		{name: "root with --user", host: alice().Self(root), user: "alice", status: finding.Pass},
		{name: "root with numeric --user", host: alice().Self(root), user: "1000", status: finding.Pass},
		{name: "--user root", host: alice().Self(root), user: "root", status: finding.Fail, summary: "root is root"},
		{name: "unknown --user", host: alice().Self(root), user: "mallory", status: finding.Fail, summary: `"mallory" does not exist`},
		{name: "home missing", host: alice().Self(root), user: "bob", status: finding.Fail, summary: "does not exist", fixes: []string{"manual.create-home"}},
		{name: "home not writable", host: alice().Meta("/home/alice", host.FileMeta{Mode: "0755", UID: host.Int(0)}), status: finding.Fail, summary: "cannot write"},
		{name: "home is a file", host: alice().File("/home/alice", "x"), status: finding.Fail, summary: "not a directory"},
		{name: "no passwd at all", host: host.NewMemory(), status: finding.Fail},
		{name: "garbage passwd", host: alice().File("/etc/passwd", "\x00\xff::::\n:::::::::::\nalice"), status: finding.Fail},
		{name: "account only from getent", host: host.NewMemory().
			Command([]string{"getent", "passwd", "1000"}, "alice:*:1000:1000::/home/alice:/bin/sh\n", 0).
			Dir("/home/alice").Meta("/home/alice", host.FileMeta{UID: host.Int(1000)}), status: finding.Pass},
	})
}
