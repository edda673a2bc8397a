package proof

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/runtime/service"
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
	parent := livePidsGroup(t, "rootless-doctor-test")
	s := enforcePids(stepReport{}, parent, nil)
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

// livePidsGroup creates root/NAME-PID in the pids hierarchy (pids enabled for its children on
// cgroup v2), removed at the end of the test; it skips the test where that cannot be done.
func livePidsGroup(t *testing.T, name string) string {
	t.Helper()
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
	parent := filepath.Join(root, fmt.Sprintf("%s-%d", name, os.Getpid()))
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
	return parent
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

// From a login shell (session-N.scope, parent not delegated) the step asks the user manager
// for a delegated scope (issue 12, problem 1); here the manager is a function and the cgroup
// tree plain files, so the decisions are checked without systemd (the live test is
// TestLiveCgroupScopeFromSession).
func TestCgroupScope(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	const session = "/user.slice/user-1000.slice/session-3.scope"
	const scope = "/user.slice/user-1000.slice/user@1000.service/app.slice/rootless-doctor-proof-1.scope"
	tests := []struct {
		name        string
		controllers string
		scopeErr    error
		want        finding.Status
		substr      string
		stopped     bool
	}{
		{"no user manager", "", fmt.Errorf("%w: no user bus", service.ErrNoManager), finding.Skip, "gave no delegated scope: no systemd user manager: no user bus", false},
		{"scope without pids", "cpu memory", nil, finding.Warn, "no pids controller", true},
		// Plain files enforce nothing: the shell forks, and the step says so.
		{"scope with pids", "cpu memory pids", nil, finding.Fail, "not enforced", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, scope)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte(tt.controllers+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var askedPid int
			stopped := false
			h := cgroupHost{mode: cgroups.Unified, root: root,
				own:      func() (string, error) { return session, nil },
				writable: func(string) bool { return false },
				scope: func(name string, pids []int) (func(), error) {
					askedPid = pids[0]
					if !strings.HasSuffix(name, ".scope") {
						t.Errorf("scope name %q", name)
					}
					if tt.scopeErr != nil {
						return nil, tt.scopeErr
					}
					return func() { stopped = true }, nil
				},
				groupOf: func(pid int) (string, error) {
					if pid != askedPid {
						t.Errorf("groupOf(%d), the scope was asked for %d", pid, askedPid)
					}
					return scope, nil
				},
			}
			s := cgroupProve(h)
			if s.Status != tt.want || !strings.Contains(s.Summary, tt.substr) {
				t.Errorf("got %s %q, want %s containing %q", s.Status, s.Summary, tt.want, tt.substr)
			}
			if stopped != tt.stopped {
				t.Errorf("scope stopped = %v, want %v", stopped, tt.stopped)
			}
			if askedPid == 0 || unix.Kill(askedPid, 0) == nil {
				t.Errorf("the shell %d moved into the scope is still running", askedPid)
			}
		})
	}
}

// The VM lab (debian12 without dbus-user-session after its fix, debian13 stock): in the user
// manager's transient scope the proof sometimes said "pids.events counted no refusal" with
// pids.events read as "": systemd stops a scope whose last process has exited and removes its
// cgroup, child group and all, and the forking shell was the scope's only process, exiting
// right after the refused fork. Here the kernel enforces a real pids.max=1 (the v2 root's pids
// controller or the v1 pids hierarchy; the scope's tree is plain files), and the stand-in for
// systemd answers the read of pids.events only while a process the scope was given still runs,
// as the real group would still exist only then: the step must pass every time.
func TestCgroupScopeReadsBeforeTheScopeEmpties(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	parent := livePidsGroup(t, "rootless-doctor-test-scope")
	limited := filepath.Join(parent, "limited")
	if err := os.Mkdir(limited, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(limited); err != nil {
			t.Errorf("removing %s: %v", limited, err)
		}
	})
	if err := os.WriteFile(filepath.Join(limited, "pids.max"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}

	const session = "/user.slice/user-1000.slice/session-3.scope"
	const scope = "/user.slice/user-1000.slice/user@1000.service/app.slice/rootless-doctor-proof-1.scope"
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, scope), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, scope, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var held []int
	h := cgroupHost{mode: cgroups.Unified, root: tree,
		own:      func() (string, error) { return session, nil },
		writable: func(string) bool { return false },
		// The manager moves the processes into the scope: here into the kernel's limited group.
		scope: func(name string, pids []int) (func(), error) {
			held = pids
			for _, pid := range pids {
				if err := os.WriteFile(filepath.Join(limited, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0); err != nil {
					return nil, err
				}
			}
			return func() {}, nil
		},
		groupOf: func(int) (string, error) { return scope, nil },
		read: func(path string) ([]byte, error) {
			if filepath.Base(path) != "pids.events" {
				return os.ReadFile(path)
			}
			for _, pid := range held {
				if unix.Kill(pid, 0) == nil {
					return os.ReadFile(filepath.Join(limited, "pids.events"))
				}
			}
			// Every process of the scope has exited: systemd has removed its cgroup.
			return nil, &os.PathError{Op: "open", Path: path, Err: unix.ENOENT}
		},
	}
	s := cgroupProve(h)
	if s.Status != finding.Pass {
		t.Errorf("got %s %q, want pass; evidence %v", s.Status, s.Summary, s.Evidence)
	}
	for _, pid := range held {
		if unix.Kill(pid, 0) == nil {
			t.Errorf("process %d given to the scope is still running", pid)
		}
	}
}
