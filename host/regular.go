package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is returned (wrapped in an *fs.PathError) by ReadFile for a path that is not a
// regular file: a FIFO, a device, a socket. Opening a FIFO for reading blocks until a writer
// comes (forever, in a replayed tree); opening a device runs its driver (a watchdog starts its
// countdown on open). No file a probe reads is either, so both are refused before they are
// opened for reading; probes treat the error like any unreadable file ("could not check").
// Stat and Lstat still describe such paths: the tun probe stats /dev/net/tun, it never reads it.
// The rules are docs/bounded-inputs.md.
var ErrNotRegular = errors.New("not a regular file")

// MaxDirEntries caps ReadDir: a directory an account fills with millions of entries must not
// grow the doctor's memory with it. No directory a probe lists (sysctl.d, apparmor.d, a cgroup)
// comes near.
const MaxDirEntries = 100_000

// openRegular opens the file pf refers to for reading, after checking that it is a regular
// file. pf is an O_PATH handle: taking one neither blocks on a FIFO nor calls a device's
// driver, and the check and the open are of the same inode, so nothing can be swapped in
// between (path_openat(2), "O_PATH"; the reopen through /proc/self/fd is the technique of
// https://github.com/cyphar/libpathrs). Where /proc is not mounted, fallback opens the path
// again, with O_NONBLOCK so a FIFO cannot block, and the result must be the same inode.
// pf is closed in every case.
func openRegular(pf *os.File, name string, fallback func() (*os.File, error)) (*os.File, error) {
	defer pf.Close()
	st, err := pf.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: unwrapPathErr(err)}
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(name, st.Mode())
	}
	rc, err := pf.SyscallConn()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fd := -1
	var openErr error
	if cerr := rc.Control(func(pfd uintptr) {
		fd, openErr = unix.Open("/proc/self/fd/"+strconv.Itoa(int(pfd)), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	}); cerr != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: cerr}
	}
	switch {
	case openErr == nil:
		return os.NewFile(uintptr(fd), name), nil
	case !errors.Is(openErr, unix.ENOENT):
		return nil, &fs.PathError{Op: "open", Path: name, Err: openErr}
	}
	f, err := fallback()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathErr(err)}
	}
	st2, err := f.Stat()
	if err != nil || !os.SameFile(st, st2) || !st2.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: it changed while it was opened", ErrNotRegular)}
	}
	return f, nil
}

// notRegular is the error of a path that is not a regular file, naming what it is.
func notRegular(name string, m fs.FileMode) error {
	if m.IsDir() {
		return &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, ModeKind(m))}
}

// readDirCapped lists the directory open at f, at most MaxDirEntries entries, sorted by name
// like os.ReadDir.
func readDirCapped(f interface {
	ReadDir(int) ([]fs.DirEntry, error)
}, name string) ([]fs.DirEntry, error) {
	ents, err := f.ReadDir(MaxDirEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPathErr(err)}
	}
	if len(ents) > MaxDirEntries {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fmt.Errorf("more than %d entries: %w", MaxDirEntries, ErrTooLarge)}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int {
		switch {
		case a.Name() < b.Name():
			return -1
		case a.Name() > b.Name():
			return 1
		}
		return 0
	})
	return ents, nil
}
