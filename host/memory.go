package host

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"path"
	"testing/fstest"
)

// Memory builds an in-memory recorded host for unit tests. Calls chain:
//
//	h := host.NewMemory().
//		File("/etc/subuid", "alice:100000:65536\n").
//		Exec("/usr/bin/newuidmap").Meta("/usr/bin/newuidmap", host.FileMeta{Mode: "4755"}).
//		Env("XDG_RUNTIME_DIR", "/run/user/1000").
//		Host()
//
// A new Memory runs as alice (uid and gid 1000) on kernel 6.8.0, with nothing else in it.
type Memory struct {
	fsys fstest.MapFS
	m    Manifest
}

// NewMemory returns an empty in-memory host.
func NewMemory() *Memory {
	return &Memory{
		fsys: fstest.MapFS{},
		m: Manifest{
			Version: ManifestVersion,
			Kernel:  "6.8.0",
			Self:    Identity{UID: 1000, GID: 1000, Name: "alice"},
			Env:     map[string]string{},
			Files:   map[string]FileMeta{},
			FSTypes: map[string]string{},
		},
	}
}

// File adds a regular file with mode 0644.
func (m *Memory) File(p, content string) *Memory {
	m.fsys[rel(p)] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	return m
}

// GzipFile adds a regular file with mode 0644 holding content gzipped (/proc/config.gz).
func (m *Memory) GzipFile(p, content string) *Memory {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(content)) // a bytes.Buffer does not fail
	_ = w.Close()
	return m.File(p, b.String())
}

// Exec adds an executable (mode 0755) whose content does not matter.
func (m *Memory) Exec(p string) *Memory {
	m.fsys[rel(p)] = &fstest.MapFile{Data: []byte("#!/bin/sh\n"), Mode: 0o755}
	return m
}

// Dir adds a directory with mode 0755.
func (m *Memory) Dir(p string) *Memory {
	m.fsys[rel(p)] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	return m
}

// Symlink adds a symbolic link.
func (m *Memory) Symlink(p, target string) *Memory {
	m.fsys[rel(p)] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
	return m
}

// Meta records owner, mode, device numbers or capabilities of a path (which may be only in the
// manifest, like a device node).
func (m *Memory) Meta(p string, fm FileMeta) *Memory {
	m.m.Files[path.Clean(p)] = fm
	return m
}

// Env sets an environment variable of the doctor's process.
func (m *Memory) Env(k, v string) *Memory {
	m.m.Env[k] = v
	return m
}

// Command records the output of argv.
func (m *Memory) Command(argv []string, stdout string, exit int) *Memory {
	m.m.Commands = append(m.m.Commands, Command{Argv: argv, Stdout: stdout, Exit: exit})
	return m
}

// CommandError records that argv could not run.
func (m *Memory) CommandError(argv []string, msg string) *Memory {
	m.m.Commands = append(m.m.Commands, Command{Argv: argv, Error: msg})
	return m
}

// FSType records the filesystem type of a mount point.
func (m *Memory) FSType(mnt, typ string) *Memory {
	m.m.FSTypes[mnt] = typ
	return m
}

// DiskSpace records what statfs says of the filesystem that holds p (and the paths below it).
func (m *Memory) DiskSpace(p string, size, avail int64) *Memory {
	if m.m.DiskSpace == nil {
		m.m.DiskSpace = map[string]DiskSpace{}
	}
	m.m.DiskSpace[p] = DiskSpace{Size: size, Avail: avail}
	return m
}

// Kernel sets uname -r.
func (m *Memory) Kernel(release string) *Memory {
	m.m.Kernel = release
	return m
}

// Self sets the account the doctor runs as.
func (m *Memory) Self(id Identity) *Memory {
	m.m.Self = id
	return m
}

// Host returns the Host. The Memory may be changed and Host called again for a variant.
func (m *Memory) Host() *Recorded {
	fsys := fstest.MapFS{}
	for k, v := range m.fsys {
		c := *v
		fsys[k] = &c
	}
	mf := m.m
	mf.Env = cloneMap(m.m.Env)
	mf.Files = cloneMap(m.m.Files)
	mf.FSTypes = cloneMap(m.m.FSTypes)
	if m.m.DiskSpace != nil {
		mf.DiskSpace = cloneMap(m.m.DiskSpace)
	}
	mf.Commands = append([]Command(nil), m.m.Commands...)
	return NewRecorded(fsys, mf)
}

func cloneMap[K comparable, V any](in map[K]V) map[K]V {
	out := make(map[K]V, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// Int returns a pointer to v, for FileMeta.UID and FileMeta.GID.
func Int(v int) *int { return &v }
