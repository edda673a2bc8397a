package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLoadTree(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) { writeTree(t, dir, map[string]string{rel: data}) }
	write(ManifestName, `{"version":1,"files":{"/usr/bin/newuidmap":{"mode":"4755"}}}`)
	write("etc/subuid", "alice:100000:65536\n")
	write("usr/lib/os-release", "ID=debian\n")
	write("usr/bin/newuidmap", "")
	if err := os.Symlink("../usr/lib/os-release", filepath.Join(dir, "etc/os-release")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/../../../../etc/hostname", filepath.Join(dir, "etc/escape")); err != nil {
		t.Fatal(err)
	}
	h, err := LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.fsys.(*memFS); !ok {
		t.Fatalf("a small tree must be loaded into memory, got %T", h.fsys)
	}
	if data, err := h.ReadFile("/etc/os-release"); err != nil || string(data) != "ID=debian\n" {
		t.Errorf("through a relative link: %q, %v", data, err)
	}
	if _, err := h.ReadFile("/etc/escape"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an escaping link must stay in the tree: %v", err)
	}
	if fi, err := h.Stat("/usr/bin/newuidmap"); err != nil || fi.Mode&fs.ModeSetuid == 0 {
		t.Errorf("manifest mode: %+v, %v", fi, err)
	}
	ents, err := h.ReadDir("/")
	if err != nil || len(ents) != 2 || ents[0].Name() != "etc" || ents[1].Name() != "usr" {
		t.Errorf("ReadDir(/) = %v, %v (sorted, without the manifest)", ents, err)
	}
	if p, err := h.EvalSymlinks("/etc/os-release"); err != nil || p != "/usr/lib/os-release" {
		t.Errorf("EvalSymlinks = %q, %v", p, err)
	}

	// A file over the read limit is kept as its size alone: ErrTooLarge as on a live host.
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxRead+1); err != nil {
		t.Fatal(err)
	}
	h, err = LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mem, ok := h.fsys.(*memFS); !ok || len(mem.files["big"].data) != 0 {
		t.Error("a file over the limit must be kept as its size, without its content")
	}
	if _, err := h.ReadFile("/big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big file: %v", err)
	}
	if fi, err := h.Stat("/big"); err != nil || fi.Size != MaxRead+1 {
		t.Errorf("big file: Stat = %+v, %v", fi, err)
	}
	if _, err := LoadTree(filepath.Join(dir, "nope")); err == nil {
		t.Error("a missing tree must be an error")
	}
}

// TestLoadTreeAnswersAsOpenTree asks a loaded tree and the same tree through os.Root the same
// questions, hits and misses, through links of the tree and of the manifest: the in-memory
// fast paths (no allocation on a miss, issue 16) must not change one answer or error text.
func TestLoadTreeAnswersAsOpenTree(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		ManifestName: `{"version":1,"env":{"PATH":"/nope:/usr/local/bin::rel:/usr//bin/:/sbin:/opt/bin"},"files":{
			"/usr/bin/newuidmap":{"mode":"4755"},
			"/usr/bin/ghost":{"mode":"0755"},
			"/usr/bin/noexec":{"mode":"0644"},
			"/opt/bin":{"type":"symlink","target":"/usr/bin"},
			"/opt/link":{"type":"symlink","target":"../etc"}}}`,
		"etc/subuid":         "alice:100000:65536\n",
		"usr/bin/newuidmap":  "",
		"usr/bin/noexec":     "",
		"usr/bin/tool":       "",
		"usr/lib/os-release": "ID=debian\n",
	})
	if err := os.Chmod(filepath.Join(dir, "usr/bin/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"usr/local/bin":   "../bin",
		"sbin":            "/usr/bin",
		"etc/os-release":  "../usr/lib/os-release",
		"etc/loop":        "loop",
		"usr/bin/runtool": "tool",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	open, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	load, err := LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := load.fsys.(*memFS); !ok {
		t.Fatalf("LoadTree kept %T, not its in-memory tree", load.fsys)
	}
	answers := func(h *Recorded, p string) string {
		st, err1 := h.Stat(p)
		lst, err2 := h.Lstat(p)
		// A directory's size is the filesystem's (4096 on disk), 0 in memory: no probe reads it.
		for _, fi := range []*FileInfo{&st, &lst} {
			if fi.Mode.IsDir() {
				fi.Size = 0
			}
		}
		data, err3 := h.ReadFile(p)
		ents, err4 := h.ReadDir(p)
		var names []string
		for _, e := range ents {
			i, _ := e.Info()
			size := i.Size()
			if i.IsDir() {
				size = 0
			}
			names = append(names, fmt.Sprintf("%s %v %v %v %v", e.Name(), e.IsDir(), e.Type(), i.Mode(), size))
		}
		real, err5 := h.EvalSymlinks(p)
		target, err6 := h.Readlink(p)
		found, err7 := h.LookPath(path.Base(p))
		found2, err8 := h.LookPath(p)
		// os.Root says ENOENT's and ENOTDIR's text, the in-memory tree fs.ErrNotExist's and
		// fs.ErrInvalid's: errors.Is is what the probes ask.
		return strings.NewReplacer("no such file or directory", fs.ErrNotExist.Error(), "not a directory", fs.ErrInvalid.Error()).Replace(fmt.Sprintf("stat %+v %v\nlstat %+v %v\nread %q %v\nreaddir %q %v\neval %q %v\nreadlink %q %v\nlookpath %q %v\nlookpath %q %v",
			st, err1, lst, err2, data, err3, names, err4, real, err5, target, err6, found, err7, found2, err8))
	}
	for _, p := range []string{
		"/", "/etc", "/etc/subuid", "/etc/os-release", "/etc/loop", "/etc/nope", "/usr/bin", "/usr/bin/",
		"/usr//bin/tool", "/usr/bin/./tool", "/usr/bin/../bin/tool", "/usr/bin/newuidmap", "/usr/bin/ghost",
		"/usr/bin/noexec", "/usr/bin/runtool", "/usr/local/bin/tool", "/usr/local/bin/ghost", "/sbin/tool",
		"/sbin/nope", "/opt/bin/tool", "/opt/bin/ghost", "/opt/link/subuid", "/opt/link", "/nope/tool",
		"/manifest.json", "relative/tool", "/tool", "/.", "/..", "..",
	} {
		if a, b := answers(open, p), answers(load, p); a != b {
			t.Errorf("%s:\nOpenTree:\n%s\nLoadTree:\n%s", p, a, b)
		}
	}
}

// TestLoadedTreeAllocations pins what the in-memory tree's answers cost in allocations:
// replaying a fleet asks thousands of paths per host, most of them missing (issue 16,
// docs/performance.md). Before, Stat of a missing path cost 8 allocations (path.Clean of
// "/"+p twice, *fs.PathError values thrown away) and a LookPath that found nothing 56.
func TestLoadedTreeAllocations(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		ManifestName:   `{"version":1,"env":{"PATH":"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}`,
		"usr/bin/tool": "",
		"etc/subuid":   "alice:100000:65536\n",
	})
	if err := os.Chmod(filepath.Join(dir, "usr/bin/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		max  float64
		f    func()
	}{
		{"Stat of a file", 0, func() { _, _ = h.Stat("/etc/subuid") }},
		{"Stat of a missing file", 1, func() { _, _ = h.Stat("/etc/nope") }}, // its error
		{"LookPath found", 1, func() { _, _ = h.LookPath("tool") }},          // the path found
		{"LookPath not found", 1, func() { _, _ = h.LookPath("nope") }},      // its error
		{"ReadDir of a missing directory", 1, func() { _, _ = h.ReadDir("/etc/nope.d") }},
		{"ReadDir", 1, func() { _, _ = h.ReadDir("/etc") }},          // the listing
		{"ReadFile", 1, func() { _, _ = h.ReadFile("/etc/subuid") }}, // the copy
	} {
		if n := testing.AllocsPerRun(100, c.f); n > c.max {
			t.Errorf("%s: %v allocations, want at most %v", c.what, n, c.max)
		}
	}
}

// TestLoadTreeEndOfDirectory loads a tree whose directories are small (one getdents) and one
// too big for a getdents buffer, once trusting ext4's end-of-directory cookie and once
// reading every directory to its empty getdents: the same entries, and on ext4 exactly one
// getdents64 fewer per directory (issue 16). Elsewhere the cookie is not trusted at all.
func TestLoadTreeEndOfDirectory(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{ManifestName: `{"version":1}`, "etc/subuid": "alice:100000:65536\n"}
	const many = 900 // ~60 KB of getdents records: several 8 KB buffers
	for i := range many {
		files[fmt.Sprintf("many/entry-with-a-long-name-to-fill-the-buffer-%04d", i)] = ""
	}
	writeTree(t, dir, files)
	const dirs = 3 // the top, etc, many

	load := func(trust bool) (*loader, []string) {
		t.Helper()
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		l := &loader{b: NewTreeBuilder(loadLimits), buf: make([]byte, 8192)}
		if trust {
			l.endCookie(fd)
		}
		if err := l.dir(fd, ".", l.eofOK); err != nil {
			t.Fatal(err)
		}
		var names []string
		for p := range l.b.mem.files {
			names = append(names, p)
		}
		slices.Sort(names)
		return l, names
	}
	trusted, got := load(true)
	plain, want := load(false)
	if len(want) != len(files)+dirs { // the files, etc and many, and "."
		t.Fatalf("read to the end: %d entries, want %d", len(want), len(files)+dirs)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("with the end-of-directory cookie: %d entries, without: %d", len(got), len(want))
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Type != unix.EXT4_SUPER_MAGIC {
		if trusted.eofOK || trusted.getdents != plain.getdents {
			t.Errorf("not ext4 (f_type %#x): the cookie must not be trusted, %d getdents vs %d", sfs.Type, trusted.getdents, plain.getdents)
		}
		t.Skipf("%s is not on ext4 (f_type %#x): the shortcut is not taken there", dir, sfs.Type)
	}
	if !trusted.eofOK || trusted.getdents != plain.getdents-dirs {
		t.Errorf("ext4: %d getdents64 calls with the cookie, %d without: want %d fewer", trusted.getdents, plain.getdents, dirs)
	}
}
