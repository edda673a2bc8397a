package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Cached `--version` answers (issue 16, goal 2; docs/performance.md): a static check ran
// `slirp4netns --version`, `pasta --version` and `iptables --version` at every start, several
// ms of its ~20 ms. A helper's version changes only when its file does, so the answer is kept
// under $XDG_CACHE_HOME/rootless-doctor/versions, keyed by the path and what stat(2) says of
// the file it resolves to: device, inode, size, mtime, ctime, mode and owner. An upgrade that
// replaces the file (new inode) or rewrites it in place (new ctime, which no unprivileged call
// can set back) misses the cache, so an answer is never stale. The file is stat'ed before and
// after the run and the answer is kept only when both agree.

// versionCacheFormat is part of every key and entry name: a change of what an entry holds
// orphans old entries instead of misreading them. rd-version-cache-1 entries were named by
// their whole key, one per version of a tool; since -2 a tool's path has one entry, replaced
// when the tool changes.
const versionCacheFormat = "rd-version-cache-2"

// maxCachedOutput bounds what an entry holds and what is read back from one.
const maxCachedOutput = 64 << 10

// versionCache answers `ABSOLUTE-PATH --version` from entries in dir and runs everything else
// through the Host it wraps.
type versionCache struct {
	Host
	dir  string
	uid  int
	once sync.Once
	root *os.Root // nil when dir is unusable: every query runs the command
}

// cachedEntry is one file of the cache.
type cachedEntry struct {
	Key    string `json:"key"`
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
}

// NewLiveCached is NewLive with `--version` answers cached in VersionCacheDir. Root gets no
// cache: root checks on behalf of other accounts, and a cache is a path an environment chosen
// by someone else could point into.
func NewLiveCached() Host {
	h := NewLive()
	dir := VersionCacheDir(os.Geteuid(), os.Getenv)
	if dir == "" {
		return h
	}
	return WithVersionCache(h, dir, os.Geteuid())
}

// VersionCacheDir is where an account with euid keeps cached versions: $XDG_CACHE_HOME, else
// $HOME/.cache (XDG Base Directory spec,
// https://specifications.freedesktop.org/basedir-spec/latest/), then rootless-doctor/versions.
// It is "" for root and when neither variable holds an absolute path.
func VersionCacheDir(euid int, getenv func(string) string) string {
	if euid == 0 {
		return ""
	}
	base := getenv("XDG_CACHE_HOME")
	if !filepath.IsAbs(base) {
		home := getenv("HOME")
		if !filepath.IsAbs(home) {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "rootless-doctor", "versions")
}

// WithVersionCache wraps h so that `--version` answers are kept in dir, a directory that uid
// owns and only uid can write (it is made 0700 when missing; one that is not so is not used).
func WithVersionCache(h Host, dir string, uid int) Host {
	return &versionCache{Host: h, dir: dir, uid: uid}
}

// open makes and opens the cache directory once; it refuses a directory that is not uid's
// alone, a symlink included.
func (c *versionCache) open() *os.Root {
	c.once.Do(func() {
		if err := os.MkdirAll(c.dir, 0o700); err != nil {
			return
		}
		var st unix.Stat_t
		if err := unix.Lstat(c.dir, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR ||
			int(st.Uid) != c.uid || st.Mode&0o022 != 0 {
			return
		}
		if r, err := os.OpenRoot(c.dir); err == nil {
			c.root = r
		}
	})
	return c.root
}

// Run answers `PATH --version` from the cache when it can, else runs argv and keeps a clean
// answer (exit 0, no error, bounded output).
func (c *versionCache) Run(ctx context.Context, argv ...string) (Output, error) {
	if len(argv) != 2 || argv[1] != "--version" || !filepath.IsAbs(argv[0]) {
		return c.Host.Run(ctx, argv...)
	}
	key, ok := fileKey(argv[0])
	if !ok {
		return c.Host.Run(ctx, argv...)
	}
	root := c.open()
	name := entryName(versionCacheFormat + "\x00" + argv[0])
	if root != nil {
		if out, ok := c.read(root, name, key); ok {
			return out, nil
		}
	}
	out, err := c.Host.Run(ctx, argv...)
	if root == nil || err != nil || out.ExitCode != 0 || len(out.Stdout)+len(out.Stderr) > maxCachedOutput {
		return out, err
	}
	if after, ok := fileKey(argv[0]); ok && after == key {
		c.write(root, name, cachedEntry{Key: key, Stdout: out.Stdout, Stderr: out.Stderr})
	}
	return out, err
}

// fileKey is the key of the file path resolves to.
func fileKey(path string) (string, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", false
	}
	return fmt.Sprintf("%s\x00%s\x00dev=%d ino=%d size=%d mtime=%d.%09d ctime=%d.%09d mode=%o uid=%d gid=%d",
		versionCacheFormat, path, st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec,
		st.Ctim.Sec, st.Ctim.Nsec, st.Mode, st.Uid, st.Gid), true
}

// entryName is the file name of the entry of what (a tool's path, with the format).
func entryName(what string) string {
	sum := sha256.Sum256([]byte(what))
	return hex.EncodeToString(sum[:]) + ".json"
}

// read returns the entry called name when it is a regular file of uid's holding key. Anything
// else (missing, foreign, corrupt, too large) is a miss.
func (c *versionCache) read(root *os.Root, name, key string) (Output, bool) {
	// base64 in JSON takes 4/3 of the bytes; the slack covers the key and the field names.
	data, ok := c.readEntry(root, name, 2*maxCachedOutput+4096)
	if !ok {
		return Output{}, false
	}
	var e cachedEntry
	if json.Unmarshal(data, &e) != nil || e.Key != key {
		return Output{}, false
	}
	return Output{Stdout: e.Stdout, Stderr: e.Stderr}, true
}

// readEntry reads the entry called name, at most max bytes, when it is a regular file of
// uid's that only uid can write; anything else is a miss.
func (c *versionCache) readEntry(root *os.Root, name string, max int64) ([]byte, bool) {
	f, err := root.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG ||
		int(st.Uid) != c.uid || st.Mode&0o022 != 0 || st.Size > max {
		return nil, false
	}
	data, err := readCapped(io.LimitReader(f, max+1), name, st.Size)
	if err != nil || int64(len(data)) > max {
		return nil, false
	}
	return data, true
}

// write stores e as name. Failures are ignored: the cache only saves time.
func (c *versionCache) write(root *os.Root, name string, e cachedEntry) {
	if data, err := json.Marshal(e); err == nil {
		writeEntry(root, name, data)
	}
}

// writeEntry stores data as name, atomically (a new file renamed over the old): a concurrent
// reader sees the old entry or the new one. Failures are ignored: the cache only saves time.
func writeEntry(root *os.Root, name string, data []byte) {
	tmp := name + ".tmp" + strconv.Itoa(os.Getpid())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr != nil || cerr != nil || root.Rename(tmp, name) != nil {
		_ = root.Remove(tmp)
	}
}

// Deriver is a Host that keeps what was derived from a file across runs: the live host of an
// ordinary account (NewLiveCached), whose cache holds `--version` answers too. Facts that
// cost more to derive than to read back use it: dpkg's database, ~700 KB on a desktop, is
// indexed in ~0.5 ms, the index read back in ~0.05 ms (facts.Env.dpkgFor; issue 16).
type Deriver interface {
	// Derived is what derive makes of the file at path (an absolute path, read with
	// ReadFile). It comes from the cache when the file is the one it was made from: the same
	// key as a cached `--version` answer (device, inode, size, mtime, ctime, mode, owner),
	// the same kind, which names derive and the form of what it returns (change the kind
	// when either changes), and the same variant, what else the answer depends on (the
	// kernel release; "" for nothing). Else the file is read and derive called; its answer
	// is kept when derive says ok, it is at most MaxRead bytes, and the file's key was the
	// same after the read as before. A file ReadFile cannot read is ReadFile's error, and
	// nothing is kept. The cache holds one entry per path and kind, replaced when the file
	// or the variant changes: dpkg's database changes at every apt run, and an entry per
	// version of it would fill the account's disk.
	Derived(path, kind, variant string, derive func(data []byte) (out []byte, ok bool)) ([]byte, error)
}

// derivedFormat is part of every derived entry's key and name, as versionCacheFormat of a
// version's. rd-derived-1 entries were named by their whole key, one per version of a file.
const derivedFormat = "rd-derived-2"

// Derived implements Deriver. An entry is named by the path and the kind, and holds the key
// (the file's identity and the variant), a newline, then derive's bytes.
func (c *versionCache) Derived(path, kind, variant string, derive func([]byte) ([]byte, bool)) ([]byte, error) {
	key, ok := "", false
	if filepath.IsAbs(path) && !strings.ContainsAny(path+kind+variant, "\n\x00") {
		key, ok = fileKey(path)
	}
	var root *os.Root
	if ok {
		root = c.open()
	}
	head := func(fileKey string) string {
		return derivedFormat + "\x00" + kind + "\x00" + variant + "\x00" + fileKey + "\n"
	}
	var name string
	if root != nil {
		sum := sha256.Sum256([]byte(derivedFormat + "\x00" + kind + "\x00" + path))
		name = hex.EncodeToString(sum[:]) + ".derived"
		if data, ok := c.readEntry(root, name, int64(len(head(key)))+MaxRead); ok {
			if out, ok := bytes.CutPrefix(data, []byte(head(key))); ok {
				return out, nil
			}
		}
	}
	data, err := c.Host.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out, keep := derive(data)
	if root != nil && keep && len(out) <= MaxRead {
		if after, ok := fileKey(path); ok && after == key {
			writeEntry(root, name, append([]byte(head(key)), out...))
		}
	}
	return out, nil
}
