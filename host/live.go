package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// live is the machine rootless-doctor runs on.
type live struct {
	release string
	self    Identity
	exe     string
}

// NewLive returns the Host for the running machine.
func NewLive() Host {
	var u unix.Utsname
	rel := ""
	if err := unix.Uname(&u); err == nil {
		rel = unix.ByteSliceToString(u.Release[:])
	}
	exe, err := os.Executable()
	if err != nil {
		exe = ""
	}
	self := Identity{UID: os.Geteuid(), GID: os.Getegid()}
	// The name comes from the environment only as a hint; probes resolve names from
	// /etc/passwd through the Host like any other file.
	self.Name = os.Getenv("USER")
	return &live{release: rel, self: self, exe: exe}
}

func (l *live) Live() bool            { return true }
func (l *live) KernelRelease() string { return l.release }
func (l *live) Self() Identity        { return l.self }
func (l *live) Executable() string    { return l.exe }

func (l *live) LookupEnv(key string) (string, bool) { return os.LookupEnv(key) }

// ReadFile opens only regular files (openRegular): an account can leave a FIFO or a symlink
// to a device where root's `check --user` reads its configuration. As root, what an account
// controls is read with its permissions (asController, owner.go).
func (l *live) ReadFile(path string) (data []byte, err error) {
	err = l.asController(path, true, func() error {
		data, err = readFile(path)
		return err
	})
	return data, err
}

func readFile(path string) ([]byte, error) {
	data, _, err := ReadRegular(path)
	return data, err
}

// ReadRegular reads the regular file at path with the rules of every read
// (docs/bounded-inputs.md): a FIFO, device or socket is refused before it is opened for
// reading (ErrNotRegular), and at most MaxRead bytes are read (ErrTooLarge). It also returns
// what fstat says of the file read (mode, owner, times). It reads as the calling process,
// with no regard to who controls the path: root's `fix --apply` reads /etc with it.
func ReadRegular(path string) ([]byte, fs.FileInfo, error) {
	pfd, err := openRetry(path, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	fd, st, err := reopenRegular(pfd, path, func() (int, error) {
		return openRetry(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
	})
	unix.Close(pfd)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(fd)
	data, err := readCapped(fdReader(fd), path, st.Size)
	return data, &statInfo{name: filepath.Base(path), st: *st}, err
}

func (l *live) Stat(path string) (fi FileInfo, err error) {
	err = l.asController(path, true, func() error {
		fi, err = stat(path, unix.Stat)
		return err
	})
	return fi, err
}

func (l *live) Lstat(path string) (fi FileInfo, err error) {
	err = l.asController(path, false, func() error {
		fi, err = stat(path, unix.Lstat)
		return err
	})
	return fi, err
}

func stat(path string, fn func(string, *unix.Stat_t) error) (FileInfo, error) {
	var st unix.Stat_t
	if err := fn(path, &st); err != nil {
		return FileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	fi := FileInfo{
		Path:  path,
		Mode:  unixMode(st.Mode),
		UID:   int(st.Uid),
		GID:   int(st.Gid),
		Size:  st.Size,
		Major: unix.Major(st.Rdev),
		Minor: unix.Minor(st.Rdev),
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		// cap.GetFile answers ENODATA when there are none; any error means "no caps we can see".
		if set, err := cap.GetFile(path); err == nil && set != nil {
			fi.Caps = set.String()
			// Namespaced (v3) file capabilities apply only in the user namespace whose root
			// is that uid; getcap(8) appends " [rootid=N]" for them, and so do we, or they
			// would read as capabilities on the host.
			if root, err := set.GetNSOwner(); err == nil && root != 0 {
				fi.Caps += fmt.Sprintf(" [rootid=%d]", root)
			}
		}
	}
	return fi, nil
}

// unixMode converts st_mode into an fs.FileMode, like os.FileInfo does.
func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// ReadDir opens with O_DIRECTORY, which fails on anything else before it is opened (a FIFO
// does not block), and lists at most MaxDirEntries entries.
func (l *live) ReadDir(path string) (ents []fs.DirEntry, err error) {
	err = l.asController(path, true, func() error {
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		ents, err = readDirCapped(f, path)
		return err
	})
	return ents, err
}

func (l *live) EvalSymlinks(path string) (res string, err error) {
	err = l.asController(path, true, func() error {
		res, err = filepath.EvalSymlinks(path)
		return err
	})
	return res, err
}

func (l *live) Readlink(path string) (string, error) { return os.Readlink(path) }

// DiskSpace is statfs(2) of path, with the account's permissions where it controls the path
// (asController), as FSType. It replaced `df -Pk DIR` in storage.tmpdir: the static check's
// last child process (issue 16).
func (l *live) DiskSpace(path string) (DiskSpace, error) {
	st, err := l.statfs(path)
	if err != nil {
		return DiskSpace{}, err
	}
	return statfsSpace(st.Blocks, st.Bavail, st.Frsize, st.Bsize), nil
}

// statfs is statfs(2) of path, with the account's permissions where it controls the path.
func (l *live) statfs(path string) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := l.asController(path, true, func() error {
		if err := unix.Statfs(path, &st); err != nil {
			return &fs.PathError{Op: "statfs", Path: path, Err: err}
		}
		return nil
	})
	return st, err
}

// statfsSpace turns statfs block counts into bytes, in f_frsize units as df does (f_bsize
// when a filesystem leaves f_frsize 0), saturating rather than overflowing.
func statfsSpace(blocks, bavail uint64, frsize, bsize int64) DiskSpace {
	unit := frsize
	if unit <= 0 {
		unit = bsize
	}
	if unit <= 0 {
		unit = 1
	}
	bytes := func(n uint64) int64 {
		if n > uint64(math.MaxInt64/unit) {
			return math.MaxInt64
		}
		return int64(n) * unit
	}
	return DiskSpace{Size: bytes(blocks), Avail: bytes(bavail)}
}

func (l *live) FSType(path string) (string, error) {
	st, err := l.statfs(path)
	if err != nil {
		return "", err
	}
	return FSTypeName(int64(st.Type)), nil
}

func (l *live) LookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// Run runs argv bounded (RunCommand): DefaultCommandTimeout, its own process group killed
// whole at the deadline, leftovers killed after it exits, output capped at MaxRead.
func (l *live) Run(ctx context.Context, argv ...string) (Output, error) {
	if len(argv) == 0 {
		return Output{}, errors.New("run: empty command")
	}
	var stdout, stderr CappedBuffer
	err := RunCommand(ctx, DefaultCommandTimeout, true, argv, func(cmd *exec.Cmd) {
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		// LC_ALL=C: probes parse version strings and messages; translations would break them.
		cmd.Env = append(os.Environ(), "LC_ALL=C")
	})
	out := Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitCode()
	default:
		return out, fmt.Errorf("running %s: %w", strings.Join(argv, " "), err)
	}
	return out, nil
}

// fsMagic maps statfs f_type to names, for the filesystems the probes care about.
// Values from linux/magic.h (and nfs, fuse, gpfs, lustre, which are not in it).
var fsMagic = map[int64]string{
	0xEF53:     "ext4", // ext2/3/4 share the magic
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x6969:     "nfs",
	0x01021994: "tmpfs",
	0x63677270: "cgroup2",
	0x27e0eb:   "cgroup",
	0x794c7630: "overlay",
	0x65735546: "fuse",
	0x2FC12FC1: "zfs",
	0xFF534D42: "cifs",
	0xFE534D42: "smb2",
	0x47504653: "gpfs",
	0x0BD00BD0: "lustre",
	0x9fa0:     "proc",
	0x62656572: "sysfs",
	0x1373:     "devfs",
	0x858458f6: "ramfs",
	0x73717368: "squashfs",
	0xF2F52010: "f2fs",
	0x5346544e: "ntfs",
	0x4d44:     "vfat",
	0x2011BAB0: "exfat",
	0x01021997: "9p",
	0x786f4256: "vboxsf",
	0xCA451A4E: "bcachefs",
}

// FSTypeName names a statfs magic number.
func FSTypeName(magic int64) string {
	if n, ok := fsMagic[magic]; ok {
		return n
	}
	return fmt.Sprintf("unknown(0x%x)", magic)
}
