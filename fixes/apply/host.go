// Package apply is the machine side of `fix --apply`: the Applier (applier.go) runs a plan's
// steps on a System, and Root is the real System, with sh -c for commands and atomic writes
// for files, in this process or in the sudo helper (sudo.go). It is the only code under
// fixes/ that touches the machine.
//
// Backups: every file is copied, before it changes, to BackupRoot/<timestamp>/<its path>
// (by default /var/backups/rootless-doctor/20261122T061500Z/etc/subuid), keeping mode and
// owner. --apply does not leave the .NAME.rootless-doctor-backup copies the printed script's
// put() makes: one directory per run is easier to find, and to restore from, than copies
// scattered next to the files. A run that changes nothing leaves no backup directory.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// DefaultBackupRoot is where backups go.
const DefaultBackupRoot = "/var/backups/rootless-doctor"

// Root is the machine, acted on directly: the process must be root.
type Root struct {
	// BackupRoot holds one directory per run (DefaultBackupRoot when empty).
	BackupRoot string
	// Now names the run's backup directory (time.Now when nil).
	Now func() time.Time
	// Hook, when set, is called between writing the temporary file and renaming it over
	// the target ("rename PATH"): tests kill the process there.
	Hook func(point string)
	// Shell is the shell commands run in ("/bin/sh" when empty).
	Shell string
	// CommandTimeout bounds each command (DefaultCommandTimeout when zero).
	CommandTimeout time.Duration

	mu   sync.Mutex
	dir  string
	refs map[string]int
}

// BackupDir is this run's backup directory, created on the first backup ("" before): the
// UTC time of that backup, with -2, -3, … when a run of the same second has one already.
func (r *Root) BackupDir() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dir
}

func (r *Root) backupDir() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir != "" {
		return r.dir, nil
	}
	root := r.BackupRoot
	if root == "" {
		root = DefaultBackupRoot
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	stamp := now().UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		dir := filepath.Join(root, stamp)
		if i > 1 {
			dir += fmt.Sprintf("-%d", i)
		}
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			r.dir = dir
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) || i > 1000 {
			return "", err
		}
	}
}

// DefaultCommandTimeout bounds one command of a fix: a package install on a slow mirror takes
// minutes, none legitimately takes this long.
const DefaultCommandTimeout = 15 * time.Minute

// maxCommandOutput caps what is kept of a command's output (shown when it fails).
const maxCommandOutput = 1 << 20

// Run runs command with sh -c, stdin from /dev/null, and returns its combined output (the
// first megabyte). It is bounded by host.RunCommand: CommandTimeout, its own process group
// killed whole at the deadline or when ctx ends (a timed-out command's error wraps
// host.ErrTimeout), and a WaitDelay on its output. What it leaves running after it exits
// successfully is left alone: a package's postinst may start a service.
func (r *Root) Run(ctx context.Context, command string) (string, error) {
	sh := r.Shell
	if sh == "" {
		sh = "/bin/sh"
	}
	timeout := r.CommandTimeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	out := &host.CappedBuffer{Max: maxCommandOutput}
	err := host.RunCommand(ctx, timeout, false, []string{sh, "-c", command}, func(cmd *exec.Cmd) {
		cmd.Stdout, cmd.Stderr = out, out
	})
	return out.String(), err
}

// ReadFile returns the content and permission bits of path: a regular file of at most
// host.MaxRead bytes, refused before it is opened for reading when it is anything else
// (host.ReadRegular, docs/bounded-inputs.md; before, a file was read whole, whatever its size).
func (r *Root) ReadFile(path string) ([]byte, fs.FileMode, error) {
	data, fi, err := host.ReadRegular(path)
	if err != nil {
		if errors.Is(err, host.ErrNotRegular) {
			return nil, 0, fmt.Errorf("%s is not a regular file: %w", path, err)
		}
		return nil, 0, err
	}
	return data, fi.Mode().Perm(), nil
}

// WriteFile replaces path atomically: a temporary file in the same directory with the new
// content, the mode and the owner of the file it replaces (root for a new one), fsync, rename,
// fsync of the directory. Killed at any moment, path holds the old content or the new one;
// at worst a .NAME.rootless-doctor-tmp* file is left behind, which sysctl.d, modules-load.d,
// udev and apparmor_parser all ignore (dot files, unknown suffix), and which the next write
// of the same file removes.
func (r *Root) WriteFile(path string, content []byte, mode fs.FileMode) error {
	return WriteAtomic(path, content, mode, r.Hook)
}

// WriteAtomic is WriteFile without a Root.
func WriteAtomic(path string, content []byte, mode fs.FileMode, hook func(string)) (err error) {
	return writeAtomic(path, content, mode, nil, hook)
}

// writeAtomic is WriteAtomic with the owner given (uid, gid), or nil to keep the replaced
// file's. The owner is set on the temporary file's descriptor (fchown), never by name
// (docs/security.md).
func writeAtomic(path string, content []byte, mode fs.FileMode, owner *[2]int, hook func(string)) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// A new file is the writer's: root's for root, the account's own for user-scope steps.
	uid, gid := os.Geteuid(), os.Getegid()
	if owner != nil {
		uid, gid = owner[0], owner[1]
	} else if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	prefix := "." + filepath.Base(path) + ".rootless-doctor-tmp"
	// A write killed before its rename leaves its temporary file: remove it now (the
	// name is ours alone).
	if stale, _ := filepath.Glob(filepath.Join(dir, globEscape(prefix)+"*")); len(stale) > 0 {
		for _, p := range stale {
			os.Remove(p)
		}
	}
	tmp, err := os.CreateTemp(dir, prefix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(content); err != nil {
		return err
	}
	if err = tmp.Chown(uid, gid); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if hook != nil {
		hook("rename " + path)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// globEscape quotes the glob metacharacters of s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Backup copies path into the run's backup directory, under its own path, keeping mode,
// owner and modification time. The copy itself is written atomically.
func (r *Root) Backup(path string) (string, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	dir, err := r.backupDir()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, abs)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs == nil {
		r.refs = map[string]int{}
	}
	if _, err := os.Lstat(dst); err == nil {
		// Already backed up in this run: the first copy is the original. Discard removes
		// it only when every step that asked for it discarded it.
		r.refs[dst]++
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	// The file read is the one described: mode, owner and time come from its descriptor.
	data, fi, err := host.ReadRegular(path)
	if err != nil {
		return "", fmt.Errorf("backing up %s: %w", path, err)
	}
	var owner *[2]int
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = &[2]int{int(st.Uid), int(st.Gid)}
	}
	if err := writeAtomic(dst, data, fi.Mode().Perm(), owner, nil); err != nil {
		return "", err
	}
	// By name, but without following a link: dst is in root's own backup directory.
	mt := unix.NsecToTimespec(fi.ModTime().UnixNano())
	_ = unix.UtimesNanoAt(unix.AT_FDCWD, dst, []unix.Timespec{mt, mt}, unix.AT_SYMLINK_NOFOLLOW)
	r.refs[dst]++
	return dst, nil
}

// Discard removes a backup and the directories that become empty, up to the backup root,
// so that a run that changed nothing leaves nothing behind.
//
// Only a backup this run made is removed: a clean path it returned from Backup (since issue 10:
// a path climbing out with ".." passed a prefix check and was removed).
func (r *Root) Discard(backup string) error {
	base := r.BackupDir()
	if base == "" || filepath.Clean(backup) != backup || !strings.HasPrefix(backup, base+"/") {
		return fmt.Errorf("%s is not in this run's backup directory %s", backup, base)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refs[backup] <= 0 {
		return fmt.Errorf("%s is not a backup of this run", backup)
	}
	if r.refs[backup]--; r.refs[backup] > 0 {
		return nil
	}
	delete(r.refs, backup)
	if err := os.Remove(backup); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for d := filepath.Dir(backup); len(d) >= len(base); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	if _, err := os.Lstat(base); errors.Is(err, fs.ErrNotExist) {
		// The run's directory is gone: a later backup makes a new one.
		r.dir = ""
	}
	return nil
}
