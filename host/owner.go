package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Root reading what an account controls (docs/security.md, "Root and the account's
// directories"). `check --user`, `snapshot --user` and the re-check of `fix --apply` run as
// root and read the account's own files: ~/.config/containers/storage.conf,
// ~/.config/docker/daemon.json, the data roots under ~/.local/share, $XDG_RUNTIME_DIR. A plain
// open follows whatever symlink the account left there, so a link to /etc/shadow was read
// with root's rights and could end up as evidence in a report or in a snapshot archive
// (issue 10).
//
// So, when the doctor runs as root, every path a Host method resolves is walked first, as
// root, without following anything an account could have put there: each symlink met in a
// directory only root can change is resolved by hand, and the walk stops at the first name
// looked up in a directory someone else can change — one owned by another uid, one that
// others may write (then "nobody" controls it), or, in a sticky world-writable directory
// such as /tmp, an entry owned by someone else. The rest of the path is then resolved and
// read by the kernel with the filesystem credentials of that owner (setfsuid(2),
// setfsgid(2), setgroups(2) on a thread of its own, which is discarded afterwards): root
// sees exactly what the account's own engine would see, links included (a dotfiles link
// works; a link to /etc/shadow is "permission denied", as it is for the account).
//
// Why credentials and not openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) from the home
// directory: that refuses the links people keep their configuration behind (GNU stow's
// ~/.config → dotfiles/.config, home-manager's links into /nix/store), which the engine
// follows, so the report would differ from what the engine does; and it must still decide
// which root-owned files a link may reach, which is the account's permissions again. A
// child process per read would do the same at the cost of a fork and exec; the thread's
// credentials cost a thread. Linux keeps credentials per thread (credentials(7)); setfsuid
// to a non-zero uid drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the
// thread's effective set (capabilities(7), "Effect of user ID changes on capabilities");
// a goroutine that ends locked to its thread takes the thread with it (runtime.LockOSThread),
// and the Go runtime never starts new threads from a locked one.

// nobody is the uid (and gid) of a directory anyone may write: what is in it is read with no
// account's rights at all.
const nobody = 65534

// controller is who controls the rest of a path: uid, and the directory or entry it owns.
type controller struct {
	uid   int
	where string
}

// controlledBy walks the absolute path p as root (followLast: whether its last component, if
// a symlink, is followed too) and reports who, other than root, could change what it
// resolves to from where on; ok false when nobody but root can. A name looked up in a
// directory someone else may write is theirs whether it exists yet or not; a missing name in
// a directory only root may write cannot appear before the open, which then answers ENOENT
// or ENOTDIR itself.
func controlledBy(p string, followLast bool) (c controller, ok bool) {
	p = filepath.Clean(p)
	if !filepath.IsAbs(p) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return controller{}, false
		}
		p = abs
	}
	var dir string
	var dirSt unix.Stat_t
	dirOK := false
	stop := errors.New("controlled")
	judge := func(next string) (string, bool, error) {
		if parent := path.Dir(next); parent != dir {
			dir = parent
			dirOK = unix.Lstat(dir, &dirSt) == nil
		}
		if !dirOK {
			return "", false, nil
		}
		// Whether the name exists or not: the account may create it before the open.
		switch {
		case dirSt.Uid != 0:
			c = controller{uid: int(dirSt.Uid), where: dir}
			return "", false, stop
		case dirSt.Mode&0o022 != 0 && dirSt.Mode&unix.S_ISVTX == 0:
			c = controller{uid: nobody, where: dir}
			return "", false, stop
		}
		var st unix.Stat_t
		entryErr := unix.Lstat(next, &st)
		if dirSt.Mode&0o022 != 0 && (entryErr != nil || st.Uid != 0) {
			// Sticky: only the entry's owner (or root) may remove or rename it (chmod(2)),
			// and anyone may create a missing one.
			c = controller{uid: nobody, where: next}
			if entryErr == nil {
				c.uid = int(st.Uid)
			}
			return "", false, stop
		}
		if entryErr != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return "", false, nil
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", false, nil
		}
		return target, true, nil
	}
	last, err := WalkLinks(p, followLast, nil, judge)
	if err == nil && !followLast && last != "/" {
		// The last name is not followed, but it is still looked up in its directory.
		_, _, err = judge(last)
	}
	return c, errors.Is(err, stop)
}

// creds are the filesystem credentials of an account.
type creds struct {
	uid, gid int
	groups   []int
	name     string
}

// credsCache holds the credentials of each uid met, looked up once (os/user: /etc/passwd and
// /etc/group, or NSS).
var credsCache sync.Map // int → creds

// credsOf looks up uid's primary group and groups. An unknown uid gets nobody's group and no
// other: never more rights than the account has.
func credsOf(uid int) creds {
	if c, ok := credsCache.Load(uid); ok {
		return c.(creds)
	}
	c := creds{uid: uid, gid: nobody, name: "uid " + strconv.Itoa(uid)}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		c.name = fmt.Sprintf("%s (uid %d)", u.Username, uid)
		if gid, err := strconv.Atoi(u.Gid); err == nil {
			c.gid = gid
		}
		if gs, err := u.GroupIds(); err == nil {
			for _, g := range gs {
				if n, err := strconv.Atoi(g); err == nil && len(c.groups) < 65536 {
					c.groups = append(c.groups, n)
				}
			}
		}
	}
	credsCache.Store(uid, c)
	return c
}

// errCredentials is the error of a thread whose credentials could not be changed: then
// nothing is read.
var errCredentials = errors.New("cannot take the account's credentials")

// asAccount runs fn on a new thread whose filesystem credentials are c's. The thread is never
// unlocked, so it ends with the goroutine and nothing else ever runs with these credentials.
func asAccount(c creds, fn func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: see above.
		if err := unix.Setgroups(c.groups); err != nil {
			done <- fmt.Errorf("%w: setgroups: %w", errCredentials, err)
			return
		}
		_, _ = unix.SetfsgidRetGid(c.gid)
		_, _ = unix.SetfsuidRetUid(c.uid)
		// setfsuid and setfsgid report no errors; asking with -1 returns the current value.
		if uid, _ := unix.SetfsuidRetUid(-1); uid != c.uid {
			done <- fmt.Errorf("%w: fsuid is %d, not %d", errCredentials, uid, c.uid)
			return
		}
		if gid, _ := unix.SetfsgidRetGid(-1); gid != c.gid {
			done <- fmt.Errorf("%w: fsgid is %d, not %d", errCredentials, gid, c.gid)
			return
		}
		fn()
		done <- nil
	}()
	return <-done
}

// asController runs fn for the path p: directly when no account controls it (or when the
// doctor is not root), else with the credentials of the account that does. A permission error
// fn returns is explained: whose rights were used, and where a symlink at p points.
func (l *live) asController(p string, followLast bool, fn func() error) error {
	if l.self.UID != 0 {
		return fn()
	}
	c, ok := controlledBy(p, followLast)
	if !ok {
		return fn()
	}
	cr := credsOf(c.uid)
	var err error
	var link string
	if cerr := asAccount(cr, func() {
		err = fn()
		if errors.Is(err, fs.ErrPermission) {
			link, _ = os.Readlink(p)
		}
	}); cerr != nil {
		return &fs.PathError{Op: "open", Path: p, Err: cerr}
	}
	if err != nil && errors.Is(err, fs.ErrPermission) {
		why := fmt.Sprintf("root reads under %s, which %s controls, with that account's permissions", c.where, cr.name)
		if link != "" {
			return fmt.Errorf("%w: it is a symlink to %s, which %s cannot read (%s)", err, link, cr.name, why)
		}
		return fmt.Errorf("%w: %s cannot read it (%s)", err, cr.name, why)
	}
	return err
}
