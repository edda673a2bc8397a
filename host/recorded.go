package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ManifestName is the file at the top of a recorded tree that holds what the tree cannot.
const ManifestName = "manifest.json"

// ManifestVersion is the version of the manifest format this build reads and writes.
const ManifestVersion = 1

// DefaultPath is the PATH assumed when a recorded environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Manifest is the part of a recorded host a directory tree cannot hold. Its JSON form is
// documented in docs/snapshot-format.md; keep the two in step.
type Manifest struct {
	Version int `json:"version"`
	// Kernel is uname -r of the recorded host.
	Kernel string `json:"kernel"`
	// Self is the account the recording process ran as.
	Self Identity `json:"self"`
	// User is the account a snapshot was taken for (`snapshot --user`), empty when it checked
	// the recording account itself; `check --root` checks it when no --user is given.
	User string `json:"user,omitempty"`
	// Executable is the path of the rootless-doctor binary that made the recording.
	Executable string `json:"executable,omitempty"`
	// Env is the environment variables the probes read.
	Env map[string]string `json:"env,omitempty"`
	// Files holds owner, mode, device numbers and capabilities by absolute path; entries whose
	// path is not in the tree (devices, sockets, setuid binaries) exist on the recorded host.
	Files map[string]FileMeta `json:"files,omitempty"`
	// FSTypes maps mount points to filesystem types; a path takes the type of its longest
	// matching prefix.
	FSTypes map[string]string `json:"fstypes,omitempty"`
	// DiskSpace holds statfs's size and room by the path asked; a path takes the answer of its
	// longest recorded prefix, as with FSTypes.
	DiskSpace map[string]DiskSpace `json:"diskspace,omitempty"`
	// Commands holds the outputs of the commands the probes ran, keyed by argv.
	Commands []Command `json:"commands,omitempty"`
}

// FileMeta is the recorded metadata of one path. Zero fields take the tree's values (owner
// defaults to root, mode to what the tree file has).
type FileMeta struct {
	// Type is file, dir, symlink, char, block, socket or fifo. Empty: what the tree has, or
	// file when the path is only in the manifest.
	Type string `json:"type,omitempty"`
	// Mode is octal permission bits including setuid/setgid/sticky ("4755").
	Mode string `json:"mode,omitempty"`
	UID  *int   `json:"uid,omitempty"`
	GID  *int   `json:"gid,omitempty"`
	// Major and Minor are device numbers for char and block devices.
	Major uint32 `json:"major,omitempty"`
	Minor uint32 `json:"minor,omitempty"`
	// Caps is getcap(8) text ("cap_setuid=ep").
	Caps string `json:"caps,omitempty"`
	// Target is the link target of a symlink that is only in the manifest.
	Target string `json:"target,omitempty"`
	// Denied: the recording could not read this file (root reads what an account controls
	// with the account's permissions, docs/security.md), so every replay answers "permission
	// denied", whoever runs it.
	Denied bool `json:"denied,omitempty"`
}

// Command is one recorded command run.
type Command struct {
	Argv   []string `json:"argv"`
	Stdout string   `json:"stdout,omitempty"`
	Stderr string   `json:"stderr,omitempty"`
	Exit   int      `json:"exit,omitempty"`
	// Error is set when the command could not run at all (for example not installed).
	Error string `json:"error,omitempty"`
}

// Recorded is a Host read from a tree plus a Manifest: a snapshot directory, a fixture, or an
// in-memory tree in a test. It never touches the machine it runs on beyond its tree.
type Recorded struct {
	fsys fs.FS
	m    Manifest
	// path is the recorded PATH's absolute directories, cleaned, in order: LookPath's search,
	// split once rather than at every call.
	path []string
}

// OpenTree opens a recorded host directory (see docs/snapshot-format.md). The tree is read
// through os.Root, so no symlink in it can reach outside it.
func OpenTree(dir string) (*Recorded, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening recorded host: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("opening recorded host %s: not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening recorded host: %w", err)
	}
	// The root stays open for the life of the process: a Host lives as long as a command.
	fsys := newRootFS(root)
	f, err := fsys.openRegular(ManifestName, ManifestName)
	if err != nil {
		return nil, fmt.Errorf("reading %s of recorded host %s: %w", ManifestName, dir, err)
	}
	data, err := readLimited(f, MaxManifest)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s of recorded host %s: %w", ManifestName, dir, err)
	}
	return newChecked(fsys, data, dir)
}

// readLimited reads f whole, but no more than limit+1 bytes (so a caller sees it was over),
// into one buffer sized by fstat when it tells.
func readLimited(f *os.File, limit int64) ([]byte, error) {
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		buf := make([]byte, min(st.Size(), limit)+1)
		n, err := io.ReadFull(f, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = nil
		}
		return buf[:n], err
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// newChecked parses the manifest data of the tree fsys and checks it against the tree.
func newChecked(fsys fs.FS, data []byte, name string) (*Recorded, error) {
	m, err := ParseManifest(data)
	if err == nil {
		err = m.validateTree(fsys)
	}
	if err != nil {
		return nil, fmt.Errorf("recorded host %s: %w", name, err)
	}
	return NewRecorded(fsys, m), nil
}

// NewRecorded builds a recorded host over any fs.FS whose root stands for "/".
func NewRecorded(fsys fs.FS, m Manifest) *Recorded {
	pathEnv, ok := m.Env["PATH"]
	if !ok {
		pathEnv = DefaultPath
	}
	var dirs []string
	for dir := range strings.SplitSeq(pathEnv, ":") {
		if dir != "" && path.IsAbs(dir) {
			dirs = append(dirs, path.Clean(dir))
		}
	}
	return &Recorded{fsys: fsys, m: m, path: dirs}
}

// Manifest returns the recorded manifest.
func (r *Recorded) Manifest() Manifest { return r.m }

func (r *Recorded) Live() bool            { return false }
func (r *Recorded) KernelRelease() string { return r.m.Kernel }
func (r *Recorded) Self() Identity        { return r.m.Self }
func (r *Recorded) Executable() string    { return r.m.Executable }

func (r *Recorded) LookupEnv(key string) (string, bool) {
	v, ok := r.m.Env[key]
	return v, ok
}

// rel turns an absolute host path into a path of the tree.
func rel(p string) string {
	p = cleanAbs(p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

// relClean is rel of a path resolve returned, which is clean already.
func relClean(p string) string {
	if p == "/" {
		return "."
	}
	return p[1:]
}

// cleanAbs is path.Clean("/" + p) without its two allocations when p is already a clean
// absolute path, as nearly every path a probe asks about is: the probes ask a replayed host
// ~265 paths, and each cost two allocations here (issue 16).
func cleanAbs(p string) string {
	if isCleanAbs(p) {
		return p
	}
	return path.Clean("/" + p)
}

// isCleanAbs reports whether path.Clean(p) == p for an absolute p: "/", or "/"-separated
// components none of which is empty, "." or "..".
func isCleanAbs(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		switch p[start:i] {
		case "", ".", "..":
			return false
		}
		start = i + 1
	}
	return true
}

// maxLinks bounds symlink resolution, as the kernel does (ELOOP after 40).
const maxLinks = 40

// resolve resolves symlinks inside the tree. Absolute link targets are taken relative to the
// tree's root, like chroot would. With followLast false the last component is left alone.
func (r *Recorded) resolve(p string, followLast bool) (string, error) {
	p = cleanAbs(p)
	if m, ok := r.fsys.(*memFS); ok && m.linkFree(p, followLast) {
		return p, nil // fast path of LoadTree's trees (recorded_load.go)
	}
	return WalkLinks(p, followLast, nil, r.ReadLink)
}

// errLinkLoop is the error of a path with more than maxLinks symlinks, like the kernel's ELOOP.
var errLinkLoop = errors.New("too many levels of symbolic links")

// WalkLinks resolves every symlink in the clean absolute path p, component by component, with
// absolute targets taken from "/" of the host asked (so a recorded tree's links stay inside it).
// readLink says whether a path is a link and where it points; stop, when not nil, marks paths
// not to follow (/proc/self on a recording host). With followLast false the last component is
// left alone. Shared by Recorded (reads a tree) and Recording (records a live walk) so that a
// snapshot resolves paths exactly as its replay will.
func WalkLinks(p string, followLast bool, stop func(string) bool, readLink func(string) (string, bool, error)) (string, error) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	links := 0
	for i := 0; i < len(parts); i++ {
		name := parts[i]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		last := i == len(parts)-1
		if (last && !followLast) || (stop != nil && stop(next)) {
			cur = next
			continue
		}
		target, isLink, err := readLink(next)
		if err != nil {
			return "", err
		}
		if !isLink {
			cur = next
			continue
		}
		links++
		if links > maxLinks {
			return next, &fs.PathError{Op: "resolve", Path: p, Err: errLinkLoop}
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest := strings.Split(strings.Trim(target, "/"), "/")
		parts = append(rest, parts[i+1:]...)
		i = -1
	}
	return cur, nil
}

// ReadLink reports whether p is a symlink in the manifest or the tree, and its target.
// A missing path is not an error here: resolution goes on and the final open reports it.
func (r *Recorded) ReadLink(p string) (string, bool, error) {
	if fm, ok := r.m.Files[p]; ok && fm.Type == "symlink" {
		return fm.Target, true, nil
	}
	fi, err := r.treeStat(rel(p), false)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return "", false, nil
	}
	target, err := fs.ReadLink(r.fsys, rel(p))
	if err != nil {
		return "", false, &fs.PathError{Op: "readlink", Path: p, Err: err}
	}
	return target, true, nil
}

// Readlink is the Host's one-hop read of a symlink: the symlinks on the way to p are
// followed inside the tree, p itself is not.
func (r *Recorded) Readlink(p string) (string, error) {
	real, err := r.resolve(p, false)
	if err != nil {
		return "", err
	}
	target, ok, err := r.ReadLink(real)
	switch {
	case err != nil:
		return "", err
	case !ok:
		if _, err := r.info(real, true); err != nil {
			return "", &fs.PathError{Op: "readlink", Path: p, Err: fs.ErrNotExist}
		}
		return "", &fs.PathError{Op: "readlink", Path: p, Err: errNotSymlink}
	}
	return target, nil
}

// errNotSymlink is readlink's EINVAL: the path exists and is not a symlink.
var errNotSymlink = errors.New("not a symbolic link")

func (r *Recorded) ReadFile(p string) ([]byte, error) {
	real, err := r.resolve(p, true)
	if err != nil {
		return nil, err
	}
	fm, inManifest := r.m.Files[real]
	if inManifest && specialType(fm.Type) {
		// A snapshot keeps devices, sockets and FIFOs as empty placeholder files with their
		// type in the manifest: replay them as the live host would (ReadFile refuses them).
		return nil, notRegular(p, typeMode(fm.Type))
	}
	// Look before opening (a tree on disk, rootFS, checks again on the inode it opens).
	st, err := r.treeStat(relClean(real), false)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: unwrapPathErr(err)}
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(p, st.Mode())
	}
	if inManifest && fm.Denied {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}
	if inManifest && fm.Mode != "" {
		// A file recorded with mode 0 or 0200 could not be read by the recording process;
		// replay that as a permission error, unless the recording ran as root.
		if mode, _ := strconv.ParseUint(fm.Mode, 8, 32); mode&0o444 == 0 && r.m.Self.UID != 0 {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		}
	}
	if mi, ok := st.(memInfo); ok {
		// LoadTree's trees: the file treeStat found is the one Open would (real has no link
		// left to follow); its bytes, without a handle and a reader per read.
		return (&memHandle{f: mi.f}).content(p)
	}
	f, err := r.fsys.Open(rel(real))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: unwrapPathErr(err)}
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: unwrapPathErr(err)}
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(p, st.Mode())
	}
	if h, ok := f.(*memHandle); ok {
		return h.content(p) // LoadTree's trees: one copy, no growing buffer
	}
	return readCapped(f.(io.Reader), p, st.Size())
}

// specialType reports whether a manifest type is one ReadFile refuses.
func specialType(t string) bool {
	switch t {
	case "char", "block", "socket", "fifo":
		return true
	}
	return false
}

// typeMode is the type bits of a manifest type.
func typeMode(t string) fs.FileMode {
	switch t {
	case "dir":
		return fs.ModeDir
	case "symlink":
		return fs.ModeSymlink
	case "char":
		return fs.ModeDevice | fs.ModeCharDevice
	case "block":
		return fs.ModeDevice
	case "socket":
		return fs.ModeSocket
	case "fifo":
		return fs.ModeNamedPipe
	}
	return 0
}

// rootFS is a tree on disk read through os.Root (OpenTree), so no symlink leads out of it.
// It opens only directories and regular files, and lists directories with a cap: the tree
// may hold FIFOs and devices (docs/bounded-inputs.md).
type rootFS struct{ root *os.Root }

func newRootFS(root *os.Root) rootFS { return rootFS{root: root} }

// Open opens a directory, or a regular file for reading (openRegular); anything else is
// ErrNotRegular, refused before it is opened for reading.
func (f rootFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	st, err := f.root.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return f.root.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK, 0)
	}
	return f.openRegular(name, name)
}

func (f rootFS) Stat(name string) (fs.FileInfo, error)  { return f.root.Stat(name) }
func (f rootFS) Lstat(name string) (fs.FileInfo, error) { return f.root.Lstat(name) }
func (f rootFS) ReadLink(name string) (string, error)   { return f.root.Readlink(name) }
func (f rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	return f.readDir(name, name)
}

// openRegular opens name of the tree for reading if it is a regular file (see openRegular).
func (f rootFS) openRegular(name, display string) (*os.File, error) {
	pf, err := f.root.OpenFile(name, unix.O_PATH, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: display, Err: unwrapPathErr(err)}
	}
	return openRegular(pf, display, func() (*os.File, error) {
		return f.root.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	})
}

// readDir lists name of the tree with the cap of MaxDirEntries.
func (f rootFS) readDir(name, display string) ([]fs.DirEntry, error) {
	d, err := f.root.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: display, Err: unwrapPathErr(err)}
	}
	defer d.Close()
	return readDirCapped(d, display)
}

func unwrapPathErr(err error) error {
	switch err {
	case fs.ErrNotExist, fs.ErrInvalid: // treeStat's and readDir's bare errors
		return err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (r *Recorded) Stat(p string) (FileInfo, error) {
	real, err := r.resolve(p, true)
	if err != nil {
		return FileInfo{}, err
	}
	fi, err := r.info(real, false)
	fi.Path = p
	return fi, err
}

func (r *Recorded) Lstat(p string) (FileInfo, error) {
	real, err := r.resolve(p, false)
	if err != nil {
		return FileInfo{}, err
	}
	fi, err := r.info(real, true)
	fi.Path = p
	return fi, err
}

// treeStat is fs.Stat (follow) or fs.Lstat of the tree's name, a valid fs path (rel's). On
// LoadTree's trees it costs no allocation, found or not, and its error is the bare
// fs.ErrNotExist or fs.ErrInvalid: every caller reports its own *fs.PathError (unwrapPathErr).
func (r *Recorded) treeStat(name string, follow bool) (fs.FileInfo, error) {
	if m, ok := r.fsys.(*memFS); ok {
		f, _, err := m.findValid(name, follow)
		if err != nil {
			return nil, err
		}
		return memInfo{f}, nil
	}
	if follow {
		return fs.Stat(r.fsys, name)
	}
	return fs.Lstat(r.fsys, name)
}

// info combines the tree's view of p with the manifest's. p is resolved.
func (r *Recorded) info(p string, noFollow bool) (FileInfo, error) {
	fi, ok := r.infoOK(p, noFollow)
	if !ok {
		return FileInfo{}, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return fi, nil
}

// infoOK is info with a bool for "not there": a miss costs no allocation.
func (r *Recorded) infoOK(p string, noFollow bool) (FileInfo, bool) {
	fm, inManifest := r.m.Files[p]
	var fi FileInfo
	st, err := r.treeStat(relClean(p), !noFollow)
	switch {
	case err == nil:
		fi.Mode = st.Mode() &^ (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		fi.Size = st.Size()
		if !st.IsDir() && st.Mode().IsRegular() && fi.Mode.Perm()&0o111 == 0 {
			fi.Mode = fi.Mode&^fs.ModePerm | 0o644
		}
	case inManifest:
		fi.Mode = 0o644
		if fm.Type == "dir" {
			fi.Mode = fs.ModeDir | 0o755
		}
	default:
		return FileInfo{}, false
	}
	if !inManifest {
		return fi, true
	}
	switch fm.Type {
	case "dir":
		fi.Mode = fs.ModeDir | fi.Mode.Perm()
	case "symlink":
		fi.Mode = fs.ModeSymlink | 0o777
	case "char":
		fi.Mode = fs.ModeDevice | fs.ModeCharDevice | fi.Mode.Perm()
	case "block":
		fi.Mode = fs.ModeDevice | fi.Mode.Perm()
	case "socket":
		fi.Mode = fs.ModeSocket | fi.Mode.Perm()
	case "fifo":
		fi.Mode = fs.ModeNamedPipe | fi.Mode.Perm()
	case "file":
		fi.Mode = fi.Mode.Perm()
	}
	if fm.Mode != "" {
		m, _ := strconv.ParseUint(fm.Mode, 8, 32) // validated by ParseManifest
		fi.Mode = fi.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) | fs.FileMode(m&0o777)
		if m&0o4000 != 0 {
			fi.Mode |= fs.ModeSetuid
		}
		if m&0o2000 != 0 {
			fi.Mode |= fs.ModeSetgid
		}
		if m&0o1000 != 0 {
			fi.Mode |= fs.ModeSticky
		}
	}
	if fm.UID != nil {
		fi.UID = *fm.UID
	}
	if fm.GID != nil {
		fi.GID = *fm.GID
	}
	fi.Major, fi.Minor, fi.Caps = fm.Major, fm.Minor, fm.Caps
	return fi, true
}

func (r *Recorded) ReadDir(p string) ([]fs.DirEntry, error) {
	real, err := r.resolve(p, true)
	if err != nil {
		return nil, err
	}
	var ents []fs.DirEntry
	if m, ok := r.fsys.(*memFS); ok {
		ents, err = m.readDir(relClean(real))
	} else {
		ents, err = fs.ReadDir(r.fsys, rel(real))
	}
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: unwrapPathErr(err)}
	}
	if real == "/" {
		// The manifest is the recording's, not the recorded host's.
		ents = slices.DeleteFunc(ents, func(e fs.DirEntry) bool { return e.Name() == ManifestName })
	}
	return ents, nil
}

func (r *Recorded) EvalSymlinks(p string) (string, error) {
	real, err := r.resolve(p, true)
	if err != nil {
		return "", err
	}
	if _, err := r.info(real, true); err != nil {
		return "", err
	}
	return real, nil
}

func (r *Recorded) FSType(p string) (string, error) {
	real, err := r.resolve(p, true)
	if err != nil {
		return "", err
	}
	best, bestLen := "", -1
	for mnt, typ := range r.m.FSTypes {
		mnt = path.Clean(mnt)
		if (real == mnt || mnt == "/" || strings.HasPrefix(real, mnt+"/")) && len(mnt) > bestLen {
			best, bestLen = typ, len(mnt)
		}
	}
	if bestLen < 0 {
		return "", &fs.PathError{Op: "statfs", Path: p, Err: errors.New("filesystem type not recorded")}
	}
	return best, nil
}

func (r *Recorded) DiskSpace(p string) (DiskSpace, error) {
	real, err := r.resolve(p, true)
	if err != nil {
		return DiskSpace{}, err
	}
	var best DiskSpace
	bestLen := -1
	for mnt, ds := range r.m.DiskSpace {
		mnt = path.Clean(mnt)
		if (real == mnt || mnt == "/" || strings.HasPrefix(real, mnt+"/")) && len(mnt) > bestLen {
			best, bestLen = ds, len(mnt)
		}
	}
	if bestLen < 0 {
		return DiskSpace{}, &fs.PathError{Op: "statfs", Path: p, Err: ErrSpaceNotRecorded}
	}
	return best, nil
}

func (r *Recorded) LookPath(name string) (string, error) {
	if name == "" {
		return "", &fs.PathError{Op: "lookpath", Path: name, Err: fs.ErrNotExist}
	}
	if strings.Contains(name, "/") {
		if r.isExecutable(name) {
			return name, nil
		}
		return "", &fs.PathError{Op: "lookpath", Path: name, Err: fs.ErrNotExist}
	}
	var buf [256]byte
	for _, dir := range r.path {
		if r.absent(buf[:0], dir, name) {
			continue
		}
		p := path.Join(dir, name)
		if r.isExecutable(p) {
			return p, nil
		}
	}
	return "", &fs.PathError{Op: "lookpath", Path: name, Err: fs.ErrNotExist}
}

// absent reports, without an allocation, that dir/name (dir clean and absolute, name one
// component) is certainly not on a LoadTree tree: no link on its way, and neither the tree
// nor the manifest has it. Most of LookPath's candidates are such misses. false means "look".
func (r *Recorded) absent(buf []byte, dir, name string) bool {
	m, ok := r.fsys.(*memFS)
	if !ok || name == "." || name == ".." || !m.linkFree(dir, true) {
		return false
	}
	if dir != "/" {
		buf = append(buf, dir...)
	}
	buf = append(append(buf, '/'), name...)
	if m.links[string(buf)] {
		return false
	}
	if _, ok := r.m.Files[string(buf)]; ok {
		return false
	}
	_, ok = m.files[string(buf[1:])]
	return !ok
}

func (r *Recorded) isExecutable(p string) bool {
	real, err := r.resolve(p, true)
	if err != nil {
		return false
	}
	fi, ok := r.infoOK(real, false)
	return ok && fi.Mode.IsRegular() && fi.Mode.Perm()&0o111 != 0
}

func (r *Recorded) Run(ctx context.Context, argv ...string) (Output, error) {
	if len(argv) == 0 {
		return Output{}, errors.New("run: empty command")
	}
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	for _, c := range r.m.Commands {
		if !sameCommand(c.Argv, argv) {
			continue
		}
		if c.Error != "" {
			return Output{}, fmt.Errorf("running %s: %s", strings.Join(argv, " "), c.Error)
		}
		return Output{Stdout: []byte(c.Stdout), Stderr: []byte(c.Stderr), ExitCode: c.Exit}, nil
	}
	return Output{}, fmt.Errorf("running %s: %w", strings.Join(argv, " "), ErrNotRecorded)
}

// sameCommand matches argv exactly, except that argv[0] may be a full path on one side and a
// bare name on the other: probes run what LookPath found, recordings may key by name.
func sameCommand(rec, argv []string) bool {
	if len(rec) != len(argv) || !slices.Equal(rec[1:], argv[1:]) {
		return false
	}
	return rec[0] == argv[0] || path.Base(rec[0]) == path.Base(argv[0])
}
