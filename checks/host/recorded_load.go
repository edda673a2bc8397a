package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Limits of LoadTree: a tree larger than this is read through os.Root as OpenTree does.
const (
	maxLoadEntries = 20_000
	maxLoadBytes   = 64 << 20
)

// errTooBigToLoad makes LoadTree fall back to OpenTree.
var errTooBigToLoad = errors.New("tree too big to load")

// LoadTree opens a recorded host directory like OpenTree, but reads the whole tree into
// memory first when it is small (every snapshot and fixture is: a few dozen files). The
// probes then resolve paths in a map instead of with an openat/fstatat per path component
// through os.Root, which is what made replaying a fleet of snapshots cost milliseconds per
// host (BenchmarkReplay). The tree is walked through os.Root, so nothing outside it is read;
// a tree that is large, holds a file over MaxRead, or cannot be read whole is opened with
// OpenTree instead, with the same results.
func LoadTree(dir string) (*Recorded, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return OpenTree(dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return OpenTree(dir)
	}
	defer root.Close()
	mem := newMemFS()
	var total int64
	if err := loadDir(root, ".", mem, &total); err != nil {
		return OpenTree(dir)
	}
	mem.done()
	mf, ok := mem.files[ManifestName]
	if !ok {
		return OpenTree(dir) // reports the missing manifest
	}
	m, err := ParseManifest(mf.data)
	if err != nil {
		return nil, fmt.Errorf("recorded host %s: %w", dir, err)
	}
	return NewRecorded(mem, m), nil
}

// loadDir reads the directory r (at prefix in the tree) into mem, recursing with one os.Root
// per directory: every open is one component relative to an open directory, and nothing
// can lead outside the tree (os.Root refuses symlinks that leave it, and links are only read
// here, never followed).
func loadDir(r *os.Root, prefix string, mem *memFS, total *int64) error {
	d, err := r.Open(".")
	if err != nil {
		return err
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		p := name
		if prefix != "." {
			p = prefix + "/" + name
		}
		if len(mem.files) >= maxLoadEntries {
			return errTooBigToLoad
		}
		switch {
		case e.IsDir():
			info, err := e.Info()
			if err != nil {
				return err
			}
			mem.add(p, info.Mode(), nil)
			sub, err := r.OpenRoot(name)
			if err != nil {
				return err
			}
			err = loadDir(sub, p, mem, total)
			sub.Close()
			if err != nil {
				return err
			}
		case e.Type()&fs.ModeSymlink != 0:
			target, err := r.Readlink(name)
			if err != nil {
				return err
			}
			mem.add(p, fs.ModeSymlink|0o777, []byte(target))
		case e.Type().IsRegular():
			mode, data, err := readRegular(r, name)
			if err != nil {
				return err
			}
			if *total += int64(len(data)); *total > maxLoadBytes {
				return errTooBigToLoad
			}
			mem.add(p, mode, data)
		default:
			// A device or socket in a tree: OpenTree shows it as the tree has it.
			return errTooBigToLoad
		}
	}
	return nil
}

// readRegular reads a regular file of r with one open, one fstat and (for a file that does
// not grow meanwhile) one read: syscalls are most of what loading a tree costs.
func readRegular(r *os.Root, name string) (fs.FileMode, []byte, error) {
	f, err := r.Open(name)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > MaxRead {
		return 0, nil, errTooBigToLoad
	}
	buf := make([]byte, st.Size()+1)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err == io.EOF || m == 0 {
			break
		}
		if err != nil {
			return 0, nil, err
		}
		if n < len(buf) && int64(n) == st.Size() {
			break // read it all; a regular file returns everything asked at once
		}
	}
	if n > int(st.Size()) {
		return 0, nil, errTooBigToLoad // grew while we read it: let OpenTree read it
	}
	return st.Mode(), buf[:n:n], nil
}
