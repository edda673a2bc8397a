package livetest

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The live tests run as root on a real machine, but must leave it as they found it (issue 10:
// a failed TestLiveApply once ran `apt-get install uidmap` on the host and left a line of its
// throwaway account in /etc/subuid). HostGuard checks that for a whole package.

// HostGuard wraps a package's testing.M: Run snapshots the host state the live tests could
// change — /etc/subuid, /etc/subgid, the installed package set (`dpkg-query -W`) and
// /run/user (names, modes and owners) — before and after the tests, and fails the run,
// printing the difference, when they differ. The snapshots are taken under the live-test
// lock, so a live test of another package (which holds the lock while it has an account or
// a runtime dir on the machine) is never caught half-way. Outside root or with -short it
// only runs the tests.
func HostGuard(m interface{ Run() int }) interface{ Run() int } { return guard{m} }

type guard struct{ m interface{ Run() int } }

func (g guard) Run() int {
	if os.Geteuid() != 0 || shortFlag() {
		return g.m.Run()
	}
	before, err := hostState()
	if err != nil {
		fmt.Fprintf(os.Stderr, "livetest: snapshot of the host before the tests: %v\n", err)
		return 1
	}
	code := g.m.Run()
	after, err := hostState()
	if err != nil {
		fmt.Fprintf(os.Stderr, "livetest: snapshot of the host after the tests: %v\n", err)
		return 1
	}
	if d := diffState(before, after); d != "" {
		fmt.Fprintf(os.Stderr, "FAIL: the tests changed the host (or something else did meanwhile):\n%s", d)
		return 1
	}
	return code
}

// shortFlag reads -test.short before testing.Short can be called (flags are parsed in Run).
func shortFlag() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" || a == "--test.short" {
			return true
		}
	}
	return false
}

// hostState is name → content of what HostGuard compares, read under the live-test lock.
func hostState() (map[string]string, error) {
	release, err := lockFile()
	if err != nil {
		return nil, err
	}
	defer release()
	st := map[string]string{}
	for _, p := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		st[p] = string(data)
	}
	if _, err := exec.LookPath("dpkg-query"); err == nil {
		out, err := exec.Command("dpkg-query", "-W", "-f", "${binary:Package} ${Version} ${db:Status-Abbrev}\n").Output()
		if err != nil {
			return nil, fmt.Errorf("dpkg-query: %w", err)
		}
		st["installed packages"] = string(out)
	}
	var runUser []string
	err = filepath.WalkDir("/run/user", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == "/run/user" {
				runUser = append(runUser, "(no /run/user)")
				return nil
			}
			return err
		}
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil {
			return err
		}
		runUser = append(runUser, fmt.Sprintf("%s %o %d:%d", p, s.Mode, s.Uid, s.Gid))
		if p != "/run/user" && d.IsDir() {
			return fs.SkipDir // /run/user/UID itself; what a session keeps inside is its own
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing /run/user: %w", err)
	}
	st["/run/user"] = strings.Join(runUser, "\n") + "\n"
	return st, nil
}

func diffState(a, b map[string]string) string {
	var out strings.Builder
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if a[k] == b[k] {
			continue
		}
		fmt.Fprintf(&out, "%s:\n", k)
		la, lb := strings.Split(a[k], "\n"), strings.Split(b[k], "\n")
		for _, l := range la {
			if !slices.Contains(lb, l) {
				fmt.Fprintf(&out, "  - %s\n", l)
			}
		}
		for _, l := range lb {
			if !slices.Contains(la, l) {
				fmt.Fprintf(&out, "  + %s\n", l)
			}
		}
	}
	return out.String()
}

// lockPath is the live-test lock, shared by every worktree's tests on the machine.
var lockPath = filepath.Join(os.TempDir(), "rootless-doctor-live-test.lock")

// lockFile takes the live-test lock (see Lock) for the caller. The lock is a fixed name in a
// directory every account can write (/tmp): it is opened without following a symlink and
// must be a regular file of our own, or root's open with O_CREAT would create (or open) the
// file a link planted there points to (docs/security.md; /tmp here has fs.protected_symlinks
// 0).
func lockFile() (release func(), err error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the live-test lock: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("the live-test lock: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("refusing the live-test lock %s: not a regular file of uid %d (uid %d, mode %o); remove it", lockPath, os.Geteuid(), st.Uid, st.Mode)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
