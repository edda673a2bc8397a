package proof

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

const cgroupRoot = "/sys/fs/cgroup"

// cgroupStep proves that a pids limit is enforced in a cgroup v2 group delegated to the
// account. It runs in the parent role, as the account, on the host side.
//
// Only cgroup v2 lets an unprivileged user set limits, and only in a delegated subtree: the
// directory and its cgroup.procs belong to the user, and moving a process between two groups
// needs write access to cgroup.procs of their common ancestor. The proof therefore creates a
// sibling of its own group when that group's parent is delegated (a `systemd-run --user
// --scope -p Delegate=yes` scope, a systemd --user service, a container with a delegated
// cgroup namespace), moves a shell into it, sets pids.max=1 and checks that the kernel refuses
// the shell's fork and counts it in pids.events.
func cgroupStep() stepReport {
	t := time.Now()
	s := cgroupProve(cgroupHost{
		mode: cgroups.Mode(),
		own: func() (string, error) {
			_, own, err := cgroups.ParseCgroupFileUnified("/proc/self/cgroup")
			return own, err
		},
		root:     cgroupRoot,
		writable: func(p string) bool { return unix.Access(p, unix.W_OK) == nil },
	})
	s.ID, s.Duration = StepCgroup, time.Since(t)
	return s
}

// cgroupHost is what the cgroup step reads, so that its decisions are tested without a kernel.
type cgroupHost struct {
	mode     cgroups.CGMode
	own      func() (string, error)
	root     string
	writable func(path string) bool
}

func cgroupProve(h cgroupHost) stepReport {
	switch h.mode {
	case cgroups.Hybrid:
		return stepReport{Status: finding.Skip,
			Summary: "cgroup v1 with a v2 hierarchy beside it (hybrid): rootless engines cannot set resource limits here, so there is no limit to prove"}.
			with(cgroupRoot, "tmpfs with v1 controllers; cgroup2 at "+cgroupRoot+"/unified").
			detail("Limits (--memory, --pids-limit, --cpus) need cgroup v2 with delegation: boot with systemd.unified_cgroup_hierarchy=1 (see cgroup.version).")
	case cgroups.Legacy:
		return stepReport{Status: finding.Skip,
			Summary: "cgroup v1: rootless engines cannot set resource limits here, so there is no limit to prove"}.
			with(cgroupRoot, "tmpfs with v1 controllers").
			detail("Limits need cgroup v2 with delegation (see cgroup.version).")
	case cgroups.Unavailable:
		return stepReport{Status: finding.Skip, Summary: "no cgroup filesystem is mounted at " + cgroupRoot}
	}
	own, err := h.own()
	if err != nil || own == "" {
		return stepReport{Status: finding.Skip, Summary: fmt.Sprintf("cannot find the own cgroup v2 group: %v", err)}
	}
	group := filepath.Join(h.root, own)
	parentDir := filepath.Dir(group)
	s := stepReport{}.with("/proc/self/cgroup", "0::"+own)
	if own == "/" || !h.writable(filepath.Join(parentDir, "cgroup.procs")) || !h.writable(parentDir) {
		s.Status = finding.Skip
		s.Summary = fmt.Sprintf("the proof runs in %s, whose parent is not delegated to this account: no group to set a limit in", own)
		return s.detail("Rootless engines ask the systemd user manager for a scope with Delegate=yes; the static probe cgroup.delegation checks that user@.service delegates the controllers. To prove limits here, run the proof inside such a scope: systemd-run --user --scope -p Delegate=yes rootless-doctor prove.")
	}
	sub, _ := os.ReadFile(filepath.Join(parentDir, "cgroup.subtree_control"))
	s = s.with(filepath.Join(parentDir, "cgroup.subtree_control"), strings.TrimSpace(string(sub)))
	if !strings.Contains(" "+strings.TrimSpace(string(sub))+" ", " pids ") {
		s.Status = finding.Warn
		s.Summary = "the pids controller is not enabled for the delegated group: --pids-limit will not work"
		return s.detail("See cgroup.delegation.").
			fixWith(finding.DelegateControllers([]string{"cpu", "cpuset", "io", "memory", "pids"}, "rootless engines set limits through delegated controllers"))
	}
	return enforcePids(s, parentDir)
}

func (s stepReport) fixWith(in ...finding.Intent) stepReport {
	s.Intents = append(s.Intents, in...)
	return s
}

// enforcePids creates parentDir/rootless-doctor-proof-PID with pids.max=1, moves a shell in and
// asks it to fork. The verdict is the kernel's: pids.events counts in "max N" the forks the
// pids controller refused. The shell's own answer cannot decide it: dash (Debian's /bin/sh)
// does not take the else branch when fork fails, it prints "Cannot fork" and exits 2, so
// until issue 12 an empty answer was read as a fork that went through and the step failed on
// every systemd host while its own evidence said "pids.events: max 1".
func enforcePids(s stepReport, parentDir string) stepReport {
	dir := filepath.Join(parentDir, fmt.Sprintf("rootless-doctor-proof-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot create a child group in the delegated %s: %v", parentDir, err)
		return s
	}
	defer os.Remove(dir)
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte("1"), 0); err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot set pids.max in %s: %v", dir, err)
		return s
	}
	// The shell waits for a line, then forks once: with pids.max=1 the fork must fail.
	cmd := exec.Command("/bin/sh", "-c", `read _; if /bin/true; then echo forked; else echo refused; fi`)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot start a shell: %v", err)
		return s
	}
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot move a process into the child group: %v", err)
		return s
	}
	_, _ = io.WriteString(stdin, "go\n")
	_ = stdin.Close()
	line, _ := bufio.NewReader(io.LimitReader(stdout, 4096)).ReadString('\n')
	// The shell exits by itself (forked, refused or "Cannot fork"); its status and stderr are
	// evidence. stderr is read after Wait, which the Builder needs.
	werr := cmd.Wait()
	waited = true
	events, _ := os.ReadFile(filepath.Join(dir, "pids.events"))
	s = s.with(filepath.Join(dir, "pids.max"), "1").with(filepath.Join(dir, "pids.events"), strings.TrimSpace(string(events))).
		with("fork in the group", forkEvidence(line, werr, stderr.String()))
	s.Status, s.Summary = pidsVerdict(strings.TrimSpace(line), string(events))
	return s
}

// forkEvidence is what the shell said and how it ended: "forked", or "sh: 1: Cannot fork
// (exit status 2)".
func forkEvidence(line string, werr error, stderr string) string {
	parts := []string{}
	if l := strings.TrimSpace(line); l != "" {
		parts = append(parts, l)
	}
	if e := strings.TrimSpace(stderr); e != "" {
		parts = append(parts, finding.Clip(e, 200))
	}
	if werr != nil {
		parts = append(parts, "("+werr.Error()+")")
	}
	return strings.Join(parts, " ")
}

// pidsVerdict reads the kernel's verdict: "max N" in pids.events with N > 0 is a fork the pids
// controller refused (Documentation/admin-guide/cgroup-v2.rst, "PID"). A shell that says
// "forked" ran a child in a group with pids.max=1: the limit is not enforced.
func pidsVerdict(line, events string) (finding.Status, string) {
	refused := pidsMaxEvents(events)
	switch {
	case line == "forked":
		return finding.Fail, "pids.max=1 in a delegated child group did not stop a fork: limits are not enforced"
	case refused > 0:
		return finding.Pass, fmt.Sprintf("cgroup v2 delegation: the kernel refused a fork in a child group with pids.max=1 (pids.events max %d)", refused)
	}
	return finding.Warn, "a fork in a child group with pids.max=1 did not go through, but pids.events counted no refusal: the limit could not be confirmed"
}

// pidsMaxEvents is N of the "max N" line of pids.events, 0 when absent or unreadable.
func pidsMaxEvents(events string) int {
	for _, l := range strings.Split(events, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), " "); ok && k == "max" {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}
