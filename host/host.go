// Package host is the one door through which rootless-doctor looks at a machine.
//
// Probes, the fix planner and distro detection never call os.ReadFile, os.Getenv or
// exec.Command themselves: they ask a Host. Three implementations exist and run the same
// probe code:
//
//   - Live: the machine the binary runs on (NewLive).
//   - Recorded: a directory that mirrors real paths plus a manifest.json for what a
//     directory cannot hold (OpenTree; the format is docs/snapshot-format.md). This is what
//     `check --root DIR` reads, and what the fixtures/ trees are.
//   - Memory: an in-memory tree for unit tests (NewMemory), the same Recorded type over a
//     testing/fstest.MapFS.
//
// The idea follows prometheus/procfs and moby/sys/mountinfo: thin I/O over an injectable root,
// pure parsers elsewhere (docs/architecture.md).
package host

import (
	"context"
	"errors"
	"io/fs"
	"time"
)

// MaxRead caps every file read. Sizes in /proc and /sys lie (they report 0 or 4096), and a
// recorded tree may hold a hostile multi-gigabyte file; no file a probe reads is legitimately
// larger than this.
const MaxRead = 4 << 20

// ErrTooLarge is returned (wrapped) when a file is larger than MaxRead.
var ErrTooLarge = errors.New("file is larger than the read limit")

// ErrNotRecorded is returned by Run on a recorded host when no output was recorded for the
// command. Probes treat it like a command that is not installed.
var ErrNotRecorded = errors.New("command output was not recorded")

// ErrSpaceNotRecorded is returned by DiskSpace on a recorded host that has no answer for the
// path: a snapshot from before Dec 2026 recorded `df -Pk PATH` instead (storage.tmpdir).
var ErrSpaceNotRecorded = errors.New("disk space was not recorded")

// FileInfo is what a probe may learn about a path beyond its bytes: owner, mode, device
// numbers, file capabilities. fs.FileInfo alone cannot carry owner or capabilities, and a
// recorded tree cannot hold setuid bits, devices or xattrs in git, so the manifest supplies them.
type FileInfo struct {
	// Path is the absolute path that was asked for.
	Path string
	// Mode carries the type bits (fs.ModeDir, fs.ModeCharDevice, fs.ModeSymlink, …) and the
	// permission bits including fs.ModeSetuid / fs.ModeSetgid.
	Mode fs.FileMode
	UID  int
	GID  int
	Size int64
	// Major and Minor are the device numbers of a character or block device.
	Major, Minor uint32
	// Caps is the file capability set in getcap(8) text form ("cap_setuid=ep"), empty when
	// the file has none.
	Caps string
}

// IsDir reports whether the path is a directory.
func (fi FileInfo) IsDir() bool { return fi.Mode.IsDir() }

// IsCharDevice reports whether the path is a character device.
func (fi FileInfo) IsCharDevice() bool {
	return fi.Mode&fs.ModeDevice != 0 && fi.Mode&fs.ModeCharDevice != 0
}

// DiskSpace is the size of a filesystem and the room left in it for an unprivileged writer
// (statfs f_blocks and f_bavail times f_frsize: df's "1024-blocks" and "Available"), in bytes.
type DiskSpace struct {
	Size  int64 `json:"size"`
	Avail int64 `json:"avail"`
}

// Output is what a command printed and how it ended.
type Output struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Identity is the account the doctor itself runs as.
type Identity struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Name string `json:"name"`
}

// Host is everything a probe may read about a machine. Paths are absolute ("/etc/subuid").
// Implementations MUST be safe for concurrent use: the runner may run probes in parallel.
type Host interface {
	// ReadFile reads a whole file, at most MaxRead bytes (ErrTooLarge beyond). Errors wrap
	// fs.ErrNotExist / fs.ErrPermission so callers can use errors.Is.
	ReadFile(path string) ([]byte, error)
	// Stat follows symlinks; Lstat does not.
	Stat(path string) (FileInfo, error)
	Lstat(path string) (FileInfo, error)
	// ReadDir lists a directory sorted by name.
	ReadDir(path string) ([]fs.DirEntry, error)
	// EvalSymlinks resolves every symlink in path, like filepath.EvalSymlinks.
	EvalSymlinks(path string) (string, error)
	// Readlink reads the target of the symlink at path as written, like os.Readlink: one hop,
	// not resolved. A probe that must know every hop of a chain (net.dns follows
	// /etc/resolv.conf link by link) needs it; EvalSymlinks only gives the end.
	Readlink(path string) (string, error)
	// FSType is the type of the filesystem that holds path, by statfs magic
	// ("ext4", "xfs", "btrfs", "nfs", "tmpfs", "cgroup2", "overlay", …; "unknown(0x…)").
	FSType(path string) (string, error)
	// DiskSpace is what statfs(2) says of the filesystem that holds path: its size and the
	// room an unprivileged writer still has, as `df -Pk` prints them, without a process. A
	// recorded host answers what was recorded for the path (the longest recorded prefix), else
	// an error wrapping ErrSpaceNotRecorded.
	DiskSpace(path string) (DiskSpace, error)
	// LookupEnv reads the environment of the doctor's own process.
	LookupEnv(key string) (string, bool)
	// LookPath finds an executable on the host's PATH (from LookupEnv("PATH")) or, when the
	// name has a slash, checks that path.
	LookPath(name string) (string, error)
	// Run runs argv and returns its output. A non-zero exit is not an error: it is in
	// Output.ExitCode. An error means the command could not run (not found, not recorded,
	// context ended).
	Run(ctx context.Context, argv ...string) (Output, error)
	// KernelRelease is uname -r.
	KernelRelease() string
	// Self is the account the doctor runs as.
	Self() Identity
	// Executable is the absolute path of the running rootless-doctor binary (on a recorded
	// host: the path it had when the snapshot was taken, or "").
	Executable() string
	// Live reports whether this is the machine we run on (the live proof needs it).
	Live() bool
}

// DefaultCommandTimeout bounds every command a live host runs: a hung `pasta --version` must
// not hang the doctor.
const DefaultCommandTimeout = 5 * time.Second
