package host

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// memFS is a read-only in-memory tree for LoadTree: a map lookup per path, where
// testing/fstest.MapFS scans every entry for a path that is not there (most paths a probe
// asks about are not). Directories list their children from an index built once.
type memFS struct {
	// links holds every symlink of the tree by absolute path, for linkFree.
	links    map[string]bool
	files    map[string]*memFile
	children map[string][]*memFile // directory → its entries, sorted by name
}

type memFile struct {
	name string
	mode fs.FileMode
	data []byte // content, or the target of a symlink
	// size is the size of a file over MaxRead, whose content is not kept.
	size int64
}

func newMemFS() *memFS {
	return &memFS{links: map[string]bool{}, files: map[string]*memFile{".": {name: ".", mode: fs.ModeDir | 0o755}}, children: map[string][]*memFile{}}
}

func (m *memFS) add(p string, mode fs.FileMode, data []byte) {
	f := &memFile{name: path.Base(p), mode: mode, data: data}
	m.files[p] = f
	if mode&fs.ModeSymlink != 0 {
		m.links["/"+p] = true
	}
	dir := path.Dir(p)
	m.children[dir] = append(m.children[dir], f)
}

// done sorts the listings; call after the last add.
func (m *memFS) done() {
	for _, c := range m.children {
		slices.SortFunc(c, func(a, b *memFile) int { return strings.Compare(a.name, b.name) })
	}
}

// linkFree reports whether the clean absolute path p resolves to itself: no component (the
// last only when followLast) is a symlink of the tree or of the manifest (LoadTree adds the
// manifest's to links). Recorded.resolve then needs no walk; a path with a link takes the
// walk as before.
func (m *memFS) linkFree(p string, followLast bool) bool {
	if len(m.links) == 0 {
		return true
	}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && m.links[p[:i]] {
			return false
		}
	}
	return !followLast || !m.links[p]
}

func (m *memFS) lookup(op, name string, follow bool) (*memFile, error) {
	f, last, err := m.find(name, follow)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: last, Err: err}
	}
	return f, nil
}

// find is lookup without the *fs.PathError: a miss costs no allocation (most paths a probe
// asks about are misses). last is the name the error is about, after the links followed.
func (m *memFS) find(name string, follow bool) (f *memFile, last string, err error) {
	if !fs.ValidPath(name) {
		return nil, name, fs.ErrInvalid
	}
	return m.findValid(name, follow)
}

// findValid is find of a name known to be a valid fs path (Recorded's rel gives only such).
func (m *memFS) findValid(name string, follow bool) (f *memFile, last string, err error) {
	for range maxLinks {
		f, ok := m.files[name]
		if !ok {
			return nil, name, fs.ErrNotExist
		}
		if !follow || f.mode&fs.ModeSymlink == 0 {
			return f, name, nil
		}
		target := string(f.data)
		if strings.HasPrefix(target, "/") {
			name = rel(target)
		} else {
			name = rel("/" + path.Join(path.Dir(name), target))
		}
	}
	return nil, name, fs.ErrInvalid
}

func (m *memFS) Open(name string) (fs.File, error) {
	f, err := m.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	return &memHandle{f: f, r: bytes.NewReader(f.data)}, nil
}

func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	f, err := m.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return memInfo{f}, nil
}

func (m *memFS) Lstat(name string) (fs.FileInfo, error) {
	f, err := m.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return memInfo{f}, nil
}

func (m *memFS) ReadLink(name string) (string, error) {
	f, err := m.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if f.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return string(f.data), nil
}

func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	ents, err := m.readDir(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

// readDir is ReadDir of a valid fs path (Recorded's relClean) with the bare error
// (fs.ErrNotExist, fs.ErrInvalid): no allocation but the listing's.
func (m *memFS) readDir(name string) ([]fs.DirEntry, error) {
	f, _, err := m.findValid(name, true)
	if err != nil {
		return nil, err
	}
	if !f.mode.IsDir() {
		return nil, fs.ErrInvalid
	}
	kids := m.children[name]
	out := make([]fs.DirEntry, len(kids))
	for i, k := range kids {
		out[i] = memDirEntry{k}
	}
	return out, nil
}

type memInfo struct{ f *memFile }

// memDirEntry is a listing's entry: fs.FileInfoToDirEntry(memInfo{f}) without its allocation.
type memDirEntry struct{ f *memFile }

func (d memDirEntry) Name() string               { return d.f.name }
func (d memDirEntry) IsDir() bool                { return d.f.mode.IsDir() }
func (d memDirEntry) Type() fs.FileMode          { return d.f.mode.Type() }
func (d memDirEntry) Info() (fs.FileInfo, error) { return memInfo(d), nil }
func (d memDirEntry) String() string             { return fs.FormatDirEntry(d) }

func (i memInfo) Name() string { return i.f.name }
func (i memInfo) Size() int64 {
	if i.f.size > 0 {
		return i.f.size
	}
	return int64(len(i.f.data))
}
func (i memInfo) Mode() fs.FileMode  { return i.f.mode }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.f.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

type memHandle struct {
	f *memFile
	r *bytes.Reader
}

func (h *memHandle) Stat() (fs.FileInfo, error) { return memInfo{h.f}, nil }
func (h *memHandle) Close() error               { return nil }
func (h *memHandle) Read(p []byte) (int, error) {
	if h.f.mode.IsDir() {
		return 0, &fs.PathError{Op: "read", Path: h.f.name, Err: fs.ErrInvalid}
	}
	return h.r.Read(p)
}

var _ io.Reader = (*memHandle)(nil)

// content is the file's bytes for Recorded.ReadFile, with the read limit of readCapped.
func (h *memHandle) content(p string) ([]byte, error) {
	if len(h.f.data) > MaxRead || h.f.size > MaxRead {
		return nil, fmt.Errorf("reading %s: %w (%d bytes)", p, ErrTooLarge, MaxRead)
	}
	return bytes.Clone(h.f.data), nil
}
