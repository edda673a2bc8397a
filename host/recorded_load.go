package host

import (
	"bytes"
	"encoding/binary"
	"errors"

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
// host (BenchmarkReplay). The walk opens one component at a time with O_NOFOLLOW
// (loader.dir), so nothing outside the tree is read, and keeps FIFOs and devices as their
// type alone, never opened. A tree over loadLimits (every name, link target and byte
// counted), or that cannot be read whole, is opened with OpenTree instead, with the same
// results.
func LoadTree(dir string) (*Recorded, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return OpenTree(dir) // reports it, or that it is not a directory
	}
	l := &loader{b: NewTreeBuilder(loadLimits), buf: make([]byte, 8192)}
	l.endCookie(fd)
	err = l.dir(fd, ".", l.eofOK)
	unix.Close(fd)
	if err != nil {
		return OpenTree(dir)
	}
	if mf, ok := l.b.mem.files[ManifestName]; !ok || !mf.mode.IsRegular() {
		return OpenTree(dir) // reports the missing manifest
	}
	return l.b.Host(dir)
}

// loader is one LoadTree's walk: the tree being built, a getdents buffer, and what the
// filesystem's end-of-directory cookie is, when it has one LoadTree can trust.
type loader struct {
	b   *TreeBuilder
	buf []byte
	// eofDev is the device of the tree's top directory when its filesystem marks the end of
	// a directory with a d_off of eofCookie (see endCookie); eofOK says it does. A directory
	// on another device (a mount inside the tree) is read to the end the usual way.
	eofDev uint64
	eofOK  bool
	// getdents counts getdents64 calls, for the tests.
	getdents int
}

// eofCookie is the d_off that ext4 gives the last entry of a directory it has read to the
// end: EXT4_HTREE_EOF_64BIT, the largest loff_t. ext4 reads every directory of a filesystem
// with dir_index (the default since ext3) through its hashed index, even a one-block
// directory (is_dx_dir), and no entry's hash maps to it (ext4_get_htree_eof, ext4fs_dirhash
// reserves it), so an entry with it as its d_off is the last: the next getdents would return
// 0. Knowing that spares the second getdents64 of every directory, 26 of a fixture tree's
// ~230 syscalls (issue 16): https://github.com/torvalds/linux/blob/v6.12/fs/ext4/dir.c
// (ext4_dx_readdir: "ctx->pos = ext4_get_htree_eof(file)") and fs/readdir.c (filldir64: the
// last record's d_off is the directory's position when getdents returns). Other filesystems
// use other cookies (tmpfs and sysfs INT_MAX, which can be a position on others): LoadTree
// trusts only ext4's, on the tree's own device, and reads any other directory to a 0.
const eofCookie = 1<<63 - 1

// endCookie learns whether the tree's top directory, open at fd, is on ext4 (one fstatfs and
// one fstat a tree). On any error it is not, and every directory is read to the end.
func (l *loader) endCookie(fd int) {
	var sfs unix.Statfs_t
	var st unix.Stat_t
	if unix.Fstatfs(fd, &sfs) != nil || sfs.Type != unix.EXT4_SUPER_MAGIC || unix.Fstat(fd, &st) != nil {
		return
	}
	l.eofDev, l.eofOK = st.Dev, true
}

// dir reads the directory open at dirfd (at prefix in the tree) into l.b; trustEOF says it is
// on the device where eofCookie marks the end. Every name is one component from getdents
// (never "." or ".."), opened relative to its directory with O_NOFOLLOW, and symlinks are
// only read, never followed: nothing outside the tree is reached. Raw syscalls, not os.File: an os.File open costs fcntl and epoll calls besides
// openat, and syscalls are most of what loading a tree costs.
//
// The entry's type comes from getdents: a directory or regular file is opened at once and
// fstat'd through its descriptor, a symlink only read, which spares each a path lookup (an
// fstatat) and each link a syscall (issue 16). An opened entry that is not of the type
// getdents said (the tree changed meanwhile) makes the load fail, and LoadTree falls back to
// OpenTree. Only an entry of another or unknown type is fstatat'd first, and a FIFO, socket
// or device is never opened.
func (l *loader) dir(dirfd int, prefix string, trustEOF bool) error {
	ents, err := readDirents(dirfd, l.buf, loadLimits.Entries+1, trustEOF, &l.getdents)
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
			err = l.subdir(fd, p)
			unix.Close(fd)
			if err != nil {
				return err
			}
		case unix.DT_LNK:
			n, err := unix.Readlinkat(dirfd, name, l.buf)
			if err != nil {
				return err
			}
			if err := l.b.Symlink(p, string(l.buf[:n])); err != nil {
				return err
			}
		case unix.DT_REG:
			if err := loadFile(dirfd, name, p, l.b); err != nil {
				return err
			}
		default:
			// A FIFO, socket or device: its type only, never opened (ReadFile refuses it).
			if err := l.b.Special(p, unixMode(st.Mode)); err != nil {
				return err
			}
		}
	}
	return nil
}

// subdir adds the directory open at fd, at p in the tree, and what it holds.
func (l *loader) subdir(fd int, p string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errTooBigToLoad // not what getdents said: the tree is changing
	}
	if err := l.b.Dir(p, unixMode(st.Mode)); err != nil {
		return err
	}
	return l.dir(fd, p, l.eofOK && st.Dev == l.eofDev)
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
// With trustEOF, a last record whose d_off is eofCookie ends the listing without the getdents
// that would return 0 (see eofCookie). calls counts the getdents64 calls.
func readDirents(fd int, buf []byte, max int, trustEOF bool, calls *int) ([]dirent, error) {
	var ents []dirent
	for {
		if len(ents) > max {
			return nil, errTooBigToLoad
		}
		*calls++
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
		last := 0
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
			last = off
			off += reclen
		}
		if trustEOF && binary.NativeEndian.Uint64(buf[last+8:]) == eofCookie && len(ents) <= max {
			return ents, nil
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
