package snapshot

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The write side of `snapshot -o FILE.tar.gz` in a directory another account can write (issue
// 10): a symlink planted at the temporary name it used to open with O_TRUNC made root replace
// the symlink's target, and a temporary file planted there left the archive owned by its
// planter, mode 0666. The archive is now written under a new random name (O_EXCL|O_NOFOLLOW)
// and renamed into place (docs/security.md, "Files").
func TestWriteArchiveIgnoresPlantedTemporaryNames(t *testing.T) {
	tree := filepath.Join("..", "fixtures", "missing-subuid")
	want, err := os.ReadFile(filepath.Join(tree, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	shared := t.TempDir()
	os.Chmod(shared, 0o1777)

	for _, planted := range []string{"symlink", "file"} {
		t.Run(planted, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "root-file")
			os.WriteFile(target, []byte("root's\n"), 0o600)
			dst := filepath.Join(shared, planted+".tar.gz")
			switch planted {
			case "symlink":
				if err := os.Symlink(target, dst+".tmp"); err != nil {
					t.Fatal(err)
				}
			case "file":
				if err := os.WriteFile(dst+".tmp", nil, 0o666); err != nil {
					t.Fatal(err)
				}
				os.Chmod(dst+".tmp", 0o666)
				if os.Geteuid() == 0 {
					os.Chown(dst+".tmp", 4242, 4242)
				}
			}
			old := syscall.Umask(0o022)
			err := WriteArchive(tree, dst)
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(target); string(b) != "root's\n" {
				t.Errorf("the planted symlink's target was overwritten: %q", b)
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(dst, &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Mode&0o7777 != 0o644 || int(st.Uid) != os.Geteuid() {
				t.Errorf("archive: mode %o owner %d, want a regular file, 0644, owned by %d", st.Mode, st.Uid, os.Geteuid())
			}
			h, err := OpenArchive(dst)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := h.ReadFile("/etc/passwd"); string(b) != string(want) || err != nil {
				t.Errorf("archive content: %q %v", b, err)
			}
			// What was planted is left as it was; only files of this run are removed.
			if _, err := os.Lstat(dst + ".tmp"); err != nil {
				t.Errorf("the planted %s was removed: %v", planted, err)
			}
			ents, _ := os.ReadDir(shared)
			for _, e := range ents {
				if n := e.Name(); n != filepath.Base(dst) && n != filepath.Base(dst)+".tmp" && n != "symlink.tar.gz" && n != "symlink.tar.gz.tmp" {
					t.Errorf("left in the directory: %s", n)
				}
			}
		})
	}
}
