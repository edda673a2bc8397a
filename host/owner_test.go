package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// acctUID is a uid no account has: the owner of the test's "home directory".
const acctUID = 4000001

// TestLiveReadsAccountPathsWithItsPermissions: as root, a path through a directory another
// uid controls is read with that uid's permissions (issue 10: root followed the account's
// symlink ~/.config/containers/storage.conf → /etc/shadow and read it). A symlink there to a
// file only root can read is "permission denied", saying where it points; the account's own
// files and its links to them, or to files it may read, are read as before; paths only root
// controls are read as root, also while other goroutines read as the account.
func TestLiveReadsAccountPathsWithItsPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (reading as another uid)")
	}
	h := NewLive()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The account must be able to reach its home, as under /home.
	must(os.Chmod(filepath.Dir(dir), 0o755))
	must(os.Chmod(dir, 0o755))
	secret := filepath.Join(dir, "secret")
	must(os.Mkdir(secret, 0o700))
	canary := filepath.Join(secret, "canary")
	must(os.WriteFile(canary, []byte("CANARY root only\n"), 0o600))
	pub := filepath.Join(dir, "pub")
	must(os.WriteFile(pub, []byte("public\n"), 0o644))

	home := filepath.Join(dir, "home")
	must(os.Mkdir(home, 0o700))
	must(os.Chown(home, acctUID, acctUID))
	own := filepath.Join(home, "own.conf")
	must(os.WriteFile(own, []byte("mine\n"), 0o600))
	must(os.Chown(own, acctUID, acctUID))
	link := func(name, target string) string {
		p := filepath.Join(home, name)
		must(os.Symlink(target, p))
		must(os.Lchown(p, acctUID, acctUID))
		return p
	}
	toCanary := link("storage.conf", canary)
	toSecret := link("secretdir", secret)
	relative := link("rel.conf", "own.conf")
	toPub := link("pub.conf", pub)
	deep := filepath.Join(home, "sub")
	must(os.Mkdir(deep, 0o755))
	must(os.Chown(deep, acctUID, acctUID))

	// A sticky world-writable directory (like /tmp): an entry someone else owns is theirs.
	sticky := filepath.Join(dir, "sticky")
	must(os.Mkdir(sticky, 0o755))
	must(unix.Chmod(sticky, 0o1777))
	stickyLink := filepath.Join(sticky, "planted")
	must(os.Symlink(canary, stickyLink))
	must(os.Lchown(stickyLink, acctUID, acctUID))
	rootLink := filepath.Join(sticky, "roots")
	must(os.Symlink(canary, rootLink))

	for _, p := range []string{toCanary, stickyLink, filepath.Join(toSecret, "canary"), filepath.Join(deep, "..", "storage.conf")} {
		data, err := h.ReadFile(p)
		if !errors.Is(err, fs.ErrPermission) || strings.Contains(string(data), "CANARY") {
			t.Errorf("ReadFile(%s) = %q, %v; want a permission error", p, data, err)
		}
		if err != nil && strings.Contains(err.Error(), "CANARY") {
			t.Errorf("the error quotes the file: %v", err)
		}
	}
	if _, err := h.ReadFile(toCanary); err == nil || !strings.Contains(err.Error(), "it is a symlink to "+canary) || !strings.Contains(err.Error(), "uid 4000001") {
		t.Errorf("the error does not say where the link points and whose permissions were used: %v", err)
	}
	if _, err := h.ReadDir(toSecret); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("ReadDir through the account's link to a root-only directory: %v", err)
	}
	if fi, err := h.Stat(toCanary); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Stat through the account's link to a root-only file = %+v, %v", fi, err)
	}
	if res, err := h.EvalSymlinks(filepath.Join(toSecret, "canary")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("EvalSymlinks into a root-only directory = %q, %v", res, err)
	}
	if ds, err := h.DiskSpace(filepath.Join(toSecret, "canary")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("DiskSpace into a root-only directory through the account's link = %+v, %v", ds, err)
	}
	if _, err := h.DiskSpace(own); err != nil {
		t.Errorf("DiskSpace of the account's own file: %v", err)
	}
	if fi, err := h.Lstat(toCanary); err != nil || fi.Mode&fs.ModeSymlink == 0 {
		t.Errorf("Lstat of the account's link = %+v, %v", fi, err)
	}
	for p, want := range map[string]string{own: "mine\n", relative: "mine\n", toPub: "public\n", rootLink: "CANARY root only\n", canary: "CANARY root only\n"} {
		if data, err := h.ReadFile(p); err != nil || string(data) != want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", p, data, err, want)
		}
	}
	// Reads as the account run on threads of their own: root's reads beside them stay root's.
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, wantOK := toCanary, false
			if i%2 == 0 {
				p, wantOK = canary, true
			}
			_, err := h.ReadFile(p)
			if (err == nil) != wantOK {
				t.Errorf("concurrent ReadFile(%s): %v", p, err)
			}
		}()
	}
	wg.Wait()
	if data, err := os.ReadFile(canary); err != nil || !strings.HasPrefix(string(data), "CANARY") {
		t.Errorf("the test process lost root's rights: %v", err)
	}
}

// TestControlledBy: who controls a path, walked as root without following what another uid
// could have put there.
func TestControlledBy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (chown)")
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, acctUID, acctUID); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(home, filepath.Join(dir, "rootlink")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path       string
		followLast bool
		uid        int
		where      string
	}{
		{path: filepath.Join(dir, "file"), uid: -1},
		{path: home, uid: -1},
		{path: filepath.Join(home, "x"), uid: acctUID, where: home},
		{path: filepath.Join(dir, "rootlink", "x"), uid: acctUID, where: home},
		{path: filepath.Join(dir, "rootlink"), followLast: true, uid: -1},
		{path: filepath.Join(open, "x"), uid: nobody, where: open},
		{path: filepath.Join(home, "missing", "x"), uid: acctUID, where: home},
		{path: "/tmp/rootless-doctor-test-missing", uid: nobody, where: "/tmp/rootless-doctor-test-missing"},
		{path: "/proc/self/status", followLast: true, uid: -1},
	}
	for _, tt := range tests {
		c, ok := controlledBy(tt.path, tt.followLast)
		switch {
		case tt.uid < 0 && ok:
			t.Errorf("%s: controlled by %+v, want root alone", tt.path, c)
		case tt.uid >= 0 && (!ok || c.uid != tt.uid || c.where != tt.where):
			t.Errorf("%s: %+v %v, want uid %d at %s", tt.path, c, ok, tt.uid, tt.where)
		}
	}
}
