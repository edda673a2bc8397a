package host

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// versionTool writes an executable script at dir/name that prints out and appends a line to
// a counter file per run; runs reads that count.
func versionTool(t *testing.T, dir, name, out string, exit int) (path string, runs func() int) {
	t.Helper()
	path = filepath.Join(dir, name)
	counter := filepath.Join(dir, name+".runs")
	body := "#!/bin/sh\necho x >> " + counter + "\necho '" + out + "'\nexit " + string(rune('0'+exit)) + "\n"
	if err := os.WriteFile(path+".new", []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	// Replaced by rename, as package managers install a file.
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	return path, func() int {
		data, _ := os.ReadFile(counter)
		return strings.Count(string(data), "x")
	}
}

func cachedHost(t *testing.T) (Host, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache", "rootless-doctor", "versions")
	return WithVersionCache(NewLive(), dir, os.Geteuid()), dir
}

func mustRun(t *testing.T, h Host, argv ...string) Output {
	t.Helper()
	out, err := h.Run(context.Background(), argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVersionCacheAnswersOnce: the second `--version` of an unchanged file is read from the
// cache, with the same output; other arguments always run.
func TestVersionCacheAnswersOnce(t *testing.T) {
	h, dir := cachedHost(t)
	tool, runs := versionTool(t, t.TempDir(), "slirp4netns", "slirp4netns version 1.2.0", 0)
	for i := 0; i < 3; i++ {
		if out := mustRun(t, h, tool, "--version"); string(out.Stdout) != "slirp4netns version 1.2.0\n" || out.ExitCode != 0 {
			t.Fatalf("run %d: %q exit %d", i, out.Stdout, out.ExitCode)
		}
	}
	if n := runs(); n != 1 {
		t.Errorf("the tool ran %d times for three --version queries, want 1", n)
	}
	mustRun(t, h, tool, "--help")
	mustRun(t, h, tool, "--help")
	if n := runs(); n != 3 {
		t.Errorf("--help is not cached: the tool ran %d times, want 3", n)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir: %v, mode %v; want 0700", err, fi)
	}
}

// TestVersionCacheNeverStale: an upgrade, by rename or rewritten in place with the same size,
// is asked again.
func TestVersionCacheNeverStale(t *testing.T) {
	h, _ := cachedHost(t)
	bin := t.TempDir()
	tool, runs := versionTool(t, bin, "pasta", "pasta 2023_03_29.b10b983", 0)
	mustRun(t, h, tool, "--version")
	versionTool(t, bin, "pasta", "pasta 2024_04_05.954589b", 0)
	if out := mustRun(t, h, tool, "--version"); !strings.Contains(string(out.Stdout), "2024_04_05") {
		t.Errorf("after an upgrade by rename: %q", out.Stdout)
	}
	// Same length, same file, mtime set back: only the content and ctime (which no
	// unprivileged call sets) change.
	data, err := os.ReadFile(tool)
	fi, serr := os.Stat(tool)
	if err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if err := os.WriteFile(tool, []byte(strings.Replace(string(data), "2024_04_05", "2025_01_21", 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tool, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, h, tool, "--version"); !strings.Contains(string(out.Stdout), "2025_01_21") {
		t.Errorf("after a rewrite in place: %q", out.Stdout)
	}
	if n := runs(); n != 3 {
		t.Errorf("the tool ran %d times for three versions, want 3", n)
	}
}

// TestVersionCacheKeepsOnlyCleanAnswers: a failing run, or a command named by a relative
// path, is not kept.
func TestVersionCacheKeepsOnlyCleanAnswers(t *testing.T) {
	h, _ := cachedHost(t)
	bin := t.TempDir()
	tool, runs := versionTool(t, bin, "iptables", "iptables: broken", 1)
	for i := 0; i < 2; i++ {
		if out := mustRun(t, h, tool, "--version"); out.ExitCode != 1 {
			t.Fatalf("exit %d, want 1", out.ExitCode)
		}
	}
	if n := runs(); n != 2 {
		t.Errorf("a failing --version ran %d times, want 2 (not cached)", n)
	}
	_, runs2 := versionTool(t, bin, "iptables-nft", "iptables v1.8.9 (nf_tables)", 0)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	mustRun(t, h, "iptables-nft", "--version")
	mustRun(t, h, "iptables-nft", "--version")
	if n := runs2(); n != 2 {
		t.Errorf("a command found on PATH ran %d times, want 2 (not cached)", n)
	}
}

// TestVersionCacheRefusesForeignOrBrokenEntries: a corrupt entry is a miss (and is replaced),
// and a cache dir others can write is not used at all.
func TestVersionCacheRefusesForeignOrBrokenEntries(t *testing.T) {
	h, dir := cachedHost(t)
	tool, runs := versionTool(t, t.TempDir(), "podman", "podman version 5.0.2", 0)
	mustRun(t, h, tool, "--version")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache entries: %v %v", entries, err)
	}
	if err := os.WriteFile(filepath.Join(dir, entries[0].Name()), []byte(`{"key":`), 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := WithVersionCache(NewLive(), dir, os.Geteuid())
	if out := mustRun(t, h2, tool, "--version"); string(out.Stdout) != "podman version 5.0.2\n" {
		t.Errorf("after a corrupt entry: %q", out.Stdout)
	}
	mustRun(t, WithVersionCache(NewLive(), dir, os.Geteuid()), tool, "--version")
	if n := runs(); n != 2 {
		t.Errorf("ran %d times, want 2 (the corrupt entry replaced once)", n)
	}

	open := filepath.Join(t.TempDir(), "versions")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	h3 := WithVersionCache(NewLive(), open, os.Geteuid())
	mustRun(t, h3, tool, "--version")
	mustRun(t, h3, tool, "--version")
	if n := runs(); n != 4 {
		t.Errorf("with a world-writable cache dir the tool ran %d more times, want 2", n-2)
	}
	if entries, _ := os.ReadDir(open); len(entries) != 0 {
		t.Errorf("wrote %d entries into a world-writable dir", len(entries))
	}
}

func TestVersionCacheDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		euid int
		env  map[string]string
		want string
	}{
		{1000, map[string]string{"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/a"}, "/x/cache/rootless-doctor/versions"},
		{1000, map[string]string{"XDG_CACHE_HOME": "rel", "HOME": "/home/a"}, "/home/a/.cache/rootless-doctor/versions"},
		{1000, map[string]string{"HOME": "/home/a"}, "/home/a/.cache/rootless-doctor/versions"},
		{1000, map[string]string{"HOME": "relative"}, ""},
		{1000, map[string]string{}, ""},
		{0, map[string]string{"XDG_CACHE_HOME": "/root/.cache", "HOME": "/root"}, ""},
	} {
		if got := VersionCacheDir(c.euid, env(c.env)); got != c.want {
			t.Errorf("VersionCacheDir(%d, %v) = %q, want %q", c.euid, c.env, got, c.want)
		}
	}
}

// mustWrite writes content to p (mode 0644).
func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// derivedCounter derives the upper-cased file and counts its calls.
func derivedCounter(keep bool) (func([]byte) ([]byte, bool), func() int) {
	n := 0
	return func(data []byte) ([]byte, bool) {
			n++
			return bytes.ToUpper(data), keep
		}, func() int {
			return n
		}
}

func mustDerive(t *testing.T, h Host, path, kind string, derive func([]byte) ([]byte, bool), want string) {
	t.Helper()
	out, err := h.(Deriver).Derived(path, kind, "", derive)
	if err != nil || string(out) != want {
		t.Fatalf("Derived(%s, %s) = %q, %v; want %q", path, kind, out, err, want)
	}
}

// TestDerivedKeepsWhatWasDerived: what was derived from a file is read back while the file is
// the same one, derived again when it was rewritten in place or replaced, kept per kind, and
// not kept when derive says so.
func TestDerivedKeepsWhatWasDerived(t *testing.T) {
	h, _ := cachedHost(t)
	file := filepath.Join(t.TempDir(), "status")
	mustWrite(t, file, "abc")
	derive, calls := derivedCounter(true)
	deriveTwice(t, h, file, "upper-1", derive, "ABC", calls, 1)
	mustDerive(t, h, file, "upper-2", derive, "ABC")
	if n := calls(); n != 2 {
		t.Fatalf("another kind was answered from the first one's entry (%d calls)", n)
	}
	// Rewritten in place with the same size: a new ctime, so a miss.
	mustWrite(t, file, "xyz")
	mustDerive(t, h, file, "upper-1", derive, "XYZ")
	// Replaced by rename, as dpkg writes its database: a new inode.
	mustWrite(t, file+".new", "def")
	if err := os.Rename(file+".new", file); err != nil {
		t.Fatal(err)
	}
	deriveTwice(t, h, file, "upper-1", derive, "DEF", calls, 4) // two kinds, two changes
	other := filepath.Join(t.TempDir(), "other")
	mustWrite(t, other, "q")
	nokeep, nokeepCalls := derivedCounter(false)
	deriveTwice(t, h, other, "upper-1", nokeep, "Q", nokeepCalls, 2) // nothing kept
}

// deriveTwice derives path twice and checks that derive has run wantCalls times in all.
func deriveTwice(t *testing.T, h Host, path, kind string, derive func([]byte) ([]byte, bool), want string, calls func() int, wantCalls int) {
	t.Helper()
	mustDerive(t, h, path, kind, derive, want)
	mustDerive(t, h, path, kind, derive, want)
	if n := calls(); n != wantCalls {
		t.Fatalf("%s: derived %d times, want %d", path, n, wantCalls)
	}
}

// TestDerivedErrors: a file that cannot be read is ReadFile's error and nothing is kept; a
// relative path is derived every time.
func TestDerivedErrors(t *testing.T) {
	h, dir := cachedHost(t)
	derive, calls := derivedCounter(true)
	missing := filepath.Join(t.TempDir(), "missing")
	for i := 0; i < 2; i++ {
		if out, err := h.(Deriver).Derived(missing, "upper-1", "", derive); !errors.Is(err, fs.ErrNotExist) || out != nil {
			t.Fatalf("missing file: %q, %v; want fs.ErrNotExist", out, err)
		}
	}
	if n := calls(); n != 0 {
		t.Errorf("derive ran %d times for a file that could not be read", n)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "*.derived")); len(ents) != 0 {
		t.Errorf("entries kept for a missing file: %v", ents)
	}
	if _, err := h.(Deriver).Derived("relative/status", "upper-1", "", derive); err == nil {
		t.Error("a relative path was read")
	}
}

// TestDerivedRefusesForeignAndCorruptEntries: an entry that is not uid's alone, or holds
// another key, is a miss and is replaced; a cache directory that is not uid's is not used.
func TestDerivedRefusesForeignAndCorruptEntries(t *testing.T) {
	h, dir := cachedHost(t)
	file := filepath.Join(t.TempDir(), "status")
	mustWrite(t, file, "abc")
	derive, calls := derivedCounter(true)
	mustDerive(t, h, file, "upper-1", derive, "ABC")
	ents, _ := filepath.Glob(filepath.Join(dir, "*.derived"))
	if len(ents) != 1 {
		t.Fatalf("entries: %v, want one", ents)
	}
	entry := ents[0]
	data, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"another key", append([]byte("rd-derived-2\x00upper-1\x00\x00dev=1 ino=2\n"), "EVIL"...), 0o600},
		{"no key line", []byte("EVIL"), 0o600},
		{"writable by the group", append(bytes.Clone(data[:bytes.IndexByte(data, '\n')+1]), "EVIL"...), 0o620},
	} {
		if err := os.WriteFile(entry, bad.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(entry, bad.mode); err != nil {
			t.Fatal(err)
		}
		before := calls()
		mustDerive(t, h, file, "upper-1", derive, "ABC")
		if calls() != before+1 {
			t.Errorf("%s: the entry was used", bad.name)
		}
	}
	// A cache directory owned by someone else: never used, every answer derived.
	foreign := WithVersionCache(NewLive(), dir, os.Geteuid()+1)
	before := calls()
	mustDerive(t, foreign, file, "upper-1", derive, "ABC")
	mustDerive(t, foreign, file, "upper-1", derive, "ABC")
	if calls() != before+2 {
		t.Error("a cache directory of another uid was used")
	}
}

// TestDerivedKeepsOneEntryPerFile: the cache holds one entry per path and kind, replaced
// when the file or the variant changes, so that a file that changes often (dpkg's database,
// at every apt run) does not fill the account's disk.
func TestDerivedKeepsOneEntryPerFile(t *testing.T) {
	h, dir := cachedHost(t)
	file := filepath.Join(t.TempDir(), "status")
	derive, calls := derivedCounter(true)
	for i, content := range []string{"a", "b", "c", "d"} {
		mustWrite(t, file+".new", content)
		if err := os.Rename(file+".new", file); err != nil {
			t.Fatal(err)
		}
		for _, variant := range []string{"6.1.0", "6.12.0"} {
			out, err := h.(Deriver).Derived(file, "upper-1", variant, derive)
			if err != nil || string(out) != strings.ToUpper(content) {
				t.Fatalf("version %d, variant %s: %q, %v", i, variant, out, err)
			}
		}
	}
	if n := calls(); n != 8 {
		t.Errorf("derived %d times, want 8: each version of the file and each variant is a miss", n)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "*.derived")); len(ents) != 1 {
		t.Errorf("%d entries for one file and kind, want 1: %v", len(ents), ents)
	}
	// The same variant again is a hit.
	if _, err := h.(Deriver).Derived(file, "upper-1", "6.12.0", derive); err != nil || calls() != 8 {
		t.Errorf("the last variant was not kept (%d calls, %v)", calls(), err)
	}
}

// TestVersionCacheKeepsOneEntryPerTool: an upgraded tool's answer replaces the old one.
func TestVersionCacheKeepsOneEntryPerTool(t *testing.T) {
	h, dir := cachedHost(t)
	tools := t.TempDir()
	for i, v := range []string{"1.0", "1.1", "1.2"} {
		tool, _ := versionTool(t, tools, "pasta", "pasta "+v, 0)
		if out := mustRun(t, h, tool, "--version"); string(out.Stdout) != "pasta "+v+"\n" {
			t.Fatalf("upgrade %d: %q", i, out.Stdout)
		}
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(ents) != 1 {
		t.Errorf("%d entries for one tool upgraded twice, want 1: %v", len(ents), ents)
	}
}
