package proof

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// pidsHierarchy is a directory where the pids controller runs: the cgroup v2 root when pids is
// among its controllers, else the cgroup v1 pids hierarchy. "" when neither is mounted.
func pidsHierarchy() string {
	if b, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil &&
		strings.Contains(" "+strings.TrimSpace(string(b))+" ", " pids ") {
		return cgroupRoot
	}
	var st unix.Statfs_t
	if unix.Statfs(filepath.Join(cgroupRoot, "pids"), &st) == nil && st.Type == unix.CGROUP_SUPER_MAGIC {
		return filepath.Join(cgroupRoot, "pids")
	}
	return ""
}

// Issue 12, problem 4: in a delegated group the proof reported "pids.max=1 ... did not stop a
// fork" while pids.events said "max 1": /bin/sh (dash) exits with "Cannot fork" instead of
// taking the else branch, so the shell's answer was empty and read as a fork that went
// through. Here the kernel enforces pids.max for real (the v2 root's pids controller, or the
// v1 pids hierarchy of a hybrid host, whose pids.max/pids.events/cgroup.procs are the same
// files), and the step must pass.
func TestEnforcePidsKernelRefusal(t *testing.T) {
	if testing.Short() {
		t.Skip("live cgroup test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("live cgroup test: needs root to create a group with a pids limit")
	}
	root := pidsHierarchy()
	if root == "" {
		t.Skip("live cgroup test: no pids controller mounted (cgroup v2 root without pids, no v1 pids hierarchy)")
	}
	parent := filepath.Join(root, fmt.Sprintf("rootless-doctor-test-%d", os.Getpid()))
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Skipf("live cgroup test: cannot create a group in %s: %v", root, err)
	}
	t.Cleanup(func() {
		if err := os.Remove(parent); err != nil {
			t.Errorf("removing %s: %v", parent, err)
		}
	})
	if root == cgroupRoot {
		if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+pids"), 0); err != nil {
			t.Skipf("live cgroup test: cannot enable pids in %s: %v", parent, err)
		}
	}
	s := enforcePids(stepReport{}, parent)
	if s.Status != finding.Pass {
		t.Errorf("got %s %q, want pass; evidence %v", s.Status, s.Summary, s.Evidence)
	}
	var events string
	for _, e := range s.Evidence {
		if strings.HasSuffix(e.Source, "/pids.events") {
			events = e.Value
		}
	}
	if !strings.Contains(events, "max 1") {
		t.Errorf("pids.events evidence = %q, want max 1", events)
	}
}

// The verdict is the kernel's counter, whatever the shell printed (dash prints nothing and
// exits 2 when fork fails; bash says "fork: retry" and then "refused").
func TestPidsVerdict(t *testing.T) {
	tests := []struct {
		line, events string
		want         finding.Status
	}{
		{"", "max 1\n", finding.Pass}, // dash: "sh: 1: Cannot fork", exit 2 (issue 12)
		{"refused", "max 3\n", finding.Pass},
		{"forked", "max 0\n", finding.Fail},
		{"forked", "max 1\n", finding.Fail},
		{"refused", "max 0\n", finding.Warn},
		{"", "", finding.Warn},
		{"", "max garbage\nmax\n", finding.Warn},
	}
	for _, tt := range tests {
		if got, sum := pidsVerdict(tt.line, tt.events); got != tt.want {
			t.Errorf("pidsVerdict(%q, %q) = %s %q, want %s", tt.line, tt.events, got, sum, tt.want)
		}
	}
}
