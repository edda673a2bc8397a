package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// source is a host with a bit of everything a probe may read.
func source() *host.Recorded {
	return host.NewMemory().
		File("/etc/subuid", "alice:100000:65536\n").
		File("/usr/lib/os-release", "ID=debian\n").
		Symlink("/etc/os-release", "../usr/lib/os-release").
		Exec("/usr/bin/newuidmap").Meta("/usr/bin/newuidmap", host.FileMeta{Mode: "4755", UID: host.Int(0)}).
		Exec("/usr/bin/newgidmap").Meta("/usr/bin/newgidmap", host.FileMeta{Mode: "0755", Caps: "cap_setgid=ep"}).
		Symlink("/usr/sbin/iptables", "/etc/alternatives/iptables").
		Symlink("/etc/alternatives/iptables", "/usr/sbin/iptables-nft").
		Exec("/usr/sbin/iptables-nft").
		Meta("/dev/net/tun", host.FileMeta{Type: "char", Mode: "0600", Major: 10, Minor: 200}).
		File("/etc/shadow-like", "secret").Meta("/etc/shadow-like", host.FileMeta{Mode: "0000"}).
		File("/etc/sysctl.d/a.conf", "x=1\n").File("/etc/sysctl.d/b.conf", "not read\n").
		Symlink("/etc/sysctl.d/c.conf", "/dev/null").
		Dir("/home/alice").Meta("/home/alice", host.FileMeta{Type: "dir", Mode: "0750", UID: host.Int(1000), GID: host.Int(1000)}).
		Env("PATH", "/usr/sbin:/usr/bin").Env("XDG_RUNTIME_DIR", "/run/user/1000").Env("SECRET", "hunter2").
		FSType("/", "ext4").FSType("/home", "nfs").DiskSpace("/", 8<<30, 2<<30).
		Command([]string{"slirp4netns", "--version"}, "slirp4netns version 1.2.0\n", 0).
		CommandError([]string{"pasta", "--version"}, "executable file not found in $PATH").
		Kernel("6.8.0-31-generic").
		Executable("/usr/local/bin/rootless-doctor").
		Host()
}

// probe makes the reads a run of the probes would, and returns what each answered.
func probe(t *testing.T, h host.Host) map[string]string {
	t.Helper()
	got := map[string]string{}
	str := func(v any, err error) string {
		b, _ := json.Marshal(v)
		if err != nil {
			// The same class of error, not the same text: paths are the tree's.
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return "not-exist"
			case errors.Is(err, fs.ErrPermission):
				return "denied"
			}
			return "error: " + strings.ReplaceAll(err.Error(), "running slirp4netns --version: ", "")
		}
		return string(b)
	}
	for _, p := range []string{"/etc/subuid", "/etc/os-release", "/etc/shadow-like", "/etc/missing", "/etc/sysctl.d/a.conf"} {
		data, err := h.ReadFile(p)
		got["read "+p] = str(string(data), err)
	}
	for _, p := range []string{"/usr/bin/newuidmap", "/usr/bin/newgidmap", "/dev/net/tun", "/home/alice", "/usr/sbin/iptables", "/etc/sysctl.d/c.conf"} {
		fi, err := h.Stat(p)
		fi.Size = 0
		got["stat "+p] = str(fi, err)
		li, err := h.Lstat(p)
		li.Size = 0
		got["lstat "+p] = str(li, err)
	}
	ents, err := h.ReadDir("/etc/sysctl.d")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name()+":"+e.Type().String())
	}
	got["readdir"] = str(names, err)
	got["eval"] = str(h.EvalSymlinks("/usr/sbin/iptables"))
	// One hop at a time, the way net.dns follows /etc/resolv.conf; the recording keeps each
	// hop's target as written, and a path that is not a link as what it is.
	for _, p := range []string{"/usr/sbin/iptables", "/etc/alternatives/iptables", "/usr/sbin/iptables-nft", "/etc/missing-link"} {
		got["readlink "+p] = str(h.Readlink(p))
	}
	got["fstype"] = str(h.FSType("/home/alice"))
	got["fstype /"] = str(h.FSType("/etc"))
	got["diskspace"] = str(h.DiskSpace("/home/alice"))
	for _, n := range []string{"newuidmap", "iptables", "pasta"} {
		got["lookpath "+n] = str(h.LookPath(n))
	}
	v, ok := h.LookupEnv("XDG_RUNTIME_DIR")
	got["env"] = str([]any{v, ok}, nil)
	out, err := h.Run(context.Background(), "/usr/bin/slirp4netns", "--version")
	got["run slirp"] = str(out, err)
	out, err = h.Run(context.Background(), "pasta", "--version")
	got["run pasta"] = str(out.Stdout, err)
	got["self"] = str(h.Self(), nil)
	got["kernel"] = h.KernelRelease()
	got["exe"] = h.Executable()
	return got
}

// TestRecordingRoundTrip records the reads over a host, writes the tree, reopens it and
// checks that every read answers the same, and that nothing unread was kept.
func TestRecordingRoundTrip(t *testing.T) {
	src := source()
	want := probe(t, src)
	rec := NewRecording(src)
	if got := probe(t, rec); !equal(got, want) {
		t.Fatalf("recording changed what the probes see:\n got %v\nwant %v", got, want)
	}
	dir := filepath.Join(t.TempDir(), "snap")
	if err := rec.WriteTree(dir, RecordOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.tmp left behind: %v", dir, err)
	}
	replay, err := host.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := probe(t, replay)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: replay %s, want %s", k, got[k], w)
		}
	}
	m := replay.Manifest()
	if _, ok := m.Env["SECRET"]; ok {
		t.Error("an environment variable nobody read was recorded")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "etc/sysctl.d/b.conf")); err != nil || len(data) != 0 {
		t.Errorf("a listed but unread file must be an empty placeholder: %q, %v", data, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "etc/os-release")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink met on the way must be kept as a symlink: %v, %v", fi, err)
	}
	if err := rec.WriteTree(dir, RecordOptions{}); err == nil {
		t.Error("writing over an existing snapshot must fail")
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRecordingFilterAndUser(t *testing.T) {
	src := host.NewMemory().File("/etc/passwd", "root:x:0:0::/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n").Host()
	rec := NewRecording(src)
	if _, err := rec.ReadFile("/etc/passwd"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snap")
	filter := func(p string, data []byte) []byte {
		if p == "/etc/passwd" {
			return []byte("root:x:0:0::/root:/bin/sh\n")
		}
		return data
	}
	if err := rec.WriteTree(dir, RecordOptions{Filter: filter, User: "ci"}); err != nil {
		t.Fatal(err)
	}
	replay, err := host.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := replay.ReadFile("/etc/passwd"); strings.Contains(string(data), "bob") {
		t.Errorf("filter not applied: %q", data)
	}
	if replay.Manifest().User != "ci" {
		t.Errorf("manifest user = %q", replay.Manifest().User)
	}
}

func TestRecordingTooLarge(t *testing.T) {
	src := host.NewMemory().File("/big", strings.Repeat("x", host.MaxRead+10)).Host()
	rec := NewRecording(src)
	if _, err := rec.ReadFile("/big"); !errors.Is(err, host.ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	dir := filepath.Join(t.TempDir(), "snap")
	if err := rec.WriteTree(dir, RecordOptions{}); err != nil {
		t.Fatal(err)
	}
	replay, err := host.OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replay.ReadFile("/big"); !errors.Is(err, host.ErrTooLarge) {
		t.Fatalf("replay err = %v, want too large", err)
	}
}
