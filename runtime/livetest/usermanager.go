package livetest

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// systemdBinary is the systemd manager (Debian: /lib/systemd/systemd, /usr/lib after usrmerge).
var systemdBinary = []string{"/lib/systemd/systemd", "/usr/lib/systemd/systemd"}

// Manager is a real systemd user manager (`systemd --user`) of a throwaway account, started
// by UserManager.
type Manager struct {
	Account  string
	UID, GID int
	// RuntimeDir is the account's XDG_RUNTIME_DIR (/run/user/UID, in the test's mount
	// namespace); Bus the manager's bus address there.
	RuntimeDir, Bus string
	// Env is what a login session of the account has: HOME, USER, LOGNAME, PATH,
	// XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS.
	Env []string
	// Session is the group the account's commands run in, like a logind session-N.scope: its
	// parent is root's, so the account cannot set limits there on its own.
	Session string
	// Controllers are the cgroup v2 controllers the manager's subtree has (what it can
	// delegate).
	Controllers []string

	session *os.File
}

// Command is name run as the account, in its session group, with the session's environment,
// in the test's mount namespace (call it inside UserManager's fn).
func (m *Manager) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = slices.Clone(m.Env)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: uint32(m.UID), Gid: uint32(m.GID)},
		UseCgroupFD: true,
		CgroupFD:    int(m.session.Fd()),
	}
	return cmd
}

// cgroup2Root is where the unified hierarchy is mounted: /sys/fs/cgroup on a cgroup v2 host,
// /sys/fs/cgroup/unified on a hybrid one; "" when neither.
func cgroup2Root() string {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	return ""
}

// UserManager runs fn with a real systemd user manager for account on a machine without
// systemd as PID 1 (the test machine), the way logind would set one up, and removes it all
// afterwards. In a private mount namespace of the test: a tmpfs over /run holding an empty
// /run/systemd/system (sd_booted: the manager runs) and /run/user/UID; on a hybrid host the
// unified hierarchy bound over /sys/fs/cgroup (the manager and the proof then see a cgroup v2
// host). In the cgroup v2 hierarchy, a group of the test with two children: "manager", the
// account's (what user@UID.service is on a systemd host, delegated), where systemd --user
// starts; and "session", root's, where the account's commands run, whose common ancestor
// with the manager's lets the account move its own processes (on a systemd host PID 1 does
// that move for the user manager: AttachProcessesToUnit). The manager serves its bus at
// /run/user/UID/bus. binds (target → source) are bound in the namespace too (a 0666 tun node
// over /dev/net/tun). Skips, saying why, where it cannot run.
func UserManager(t testing.TB, account string, binds map[string]string, fn func(m *Manager)) {
	t.Helper()
	var sysd string
	for _, p := range systemdBinary {
		if _, err := os.Stat(p); err == nil {
			sysd = p
			break
		}
	}
	if sysd == "" {
		t.Skip("user manager test: systemd is not installed")
	}
	root := cgroup2Root()
	if root == "" {
		t.Skip("user manager test: no cgroup v2 hierarchy mounted (neither /sys/fs/cgroup nor /sys/fs/cgroup/unified)")
	}
	u, err := user.Lookup(account)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	group := filepath.Join(root, fmt.Sprintf("rootless-doctor-test-%d-%s", os.Getpid(), account))
	if err := os.Mkdir(group, 0o755); err != nil {
		t.Skipf("user manager test: cannot create a cgroup in %s: %v", root, err)
	}
	t.Cleanup(func() { removeGroup(t, group) })
	// The controllers the root hands down go to the test's group and on to the manager's.
	sub, _ := os.ReadFile(filepath.Join(root, "cgroup.subtree_control"))
	var ctl []string
	for _, c := range strings.Fields(string(sub)) {
		if os.WriteFile(filepath.Join(group, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
			ctl = append(ctl, c)
		}
	}
	mgrGroup, sessGroup := filepath.Join(group, "manager"), filepath.Join(group, "session")
	for _, d := range []string{mgrGroup, sessGroup} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Delegation as systemd does it (https://systemd.io/CGROUP_DELEGATION/): the directory
	// and its cgroup.procs, cgroup.subtree_control and cgroup.threads; and the common
	// ancestor's cgroup.procs, which a move between the session and the manager needs.
	for _, p := range []string{mgrGroup, mgrGroup + "/cgroup.procs", mgrGroup + "/cgroup.subtree_control", mgrGroup + "/cgroup.threads", group + "/cgroup.procs"} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	mgrFD, err := os.Open(mgrGroup)
	if err != nil {
		t.Fatal(err)
	}
	defer mgrFD.Close()
	sessFD, err := os.Open(sessGroup)
	if err != nil {
		t.Fatal(err)
	}
	defer sessFD.Close()

	run := t.TempDir()
	if err := os.Chmod(run, 0o755); err != nil {
		t.Fatal(err)
	}
	rd := filepath.Join(run, "user", strconv.Itoa(uid))
	for _, d := range []string{filepath.Join(run, "systemd", "system"), rd} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(rd, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(rd, 0o700); err != nil {
		t.Fatal(err)
	}
	binds = maps.Clone(binds)
	if binds == nil {
		binds = map[string]string{}
	}
	binds["/run"] = run
	if root != "/sys/fs/cgroup" {
		binds["/sys/fs/cgroup"] = root
	}
	nsRD := filepath.Join("/run/user", strconv.Itoa(uid))
	m := &Manager{
		Account: account, UID: uid, GID: gid, RuntimeDir: nsRD, Bus: "unix:path=" + nsRD + "/bus",
		Session: strings.TrimPrefix(sessGroup, root), Controllers: ctl, session: sessFD,
		Env: []string{"HOME=" + u.HomeDir, "USER=" + account, "LOGNAME=" + account, "PATH=/usr/local/bin:/usr/bin:/bin",
			"XDG_RUNTIME_DIR=" + nsRD, "DBUS_SESSION_BUS_ADDRESS=unix:path=" + nsRD + "/bus"},
	}
	InMountNamespace(t, binds, func() {
		var log bytes.Buffer
		mgr := exec.Command(sysd, "--user")
		mgr.Env = slices.Clone(m.Env)
		mgr.Dir = "/"
		mgr.Stdout, mgr.Stderr = &log, &log
		mgr.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
			UseCgroupFD: true,
			CgroupFD:    int(mgrFD.Fd()),
			Setsid:      true,
		}
		if err := mgr.Start(); err != nil {
			t.Errorf("starting systemd --user: %v", err)
			return
		}
		defer stopManager(t, mgr, &log)
		bus := filepath.Join(nsRD, "bus")
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if fi, err := os.Stat(bus); err == nil && fi.Mode()&os.ModeSocket != 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("systemd --user did not open %s within 20 s:\n%s", bus, log.String())
				return
			}
		}
		fn(m)
	})
}

// stopManager stops systemd --user (SIGTERM: it stops its units and exits) and waits for it.
func stopManager(t testing.TB, mgr *exec.Cmd, log *bytes.Buffer) {
	_ = mgr.Process.Signal(unix.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- mgr.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = mgr.Process.Kill()
		<-done
		t.Errorf("systemd --user did not stop within 20 s of SIGTERM:\n%s", log.String())
	}
}

// removeGroup kills what is left in the test's cgroup (cgroup.kill, Linux 5.14) and removes
// its groups, deepest first.
func removeGroup(t testing.TB, group string) {
	_ = os.WriteFile(filepath.Join(group, "cgroup.kill"), []byte("1"), 0)
	var dirs []string
	_ = filepath.WalkDir(group, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.Reverse(dirs)
	for _, d := range dirs {
		var err error
		for range 50 { // the killed processes leave their group as they are reaped
			if err = os.Remove(d); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil && !os.IsNotExist(err) {
			t.Errorf("removing the test's cgroup %s: %v", d, err)
		}
	}
}

// ExecutableCopy copies the running test binary where every account can run it (the go
// tool's build directory is root's, 0700), for commands run as a throwaway account; removed
// when the test ends.
func ExecutableCopy(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(sharedTempDir(t, "rdoctor-exe-"), filepath.Base(self))
	copyExecutable(t, self, p)
	return p
}
