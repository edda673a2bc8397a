// Package proof is the live proof of rootless-doctor (README.md, "The live proof"): it starts the same
// namespaces a rootless engine starts, with rootlesskit v3 embedded as a library, and reports
// each step as a runtime.* result.
//
// The payload is the rootless-doctor binary itself (no image, no network, no container
// runtime): rootlesskit re-executes it inside the new user, mount and network namespaces, where
// it checks the id maps, pivots into a private root, mounts overlayfs, looks at the network
// interface and answers a round trip through a published port. Dispatch (dispatch.go) must run
// first in main() and in every TestMain so that the re-executed binary plays its role.
//
// A failed step names the static probe and the fix intent that explain it (explain.go), so
// `fix` includes the remedy even when the static probe missed it.
package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/internal/safefs"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// Options are the knobs of Run.
type Options struct {
	// User is the account to prove the host for (name or uid). Empty: the running account.
	// As root, the proof runs as that account (setuid/setgid and its groups, HOME and
	// XDG_RUNTIME_DIR for it); as anyone else it must name the running account.
	User string
	// Net is the network driver: auto (slirp4netns, then pasta, then the in-process
	// gvisor-tap-vsock driver), slirp4netns, pasta, gvisor or none. Empty means auto.
	Net string
	// Timeout bounds the whole proof; zero means DefaultTimeout. rootlesskit waits on its
	// helpers without one, so a hung newuidmap or slirp4netns would otherwise hang the doctor.
	// The network driver gets a third of it (a hung driver is then blamed and the other
	// steps are still proven without a network namespace).
	Timeout time.Duration
	// Progress, when set, is called (from Run's goroutine) each time a step is seen to end, as
	// the proof's processes report it: live progress on a terminal. The results Run returns
	// are the final word (they add what only the end knows: the parent's timings, the ranges).
	Progress func(Event)
}

// Event is a step of a running proof seen to end.
type Event struct {
	ID       string
	Status   finding.Status
	Summary  string
	Duration time.Duration
}

// DefaultTimeout is the proof's time limit when Options.Timeout is zero. The proof takes a
// fraction of a second on a healthy host.
const DefaultTimeout = 30 * time.Second

// Nets lists the values Options.Net accepts.
func Nets() []string {
	return []string{rootlesskit.NetAuto, rootlesskit.NetSlirp4netns, rootlesskit.NetPasta, rootlesskit.NetGvisor, rootlesskit.NetNone}
}

// StepInfo describes a step for `explain`: what it proves and the static probes whose findings
// explain its failures (explain.go names one of them in a failed step's summary).
type StepInfo struct {
	ID, Title string
	Proves    string
	Probes    []string
}

var steps = []StepInfo{
	{StepUserNS, "User namespace (live)", "rootlesskit's child starts in new user and mount namespaces and the payload runs inside as uid 0 with full capabilities, in a user namespace that is not the host's.",
		[]string{"userns.clone", "userns.max", "userns.apparmor", "kernel.version"}},
	{StepIDMap, "Subordinate id mapping (live)", "newuidmap and newgidmap map the account's id and its full subordinate ranges (the maps inside cover every range rootlesskit computed), and a file chowned to 1000:1000 inside keeps that owner, as image layers need.",
		[]string{"idmap.newuidmap", "idmap.subuid", "idmap.subgid"}},
	{StepMount, "Mount namespace and pivot_root (live)", "a new mount and pid namespace: pivot_root into a private tmpfs root holding the payload, /proc mounted there, the payload runs from it.",
		[]string{"mount.propagation", "userns.apparmor"}},
	{StepOverlay, "Overlay mount in the user namespace (live)", "an overlay mount with copy-up and whiteouts inside the user namespace (else fuse-overlayfs), which names the storage driver that will work.",
		[]string{"storage.driver"}},
	{StepNetwork, "Network namespace and driver (live)", "the network driver (auto: slirp4netns, then pasta, then the in-process gvisor-tap-vsock) brings the interface up in a new network namespace; a driver that hangs is stopped after a third of --timeout and blamed here.",
		[]string{"net.driver", "net.tun"}},
	{StepPort, "Published port round trip (live)", "a TCP listener inside, published on 127.0.0.1 by rootlesskit's builtin port driver, answers a round trip from the host.",
		[]string{"net.driver"}},
	{StepCgroup, "cgroup v2 limit (live)", "with cgroup v2 delegation, a child cgroup's pids limit is enforced: the kernel refuses a fork and counts it in pids.events; from a login shell, in a transient scope with Delegate=yes the systemd user manager starts over D-Bus (skipped on cgroup v1 and hybrid hosts, or without a user manager, with the reason).",
		[]string{"cgroup.version", "cgroup.delegation"}},
}

// Steps lists the steps in report order, for `explain` and `probes`.
func Steps() []StepInfo { return append([]StepInfo(nil), steps...) }

// StepIDs lists the runtime.* ids in report order, so that `check --static` and `check --root`
// can list them as skipped.
func StepIDs() []string {
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	return ids
}

// Title returns the report title of a step id.
func Title(id string) string {
	for _, s := range steps {
		if s.ID == id {
			return s.Title
		}
	}
	return id
}

// Skipped returns every step as a skip with the given reason (for --static, --root, root
// without --user).
func Skipped(reason string) []finding.Result {
	out := make([]finding.Result, 0, len(steps))
	for _, s := range steps {
		r := finding.Skipf("%s", reason)
		r.ID, r.Title = s.ID, s.Title
		out = append(out, r)
	}
	return out
}

// Run runs the live proof and returns one result per step, in StepIDs order. The error is only
// for a proof that could not even start (bad options, unknown account, no state dir, the
// helper process did not start); a step that fails is a result.
func Run(ctx context.Context, opts Options) ([]finding.Result, error) {
	netName := opts.Net
	if netName == "" {
		netName = rootlesskit.NetAuto
	}
	valid := false
	for _, n := range Nets() {
		valid = valid || n == netName
	}
	if !valid {
		return nil, fmt.Errorf("unknown network driver %q (want one of %s)", opts.Net, strings.Join(Nets(), ", "))
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	acct, err := resolveAccount(opts.User)
	if err != nil {
		return nil, err
	}
	if acct.uid == 0 {
		return Skipped("running as root: rootless mode is for an ordinary account; pass --user NAME to prove the host for it"), nil
	}
	if netName == rootlesskit.NetGvisor {
		// Asked for by name: say at once that it cannot run, as for an unknown driver.
		if _, err := rootlesskit.GvisorHelper(); err != nil {
			return nil, fmt.Errorf("--net gvisor: %w", err)
		}
	}

	sd, exe, err := makeStateDir(acct, request{Net: netName, NetTimeout: timeout / 3})
	if err != nil {
		return nil, err
	}
	defer sd.remove()
	outer := sd.path

	cmd := exec.Command(exe, parentArgs(outer, netName, 0)...)
	cmd.Env = acct.env()
	cmd.Dir = "/"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if acct.onBehalf {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(acct.uid), Gid: uint32(acct.gid), Groups: acct.groups}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the proof: %w", err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var tick <-chan time.Time
	st := &streamer{dir: sd.dir, emit: opts.Progress, off: map[string]int{}, done: map[string]bool{}}
	if opts.Progress != nil {
		t := time.NewTicker(25 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	var waitErr error
	var terminal *wireError
wait:
	for {
		select {
		case waitErr = <-done:
			break wait
		case <-tick:
			st.poll()
		case <-tctx.Done():
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			waitErr = <-done
			reason := fmt.Sprintf("no result after %s", timeout)
			if ctx.Err() != nil {
				reason = "interrupted: " + ctx.Err().Error()
			}
			terminal = &wireError{Phase: phaseTimeout, Message: reason, Exit: -1}
			break wait
		}
	}
	// Nothing the proof started may outlive it: the rk child and its helpers die with the
	// parent role (Pdeathsig) and share its process group.
	reapGroup(pgid)
	if terminal != nil {
		// Killed before it could clean up: stop what daemonized out of the process group.
		for run := 0; run < 2; run++ {
			if b, err := safefs.ReadFile(sd.dir, fmt.Sprintf("rk-%d/child_pid", run), 64); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					stopNetDaemons(pid, acct.uid)
				}
			}
		}
	}

	c := collect(sd.dir)
	if terminal == nil && c.parent == nil {
		msg := "the proof's parent process ended without a report"
		if waitErr != nil {
			msg += ": " + waitErr.Error()
		}
		if s := strings.TrimSpace(stderr.String() + stdout.String()); s != "" {
			msg += ": " + clipMessage(s)
		}
		terminal = &wireError{Phase: phasePayload, Message: msg, Exit: -1}
	}
	c.terminal = terminal
	return assemble(c), nil
}

// streamer reads the progress files while the proof runs and reports each step seen to end,
// once per step and source file. Lines are consumed only when complete.
type streamer struct {
	dir  *os.File
	emit func(Event)
	off  map[string]int
	done map[string]bool
	// usernsAt is when run 0's child said hello (the id maps are timed from it).
	usernsAt time.Duration
}

func (s *streamer) poll() {
	for _, name := range []string{fileProgress, payloadFile(0), payloadFile(1)} {
		b, err := safefs.ReadFile(s.dir, name, maxStateFile)
		if err != nil || len(b) <= s.off[name] {
			continue
		}
		rest := b[s.off[name]:]
		end := bytes.LastIndexByte(rest, '\n')
		if end < 0 {
			continue
		}
		s.off[name] += end + 1
		for _, l := range bytes.Split(rest[:end], []byte("\n")) {
			if name == fileProgress {
				var ev progressEvent
				if json.Unmarshal(l, &ev) == nil && ev.Run == 0 {
					s.parentEvent(ev)
				}
				continue
			}
			var st stepReport
			if json.Unmarshal(l, &st) == nil && st.ID != "" && st.ID != markStarted {
				s.send(name, Event{ID: st.ID, Status: st.Status, Summary: st.Summary, Duration: st.Duration})
			}
		}
	}
}

func (s *streamer) parentEvent(ev progressEvent) {
	switch ev.Event {
	case evUserNS:
		s.usernsAt = ev.At
		s.send(fileProgress, Event{ID: StepUserNS, Status: finding.Pass, Summary: "rootlesskit's child started in new user and mount namespaces", Duration: ev.At})
	case evNetStart:
		s.send(fileProgress, Event{ID: StepIDMap, Status: finding.Pass, Summary: "newuidmap/newgidmap mapped the ids; starting " + ev.Driver, Duration: ev.At - s.usernsAt})
	case evNetEnd:
		if ev.Err != "" {
			s.send(fileProgress, Event{ID: StepNetwork, Status: finding.Fail, Summary: clipMessage(ev.Err)})
		}
	}
}

func (s *streamer) send(source string, e Event) {
	key := source + "\x00" + e.ID
	if s.done[key] {
		return
	}
	s.done[key] = true
	s.emit(e)
}

// reapGroup kills what is left of the proof's process group and waits until no live process
// is in it. A killed process whose parent already exited stays a zombie until init reaps it,
// and kill(2) still finds zombies, so liveness is read from /proc instead.
func reapGroup(pgid int) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); errors.Is(err, syscall.ESRCH) || !groupAlive(pgid) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// groupAlive reports whether a process that is not a zombie belongs to process group pgid.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
		rest := string(b)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// account is who the proof runs as.
type account struct {
	name, home string
	uid, gid   int
	groups     []uint32
	onBehalf   bool
}

func resolveAccount(name string) (account, error) {
	euid := os.Geteuid()
	var u *user.User
	var err error
	switch {
	case name == "":
		u, err = user.LookupId(strconv.Itoa(euid))
		if err != nil {
			// An account without a passwd entry (a container started with --user 1234):
			// rootlesskit cannot map ids for it either, but the clone can still be proven.
			return account{name: strconv.Itoa(euid), uid: euid, gid: os.Getegid(), home: os.Getenv("HOME")}, nil
		}
	default:
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		} else {
			u, err = user.Lookup(name)
		}
		if err != nil {
			return account{}, fmt.Errorf("unknown user %q: %w", name, err)
		}
	}
	a := account{name: u.Username, home: u.HomeDir}
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	if a.uid != euid {
		if euid != 0 {
			return account{}, fmt.Errorf("--user %s: only root can prove the host for another account", name)
		}
		a.onBehalf = true
		gids, _ := u.GroupIds()
		for _, g := range gids {
			if n, err := strconv.Atoi(g); err == nil {
				a.groups = append(a.groups, uint32(n))
			}
		}
	}
	return a, nil
}

// env is the parent role's environment. On behalf of an account it is built from scratch
// (root's environment says nothing about the account's session). rootlesskit runs ip and
// nsenter by name, and Debian keeps ip in /usr/sbin, which ordinary users' PATH lacks; Docker's
// setup tool adds the sbin directories to its unit the same way.
func (a account) env() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if !strings.Contains(":"+path+":", ":"+d+":") {
			path += ":" + d
		}
	}
	if !a.onBehalf {
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "PATH=") {
				env = append(env, kv)
			}
		}
		return append(env, "PATH="+path)
	}
	env := []string{"PATH=" + path, "HOME=" + a.home, "USER=" + a.name, "LOGNAME=" + a.name}
	for _, k := range []string{"LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if d := a.runtimeDir(); d != "" {
		env = append(env, "XDG_RUNTIME_DIR="+d)
	}
	return env
}

// runtimeDir is the account's XDG_RUNTIME_DIR when it has one (a logind session or linger).
func (a account) runtimeDir() string {
	if !a.onBehalf {
		d := os.Getenv("XDG_RUNTIME_DIR")
		if d != "" && ownedDir(d, a.uid) {
			return d
		}
		return ""
	}
	d := fmt.Sprintf("/run/user/%d", a.uid)
	if ownedDir(d, a.uid) {
		return d
	}
	return ""
}

func ownedDir(d string, uid int) bool {
	fi, err := os.Stat(d)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid && fi.Mode().Perm()&0o077 == 0
}

// stateDir is the proof's state dir. The proof's processes, which run as the account, know it by
// its path; this process, which may be root, reaches it only through the descriptors it opened
// when it created the directory: once the directory belongs to the account, the account can
// put anything at any name in it, and root must never resolve a name there again
// (docs/security.md, "Root and the account's directories").
type stateDir struct {
	path string
	base *os.File // the directory it was made in
	name string
	dir  *os.File
}

// makeStateDir creates the private (0700) state dir under the account's XDG_RUNTIME_DIR, or
// under the temp dir, and everything in it the proof's processes need from this one, while it
// is still this process's alone: request.json and, when the account cannot execute this
// binary, a copy of it (the payload). Every file is created O_EXCL|O_NOFOLLOW through the
// directory's descriptor; ownership goes to the account last, by fchown on the descriptors.
// It returns the state dir and the binary to run.
//
// Since issue 10: root used to chown the directory first and then write request.json and
// chown it and the copy by name, which let the account swap in a symlink and have root
// overwrite or chown any file (/etc/shadow).
func makeStateDir(a account, req request) (sd *stateDir, exe string, err error) {
	orig, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding the rootless-doctor binary: %w", err)
	}
	sd, err = newStateDir(a.runtimeDir())
	if err != nil {
		return nil, "", fmt.Errorf("creating the proof's state dir: %w", err)
	}
	defer func() {
		if err != nil {
			sd.remove()
		}
	}()
	exe = orig
	if a.onBehalf && !canExec(orig, a) {
		// A test binary under root's 0700 build directory: copy it. It stays root's (the
		// account only runs it, through the path).
		if err := copyBinary(sd.dir, fileExe, orig); err != nil {
			return nil, "", fmt.Errorf("copying the binary for %s: %w", a.name, err)
		}
		exe = filepath.Join(sd.path, fileExe)
	}
	req.Exe = orig
	if req.Net == rootlesskit.NetGvisor || req.Net == rootlesskit.NetAuto {
		// The parent role execs the helper only when it needs the driver (auto: when
		// slirp4netns and pasta are unusable); it is copied like the binary when the account
		// cannot run it where it is.
		helper, herr := rootlesskit.GvisorHelper()
		switch {
		case herr != nil:
			req.GvisorErr = herr.Error()
		case helper != "" && a.onBehalf && !canExec(helper, a):
			if err := copyBinary(sd.dir, fileGvisorExe, helper); err != nil {
				return nil, "", fmt.Errorf("copying %s for %s: %w", helper, a.name, err)
			}
			req.GvisorExe = filepath.Join(sd.path, fileGvisorExe)
		default:
			req.GvisorExe = helper
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, "", err
	}
	if err := createFile(sd.dir, fileRequest, b, 0o600, a); err != nil {
		return nil, "", fmt.Errorf("writing the proof request: %w", err)
	}
	if a.onBehalf {
		if err := sd.dir.Chown(a.uid, a.gid); err != nil {
			return nil, "", fmt.Errorf("giving the proof's state dir to %s: %w", a.name, err)
		}
	}
	return sd, exe, nil
}

// fileExe is the payload's copy of the binary in the state dir, fileGvisorExe the copy of
// the gvisor-tap-vsock helper.
const (
	fileExe       = "rootless-doctor"
	fileGvisorExe = rootlesskit.GvisorHelperName
)

// newStateDir makes a new private directory under base, or under the temp dir when base is
// empty or fails.
func newStateDir(base string) (*stateDir, error) {
	var err error
	for _, b := range []string{base, os.TempDir()} {
		if b == "" {
			continue
		}
		var parent, dir *os.File
		var name string
		if parent, err = safefs.OpenDir(b); err != nil {
			continue
		}
		if name, dir, err = safefs.MkdirTemp(parent, "rootless-doctor-proof-"); err != nil {
			parent.Close()
			continue
		}
		// The umask may have taken bits the account needs: the mode is set, not asked for.
		if err = dir.Chmod(0o700); err != nil {
			_ = safefs.RemoveDir(parent, name, dir)
			parent.Close()
			dir.Close()
			continue
		}
		return &stateDir{path: filepath.Join(b, name), base: parent, name: name, dir: dir}, nil
	}
	return nil, err
}

// createFile creates name in dir with data and mode perm, owned by the account when the
// proof runs on its behalf (fchown on the new file's descriptor).
func createFile(dir *os.File, name string, data []byte, perm os.FileMode, a account) error {
	f, err := safefs.Create(dir, name, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && a.onBehalf {
		err = f.Chown(a.uid, a.gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyBinary copies the file at src to name in dir, mode 0755.
func copyBinary(dir *os.File, name, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := safefs.Create(dir, name, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(0o755) // whatever the umask took
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// remove removes the state dir without following a link (safefs.RemoveDir: through the
// descriptors, never by path). The payload cleans up after itself; files it chowned to
// subordinate ids go with the rest.
func (sd *stateDir) remove() {
	_ = safefs.RemoveDir(sd.base, sd.name, sd.dir)
	sd.dir.Close()
	sd.base.Close()
}

// canExec reports whether the account can reach and execute path (search permission on every
// directory, execute permission on the file), from owner, group and mode bits.
func canExec(path string, a account) bool {
	allowed := func(fi os.FileInfo) bool {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		m := fi.Mode().Perm()
		if int(st.Uid) == a.uid {
			return m&0o100 != 0
		}
		inGroup := int(st.Gid) == a.gid
		for _, g := range a.groups {
			inGroup = inGroup || g == st.Gid
		}
		if inGroup {
			return m&0o010 != 0
		}
		return m&0o001 != 0
	}
	p := filepath.Clean(path)
	for {
		fi, err := os.Stat(p)
		if err != nil || !allowed(fi) {
			return false
		}
		if p == "/" {
			return true
		}
		p = filepath.Dir(p)
	}
}

// collected is everything the proof's processes left in the state dir.
type collected struct {
	parent   *parentReport
	payload  map[int]map[string]stepReport
	progress []progressEvent
	logs     []logLine
	terminal *wireError
}

// maxStateFile caps each file read back from the state dir: the account can write anything
// there, and a healthy proof writes a few kilobytes.
const maxStateFile = 8 << 20

// collect reads what the proof's processes left in the state dir, through its descriptor
// (safefs.ReadFile: no symlink followed, no FIFO opened for reading, at most maxStateFile).
func collect(dir *os.File) collected {
	c := collected{payload: map[int]map[string]stepReport{}}
	if b, err := safefs.ReadFile(dir, fileParent, maxStateFile); err == nil {
		var p parentReport
		if json.Unmarshal(b, &p) == nil {
			c.parent = &p
		}
	}
	for run := 0; run < 2; run++ {
		b, err := safefs.ReadFile(dir, payloadFile(run), maxStateFile)
		if err != nil {
			continue
		}
		m := map[string]stepReport{}
		for _, l := range bytes.Split(b, []byte("\n")) {
			var s stepReport
			if json.Unmarshal(l, &s) == nil && s.ID != "" {
				m[s.ID] = s
			}
		}
		c.payload[run] = m
	}
	if b, err := safefs.ReadFile(dir, fileProgress, maxStateFile); err == nil {
		for _, l := range bytes.Split(b, []byte("\n")) {
			var ev progressEvent
			if json.Unmarshal(l, &ev) == nil && ev.Event != "" {
				c.progress = append(c.progress, ev)
			}
		}
	}
	// A log over the cap keeps its beginning.
	if b, err := safefs.ReadFile(dir, fileLog, maxStateFile); err == nil || errors.Is(err, safefs.ErrTooLarge) {
		c.logs = parseLogs(b)
	}
	return c
}
