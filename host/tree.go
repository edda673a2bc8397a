package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"
)

// ErrBudget is wrapped by the errors of a TreeBuilder whose tree would go over its Limits.
var ErrBudget = errors.New("recorded host over its memory budget")

// ErrBadName is wrapped by the errors of a TreeBuilder given a name it cannot hold.
var ErrBadName = errors.New("bad entry name")

// Limits bound an in-memory recorded host (LoadTree, `check --root FILE.tar.gz`). Bytes counts
// every byte the tree keeps: each path, link target and file's content, plus entryOverhead
// per entry for the maps and structs that hold them. A tree built within Limits holds at most
// Bytes bytes of input, whatever the input is made of (docs/bounded-inputs.md).
type Limits struct {
	Entries int
	Bytes   int64
	// Depth bounds the number of components of a path (each is a directory to walk).
	Depth int
}

// entryOverhead is what one entry of a memFS costs beyond its bytes: a map slot with its key
// header, the memFile, a child name in its directory's listing (measured ~150 bytes; rounded
// up).
const entryOverhead = 256

// TreeBuilder builds an in-memory recorded host entry by entry, refusing any entry that would
// take the tree over its Limits: nothing is kept before it is counted.
type TreeBuilder struct {
	mem  *memFS
	lim  Limits
	used int64
}

// NewTreeBuilder starts an empty tree.
func NewTreeBuilder(lim Limits) *TreeBuilder {
	return &TreeBuilder{mem: newMemFS(), lim: lim}
}

// Used is the number of bytes the tree holds so far, as counted against Limits.Bytes.
func (b *TreeBuilder) Used() int64 { return b.used }

// checkName validates a tree path ("etc/subuid"): clean, relative, UTF-8, not too long or deep.
func (b *TreeBuilder) checkName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not UTF-8", ErrBadName, name)
	case len(name) > MaxPathLen:
		return fmt.Errorf("%w: a path of %d bytes, more than %d", ErrBadName, len(name), MaxPathLen)
	case name == "." || !fs.ValidPath(name):
		return fmt.Errorf("%w: %q is not a clean path inside the tree", ErrBadName, name)
	case b.lim.Depth > 0 && strings.Count(name, "/")+1 > b.lim.Depth:
		return fmt.Errorf("%w: %q is more than %d directories deep", ErrBudget, name, b.lim.Depth)
	}
	return nil
}

// charge counts n more bytes and one entry.
func (b *TreeBuilder) charge(n int64) error {
	if len(b.mem.files) >= b.lim.Entries+1 { // "." is an entry of its own
		return fmt.Errorf("%w: more than %d entries", ErrBudget, b.lim.Entries)
	}
	if b.used+n+entryOverhead > b.lim.Bytes {
		return fmt.Errorf("%w: more than %d bytes", ErrBudget, b.lim.Bytes)
	}
	b.used += n + entryOverhead
	return nil
}

// parents makes the directories above name exist, as a tar without directory entries needs.
func (b *TreeBuilder) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	if f, ok := b.mem.files[dir]; ok {
		if !f.mode.IsDir() {
			return fmt.Errorf("%w: %q is inside %q, which is not a directory", ErrBadName, name, dir)
		}
		return nil
	}
	if err := b.parents(dir); err != nil {
		return err
	}
	if err := b.charge(int64(len(dir))); err != nil {
		return err
	}
	b.mem.add(dir, fs.ModeDir|0o755, nil)
	return nil
}

// add checks and charges a new entry of n bytes besides its name.
func (b *TreeBuilder) add(name string, n int64) error {
	if err := b.checkName(name); err != nil {
		return err
	}
	if _, ok := b.mem.files[name]; ok {
		return fmt.Errorf("%w: %q appears twice", ErrBadName, name)
	}
	if err := b.parents(name); err != nil {
		return err
	}
	return b.charge(int64(len(name)) + n)
}

// Dir adds a directory. A directory already made as the parent of an earlier entry takes perm.
func (b *TreeBuilder) Dir(name string, perm fs.FileMode) error {
	if f, ok := b.mem.files[name]; ok && f.mode.IsDir() {
		f.mode = fs.ModeDir | perm.Perm()
		return nil
	}
	if err := b.add(name, 0); err != nil {
		return err
	}
	b.mem.add(name, fs.ModeDir|perm.Perm(), nil)
	return nil
}

// Symlink adds a symbolic link. Targets are bounded like paths (Linux refuses a longer one).
func (b *TreeBuilder) Symlink(name, target string) error {
	if len(target) > MaxPathLen {
		return fmt.Errorf("%w: link %q: a target of %d bytes, more than %d", ErrBadName, name, len(target), MaxPathLen)
	}
	if err := b.add(name, int64(len(target))); err != nil {
		return err
	}
	b.mem.add(name, fs.ModeSymlink|0o777, []byte(target))
	return nil
}

// File adds a regular file of size bytes read from r. The size is charged before a byte is
// read. A file over MaxRead is kept as its size alone, and r is not read: no probe can read
// it, ReadFile answers ErrTooLarge as it would on the live host (a snapshot keeps such a file
// as a sparse file just over the limit, docs/snapshot-format.md).
func (b *TreeBuilder) File(name string, perm fs.FileMode, r io.Reader, size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: file %q: negative size %d", ErrBadName, name, size)
	}
	if name == ManifestName {
		// The manifest is parsed, not read by probes: it is kept up to its own limit.
		if size > MaxManifest {
			return fmt.Errorf("%w: %s is %d bytes, more than %d", ErrManifest, ManifestName, size, MaxManifest)
		}
	} else if size > MaxRead {
		if err := b.add(name, 0); err != nil {
			return err
		}
		b.mem.add(name, perm.Perm(), nil)
		b.mem.files[name].size = size
		return nil
	}
	if err := b.add(name, size); err != nil {
		return err
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return fmt.Errorf("reading %q: %w", name, err)
	}
	b.mem.add(name, perm.Perm(), data)
	return nil
}

// Special adds a FIFO, socket or device found in a tree, as its type only: it is never opened,
// and ReadFile refuses it (ErrNotRegular).
func (b *TreeBuilder) Special(name string, mode fs.FileMode) error {
	if err := b.add(name, 0); err != nil {
		return err
	}
	b.mem.add(name, mode&(fs.ModeType|fs.ModePerm), nil)
	return nil
}

// Host finishes the tree: it parses the manifest at its top and checks it against the tree.
// name is what errors call the tree.
func (b *TreeBuilder) Host(name string) (*Recorded, error) {
	b.mem.done()
	mf, ok := b.mem.files[ManifestName]
	if !ok || !mf.mode.IsRegular() {
		return nil, fmt.Errorf("recorded host %s: no %s", name, ManifestName)
	}
	rec, err := newChecked(b.mem, mf.data, name)
	if err != nil {
		return nil, err
	}
	for p, fm := range rec.m.Files {
		if fm.Type == "symlink" {
			b.mem.links[p] = true
		}
	}
	return rec, nil
}
