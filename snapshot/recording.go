package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/internal/safefs"
)

// Recording is a Host that wraps another (the live machine) and remembers every read the
// probes make through it, so that WriteTree can write them out as a recorded host
// (docs/snapshot-format.md): `rootless-doctor snapshot`. Replaying the tree with OpenTree
// gives the probes the same answers they got from the wrapped host.
//
// What it keeps: the bytes of files read (at their resolved paths, with every symlink met on
// the way), the metadata of paths stat'ed, the entries of directories listed (as empty
// placeholders unless read too), filesystem types by the path asked, the environment
// variables looked up (only those), the paths LookPath found, and the commands run. Nothing
// else of the machine is touched.
type Recording struct {
	inner    host.Host
	readlink func(string) (string, error)

	mu       sync.Mutex
	nodes    map[string]*recNode
	env      map[string]string
	fstypes  map[string]string
	space    map[string]host.DiskSpace
	commands []host.Command
}

// recNode is one path of the recorded host.
type recNode struct {
	kind    string // file, dir, symlink, char, block, socket, fifo ("" until known)
	target  string // symlink target
	data    []byte // content, when read
	read    bool   // data holds the content
	large   bool   // the read failed with ErrTooLarge
	denied  bool   // the read failed with a permission error
	meta    *host.FileInfo
	listing bool // a directory the probes listed
}

// NewRecording wraps inner. Symlink targets are read with os.Readlink on the live host, and
// from the tree on a recorded one (recording a recorded host is how the round trip is tested
// without root).
func NewRecording(inner host.Host) *Recording {
	r := &Recording{inner: inner, nodes: map[string]*recNode{}, env: map[string]string{}, fstypes: map[string]string{}, space: map[string]host.DiskSpace{}}
	switch h := inner.(type) {
	case *host.Recorded:
		r.readlink = func(p string) (string, error) {
			t, ok, err := h.ReadLink(p)
			if err == nil && !ok {
				err = &fs.PathError{Op: "readlink", Path: p, Err: errors.New("not a symlink")}
			}
			return t, err
		}
	default:
		r.readlink = os.Readlink
	}
	return r
}

func (r *Recording) node(p string) *recNode {
	n, ok := r.nodes[p]
	if !ok {
		n = &recNode{}
		r.nodes[p] = n
	}
	return n
}

// pinned are paths kept as directories although they are symlinks on a live host: the
// snapshot holds the recording process's view of /proc/self, at /proc/self
// (docs/snapshot-format.md).
var pinned = map[string]bool{"/proc/self": true, "/proc/thread-self": true}

// resolve walks p on the wrapped host like Recorded.resolve does in a tree, recording every
// symlink it meets and every directory on the way, and returns the resolved path. With
// followLast false the last component is left alone. Must hold r.mu.
func (r *Recording) resolve(p string, followLast bool) string {
	p = path.Clean("/" + p)
	cur, _ := host.WalkLinks(p, followLast, func(q string) bool { return pinned[q] }, func(next string) (string, bool, error) {
		fi, err := r.inner.Lstat(next)
		if err != nil || fi.Mode&fs.ModeSymlink == 0 {
			return "", false, nil
		}
		target, err := r.readlink(next)
		if err != nil {
			return "", false, nil
		}
		n := r.node(next)
		n.kind, n.target = "symlink", target
		return target, true, nil
	})
	return cur
}

// stat records the metadata of the resolved path real.
func (r *Recording) stat(real string, fi host.FileInfo) {
	n := r.node(real)
	fi.Path = real
	n.meta = &fi
	n.kind = host.ModeKind(fi.Mode)
}

func (r *Recording) Live() bool            { return r.inner.Live() }
func (r *Recording) KernelRelease() string { return r.inner.KernelRelease() }
func (r *Recording) Self() host.Identity   { return r.inner.Self() }
func (r *Recording) Executable() string    { return r.inner.Executable() }

func (r *Recording) LookupEnv(key string) (string, bool) {
	v, ok := r.inner.LookupEnv(key)
	if ok {
		r.mu.Lock()
		// A proxy URL may carry a password; net.proxy needs only the host and port.
		r.env[key] = parse.RedactUserinfo(v)
		r.mu.Unlock()
	}
	return v, ok
}

func (r *Recording) ReadFile(p string) ([]byte, error) {
	data, err := r.inner.ReadFile(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	real := r.resolve(p, true)
	switch {
	case err == nil:
		n := r.node(real)
		n.data, n.read = data, true
		if n.kind == "" {
			n.kind = "file"
		}
	case errors.Is(err, host.ErrTooLarge):
		n := r.node(real)
		n.large = true
		if n.kind == "" {
			n.kind = "file"
		}
	case errors.Is(err, fs.ErrPermission):
		n := r.node(real)
		n.denied = true
		if n.meta == nil {
			if fi, serr := r.inner.Stat(real); serr == nil {
				r.stat(real, fi)
			}
		}
		if n.kind == "" {
			n.kind = "file"
		}
	default:
		// Not there, a directory, or an I/O error: a directory is recorded by Stat when a
		// probe asks; a missing path is simply absent.
		if fi, serr := r.inner.Lstat(real); serr == nil && fi.IsDir() {
			r.node(real).kind = "dir"
		}
	}
	return data, err
}

func (r *Recording) Stat(p string) (host.FileInfo, error) {
	fi, err := r.inner.Stat(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	real := r.resolve(p, true)
	if err == nil {
		r.stat(real, fi)
	}
	fi.Path = p
	return fi, err
}

func (r *Recording) Lstat(p string) (host.FileInfo, error) {
	fi, err := r.inner.Lstat(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	real := r.resolve(p, false)
	if err == nil {
		r.stat(real, fi)
		if fi.Mode&fs.ModeSymlink != 0 {
			if t, lerr := r.readlink(real); lerr == nil {
				r.node(real).target = t
			}
		}
	}
	fi.Path = p
	return fi, err
}

// maxListing bounds the placeholders of one directory listing.
const maxListing = 10000

func (r *Recording) ReadDir(p string) ([]fs.DirEntry, error) {
	ents, err := r.inner.ReadDir(p)
	if err != nil {
		return ents, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	real := r.resolve(p, true)
	n := r.node(real)
	n.kind, n.listing = "dir", true
	for i, e := range ents {
		if i == maxListing {
			break
		}
		child := path.Join(real, e.Name())
		c := r.node(child)
		if c.kind != "" {
			continue
		}
		c.kind = host.ModeKind(e.Type())
		if c.kind == "symlink" {
			if t, lerr := r.readlink(child); lerr == nil {
				c.target = t
			} else {
				c.kind = "file"
			}
		}
	}
	return ents, nil
}

func (r *Recording) EvalSymlinks(p string) (string, error) {
	res, err := r.inner.EvalSymlinks(p)
	if err != nil {
		return res, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	real := r.resolve(p, true)
	if n := r.node(real); n.meta == nil {
		if fi, serr := r.inner.Lstat(real); serr == nil {
			r.stat(real, fi)
		}
	}
	return res, nil
}

// Readlink records the link (and the links on the way to it) as the tree's symlinks, so the
// replay reads the same target.
func (r *Recording) Readlink(p string) (string, error) {
	target, err := r.inner.Readlink(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	real := r.resolve(p, false)
	if err != nil {
		if fi, serr := r.inner.Lstat(real); serr == nil && r.node(real).meta == nil {
			r.stat(real, fi)
		}
		return target, err
	}
	n := r.node(real)
	n.kind, n.target = "symlink", target
	return target, nil
}

// FSType records the type by the path asked (resolved), not by mount point: a replay asks
// the same paths, and the longest-prefix rule of the format answers them exactly.
func (r *Recording) FSType(p string) (string, error) {
	t, err := r.inner.FSType(p)
	if err != nil {
		return t, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fstypes[r.resolve(p, true)] = t
	return t, nil
}

// DiskSpace records statfs's answer by the path asked (resolved), as FSType.
func (r *Recording) DiskSpace(p string) (host.DiskSpace, error) {
	ds, err := r.inner.DiskSpace(p)
	if err != nil {
		return ds, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.space[r.resolve(p, true)] = ds
	return ds, nil
}

// LookPath records PATH (the recorded host searches it) and the executable found, with its
// mode, so that the replay finds the same path.
func (r *Recording) LookPath(name string) (string, error) {
	if v, ok := r.inner.LookupEnv("PATH"); ok {
		r.mu.Lock()
		r.env["PATH"] = v
		r.mu.Unlock()
	}
	p, err := r.inner.LookPath(name)
	if err != nil {
		return p, err
	}
	if fi, serr := r.inner.Stat(p); serr == nil {
		r.mu.Lock()
		r.stat(r.resolve(p, true), fi)
		r.mu.Unlock()
	}
	return p, nil
}

func (r *Recording) Run(ctx context.Context, argv ...string) (host.Output, error) {
	out, err := r.inner.Run(ctx, argv...)
	if len(argv) == 0 {
		return out, err
	}
	c := host.Command{Argv: slices.Clone(argv), Stdout: string(out.Stdout), Stderr: string(out.Stderr), Exit: out.ExitCode}
	if err != nil {
		// The replay prefixes "running ARGV: " itself.
		c = host.Command{Argv: c.Argv, Error: strings.TrimPrefix(err.Error(), "running "+strings.Join(argv, " ")+": ")}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.ContainsFunc(r.commands, func(old host.Command) bool { return slices.Equal(old.Argv, argv) }) {
		r.commands = append(r.commands, c)
	}
	return out, err
}

// Filter rewrites the recorded content of a file before it is written (for example to keep
// only the lines of /etc/passwd the probes need). It gets the absolute path and the bytes.
type Filter func(path string, data []byte) []byte

// RecordOptions tune WriteTree.
type RecordOptions struct {
	// Filter, when set, rewrites file contents.
	Filter Filter
	// User is the --user the recording was made for ("" for the recording account).
	User string
}

// Manifest returns the manifest of what was recorded so far.
func (r *Recording) Manifest(opt RecordOptions) host.Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := host.Manifest{
		Version:    host.ManifestVersion,
		Kernel:     r.inner.KernelRelease(),
		Self:       r.inner.Self(),
		Executable: r.inner.Executable(),
		User:       opt.User,
		Env:        maps(r.env),
		FSTypes:    maps(r.fstypes),
		DiskSpace:  maps(r.space),
		Files:      map[string]host.FileMeta{},
		Commands:   slices.Clone(r.commands),
	}
	sort.Slice(m.Commands, func(i, j int) bool {
		return strings.Join(m.Commands[i].Argv, "\x00") < strings.Join(m.Commands[j].Argv, "\x00")
	})
	for p, n := range r.nodes {
		if p == "/" && n.meta == nil {
			continue
		}
		fm, ok := n.fileMeta()
		if ok {
			m.Files[p] = fm
		}
	}
	return m
}

func maps[V any](in map[string]V) map[string]V {
	out := make(map[string]V, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// fileMeta is the manifest entry of a node: what the tree cannot hold.
func (n *recNode) fileMeta() (host.FileMeta, bool) {
	if n.meta == nil {
		if n.kind == "symlink" {
			return host.FileMeta{}, false // the tree holds it
		}
		if n.denied {
			return host.FileMeta{Mode: "0000", Denied: true}, true
		}
		return host.FileMeta{}, false
	}
	fi := n.meta
	mode := uint32(fi.Mode.Perm())
	if fi.Mode&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if fi.Mode&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if fi.Mode&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	if n.denied {
		// The replay answers "permission denied" for a file without read bits; the real
		// bits (readable by the owner, not by us) cannot say that.
		mode &^= 0o444
	}
	fm := host.FileMeta{Type: host.ModeKind(fi.Mode), Mode: fmt.Sprintf("%04o", mode), UID: host.Int(fi.UID), GID: host.Int(fi.GID), Caps: fi.Caps, Denied: n.denied}
	if fm.Type == "char" || fm.Type == "block" {
		fm.Major, fm.Minor = fi.Major, fi.Minor
	}
	if fm.Type == "symlink" {
		fm.Target = n.target
		fm.Mode = ""
	}
	return fm, true
}

// Paths lists the recorded paths, sorted (for tests and for --verbose).
func (r *Recording) Paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.nodes))
	for p := range r.nodes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// WriteTree writes the recording as a recorded host into dir, which must not exist: first into
// a new directory of a random name beside it (made with mkdirat, checked through its
// descriptor to be ours and private), renamed to dir when complete (RENAME_NOREPLACE), so that
// a half-written snapshot never looks like one. Nothing planted beside dir is followed,
// emptied or reused (docs/security.md, "Files"; issue 10: a fixed dir+".tmp" was emptied and
// then opened by name, through whatever symlink had been swapped in). The tree is 0755.
func (r *Recording) WriteTree(dir string, opt RecordOptions) error {
	parent, err := safefs.OpenDir(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("writing snapshot: %w", err)
	}
	defer parent.Close()
	name := filepath.Base(dir)
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("writing snapshot: %s already exists", dir)
	}
	tmp, d, err := safefs.MkdirTemp(parent, "."+name+".tmp-")
	if err != nil {
		return fmt.Errorf("writing snapshot: %w", err)
	}
	defer d.Close()
	err = r.writeInto(filepath.Join(parent.Name(), tmp), d, opt)
	if err == nil {
		err = d.Chmod(0o755)
	}
	if err == nil {
		err = safefs.RenameNoReplace(parent, tmp, name)
	}
	if err != nil {
		_ = safefs.RemoveDir(parent, tmp, d)
		return fmt.Errorf("writing snapshot: %w", err)
	}
	return nil
}

// writeInto writes the tree into the directory d, open at at. os.Root keeps every write
// below it; it is opened by path, so it is checked to be d itself.
func (r *Recording) writeInto(at string, d *os.File, opt RecordOptions) error {
	root, err := os.OpenRoot(at)
	if err != nil {
		return err
	}
	defer root.Close()
	rfi, err := root.Stat(".")
	if err != nil {
		return err
	}
	dfi, err := d.Stat()
	if err != nil {
		return err
	}
	if !os.SameFile(rfi, dfi) {
		return fmt.Errorf("%s was replaced while the snapshot was written", at)
	}
	m := r.Manifest(opt)
	r.mu.Lock()
	paths := make([]string, 0, len(r.nodes))
	for p := range r.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	nodes := make(map[string]recNode, len(r.nodes))
	for p, n := range r.nodes {
		nodes[p] = *n
	}
	r.mu.Unlock()
	for _, p := range paths {
		n := nodes[p]
		if p == "/" {
			continue
		}
		rp := relPath(p)
		if d := path.Dir(rp); d != "." {
			if err := mkdirs(root, d); err != nil {
				return err
			}
		}
		switch n.kind {
		case "dir":
			if err := root.Mkdir(rp, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case "symlink":
			if err := root.Symlink(n.target, rp); err != nil {
				return err
			}
		case "":
			// Only a path resolved through: a directory on the way.
			if err := root.Mkdir(rp, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		default:
			data := n.data
			if n.read && opt.Filter != nil {
				data = opt.Filter(p, data)
			}
			perm := os.FileMode(0o644)
			if n.meta != nil && n.meta.Mode.IsRegular() && n.meta.Mode.Perm()&0o111 != 0 {
				perm = 0o755
			}
			f, err := root.OpenFile(rp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
			if err != nil {
				return err
			}
			if n.large {
				// Replays as "larger than the read limit", without copying the file.
				err = f.Truncate(host.MaxRead + 1)
			} else {
				_, err = f.Write(data)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return root.WriteFile(host.ManifestName, append(data, '\n'), 0o644)
}

// mkdirs creates d and its parents inside root. A recorded symlink on the way is left as is
// (os.Root refuses to leave the tree through it).
func mkdirs(root *os.Root, d string) error {
	if err := root.MkdirAll(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// relPath is p relative to the root of a tree ("." for "/"), as fs.FS names paths.
func relPath(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}
