package host

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// loadLimits bound what LoadTree keeps in memory (see Limits): a tree beyond them is read
// through os.Root as OpenTree does, which keeps nothing but the manifest.
var loadLimits = Limits{Entries: 20_000, Bytes: 64 << 20, Depth: 64}

// errTooBigToLoad makes LoadTree fall back to OpenTree.
var errTooBigToLoad = errors.New("tree too big to load")

// LoadTree opens a recorded host directory like OpenTree, but reads the whole tree into
// memory first when it is small (every snapshot and fixture is: a few dozen files). The
// probes then resolve paths in a map instead of with an openat/fstatat per path component
// through os.Root, which is what made replaying a fleet of snapshots cost milliseconds per
// host (BenchmarkReplay). The walk opens one component at a time with O_NOFOLLOW (loadFd), so
// nothing outside the tree is read, and keeps FIFOs and devices as their type alone, never
// opened. A tree over loadLimits (every name, link target and byte counted), or that cannot
// be read whole, is opened with OpenTree instead, with the same results.
func LoadTree(dir string) (*Recorded, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return OpenTree(dir)
	}
	b := NewTreeBuilder(loadLimits)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return OpenTree(dir)
	}
	err = loadFd(fd, ".", b, make([]byte, 8192))
	unix.Close(fd)
	if err != nil {
		return OpenTree(dir)
	}
	if mf, ok := b.mem.files[ManifestName]; !ok || !mf.mode.IsRegular() {
		return OpenTree(dir) // reports the missing manifest
	}
	return b.Host(dir)
}

// loadFd reads the directory open at dirfd (at prefix in the tree) into b. Every name is
// one component from getdents (never "." or ".."), opened relative to its directory with
// O_NOFOLLOW, and symlinks are only read, never followed: nothing outside the tree is
// reached. Raw syscalls, not os.File: an os.File open costs fcntl and epoll calls besides
// openat, and syscalls are most of what loading a tree costs.
func loadFd(dirfd int, prefix string, b *TreeBuilder, buf []byte) error {
	names, err := readDirNames(dirfd, buf, loadLimits.Entries+1)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := name
		if prefix != "." {
			p = prefix + "/" + name
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		mode := unixMode(st.Mode)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := b.Dir(p, mode); err != nil {
				return err
			}
			fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			err = loadFd(fd, p, b, buf)
			unix.Close(fd)
			if err != nil {
				return err
			}
		case unix.S_IFLNK:
			n, err := unix.Readlinkat(dirfd, name, buf)
			if err != nil {
				return err
			}
			if err := b.Symlink(p, string(buf[:n])); err != nil {
				return err
			}
		case unix.S_IFREG:
			if p == ManifestName && st.Size > MaxRead {
				return errTooBigToLoad // OpenTree reads it up to MaxManifest
			}
			if st.Size > MaxRead {
				if err := b.File(p, mode, nil, st.Size); err != nil {
					return err
				}
				continue
			}
			if err := b.add(p, st.Size); err != nil {
				return err
			}
			data, err := readAt(dirfd, name, st.Size)
			if err != nil {
				return err
			}
			b.mem.add(p, mode, data)
		default:
			// A FIFO, socket or device: its type only, never opened (ReadFile refuses it).
			if err := b.Special(p, mode); err != nil {
				return err
			}
		}
	}
	return nil
}

// readDirNames lists a directory fd (without "." and ".."), at most max names: past that it
// stops reading with errTooBigToLoad.
func readDirNames(fd int, buf []byte, max int) ([]string, error) {
	var names []string
	for {
		if len(names) > max {
			return nil, errTooBigToLoad
		}
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
