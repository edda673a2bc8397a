// Package safefs opens, creates and removes files relative to a directory file descriptor
// without ever following a symlink or leaving that directory: what root must do in a
// directory an account can write, and what every writer of the tool does in a directory it
// made (docs/security.md, "Files").
//
// A name given to Open, Create, ReadFile or RemoveAll is resolved below the directory with
// openat2(2) and RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV
// (Linux 5.6); where openat2 is missing (older kernels, a seccomp filter that answers ENOSYS)
// each component is opened with openat(2) and O_NOFOLLOW instead, which refuses the same
// symlinks. Either way a symlink anywhere on the way is an error (ELOOP), never followed.
package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotOurs is returned (wrapped) when a directory that should be the caller's own is not:
// another owner, group or other permission bits, or not a directory.
var ErrNotOurs = errors.New("not a private directory of this user")

// ErrTooLarge is returned (wrapped) by ReadFile for a file larger than its limit.
var ErrTooLarge = errors.New("file is larger than the read limit")

// ErrNotRegular is returned (wrapped) by ReadFile for a FIFO, device, socket or directory.
var ErrNotRegular = errors.New("not a regular file")

const resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// noOpenat2 is set by tests to take the openat(2) path.
var noOpenat2 bool

// OpenDir opens the directory at path, refusing a symlink as its last component. path itself
// must be one the caller trusts (its parents are not writable by another account): it is the
// anchor every other call resolves beneath.
func OpenDir(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Open opens name below dir with flags (O_NOFOLLOW and O_CLOEXEC are always added). name is
// relative ("a/b"); "..", absolute names and symlinks on the way are refused.
func Open(dir *os.File, name string, flags int, perm uint32) (*os.File, error) {
	fd, err := openat(int(dir.Fd()), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name)), nil
}

func openat(dirfd int, name string, flags int, perm uint32) (int, error) {
	if name == "" || filepath.IsAbs(name) || filepath.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") {
		return -1, unix.EINVAL
	}
	if !noOpenat2 {
		how := &unix.OpenHow{Flags: uint64(flags), Mode: uint64(perm), Resolve: resolve}
		fd, err := unix.Openat2(dirfd, name, how)
		// EAGAIN: a rename or mount raced with the resolution (openat2(2)); try again.
		for i := 0; errors.Is(err, unix.EAGAIN) && i < 10; i++ {
			fd, err = unix.Openat2(dirfd, name, how)
		}
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			return fd, err
		}
	}
	// openat(2) one component at a time, none of them followed.
	parts := strings.Split(name, "/")
	cur := dirfd
	for i, p := range parts {
		last := i == len(parts)-1
		var fd int
		var err error
		if last {
			fd, err = unix.Openat(cur, p, flags, perm)
		} else {
			fd, err = unix.Openat(cur, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if cur != dirfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = fd
	}
	return cur, nil
}

// Create creates name below dir, which must not exist (O_CREAT|O_EXCL|O_NOFOLLOW): a planted
// file or symlink is an error, never reused or followed. The umask applies to perm.
func Create(dir *os.File, name string, perm os.FileMode) (*os.File, error) {
	return Open(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uint32(perm.Perm()))
}

// ReadFile reads the regular file name below dir, at most limit bytes. It opens with
// O_NONBLOCK and checks with fstat before reading, so a FIFO or device planted there is an
// error (ErrNotRegular), never a read that blocks. A larger file returns its first limit bytes
// and an error wrapping ErrTooLarge.
func ReadFile(dir *os.File, name string, limit int64) ([]byte, error) {
	f, err := Open(dir, name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", f.Name(), ErrNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("%s: %w (%d bytes)", f.Name(), ErrTooLarge, limit)
	}
	return b, nil
}

// MkdirTemp creates a new directory below dir named prefix plus random characters, mode
// 0700, and returns its name and an open descriptor of it. The descriptor is checked to be
// the directory just made (a directory owned by this user with no group or other bits): a
// name swapped in between mkdirat and openat by whoever can write dir is refused.
func MkdirTemp(dir *os.File, prefix string) (string, *os.File, error) {
	var lastErr error
	for range 100 {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		name := prefix + hex.EncodeToString(b)
		err := unix.Mkdirat(int(dir.Fd()), name, 0o700)
		if errors.Is(err, unix.EEXIST) {
			lastErr = err
			continue
		}
		if err != nil {
			return "", nil, &os.PathError{Op: "mkdir", Path: filepath.Join(dir.Name(), name), Err: err}
		}
		f, err := Open(dir, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return "", nil, err
		}
		if err := CheckPrivate(f, os.Geteuid()); err != nil {
			f.Close()
			return "", nil, err
		}
		return name, f, nil
	}
	return "", nil, &os.PathError{Op: "mkdir", Path: filepath.Join(dir.Name(), prefix+"*"), Err: lastErr}
}

// CheckPrivate checks that the open directory f is owned by uid and has no group or other
// permission bits.
func CheckPrivate(f *os.File, uid int) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s: %w: not a directory", f.Name(), ErrNotOurs)
	case int(st.Uid) != uid:
		return fmt.Errorf("%s: %w: owned by uid %d, not %d", f.Name(), ErrNotOurs, st.Uid, uid)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("%s: %w: mode %04o gives access to others (want 0700)", f.Name(), ErrNotOurs, st.Mode&0o7777)
	}
	return nil
}

// SameFile reports whether name below dir (not followed) is the file f is open on.
func SameFile(dir *os.File, name string, f *os.File) bool {
	var a, b unix.Stat_t
	if unix.Fstatat(int(dir.Fd()), name, &a, unix.AT_SYMLINK_NOFOLLOW) != nil || unix.Fstat(int(f.Fd()), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// maxDepth bounds RemoveContents' descent: a tree deeper than this (built to exhaust file
// descriptors or the stack) is left in place, below that depth.
const maxDepth = 64

// RemoveContents removes everything inside the open directory dir: symlinks are unlinked,
// never followed; subdirectories are opened with O_NOFOLLOW below their parent's descriptor
// and emptied the same way. Nothing outside dir is ever reached, whatever an account with
// write access does to the tree meanwhile. The first error is returned after removing what
// could be removed.
//
// When not run as root, a subdirectory without write permission (overlayfs leaves its work
// dir at mode 000) is made 0700 through its descriptor first; root needs no permission bits.
func RemoveContents(dir *os.File) error {
	return removeContents(int(dir.Fd()), dir.Name(), 0)
}

func removeContents(dirfd int, path string, depth int) error {
	if depth > maxDepth {
		return &os.PathError{Op: "remove", Path: path, Err: unix.ELOOP}
	}
	// Read the names through a descriptor of our own (os.File closes what it wraps).
	dup, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	d := os.NewFile(uintptr(dup), path)
	defer d.Close()
	var first error
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	for {
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			keep(removeAt(dirfd, path, n, depth))
		}
		if err == io.EOF || len(names) == 0 {
			break
		}
		if err != nil {
			keep(err)
			break
		}
	}
	return first
}

// removeAt removes name in dirfd, a directory after its contents.
func removeAt(dirfd int, path, name string, depth int) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return &os.PathError{Op: "unlink", Path: filepath.Join(path, name), Err: err}
	}
	sub, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Join(path, name), Err: err}
	}
	if os.Geteuid() != 0 {
		_ = unix.Fchmod(sub, 0o700)
	}
	err = removeContents(sub, filepath.Join(path, name), depth+1)
	unix.Close(sub)
	if rerr := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); rerr != nil && !errors.Is(rerr, unix.ENOENT) && err == nil {
		err = &os.PathError{Op: "rmdir", Path: filepath.Join(path, name), Err: rerr}
	}
	return err
}

// RemoveDir removes the directory name below parent when it is still the directory dir is
// open on, after emptying it through dir (RemoveContents). A name that now holds something
// else (renamed away and replaced) is left alone.
//
// Whoever can write the directory can keep adding entries while it is emptied: the emptying
// is tried a few times, then the directory is left (with what was added last).
func RemoveDir(parent *os.File, name string, dir *os.File) error {
	var err error
	for range 5 {
		err = RemoveContents(dir)
		if !SameFile(parent, name, dir) {
			return err
		}
		rerr := unix.Unlinkat(int(parent.Fd()), name, unix.AT_REMOVEDIR)
		if rerr == nil {
			return err
		}
		if err == nil {
			err = &os.PathError{Op: "rmdir", Path: filepath.Join(parent.Name(), name), Err: rerr}
		}
		if !errors.Is(rerr, unix.ENOTEMPTY) {
			return err
		}
	}
	return err
}

// WriteFileAtomic writes data to name below dir: into a new temporary file (Create, random
// name, mode perm) that is then renamed over name. A symlink at name is replaced, never
// followed; a planted temporary name is never reused. The temporary file is removed on
// failure.
func WriteFileAtomic(dir *os.File, name string, data []byte, perm os.FileMode) (err error) {
	tmp, f, err := CreateTemp(dir, "."+filepath.Base(name)+".tmp-", perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = unix.Unlinkat(int(dir.Fd()), tmp, 0)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Chmod(perm); err != nil { // the umask applied at creation
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = unix.Renameat(int(dir.Fd()), tmp, int(dir.Fd()), name); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(dir.Name(), tmp), New: filepath.Join(dir.Name(), name), Err: err}
	}
	return nil
}

// CreateTemp creates a new file below dir named prefix plus random characters (Create: O_EXCL,
// O_NOFOLLOW) and returns its name and the open file.
func CreateTemp(dir *os.File, prefix string, perm os.FileMode) (string, *os.File, error) {
	var lastErr error
	for range 100 {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		name := prefix + hex.EncodeToString(b)
		f, err := Create(dir, name, perm)
		if errors.Is(err, unix.EEXIST) {
			lastErr = err
			continue
		}
		return name, f, err
	}
	return "", nil, &os.PathError{Op: "create", Path: filepath.Join(dir.Name(), prefix+"*"), Err: lastErr}
}

// RenameNoReplace renames old to new, both below dir, failing with EEXIST when new exists
// (renameat2(2) RENAME_NOREPLACE). On a filesystem without RENAME_NOREPLACE (EINVAL) the
// check is made with fstatat first, which leaves a window only for whoever can write dir.
func RenameNoReplace(dir *os.File, old, new string) error {
	fd := int(dir.Fd())
	err := unix.Renameat2(fd, old, fd, new, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		var st unix.Stat_t
		if unix.Fstatat(fd, new, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			err = unix.EEXIST
		} else {
			err = unix.Renameat(fd, old, fd, new)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(dir.Name(), old), New: filepath.Join(dir.Name(), new), Err: err}
	}
	return nil
}
