package host

import (
	"errors"
	"fmt"
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
	rfs := root.FS()
	mem := newMemFS()
	var total int64
	err = fs.WalkDir(rfs, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if len(mem.files) >= maxLoadEntries {
			return errTooBigToLoad
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			mem.add(p, info.Mode(), nil)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(rfs, p)
			if err != nil {
				return err
			}
			mem.add(p, info.Mode(), []byte(target))
		case d.Type().IsRegular():
			if info.Size() > MaxRead {
				return errTooBigToLoad
			}
			data, err := fs.ReadFile(rfs, p)
			if err != nil {
				return err
			}
			if total += int64(len(data)); total > maxLoadBytes {
				return errTooBigToLoad
			}
			mem.add(p, info.Mode(), data)
		default:
			// A device or socket in a tree: OpenTree shows it as the tree has it.
			return errTooBigToLoad
		}
		return nil
	})
	if err != nil {
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
