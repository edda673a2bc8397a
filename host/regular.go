package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

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

// reopenRegular opens for reading the file the O_PATH descriptor pfd refers to, after checking
// that it is a regular file, and returns the new descriptor with what fstat says of it. pfd
// is an O_PATH handle: taking one neither blocks on a FIFO nor calls a device's driver, and
// the check and the open are of the same inode, so nothing can be swapped in between
// (path_openat(2), "O_PATH"; the reopen through /proc/self/fd is the technique of
// https://github.com/cyphar/libpathrs). Where /proc is not mounted, fallback opens the path
// again, with O_NONBLOCK so a FIFO cannot block, and the result must be the same inode.
// pfd stays open; the caller closes it. Raw descriptors, not os.File: an os.File costs an
// fcntl, an epoll_ctl and a finalizer besides the open, and a static check reads ~60 files
// (issue 16).
func reopenRegular(pfd int, name string, fallback func() (int, error)) (int, *syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := fstat(pfd, &st); err != nil {
		return -1, nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return -1, nil, notRegular(name, unixMode(st.Mode))
	}
	fd, err := openRetry(procSelfFd+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
	same := true
	switch {
	case errors.Is(err, unix.ENOENT):
		if fd, err = fallback(); err != nil {
			return -1, nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathErr(err)}
		}
		same = false
	case err != nil:
		return -1, nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	var st2 syscall.Stat_t
	if err := fstat(fd, &st2); err != nil {
		unix.Close(fd)
		return -1, nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if !same && (st2.Dev != st.Dev || st2.Ino != st.Ino || st2.Mode&syscall.S_IFMT != syscall.S_IFREG) {
		unix.Close(fd)
		return -1, nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: it changed while it was opened", ErrNotRegular)}
	}
	return fd, &st2, nil
}

// procSelfFd is where reopenRegular reopens a descriptor; tests point it at a missing
// directory to take the fallback.
var procSelfFd = "/proc/self/fd/"

// openRegular is reopenRegular for the os.File of an O_PATH handle (a recorded tree's, opened
// through os.Root) and a fallback that opens an os.File; pf is closed in every case.
func openRegular(pf *os.File, name string, fallback func() (*os.File, error)) (*os.File, error) {
	defer pf.Close()
	fd, _, err := reopenRegular(int(pf.Fd()), name, func() (int, error) {
		f, err := fallback()
		if err != nil {
			return -1, err
		}
		defer f.Close()
		// A descriptor of its own, so that f's close does not end it.
		return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openRetry is open(2), again while it is interrupted (a FUSE or NFS open can be).
func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// fstat is fstat(2), again while it is interrupted.
func fstat(fd int, st *syscall.Stat_t) error {
	for {
		if err := syscall.Fstat(fd, st); err != syscall.EINTR {
			return err
		}
	}
}

// fdReader reads a raw descriptor as an io.Reader: io.EOF at the end.
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// statInfo is an fs.FileInfo of what fstat said, as os.File.Stat gives one (Sys is the
// *syscall.Stat_t).
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) Mode() fs.FileMode  { return unixMode(s.st.Mode) }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *statInfo) IsDir() bool        { return s.st.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (s *statInfo) Sys() any           { return &s.st }

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
