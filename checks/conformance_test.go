package checks

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// The conformance test runs every registered probe against hosts no probe author had in
// mind: an empty tree, a tree where every read fails, a tree of garbage, and every fixture.
// A probe must never panic, must return a valid status, and a fail or warn must explain
// itself (details, evidence or a fix).

func TestConformance(t *testing.T) {
	hosts := map[string]host.Host{
		"empty":      host.NewMemory().Host(),
		"empty-root": host.NewMemory().Self(host.Identity{}).Host(),
		"denied":     deniedHost{},
	}
	for seed := uint64(1); seed <= 20; seed++ {
		hosts[fmt.Sprintf("garbage-%02d", seed)] = garbageHost{seed: seed}
	}
	dirs, _ := filepath.Glob(filepath.Join("..", "fixtures", "*", host.ManifestName))
	for _, m := range dirs {
		h, err := host.OpenTree(filepath.Dir(m))
		if err != nil {
			t.Errorf("fixture %s: %v", filepath.Dir(m), err)
			continue
		}
		hosts["fixture-"+filepath.Base(filepath.Dir(m))] = h
	}
	for name, h := range hosts {
		for _, user := range []string{"", "alice", "1000"} {
			t.Run(name+"/user="+user, func(t *testing.T) {
				env := facts.NewEnv(context.Background(), h, user)
				for _, p := range All() {
					checkConforms(t, p, env)
				}
			})
		}
	}
}

func checkConforms(t *testing.T, p Probe, env *facts.Env) {
	t.Helper()
	r := callDirect(t, p, env) // not through the runner: its recovery must not hide a panic
	// What the probe itself returned, before the runner's policies make any result valid: a
	// status (or an error for the undecided policy), a summary, and a fail or warn that
	// explains itself.
	if r.Err == nil && !r.Status.Valid() {
		t.Errorf("%s: status %q and no error: %+v", p.ID, r.Status, r)
	}
	if strings.TrimSpace(r.Summary) == "" {
		t.Errorf("%s: no summary: %+v", p.ID, r)
	}
	if r.Err == nil && (r.Status == finding.Fail || r.Status == finding.Warn) && len(r.Details)+len(r.Evidence)+len(r.Intents) == 0 {
		t.Errorf("%s: %s without details, evidence or fix: %q", p.ID, r.Status, r.Summary)
	}
	if r.ID != "" || r.Title != "" || r.Duration != 0 {
		t.Errorf("%s: the runner fills id, title and duration, not the probe: %+v", p.ID, r)
	}
	for _, in := range r.Intents {
		if !slices.Contains(p.Fixes, in.Kind) {
			t.Errorf("%s: asks for a %q fix, which its Fixes (what explain lists) do not name", p.ID, in.Kind)
		}
		if fixes.IntentID(in) == "" || fixes.Describe(in) == "" {
			t.Errorf("%s: empty intent %+v", p.ID, in)
		}
	}
}

// idPattern is the form of a probe id (docs/probes.md).
var idPattern = regexp.MustCompile(`^[a-z]+\.[a-z0-9-]+$`)

// TestProbeMetadata checks, for every registered probe, what `explain`, `probes`, the README
// and docs/probes.md show: a well-formed, unique id in a known group, a title, when it fails,
// why it matters, what it reads, and fix kinds the planner knows.
func TestProbeMetadata(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range All() {
		if !idPattern.MatchString(p.ID) {
			t.Errorf("id %q is not group.name (%s)", p.ID, idPattern)
		}
		if seen[p.ID] {
			t.Errorf("duplicate id %s", p.ID)
		}
		seen[p.ID] = true
		if !slices.ContainsFunc(GroupTitles, func(g struct{ Group, Title string }) bool { return g.Group == p.Group() }) {
			t.Errorf("%s: group %q is not in GroupTitles", p.ID, p.Group())
		}
		if p.Run == nil {
			t.Errorf("%s: no Run", p.ID)
		}
		for what, text := range map[string]string{"Title": p.Title, "Fails": p.Fails} {
			if strings.TrimSpace(text) == "" || strings.ContainsAny(text, "\n|") || strings.HasSuffix(text, ".") {
				t.Errorf("%s: %s %q must be one line, without '|' or a final period", p.ID, what, text)
			}
		}
		if len(p.Why) < 80 || strings.Contains(p.Why, "\n") || !strings.HasSuffix(p.Why, ".") && !strings.HasSuffix(p.Why, ")") {
			t.Errorf("%s: Why must say, in sentences, why it matters: %q", p.ID, p.Why)
		}
		if len(p.Reads) == 0 || slices.Contains(p.Reads, "") {
			t.Errorf("%s: Reads must list what it reads: %q", p.ID, p.Reads)
		}
		for i, k := range p.Fixes {
			if !slices.Contains(fixes.Kinds(), k) {
				t.Errorf("%s: fix kind %q is not a kind the planner knows", p.ID, k)
			}
			if slices.Contains(p.Fixes[:i], k) {
				t.Errorf("%s: fix kind %q listed twice", p.ID, k)
			}
		}
	}
}

// deniedHost answers every question with a permission error.
type deniedHost struct{}

func denied(p string) error { return &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission} }

func (deniedHost) ReadFile(p string) ([]byte, error)       { return nil, denied(p) }
func (deniedHost) Stat(p string) (host.FileInfo, error)    { return host.FileInfo{}, denied(p) }
func (deniedHost) Lstat(p string) (host.FileInfo, error)   { return host.FileInfo{}, denied(p) }
func (deniedHost) ReadDir(p string) ([]fs.DirEntry, error) { return nil, denied(p) }
func (deniedHost) EvalSymlinks(p string) (string, error)   { return "", denied(p) }
func (deniedHost) Readlink(p string) (string, error)       { return "", denied(p) }
func (deniedHost) FSType(p string) (string, error)         { return "", denied(p) }
func (deniedHost) DiskSpace(p string) (host.DiskSpace, error) {
	return host.DiskSpace{}, denied(p)
}
func (deniedHost) LookupEnv(string) (string, bool)   { return "", false }
func (deniedHost) LookPath(p string) (string, error) { return "", denied(p) }
func (deniedHost) KernelRelease() string             { return "" }
func (deniedHost) Self() host.Identity               { return host.Identity{UID: 1000, GID: 1000} }
func (deniedHost) Executable() string                { return "" }
func (deniedHost) Live() bool                        { return false }
func (deniedHost) Run(context.Context, ...string) (host.Output, error) {
	return host.Output{}, errors.New("permission denied")
}

// garbageHost answers every question with deterministic junk derived from the path and a
// seed: binary bytes, huge lines, NULs, numbers out of range, odd modes.
type garbageHost struct{ seed uint64 }

func (g garbageHost) rng(key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(g.seed, h.Sum64()))
}

var garbageLines = []string{
	"alice:100000:65536", "alice:-1:99999999999999999999", "1000:0:0", ":::", "alice",
	"0\t2147483647", "1 0", "-1", "18446744073709551616", "Y", "N", "1", "0",
	"0::/user.slice/user-1000.slice/user@1000.service/app.slice",
	"36 35 98:0 / / rw shared:1 - ext4 /dev/root rw", "36 35 98:0 /",
	"profile x /usr/bin/rootlesskit flags=(unconfined) {", "userns,", "}",
	"slirp4netns version 0.3.9", "pasta 2023_03_09.ee7d0b6", "iptables v1.8.9 (nf_tables)",
	"subid: sss", "SUB_UID_MIN 4294967295", "cpu cpuset io memory pids", "\x00\x01\x1b[31m",
	"ID=ubuntu", "VERSION_ID=\"99.99\"", "Delegate=yes", "KillUserProcesses=yes",
}

func (g garbageHost) ReadFile(p string) ([]byte, error) {
	r := g.rng("read" + p)
	switch r.IntN(8) {
	case 0:
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	case 1:
		b := make([]byte, r.IntN(3000))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b, nil
	case 2:
		return []byte(strings.Repeat("9", 70000)), nil
	}
	var b strings.Builder
	for n := r.IntN(30); n > 0; n-- {
		b.WriteString(garbageLines[r.IntN(len(garbageLines))])
		b.WriteString([]string{"\n", "\n", " ", ":", "\t"}[r.IntN(5)])
	}
	return []byte(b.String()), nil
}

func (g garbageHost) stat(p string) (host.FileInfo, error) {
	r := g.rng("stat" + p)
	if r.IntN(4) == 0 {
		return host.FileInfo{}, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	modes := []fs.FileMode{0, fs.ModeDir | 0o700, 0o4755, fs.ModeDevice | fs.ModeCharDevice | 0o600, fs.ModeSocket | 0o777, fs.ModeSymlink | 0o777, 0o777 | fs.ModeSetuid}
	return host.FileInfo{
		Path: p, Mode: modes[r.IntN(len(modes))], UID: r.IntN(3) * 1000, GID: r.IntN(2),
		Major: uint32(r.IntN(300)), Minor: uint32(r.IntN(300)),
		Caps: []string{"", "cap_setuid=ep", "garbage=", "cap_setuid,cap_setgid+ep"}[r.IntN(4)],
	}, nil
}

func (g garbageHost) Stat(p string) (host.FileInfo, error)  { return g.stat(p) }
func (g garbageHost) Lstat(p string) (host.FileInfo, error) { return g.stat(p) }
func (g garbageHost) ReadDir(p string) ([]fs.DirEntry, error) {
	r := g.rng("dir" + p)
	var out []fs.DirEntry
	for n := r.IntN(5); n > 0; n-- {
		name := []string{"x", "rootlesskit", "..", "a b", "usr.bin.rootlesskit", "alice"}[r.IntN(6)]
		out = append(out, fs.FileInfoToDirEntry(fakeInfo{name: name}))
	}
	return out, nil
}
func (g garbageHost) EvalSymlinks(p string) (string, error) { return p, nil }
func (g garbageHost) Readlink(p string) (string, error) {
	targets := []string{"", "/", "..", "../../../../etc/shadow", p, "/proc/self/root" + p, strings.Repeat("a/", 3000)}
	return targets[g.rng("link"+p).IntN(len(targets))], nil
}
func (g garbageHost) FSType(p string) (string, error) {
	types := []string{"ext4", "nfs", "tmpfs", "cgroup2", "btrfs", "unknown(0x1)", ""}
	return types[g.rng("fs"+p).IntN(len(types))], nil
}
func (g garbageHost) DiskSpace(p string) (host.DiskSpace, error) {
	r := g.rng("space" + p)
	sizes := []int64{0, 1, 1 << 20, 2 << 30, 1 << 62, -1}
	return host.DiskSpace{Size: sizes[r.IntN(len(sizes))], Avail: sizes[r.IntN(len(sizes))]}, nil
}
func (g garbageHost) LookupEnv(k string) (string, bool) {
	r := g.rng("env" + k)
	vals := []string{"", "/tmp", "/run/user/1000", "unix:path=/nonexistent", "autolaunch:", "tcp://1.2.3.4:2375", "\x00"}
	return vals[r.IntN(len(vals))], r.IntN(3) != 0
}
func (g garbageHost) LookPath(n string) (string, error) {
	if g.rng("path"+n).IntN(3) == 0 {
		return "", &fs.PathError{Op: "lookpath", Path: n, Err: fs.ErrNotExist}
	}
	return "/usr/bin/" + n, nil
}
func (g garbageHost) Run(_ context.Context, argv ...string) (host.Output, error) {
	key := strings.Join(argv, " ")
	data, _ := g.ReadFile("cmd:" + key)
	return host.Output{Stdout: data, ExitCode: g.rng("exit" + key).IntN(3)}, nil
}
func (g garbageHost) KernelRelease() string {
	return []string{"", "garbage", "3.10.0-1160.el7.x86_64", "99999999999999999999.1", "6.8.0-31-generic", "5.10"}[g.seed%6]
}
func (g garbageHost) Self() host.Identity {
	return host.Identity{UID: int(g.seed%2) * 1000, GID: 1000, Name: "alice"}
}
func (g garbageHost) Executable() string { return "/usr/local/bin/rootless-doctor" }
func (g garbageHost) Live() bool         { return false }

type fakeInfo struct{ name string }

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

// FuzzProbes feeds every probe a garbage host built from the fuzzer's seed.
func FuzzProbes(f *testing.F) {
	f.Add(uint64(1), "alice")
	f.Add(uint64(7), "")
	f.Fuzz(func(t *testing.T, seed uint64, user string) {
		env := facts.NewEnv(context.Background(), garbageHost{seed: seed}, user)
		for _, p := range All() {
			checkConforms(t, p, env)
		}
	})
}
