package host

import (
	"bytes"
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Limits of LoadTree: a tree larger than this is read through os.Root as OpenTree does.
const (
	maxLoadEntries = 20_000
	maxLoadBytes   = 64 << 20
)

// errTooBigToLoad makes LoadTree fall back to OpenTree.
var errTooBigToLoad = errors.New("tree too big to load")

// LoadTree opens a recorded host directory like OpenTree, but reads the whole tree into
// memory first when it is small (every snapshot and fixture is: a few dozen files). The
// probes then resolve paths in a map instead of with an openat/fstatat per path component
// through os.Root, which is what made replaying a fleet of snapshots cost milliseconds per
// host (BenchmarkReplay). The walk opens one component at a time with O_NOFOLLOW (loadFd), so
// nothing outside the tree is read; a tree that is large, holds a file over MaxRead, or cannot be read whole is opened with
// OpenTree instead, with the same results.
func LoadTree(dir string) (*Recorded, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return OpenTree(dir)
	}
	mem := newMemFS()
	var total int64
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return OpenTree(dir)
	}
	err = loadFd(fd, ".", mem, &total, make([]byte, 8192))
	unix.Close(fd)
	if err != nil {
		return OpenTree(dir)
	}
	mem.done()
	mf, ok := mem.files[ManifestName]
	if !ok {
		return OpenTree(dir) // reports the missing manifest
	}
	rec, err := newChecked(mem, mf.data, dir)
	if err != nil {
		return nil, err
	}
	for p, fm := range rec.m.Files {
		if fm.Type == "symlink" {
			mem.links[p] = true
		}
	}
	return rec, nil
}

// loadFd reads the directory open at dirfd (at prefix in the tree) into mem. Every name is
// one component from getdents (never "." or ".."), opened relative to its directory with
// O_NOFOLLOW, and symlinks are only read, never followed: nothing outside the tree is
// reached. Raw syscalls, not os.File: an os.File open costs fcntl and epoll calls besides
// openat, and syscalls are most of what loading a tree costs.
func loadFd(dirfd int, prefix string, mem *memFS, total *int64, buf []byte) error {
	names, err := readDirNames(dirfd, buf)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := name
		if prefix != "." {
			p = prefix + "/" + name
		}
		if len(mem.files) >= maxLoadEntries {
			return errTooBigToLoad
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		mode := unixMode(st.Mode)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			mem.add(p, mode, nil)
			fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			err = loadFd(fd, p, mem, total, buf)
			unix.Close(fd)
			if err != nil {
				return err
			}
		case unix.S_IFLNK:
			n, err := unix.Readlinkat(dirfd, name, buf)
			if err != nil {
				return err
			}
			mem.add(p, fs.ModeSymlink|0o777, bytes.Clone(buf[:n]))
		case unix.S_IFREG:
			if st.Size > MaxRead {
				return errTooBigToLoad
			}
			data, err := readAt(dirfd, name, st.Size)
			if err != nil {
				return err
			}
			if *total += int64(len(data)); *total > maxLoadBytes {
				return errTooBigToLoad
			}
			mem.add(p, mode, data)
		default:
			// A device or socket in a tree: OpenTree shows it as the tree has it.
			return errTooBigToLoad
		}
	}
	return nil
}

// readDirNames lists a directory fd (without "." and "..").
func readDirNames(fd int, buf []byte) ([]string, error) {
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// readAt reads the regular file name of dirfd, of the size fstatat gave: one open, one read
// (a regular file returns all it has), one close. A file that grew meanwhile falls back.
func readAt(dirfd int, name string, size int64) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, size+1)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
		if int64(n) == size {
			// All fstatat promised: stop (a tree is not written to while it is read).
			break
		}
	}
	if int64(n) != size {
		return nil, errTooBigToLoad
	}
	return buf[:n:n], nil
}
