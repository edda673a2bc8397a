package facts

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// derivingHost is a Host with a Deriver that keeps derive's bytes per path and kind in memory,
// with the variant they were made for, as the account's cache keeps them on disk
// (host.versionCache); tests overwrite an entry's bytes to stand for an entry other than what
// was derived.
type derivingHost struct {
	host.Host
	kept    map[string]*keptEntry
	derived int
}

type keptEntry struct {
	variant string
	b       []byte
}

func newDerivingHost(h host.Host) *derivingHost {
	return &derivingHost{Host: h, kept: map[string]*keptEntry{}}
}

func (d *derivingHost) Derived(path, kind, variant string, derive func([]byte) ([]byte, bool)) ([]byte, error) {
	if k, ok := d.kept[path+"\x00"+kind]; ok && k.variant == variant {
		return k.b, nil
	}
	data, err := d.Host.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d.derived++
	out, keep := derive(data)
	if keep {
		d.kept[path+"\x00"+kind] = &keptEntry{variant, out}
	}
	return out, nil
}

const testDpkgStatus = "Package: podman\nStatus: install ok installed\nVersion: 4.3.1+ds1-8+b1\n\n" +
	"Package: rootlesskit\nStatus: deinstall ok config-files\nVersion: 1.1.0-1\n\n" +
	"Package: uidmap\nStatus: install ok installed\nVersion: 1:4.13+dfsg1-1+b1\n"

// TestDpkgThroughDeriver: with the account's cache, dpkg's database is indexed once and the
// index read back on the next run gives the same answers as reading the database; bytes that
// are not an index make the run index the database again.
func TestDpkgThroughDeriver(t *testing.T) {
	d := newDerivingHost(host.NewMemory().File(DpkgStatusPath, testDpkgStatus).Host())
	ctx := context.Background()
	type answer struct {
		installed, found bool
		version          string
		ok               bool
	}
	ask := func(e *Env) map[string]answer {
		out := map[string]answer{}
		for _, pkg := range []string{"podman", "rootlesskit", "uidmap", "slirp4netns"} {
			installed, found, err := e.DpkgPackageStatus(pkg)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := e.DpkgInstalledVersion(pkg)
			out[pkg] = answer{installed, found, v, ok}
		}
		return out
	}
	want := ask(NewEnv(ctx, host.NewMemory().File(DpkgStatusPath, testDpkgStatus).Host(), ""))
	if !want["podman"].ok || want["rootlesskit"].installed || !want["rootlesskit"].found || want["slirp4netns"].found {
		t.Fatalf("the database without a cache: %+v", want)
	}
	for run := 0; run < 3; run++ {
		if got := ask(NewEnv(ctx, d, "")); !maps.Equal(got, want) {
			t.Fatalf("run %d through the cache: %+v, want %+v", run, got, want)
		}
	}
	if d.derived != 1 {
		t.Errorf("the database was indexed %d times in three runs, want once", d.derived)
	}
	for _, k := range d.kept {
		k.b = []byte("\x05podman\x02") // not an index: a flag of 2
	}
	if got := ask(NewEnv(ctx, d, "")); !maps.Equal(got, want) {
		t.Fatalf("a corrupt entry: %+v, want %+v", got, want)
	}
	// No database: the error of reading it, as without a cache.
	e := NewEnv(ctx, newDerivingHost(host.NewMemory().Host()), "")
	if _, _, err := e.DpkgPackageStatus("podman"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no database: %v, want fs.ErrNotExist", err)
	}
}

// TestKernelConfigThroughDeriver: with the account's cache, the kernel config is parsed once
// for a kernel release and read back with the same answers; another release is parsed
// again; a config that does not parse is not kept; bytes that do not decode are parsed anew.
func TestKernelConfigThroughDeriver(t *testing.T) {
	const config = "# CONFIG_MODULES is not set\nCONFIG_TUN=m\nCONFIG_EXT4_FS=y\n# CONFIG_EXT4_FS_SECURITY is not set\nCONFIG_HZ=250\n"
	mem := func(release string) *host.Memory {
		return host.NewMemory().Kernel(release).GzipFile("/proc/config.gz", config).File("/proc/modules", "")
	}
	ctx := context.Background()
	type answer struct {
		cfg  map[string]string
		from string
		tun  ModuleState
	}
	ask := func(h host.Host) answer {
		e := NewEnv(ctx, h, "")
		cfg, from := e.KernelConfig()
		return answer{maps.Collect(cfg.All()), from, e.Module(ModuleSpec{Names: []string{"tun"}, Config: []string{"CONFIG_TUN"}}).State}
	}
	want := ask(mem("6.8.0").Host())
	if want.from != "/proc/config.gz" || want.cfg["CONFIG_TUN"] != "m" || want.tun != ModuleNotLoaded {
		t.Fatalf("without a cache: %+v", want)
	}
	d := newDerivingHost(mem("6.8.0").Host())
	for run := 0; run < 3; run++ {
		got := ask(d)
		if !maps.Equal(got.cfg, want.cfg) || got.from != want.from || got.tun != want.tun {
			t.Fatalf("run %d through the cache: %+v, want %+v", run, got, want)
		}
	}
	if d.derived != 1 {
		t.Errorf("the config was parsed %d times in three runs, want once", d.derived)
	}
	d.Host = mem("6.9.0").Host()
	ask(d)
	if d.derived != 2 {
		t.Errorf("another kernel release's config was read back (%d parses, want 2)", d.derived)
	}
	for _, k := range d.kept {
		k.b = []byte("\x03TUN\x01m") // not a config's form: no CONFIG_ prefix
	}
	if got := ask(d); !maps.Equal(got.cfg, want.cfg) || got.tun != want.tun {
		t.Fatalf("a corrupt entry: %+v, want %+v", got, want)
	}
	bad := newDerivingHost(host.NewMemory().Kernel("6.8.0").File("/proc/config.gz", "not a config\n").Host())
	for run := 0; run < 2; run++ {
		if got := ask(bad); len(got.cfg) != 0 || got.from != "" {
			t.Fatalf("a file that is not a config: %+v", got)
		}
	}
	if len(bad.kept) != 0 {
		t.Errorf("kept for a file that does not parse: %v", bad.kept)
	}
}

// lookCounter counts the LookPath questions that reach the host.
type lookCounter struct {
	host.Host
	asked map[string]int
}

func (l *lookCounter) LookPath(name string) (string, error) {
	l.asked[name]++
	return l.Host.LookPath(name)
}

// TestLookPathOncePerRun: a run asks the host once per name, found or not, and gives every
// probe the same answer; the next run asks again.
func TestLookPathOncePerRun(t *testing.T) {
	mem := host.NewMemory().Exec("/usr/bin/dockerd").Env("PATH", "/usr/local/bin:/usr/bin").Host()
	l := &lookCounter{Host: mem, asked: map[string]int{}}
	e := NewEnv(context.Background(), l, "")
	for i := 0; i < 3; i++ {
		if p, err := e.LookPath("dockerd"); err != nil || p != "/usr/bin/dockerd" {
			t.Fatalf("dockerd: %q, %v", p, err)
		}
		if _, err := e.LookPath("slirp4netns"); err == nil {
			t.Fatal("slirp4netns found on a host without it")
		}
	}
	if l.asked["dockerd"] != 1 || l.asked["slirp4netns"] != 1 {
		t.Errorf("the host was asked %v, want once per name", l.asked)
	}
	NewEnv(context.Background(), l, "").LookPath("dockerd")
	if l.asked["dockerd"] != 2 {
		t.Errorf("the next run did not ask again: %v", l.asked)
	}
}
