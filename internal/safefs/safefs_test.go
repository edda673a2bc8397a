package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// both runs fn with openat2 and with the openat(2) fallback.
func both(t *testing.T, fn func(t *testing.T)) {
	for _, fallback := range []bool{false, true} {
		name := "openat2"
		if fallback {
			name = "openat"
		}
		t.Run(name, func(t *testing.T) {
			noOpenat2 = fallback
			t.Cleanup(func() { noOpenat2 = false })
			fn(t)
		})
	}
}

func openDir(t *testing.T, p string) *os.File {
	t.Helper()
	d, err := OpenDir(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestOpenRefusesSymlinksAndEscapes(t *testing.T) {
	both(t, func(t *testing.T) {
		top := t.TempDir()
		outside := filepath.Join(top, "outside")
		os.WriteFile(outside, []byte("secret"), 0o600)
		in := filepath.Join(top, "in")
		os.MkdirAll(filepath.Join(in, "sub"), 0o755)
		os.WriteFile(filepath.Join(in, "sub", "ok"), []byte("ok"), 0o644)
		os.Symlink(outside, filepath.Join(in, "link"))
		os.Symlink("sub", filepath.Join(in, "dirlink"))
		d := openDir(t, in)
		if f, err := Open(d, "sub/ok", os.O_RDONLY, 0); err != nil {
			t.Errorf("sub/ok: %v", err)
		} else {
			f.Close()
		}
		for _, name := range []string{"link", "dirlink/ok", "../outside", "sub/../../outside", "/etc/passwd", ""} {
			if f, err := Open(d, name, os.O_RDONLY, 0); err == nil {
				f.Close()
				t.Errorf("%q: opened", name)
			}
		}
		if _, err := OpenDir(filepath.Join(in, "dirlink")); !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("OpenDir of a symlink: %v", err)
		}
	})
}

func TestCreateRefusesPlantedNames(t *testing.T) {
	both(t, func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(t.TempDir(), "target")
		os.WriteFile(target, []byte("keep"), 0o600)
		os.Symlink(target, filepath.Join(dir, "planted-link"))
		os.WriteFile(filepath.Join(dir, "planted-file"), nil, 0o666)
		d := openDir(t, dir)
		for _, name := range []string{"planted-link", "planted-file"} {
			if f, err := Create(d, name, 0o644); !errors.Is(err, unix.EEXIST) {
				if f != nil {
					f.Close()
				}
				t.Errorf("%s: %v, want EEXIST", name, err)
			}
		}
		if b, _ := os.ReadFile(target); string(b) != "keep" {
			t.Errorf("the symlink's target changed: %q", b)
		}
	})
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "small"), []byte("12345"), 0o644)
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, dir)
	if b, err := ReadFile(d, "small", 5); string(b) != "12345" || err != nil {
		t.Errorf("small: %q %v", b, err)
	}
	if b, err := ReadFile(d, "small", 3); string(b) != "123" || !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %q %v", b, err)
	}
	// A FIFO with no writer would block a plain open for reading forever.
	if _, err := ReadFile(d, "fifo", 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("fifo: %v", err)
	}
	if _, err := ReadFile(d, ".", 10); !errors.Is(err, ErrNotRegular) && err == nil {
		t.Errorf("directory: %v", err)
	}
}

func TestMkdirTempAndCheckPrivate(t *testing.T) {
	dir := t.TempDir()
	d := openDir(t, dir)
	name, f, err := MkdirTemp(d, "x-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := os.Lstat(filepath.Join(dir, name))
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("%s: %v %v", name, fi.Mode(), err)
	}
	os.Chmod(filepath.Join(dir, name), 0o755)
	if err := CheckPrivate(f, os.Geteuid()); !errors.Is(err, ErrNotOurs) {
		t.Errorf("mode 0755: %v", err)
	}
	os.Chmod(filepath.Join(dir, name), 0o700)
	if err := CheckPrivate(f, os.Geteuid()+1); !errors.Is(err, ErrNotOurs) {
		t.Errorf("another uid: %v", err)
	}
	if err := CheckPrivate(f, os.Geteuid()); err != nil {
		t.Error(err)
	}
}

// RemoveContents deletes the tree, never what its symlinks point to, and empties directories
// left without write permission.
func TestRemoveDirDoesNotFollow(t *testing.T) {
	top := t.TempDir()
	keep := filepath.Join(top, "keep")
	os.MkdirAll(filepath.Join(keep, "d"), 0o755)
	os.WriteFile(filepath.Join(keep, "f"), []byte("keep"), 0o644)
	parent := filepath.Join(top, "parent")
	os.Mkdir(parent, 0o755)
	pd := openDir(t, parent)
	name, dir, err := MkdirTemp(pd, "state-")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	p := filepath.Join(parent, name)
	os.MkdirAll(filepath.Join(p, "a", "b", "work", "inner"), 0o755)
	os.WriteFile(filepath.Join(p, "a", "b", "file"), []byte("x"), 0o644)
	os.Symlink(keep, filepath.Join(p, "a", "tokeep"))
	os.Symlink(filepath.Join(keep, "f"), filepath.Join(p, "f"))
	os.Chmod(filepath.Join(p, "a", "b", "work"), 0)
	if err := RemoveDir(pd, name, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory is still there: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(keep, "f")); string(b) != "keep" || err != nil {
		t.Errorf("a symlink's target was touched: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(keep, "d")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("a symlink's target directory changed: %v %v", fi, err)
	}
}

// A name that no longer holds the directory (renamed away, something else put there) is left
// alone; the directory's contents are still removed through its descriptor.
func TestRemoveDirSwapped(t *testing.T) {
	top := t.TempDir()
	pd := openDir(t, top)
	name, dir, err := MkdirTemp(pd, "state-")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	os.WriteFile(filepath.Join(top, name, "f"), nil, 0o644)
	if err := os.Rename(filepath.Join(top, name), filepath.Join(top, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(top, name), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(top, name, "other"), nil, 0o644)
	RemoveDir(pd, name, dir)
	if _, err := os.Stat(filepath.Join(top, name, "other")); err != nil {
		t.Errorf("the directory swapped in was touched: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(top, "moved")); len(ents) != 0 {
		t.Errorf("the state dir's contents were not removed: %v", ents)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	os.Symlink(target, filepath.Join(dir, "unit"))
	d := openDir(t, dir)
	old := syscall.Umask(0o077)
	err := WriteFileAtomic(d, "unit", []byte("new\n"), 0o644)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "unit"))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("unit: %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the symlink was followed: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}
