package host

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"
)

func TestRecordedSymlinksStayInsideTheTree(t *testing.T) {
	h := NewMemory().
		File("/usr/bin/rootlesskit", "elf").
		Symlink("/usr/local/bin/rootlesskit", "/usr/bin/rootlesskit").
		Symlink("/bin", "usr/bin").
		Symlink("/loop", "/loop").
		Symlink("/etc/escape", "../../../../etc/shadow").
		Host()
	got, err := h.EvalSymlinks("/usr/local/bin/rootlesskit")
	if err != nil || got != "/usr/bin/rootlesskit" {
		t.Fatalf("EvalSymlinks = %q, %v", got, err)
	}
	if data, err := h.ReadFile("/bin/rootlesskit"); err != nil || string(data) != "elf" {
		t.Fatalf("ReadFile through a relative dir link = %q, %v", data, err)
	}
	if _, err := h.ReadFile("/loop"); err == nil {
		t.Fatal("a symlink loop must be an error")
	}
	// ../ past the root stays at the root, like chroot.
	if _, err := h.ReadFile("/etc/escape"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("escaping link: err = %v, want not-exist inside the tree", err)
	}
	fi, err := h.Lstat("/usr/local/bin/rootlesskit")
	if err != nil || fi.Mode&fs.ModeSymlink == 0 {
		t.Fatalf("Lstat = %+v, %v; want a symlink", fi, err)
	}
}

// TestRecordedReadlink: one hop, as written, through links on the way; a path that is not a
// link is an error that is not "does not exist", a missing one is.
func TestRecordedReadlink(t *testing.T) {
	h := NewMemory().
		File("/run/netconfig/resolv.conf", "nameserver 192.0.2.53\n").
		Symlink("/var/run", "../run").
		Symlink("/etc/resolv.conf", "/var/run/netconfig/resolv.conf").
		Symlink("/etc/via-dir", "/var/run/netconfig").
		Meta("/etc/manifest-link", FileMeta{Type: "symlink", Target: "/nowhere"}).
		Host()
	for p, want := range map[string]string{
		"/etc/resolv.conf":   "/var/run/netconfig/resolv.conf",
		"/var/run":           "../run",
		"/etc/manifest-link": "/nowhere",
	} {
		got, err := h.Readlink(p)
		if err != nil || got != want {
			t.Errorf("Readlink(%s) = %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := h.Readlink("/run/netconfig/resolv.conf"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Readlink of a regular file = %v, want a not-a-link error", err)
	}
	if _, err := h.Readlink("/etc/nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Readlink of a missing path = %v, want fs.ErrNotExist", err)
	}
	if _, err := h.Readlink("/var/run/netconfig/resolv.conf"); err == nil {
		t.Error("a file reached through a directory link is still not a link")
	}
}

func TestRecordedManifestMetadata(t *testing.T) {
	h := NewMemory().
		Exec("/usr/bin/newuidmap").
		Meta("/usr/bin/newuidmap", FileMeta{Mode: "4755", UID: Int(0)}).
		Meta("/dev/net/tun", FileMeta{Type: "char", Mode: "0600", Major: 10, Minor: 200}).
		Meta("/usr/bin/newgidmap", FileMeta{Mode: "0755", Caps: "cap_setgid=ep"}).
		Env("PATH", "/usr/bin").
		FSType("/", "ext4").FSType("/home", "nfs").
		Host()
	fi, err := h.Stat("/usr/bin/newuidmap")
	if err != nil || fi.Mode&fs.ModeSetuid == 0 || fi.Mode.Perm() != 0o755 {
		t.Fatalf("newuidmap = %+v, %v", fi, err)
	}
	tun, err := h.Stat("/dev/net/tun")
	if err != nil || !tun.IsCharDevice() || tun.Major != 10 || tun.Minor != 200 || tun.Mode.Perm() != 0o600 {
		t.Fatalf("tun = %+v, %v", tun, err)
	}
	// newgidmap exists only in the manifest, as an executable with caps.
	if p, err := h.LookPath("newgidmap"); err != nil || p != "/usr/bin/newgidmap" {
		t.Fatalf("LookPath(newgidmap) = %q, %v", p, err)
	}
	if fi, _ := h.Stat("/usr/bin/newgidmap"); fi.Caps != "cap_setgid=ep" {
		t.Fatalf("caps = %q", fi.Caps)
	}
	if _, err := h.LookPath("slirp4netns"); err == nil {
		t.Fatal("LookPath of an absent tool must fail")
	}
	for p, want := range map[string]string{"/home/alice/x": "nfs", "/homework": "ext4", "/": "ext4"} {
		if got, err := h.FSType(p); err != nil || got != want {
			t.Errorf("FSType(%s) = %q, %v; want %q", p, got, err, want)
		}
	}
}

func TestRecordedCommands(t *testing.T) {
	h := NewMemory().
		Command([]string{"slirp4netns", "--version"}, "slirp4netns version 1.2.0\n", 0).
		CommandError([]string{"pasta", "--version"}, "exec: not found").
		Host()
	out, err := h.Run(context.Background(), "/usr/bin/slirp4netns", "--version")
	if err != nil || string(out.Stdout) != "slirp4netns version 1.2.0\n" {
		t.Fatalf("Run = %q, %v", out.Stdout, err)
	}
	if _, err := h.Run(context.Background(), "pasta", "--version"); err == nil {
		t.Fatal("a recorded error must be returned")
	}
	if _, err := h.Run(context.Background(), "vpnkit", "--version"); !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("unrecorded command: %v", err)
	}
}

func TestOpenTree(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) { writeTree(t, dir, map[string]string{p: s}) }
	if _, err := OpenTree(dir); err == nil {
		t.Fatal("a tree without a manifest must be refused")
	}
	write(ManifestName, `{"version": 1, "kernel": "5.15.0-generic", "bogus": true}`)
	if _, err := OpenTree(dir); err == nil {
		t.Fatal("unknown manifest fields must be refused")
	}
	write(ManifestName, `{"version": 2}`)
	if _, err := OpenTree(dir); err == nil {
		t.Fatal("a future manifest version must be refused")
	}
	write(ManifestName, `{"version": 1, "kernel": "5.15.0-generic", "files": {"/x": {"mode": "9999"}}}`)
	if _, err := OpenTree(dir); err == nil {
		t.Fatal("a non-octal mode must be refused")
	}
	write(ManifestName, `{"version": 1, "kernel": "5.15.0-generic", "self": {"uid": 1000, "gid": 1000, "name": "alice"}}`)
	write("etc/subuid", "alice:100000:65536\n")
	// An absolute symlink in the tree must resolve inside the tree, not on this machine.
	if err := os.Symlink("/etc/subuid", filepath.Join(dir, "etc/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "etc/hostlink")); err != nil {
		t.Fatal(err)
	}
	h, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h.KernelRelease() != "5.15.0-generic" || h.Self().Name != "alice" || h.Live() {
		t.Fatalf("manifest not applied: %q %+v", h.KernelRelease(), h.Self())
	}
	if data, err := h.ReadFile("/etc/link"); err != nil || string(data) != "alice:100000:65536\n" {
		t.Fatalf("ReadFile(/etc/link) = %q, %v", data, err)
	}
	if _, err := h.ReadFile("/etc/hostlink"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a link to a path outside the tree must not read this machine: %v", err)
	}
	ents, err := h.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == ManifestName {
			t.Fatal("the manifest must not appear in the recorded host's /")
		}
	}
}

func TestReadCapped(t *testing.T) {
	big := make([]byte, MaxRead+1)
	h := NewMemory().File("/big", string(big)).Host()
	if _, err := h.ReadFile("/big"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestLiveHost(t *testing.T) {
	h := NewLive()
	if !h.Live() || h.KernelRelease() == "" {
		t.Fatalf("live host: release %q", h.KernelRelease())
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	fi, err := h.Stat(p)
	if err != nil || fi.Mode&fs.ModeSetuid == 0 || fi.Mode.Perm() != 0o755 || fi.UID != os.Geteuid() {
		t.Fatalf("Stat = %+v, %v", fi, err)
	}
	if _, err := h.FSType(dir); err != nil {
		t.Fatal(err)
	}
	out, err := h.Run(context.Background(), "sh", "-c", "echo hi; exit 3")
	if err != nil || string(out.Stdout) != "hi\n" || out.ExitCode != 3 {
		t.Fatalf("Run = %+v, %v", out, err)
	}
	if _, err := h.Run(context.Background(), "/nonexistent/tool"); err == nil {
		t.Fatal("running a missing tool must be an error")
	}
}

// TestRecordedDenied: a file the recording could not read replays as "permission denied" for
// everyone, root included: root records such files now that it reads what an account
// controls with the account's permissions (owner.go).
func TestRecordedDenied(t *testing.T) {
	h := NewMemory().Self(Identity{UID: 0, GID: 0, Name: "root"}).
		File("/home/alice/.config/containers/storage.conf", "").
		Meta("/home/alice/.config/containers/storage.conf", FileMeta{Mode: "0200", Denied: true}).
		File("/root/secret", "x").Meta("/root/secret", FileMeta{Mode: "0000"}).Host()
	if _, err := h.ReadFile("/home/alice/.config/containers/storage.conf"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("denied file: %v, want a permission error", err)
	}
	if data, err := h.ReadFile("/root/secret"); err != nil || string(data) != "x" {
		t.Errorf("mode 0000 read by a root recording: %q, %v", data, err)
	}
}

func TestCleanAbs(t *testing.T) {
	for _, p := range []string{
		"", "/", "//", "/.", "/..", "a", "a/b", "/a", "/a/", "/a//b", "/a/./b", "/a/../b", "/a/b/..",
		"/a/b/.", "/..a", "/a..", "/.a/b.", "/a/.../b", "./a", "../a", "/a/b/c", "///a", "/a/b//",
	} {
		if got, want := cleanAbs(p), path.Clean("/"+p); got != want {
			t.Errorf("cleanAbs(%q) = %q, want %q", p, got, want)
		}
	}
}

func FuzzCleanAbs(f *testing.F) {
	for _, p := range []string{"/", "/a/b", "//a", "/a/./b", "a/../b", "/a/"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := cleanAbs(p), path.Clean("/"+p); got != want {
			t.Errorf("cleanAbs(%q) = %q, want %q", p, got, want)
		}
	})
}
