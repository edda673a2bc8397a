package host

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// writeTree writes files (tree path → content) under dir, making their directories.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mknodZero makes a character device like /dev/zero at p (root only): a read of it never ends
// on its own, so a test can tell "refused" (ErrNotRegular) from "read" (ErrTooLarge).
func mknodZero(t *testing.T, p string) bool {
	t.Helper()
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Logf("no device node (%v): the device cases are skipped", err)
		return false
	}
	return true
}

func TestLiveReadsOnlyRegularFiles(t *testing.T) {
	h := NewLive()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link-to-fifo")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	paths := []string{fifo, link}
	if dev := filepath.Join(dir, "zero"); mknodZero(t, dev) {
		paths = append(paths, dev)
	}
	for _, p := range paths {
		hostile.Within(t, "ReadFile("+p+")", 10*time.Second, func() {
			if _, err := h.ReadFile(p); !errors.Is(err, ErrNotRegular) {
				t.Errorf("ReadFile(%s) = %v, want ErrNotRegular", p, err)
			}
		})
		hostile.Within(t, "ReadDir("+p+")", 10*time.Second, func() {
			if _, err := h.ReadDir(p); err == nil {
				t.Errorf("ReadDir(%s) must fail", p)
			}
		})
	}
	// Stat still describes it: probes stat /dev/net/tun, they do not read it.
	if fi, err := h.Stat(fifo); err != nil || fi.Mode&fs.ModeNamedPipe == 0 {
		t.Errorf("Stat(fifo) = %+v, %v", fi, err)
	}
	reg := filepath.Join(dir, "reg")
	if err := os.WriteFile(reg, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := h.ReadFile(reg); err != nil || string(data) != "x\n" {
		t.Errorf("ReadFile(regular) = %q, %v", data, err)
	}
	if _, err := h.ReadFile(dir); err == nil || errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(dir) = %v, want 'is a directory'", err)
	}
	if _, err := h.ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v", err)
	}
}

// TestRecordedTreesReadOnlyRegularFiles is `mkfifo T/etc/subuid; check --root T`, which
// blocked forever, and a device node in a tree, which was opened and read.
func TestRecordedTreesReadOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		ManifestName:  `{"version": 1, "files": {"/dev/net/tun": {"type": "char", "major": 10, "minor": 200}}}`,
		"etc/passwd":  "alice:x:1000:1000::/home/alice:/bin/sh\n",
		"dev/net/tun": "", // the snapshot's placeholder of a device
	})
	if err := unix.Mkfifo(filepath.Join(dir, "etc/subuid"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/etc/subuid", "/dev/net/tun"}
	if mknodZero(t, filepath.Join(dir, "etc/zero")) {
		paths = append(paths, "/etc/zero")
	}
	for name, open := range map[string]func(string) (*Recorded, error){"OpenTree": OpenTree, "LoadTree": LoadTree} {
		var h *Recorded
		hostile.Within(t, name, 10*time.Second, func() {
			var err error
			if h, err = open(dir); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
		for _, p := range paths {
			hostile.Within(t, name+" ReadFile("+p+")", 10*time.Second, func() {
				if _, err := h.ReadFile(p); !errors.Is(err, ErrNotRegular) {
					t.Errorf("%s: ReadFile(%s) = %v, want ErrNotRegular", name, p, err)
				}
			})
		}
		if data, err := h.ReadFile("/etc/passwd"); err != nil || len(data) == 0 {
			t.Errorf("%s: ReadFile(/etc/passwd) = %q, %v", name, data, err)
		}
		if fi, err := h.Stat("/dev/net/tun"); err != nil || !fi.IsCharDevice() || fi.Major != 10 {
			t.Errorf("%s: Stat(/dev/net/tun) = %+v, %v", name, fi, err)
		}
	}

	// A FIFO as the manifest itself.
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, ManifestName), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(string) (*Recorded, error){"OpenTree": OpenTree, "LoadTree": LoadTree} {
		hostile.Within(t, name+" with a FIFO manifest", 10*time.Second, func() {
			if _, err := open(dir); !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s: a FIFO manifest: %v, want ErrNotRegular", name, err)
			}
		})
	}
}

// TestInMemoryTreesRefuseSpecialFiles: the same rule over any fs.FS (archives, tests).
func TestInMemoryTreesRefuseSpecialFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/subuid": {Mode: fs.ModeNamedPipe | 0o644},
		"dev/zero":   {Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Data: []byte("0000")},
	}
	h := NewRecorded(fsys, Manifest{Version: ManifestVersion})
	for _, p := range []string{"/etc/subuid", "/dev/zero"} {
		if data, err := h.ReadFile(p); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(%s) = %q, %v, want ErrNotRegular", p, data, err)
		}
	}
}

// TestReopenRegularWithoutProc: where /proc is not mounted, a regular file is opened again by
// its path and read; a FIFO is still refused before it is opened for reading; and a path that
// names another file by the time it is opened again is refused.
func TestReopenRegularWithoutProc(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	other := filepath.Join(dir, "other")
	fifo := filepath.Join(dir, "fifo")
	mustWrite(t, file, "data")
	mustWrite(t, other, "else")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	saved := procSelfFd
	procSelfFd = filepath.Join(dir, "no-proc") + "/"
	t.Cleanup(func() { procSelfFd = saved })

	data, fi, err := ReadRegular(file)
	if err != nil || string(data) != "data" || fi.Size() != 4 || !fi.Mode().IsRegular() || fi.Name() != "file" {
		t.Fatalf("ReadRegular without /proc: %q, %v, %v", data, fi, err)
	}
	hostile.Within(t, "ReadRegular of a FIFO without /proc", 5*time.Second, func() {
		if _, _, err := ReadRegular(fifo); !errors.Is(err, ErrNotRegular) {
			t.Errorf("FIFO: %v, want ErrNotRegular", err)
		}
	})
	pfd, err := openRetry(file, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pfd)
	fd, _, err := reopenRegular(pfd, file, func() (int, error) { return openRetry(other, unix.O_RDONLY|unix.O_CLOEXEC) })
	if !errors.Is(err, ErrNotRegular) || fd != -1 {
		t.Errorf("a path swapped before it was opened again: fd %d, %v; want ErrNotRegular", fd, err)
	}
	f, err := os.OpenFile(file, unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openRegular(f, file, func() (*os.File, error) { return os.Open(file) })
	if err != nil {
		t.Fatalf("openRegular without /proc: %v", err)
	}
	defer g.Close()
	if b, err := io.ReadAll(g); err != nil || string(b) != "data" {
		t.Errorf("openRegular without /proc read %q, %v", b, err)
	}
}

// TestReadRegularFileInfo: ReadRegular describes the file it read as os.Stat does.
func TestReadRegularFileInfo(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("12345"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, fi, err := ReadRegular(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Name() != want.Name() || fi.Size() != want.Size() || fi.Mode() != want.Mode() || !fi.ModTime().Equal(want.ModTime()) || fi.IsDir() {
		t.Errorf("ReadRegular: %s %d %v %v; os.Stat: %s %d %v %v", fi.Name(), fi.Size(), fi.Mode(), fi.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Ino != want.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("Sys() = %T, want the *syscall.Stat_t of the file", fi.Sys())
	}
	if _, _, err := ReadRegular(file + ".missing"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "open "+file+".missing") {
		t.Errorf("missing file: %v", err)
	}
}
