package proof

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/runtime/service"
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
// the shell's fork and counts it in pids.events. When the parent is not delegated (a login
// shell's session scope), it asks the systemd user manager for a delegated scope first
// (scopeProve).
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
		scope:    userManagerScope,
		read:     os.ReadFile,
		groupOf: func(pid int) (string, error) {
			_, g, err := cgroups.ParseCgroupFileUnified(fmt.Sprintf("/proc/%d/cgroup", pid))
			return g, err
		},
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
	// scope asks the user manager for a transient scope with Delegate=yes holding pids; stop
	// stops it. nil: no user manager is asked.
	scope func(name string, pids []int) (stop func(), err error)
	// groupOf is pid's cgroup v2 group.
	groupOf func(pid int) (string, error)
	// read reads pids.events (os.ReadFile; a test stands in for systemd removing the group of
	// a scope whose processes have all exited).
	read func(path string) ([]byte, error)
}

// scopeTimeout bounds the talk with the user manager: connecting (service.Connect's own 10 s),
// the scope's start job and its stop.
const scopeTimeout = 20 * time.Second

// userManagerScope is cgroupHost.scope on the live host: the user manager on the account's
// bus ($DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus).
func userManagerScope(name string, pids []int) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), scopeTimeout)
	c, err := service.Connect(ctx, service.BusAddress())
	if err != nil {
		cancel()
		return nil, err
	}
	if err := service.StartDelegatedScope(ctx, c, name, pids...); err != nil {
		c.Close()
		cancel()
		return nil, err
	}
	return func() {
		_ = service.StopUnit(ctx, c, name)
		c.Close()
		cancel()
	}, nil
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
		return scopeProve(s, h, own)
	}
	sub, _ := os.ReadFile(filepath.Join(parentDir, "cgroup.subtree_control"))
	s = s.with(filepath.Join(parentDir, "cgroup.subtree_control"), strings.TrimSpace(string(sub)))
	if !hasController(string(sub), "pids") {
		return noPids(s, "the pids controller is not enabled for the delegated group: --pids-limit will not work")
	}
	return enforcePids(s, parentDir, h.read)
}

func hasController(list, c string) bool {
	return slices.Contains(strings.Fields(list), c)
}

func noPids(s stepReport, summary string) stepReport {
	s.Status, s.Summary = finding.Warn, summary
	return s.detail("See cgroup.delegation.").
		fixWith(finding.DelegateControllers([]string{"cpu", "cpuset", "io", "memory", "pids"}, "rootless engines set limits through delegated controllers"))
}

// scopeProve is the proof from a group whose parent is not the account's, a login shell's
// session-N.scope on every systemd host: it does what rootless engines do there, ask the user
// manager for a transient scope with Delegate=yes (issue 12: before, the step was skipped on
// the most common host). The shell that forks is moved into the scope by the manager, then
// into a child group of the scope (a group with processes cannot enable controllers for its
// children, "no internal processes", Documentation/admin-guide/cgroup-v2.rst), where pids.max=1
// is set.
//
// A second process, the keeper, goes into the scope and the child group with the shell and
// stays until pids.events is read: systemd stops a transient scope once its last process has
// exited and removes its cgroup with the child group in it (scope_notify_cgroup_empty_event,
// https://github.com/systemd/systemd/blob/v257/src/core/scope.c),
// and the shell exits right after the refused fork. Without the keeper the read raced systemd
// and sometimes found no pids.events (the VM lab: debian12 without dbus-user-session after its
// fix, debian13 stock: "pids.events counted no refusal" while the engines' limits held).
func scopeProve(s stepReport, h cgroupHost, own string) stepReport {
	notDelegated := fmt.Sprintf("the proof runs in %s, whose parent is not delegated to this account", own)
	if h.scope == nil || h.groupOf == nil {
		s.Status, s.Summary = finding.Skip, notDelegated+": no group to set a limit in"
		return s.detail("To prove limits here, run the proof inside a delegated scope: systemd-run --user --scope -p Delegate=yes rootless-doctor prove.")
	}
	sh, err := startForkShell()
	if err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot start a shell: %v", err)
		return s
	}
	defer sh.kill()
	keep, err := startShell(`read _`)
	if err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot start a shell: %v", err)
		return s
	}
	defer keep.kill()
	name := fmt.Sprintf("rootless-doctor-proof-%d.scope", os.Getpid())
	stop, err := h.scope(name, []int{sh.cmd.Process.Pid, keep.cmd.Process.Pid})
	if err != nil {
		s.Status, s.Summary = finding.Skip, fmt.Sprintf("%s, and the systemd user manager gave no delegated scope: %v", notDelegated, err)
		return s.detail("Rootless engines ask the user manager for a scope with Delegate=yes (a logind session with user@.service: libpam-systemd, dbus-user-session); without one they cannot set limits. cgroup.delegation and session.* say what is missing.")
	}
	defer stop()
	group, err := h.groupOf(sh.cmd.Process.Pid)
	if err != nil || group == "" || group == own {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("the user manager started %s but did not move the proof's shell into it (its group: %q, %v)", name, group, err)
		return s
	}
	scopeDir := filepath.Join(h.root, group)
	s = s.with("systemd --user", fmt.Sprintf("transient %s with Delegate=yes: %s", name, group))
	ctl, _ := os.ReadFile(filepath.Join(scopeDir, "cgroup.controllers"))
	s = s.with(filepath.Join(scopeDir, "cgroup.controllers"), strings.TrimSpace(string(ctl)))
	if !hasController(string(ctl), "pids") {
		return noPids(s, "the user manager's delegated scope has no pids controller: --pids-limit will not work")
	}
	return enforceIn(s, scopeDir, sh, keep, true, h.read)
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
func enforcePids(s stepReport, parentDir string, read func(string) ([]byte, error)) stepReport {
	sh, err := startForkShell()
	if err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot start a shell: %v", err)
		return s
	}
	defer sh.kill()
	return enforceIn(s, parentDir, sh, nil, false, read)
}

// enforceIn creates parentDir/rootless-doctor-proof-PID, moves sh (and keep, when not nil)
// into it, sets pids.max=1 (after enabling pids in parentDir when enable), lets sh fork and
// reads pids.events with read (os.ReadFile when nil) while keep still holds the group.
func enforceIn(s stepReport, parentDir string, sh, keep *forkShell, enable bool, read func(string) ([]byte, error)) stepReport {
	if read == nil {
		read = os.ReadFile
	}
	dir := filepath.Join(parentDir, fmt.Sprintf("rootless-doctor-proof-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot create a child group in the delegated %s: %v", parentDir, err)
		return s
	}
	// Removed after the shells have exited (sh.fork waits for sh; the kills otherwise).
	defer os.Remove(dir)
	defer sh.kill()
	procs := []*forkShell{sh}
	if keep != nil {
		defer keep.kill()
		procs = append(procs, keep)
	}
	for _, p := range procs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(p.cmd.Process.Pid)), 0); err != nil {
			s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot move a process into the child group: %v", err)
			return s
		}
	}
	if enable {
		if err := os.WriteFile(filepath.Join(parentDir, "cgroup.subtree_control"), []byte("+pids"), 0); err != nil {
			s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot enable the pids controller in the delegated %s: %v", parentDir, err)
			return s
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte("1"), 0); err != nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("cannot set pids.max in %s: %v", dir, err)
		return s
	}
	line, werr, stderr := sh.fork()
	events, _ := read(filepath.Join(dir, "pids.events"))
	s = s.with(filepath.Join(dir, "pids.max"), "1").with(filepath.Join(dir, "pids.events"), strings.TrimSpace(string(events))).
		with("fork in the group", forkEvidence(line, werr, stderr))
	s.Status, s.Summary = pidsVerdict(strings.TrimSpace(line), string(events))
	return s
}

// forkShell is the process that forks once in the limited group: it waits for a line, then
// runs /bin/true.
type forkShell struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
	stderr strings.Builder
	waited bool
}

func startForkShell() (*forkShell, error) {
	return startShell(`read _; if /bin/true; then echo forked; else echo refused; fi`)
}

// startShell starts /bin/sh -c script with its stdin and stdout on pipes.
func startShell(script string) (*forkShell, error) {
	sh := &forkShell{cmd: exec.Command("/bin/sh", "-c", script)}
	sh.stdin, _ = sh.cmd.StdinPipe()
	sh.stdout, _ = sh.cmd.StdoutPipe()
	sh.cmd.Stderr = &sh.stderr
	if err := sh.cmd.Start(); err != nil {
		return nil, err
	}
	return sh, nil
}

// fork lets the shell fork and waits for it: its answer, how it ended, what it printed on stderr.
func (sh *forkShell) fork() (line string, werr error, stderr string) {
	_, _ = io.WriteString(sh.stdin, "go\n")
	_ = sh.stdin.Close()
	line, _ = bufio.NewReader(io.LimitReader(sh.stdout, 4096)).ReadString('\n')
	werr = sh.cmd.Wait()
	sh.waited = true
	return line, werr, sh.stderr.String()
}

func (sh *forkShell) kill() {
	if !sh.waited {
		sh.waited = true
		_ = sh.cmd.Process.Kill()
		_ = sh.cmd.Wait()
	}
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
