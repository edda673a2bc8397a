// Package livetest holds the helpers of the tests that run the live proof for real, as root,
// for a throwaway account: creating and removing the account, staging broken host state in a
// private mount namespace (so the machine's own files and devices are never changed), and
// checking that nothing was left behind. Only tests import it.
package livetest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/internal/safefs"
)

// NeedRoot skips the test, saying why, unless it runs as root with the tools it names.
func NeedRoot(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("live proof test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("live proof test: needs root to create a throwaway account (CI runs it as root)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("live proof test: %s is not installed", tool)
		}
	}
}

// Lock serialises the live tests of every package (go test runs packages in parallel) for the
// rest of the test: they create accounts with the same subordinate range and time the proof.
func Lock(t testing.TB) {
	t.Helper()
	release, err := lockFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

var userSeq atomic.Int32

// SubIDStart is the subordinate range given to throwaway accounts when useradd gave none.
const SubIDStart = 3300000000

// User creates an account with a home directory and removes it (home and subordinate ids)
// when the test ends. With subIDs it has one 65,536-id subordinate range; without, useradd is
// told to allocate none (SUB_UID_COUNT=0), which is the "account without a range" case
// (system accounts, LDAP users) without editing /etc/subuid.
func User(t testing.TB, subIDs bool) string {
	t.Helper()
	name := fmt.Sprintf("rdp%d%c", os.Getpid()%100000, 'a'+rune(userSeq.Add(1)%26))
	args := []string{"--create-home", "--shell", "/bin/sh"}
	if !subIDs {
		args = append(args, "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0")
	}
	RemoveAccountAtEnd(t, name)
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if procs := Processes(t, name); len(procs) > 0 {
			t.Errorf("the proof left processes of %s behind: %s", name, strings.Join(procs, "; "))
			for _, p := range procs {
				pid, _, _ := strings.Cut(p, " ")
				if n, err := strconv.Atoi(pid); err == nil {
					_ = unix.Kill(n, unix.SIGKILL)
				}
			}
		}
	})
	has := func(path string) bool {
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), name+":") {
				return true
			}
		}
		return false
	}
	if subIDs && (!has("/etc/subuid") || !has("/etc/subgid")) {
		r := fmt.Sprintf("%d-%d", SubIDStart, SubIDStart+65535)
		if out, err := exec.Command("usermod", "--add-subuids", r, "--add-subgids", r, name).CombinedOutput(); err != nil {
			t.Fatalf("usermod --add-subuids: %v\n%s", err, out)
		}
	}
	if !subIDs && (has("/etc/subuid") || has("/etc/subgid")) {
		t.Fatalf("useradd gave %s subordinate ids despite SUB_UID_COUNT=0", name)
	}
	return name
}

// RemoveAccountAtEnd registers, before the account exists, the removal of a throwaway account
// when the test ends, however it ends: userdel --remove (--force when a process still holds
// it), then any line of the account still in /etc/subuid or /etc/subgid is taken out (a test
// may have added one by hand, or userdel may have failed). Call it before useradd, so a
// failure half-way leaves nothing behind.
func RemoveAccountAtEnd(t testing.TB, name string) {
	t.Helper()
	t.Cleanup(func() {
		if _, err := user.Lookup(name); err == nil {
			if out, err := exec.Command("userdel", "--remove", name).CombinedOutput(); err != nil {
				// A zombie init has not reaped yet still counts as "used by process".
				if out2, err2 := exec.Command("userdel", "--force", "--remove", name).CombinedOutput(); err2 != nil {
					t.Errorf("userdel %s: %v\n%s%s", name, err, out, out2)
				}
			}
		}
		for _, p := range []string{"/etc/subuid", "/etc/subgid"} {
			if err := dropLinesOf(p, name); err != nil {
				t.Errorf("removing %s's lines from %s: %v", name, p, err)
			}
		}
	})
}

// dropLinesOf rewrites path without the lines of owner (atomically, keeping mode and owner),
// when it has any.
func dropLinesOf(path, owner string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var keep []string
	dropped := false
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(l, owner+":") {
			dropped = true
			continue
		}
		keep = append(keep, l)
	}
	if !dropped {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	tmp := path + ".rootless-doctor-test"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, os.FileMode(st.Mode&0o7777))
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(keep, ""))
	if err == nil {
		err = f.Chown(int(st.Uid), int(st.Gid))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Processes lists the live processes (pid and command) running as the account, read from
// /proc (no procps needed). Zombies are left out: they are dead, and init reaps them when it
// gets to it.
func Processes(t testing.TB, name string) []string {
	u, err := user.Lookup(name)
	if err != nil {
		return nil
	}
	var procs []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var uid, state string
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					uid = f[0]
				}
			}
			if v, ok := strings.CutPrefix(l, "State:"); ok {
				state = strings.TrimSpace(v)
			}
		}
		if uid != u.Uid || strings.HasPrefix(state, "Z") || strings.HasPrefix(state, "X") {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		procs = append(procs, e.Name()+" "+strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return procs
}

// NoLeftovers fails the test if, when it ends, a proof state dir owned by the account exists
// that did not exist when it was called, or a mount of one is left in the test's mount
// namespace. (Proofs of other accounts, run by other packages' tests at the same time, are not
// this test's.) Call it right after creating the account.
func NoLeftovers(t testing.TB, account string) {
	t.Helper()
	u, err := user.Lookup(account)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	before := stateDirs(uid)
	t.Cleanup(func() {
		for d := range stateDirs(uid) {
			if !before[d] {
				t.Errorf("the proof left its state dir behind: %s", d)
				if err := removeLeftover(d, uid); err != nil {
					t.Errorf("removing %s: %v", d, err)
				}
			}
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, "rootless-doctor-proof-") {
				t.Errorf("a mount of the proof is left in the test's mount namespace: %s", l)
			}
		}
	})
}

// removeLeftover removes a state dir the account owns, as root, without following anything
// the account could have swapped in since it was found (docs/security.md, "Root and the
// account's directories"): its parent is opened without following a link as its last
// component (the parents above are root's: /tmp, /run/user), the directory below it with
// O_NOFOLLOW and checked to be still the account's, and removed through descriptors.
func removeLeftover(d string, uid int) error {
	parent, err := safefs.OpenDir(filepath.Dir(d))
	if err != nil {
		return err
	}
	defer parent.Close()
	name := filepath.Base(d)
	dir, err := safefs.Open(parent, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer dir.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return err
	}
	if int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d now, not %d: left alone", d, st.Uid, uid)
	}
	return safefs.RemoveDir(parent, name, dir)
}

func stateDirs(uid int) map[string]bool {
	m := map[string]bool{}
	for _, base := range []string{os.TempDir(), "/run/user"} {
		matches, _ := filepath.Glob(filepath.Join(base, "rootless-doctor-proof-*"))
		more, _ := filepath.Glob(filepath.Join(base, "*", "rootless-doctor-proof-*"))
		for _, d := range append(matches, more...) {
			var st unix.Stat_t
			if unix.Lstat(d, &st) == nil && int(st.Uid) == uid {
				m[d] = true
			}
		}
	}
	return m
}

// ToolDir makes a directory every account can search holding symlinks to the named tools
// (those installed), for a PATH that hides everything else; it is removed when the test ends.
func ToolDir(t testing.TB, tools ...string) string {
	t.Helper()
	dir := sharedTempDir(t, "rdoctor-path-")
	for _, tool := range tools {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// sharedTempDir is a new directory every account can search, removed when the test ends.
func sharedTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TunNode creates a tun device node (char 10:200) with the given mode in a directory of the
// test, to be bind-mounted over /dev/net/tun in a private mount namespace: the host's own
// device keeps its mode.
func TunNode(t testing.TB, mode uint32) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tun")
	if err := unix.Mknod(p, unix.S_IFCHR|mode, int(unix.Mkdev(10, 200))); err != nil {
		t.Fatalf("mknod %s: %v", p, err)
	}
	if err := os.Chmod(p, os.FileMode(mode)); err != nil { // mknod applies the umask
		t.Fatal(err)
	}
	return p
}

// CopyWithoutSetuid copies a binary into a directory of the test, mode 0755: the state of a
// newuidmap that lost its setuid bit (rsync without -X, an image build), bind-mountable over
// the real one in a private mount namespace.
func CopyWithoutSetuid(t testing.TB, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), filepath.Base(src))
	copyExecutable(t, src, p)
	// The test's temp dir is 0700 under root's; the account must reach the copy through the
	// bind mount only, which needs no search permission on the source.
	return p
}

// copyExecutable copies src to the new file dst, mode 0755.
func copyExecutable(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// InMountNamespace runs fn on an OS thread of its own that has a private mount namespace with
// binds (target → source) applied. Processes fn starts (exec.Cmd.Start runs on the calling
// goroutine) inherit that namespace, so the proof sees the staged files while the rest of the
// machine does not. The thread is discarded afterwards (the goroutine exits while locked), so
// the namespace and its mounts disappear with it.
func InMountNamespace(t testing.TB, binds map[string]string, fn func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately no UnlockOSThread: the runtime then ends this thread with the goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("making / private: %w", err)
			return
		}
		for target, source := range binds {
			if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
				errc <- fmt.Errorf("bind %s over %s: %w", source, target, err)
				return
			}
		}
		var panicked any
		returned := false
		// fn may end this goroutine with runtime.Goexit (t.Fatal/FailNow called inside it):
		// the deferred send still reports, where before the test waited on errc forever.
		defer func() {
			if !returned {
				errc <- errors.New("fn stopped its goroutine (t.Fatal or t.FailNow inside InMountNamespace): see the errors above")
			}
		}()
		func() {
			defer func() { panicked = recover() }()
			fn()
		}()
		returned = true
		if panicked != nil {
			errc <- fmt.Errorf("panic: %v", panicked)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
