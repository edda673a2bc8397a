package host

import (
	"bytes"
	"encoding/binary"
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
//
// The entry's type comes from getdents: a directory or regular file is opened at once and
// fstat'd through its descriptor, a symlink only read, which spares each a path lookup (an
// fstatat) and each link a syscall (issue 16). An opened entry that is not of the type
// getdents said (the tree changed meanwhile) makes the load fail, and LoadTree falls back to
// OpenTree. Only an entry of another or unknown type is fstatat'd first, and a FIFO, socket
// or device is never opened.
func loadFd(dirfd int, prefix string, b *TreeBuilder, buf []byte) error {
	ents, err := readDirents(dirfd, buf, loadLimits.Entries+1)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		name := ent.name
		p := name
		if prefix != "." {
			p = prefix + "/" + name
		}
		var st unix.Stat_t
		typ := ent.typ
		if typ != unix.DT_DIR && typ != unix.DT_REG && typ != unix.DT_LNK {
			if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			typ = direntType(st.Mode)
		}
		switch typ {
		case unix.DT_DIR:
			fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			err = loadDir(fd, p, b, buf)
			unix.Close(fd)
			if err != nil {
				return err
			}
		case unix.DT_LNK:
			n, err := unix.Readlinkat(dirfd, name, buf)
			if err != nil {
				return err
			}
			if err := b.Symlink(p, string(buf[:n])); err != nil {
				return err
			}
		case unix.DT_REG:
			if err := loadFile(dirfd, name, p, b); err != nil {
				return err
			}
		default:
			// A FIFO, socket or device: its type only, never opened (ReadFile refuses it).
			if err := b.Special(p, unixMode(st.Mode)); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadDir adds the directory open at fd, at p in the tree, and what it holds.
func loadDir(fd int, p string, b *TreeBuilder, buf []byte) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errTooBigToLoad // not what getdents said: the tree is changing
	}
	if err := b.Dir(p, unixMode(st.Mode)); err != nil {
		return err
	}
	return loadFd(fd, p, b, buf)
}

// loadFile adds the regular file name of dirfd, at p in the tree: one open, one fstat, one
// read (a regular file returns all it has), one close.
func loadFile(dirfd int, name, p string, b *TreeBuilder) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errTooBigToLoad // not what getdents said: the tree is changing
	}
	mode := unixMode(st.Mode)
	if st.Size > MaxRead {
		if p == ManifestName {
			return errTooBigToLoad // OpenTree reads it up to MaxManifest
		}
		return b.File(p, mode, nil, st.Size)
	}
	if err := b.add(p, st.Size); err != nil {
		return err
	}
	data, err := readFd(fd, st.Size)
	if err != nil {
		return err
	}
	b.mem.add(p, mode, data)
	return nil
}

// dirent is a directory entry as getdents gives it: its name and d_type (DT_UNKNOWN when
// the filesystem does not tell).
type dirent struct {
	name string
	typ  uint8
}

// direntType is the d_type of a stat mode.
func direntType(m uint32) uint8 {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFLNK:
		return unix.DT_LNK
	}
	return unix.DT_UNKNOWN // special: fstatat'd, never opened
}

// readDirents lists a directory fd (without "." and ".."), at most max entries: past that it
// stops reading with errTooBigToLoad. Each record is a struct linux_dirent64: d_ino (8
// bytes), d_off (8), d_reclen (2), d_type (1), then the name up to its NUL (getdents64(2)).
func readDirents(fd int, buf []byte, max int) ([]dirent, error) {
	var ents []dirent
	for {
		if len(ents) > max {
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
			return ents, nil
		}
		for off := 0; off < n; {
			if off+19 > n {
				return nil, errTooBigToLoad // a short record: not what the kernel writes
			}
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen < 19 || off+reclen > n {
				return nil, errTooBigToLoad
			}
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if s := string(name); s != "." && s != ".." {
				ents = append(ents, dirent{name: s, typ: buf[off+18]})
			}
			off += reclen
		}
	}
}

// readFd reads the regular file open at fd, of the size fstat gave: one read (a regular file
// returns all it has). A file that grew meanwhile falls back.
func readFd(fd int, size int64) ([]byte, error) {
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
			// All fstat promised: stop (a tree is not written to while it is read).
			break
		}
	}
	if int64(n) != size {
		return nil, errTooBigToLoad
	}
	return buf[:n:n], nil
}
