package fixes

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func req(probe string, in finding.Intent) Request { return Request{ProbeID: probe, Intent: in} }

// debian is Debian 12 as distro.Parse reads its os-release.
func debian(t testing.TB) distro.Info {
	t.Helper()
	info, err := distro.Parse([]byte("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"))
	if err != nil {
		t.Fatalf("parsing os-release: %v", err)
	}
	return info
}

func TestBuildRefusesUnsafeValues(t *testing.T) {
	tests := []struct {
		name string
		in   finding.Intent
		want error
	}{
		{"user with a space", finding.EnableLinger("Al ice", "r"), ErrUnsafe},
		{"user with blank", finding.EnableLinger("al ice", "r"), ErrUnsafe},
		{"user with newline", finding.AddSubIDs("alice\nrm -rf /", "both", 65536, nil, "r"), ErrUnsafe},
		{"user starting with dash", finding.EnableLinger("-alice", "r"), ErrUnsafe},
		{"user with quote", finding.EnableLinger("a'b", "r"), ErrUnsafe},
		{"empty user", finding.AddSubIDs("", "both", 1, nil, "r"), ErrUnsafe},
		{"dollar not last", finding.EnableLinger("a$b", "r"), ErrUnsafe},
		{"relative binary", finding.AppArmorProfile("bin/rootlesskit", "r"), ErrUnsafe},
		{"binary with newline", finding.AppArmorProfile("/usr/bin/x\ny", "r"), ErrUnsafe},
		{"binary with glob", finding.AppArmorProfile("/usr/bin/*", "r"), ErrUnsafe},
		{"binary with quote", finding.AppArmorProfile(`/usr/bin/"x`, "r"), ErrUnsafe},
		{"binary with dot-dot", finding.AppArmorProfile("/usr/../bin/x", "r"), ErrUnsafe},
		{"binary with variable", finding.AppArmorProfile("/home/@{USER}/x", "r"), ErrUnsafe},
		{"sysctl key with blank", finding.SetSysctl("user.max user", "1", "r"), ErrUnsafe},
		{"sysctl value with comment", finding.SetSysctl("user.max_user_namespaces", "1 # x", "r"), ErrUnsafe},
		{"sysctl value with newline", finding.SetSysctl("user.max_user_namespaces", "1\nkernel.x = 0", "r"), ErrUnsafe},
		{"sysctl value empty", finding.SetSysctl("user.max_user_namespaces", "", "r"), ErrUnsafe},
		{"reason with newline", finding.EnableLinger("alice", "line\nrm -rf /"), ErrUnsafe},
		{"reason with escape", finding.EnableLinger("alice", "\x1b[31mred"), ErrUnsafe},
		{"reason with line separator", finding.EnableLinger("alice", "a\u2028b"), ErrUnsafe},
		{"module with slash", finding.LoadModule("../tun", "r"), ErrUnsafe},
		{"device outside /dev", finding.DeviceMode("/etc/shadow", "0666", "r"), ErrUnsafe},
		{"device mode not octal", finding.DeviceMode("/dev/net/tun", "rw", "r"), ErrUnsafe},
		{"device mode 9", finding.DeviceMode("/dev/net/tun", "0696", "r"), ErrUnsafe},
		{"controller with blank", finding.DelegateControllers([]string{"cpu io"}, "r"), ErrUnsafe},
		{"tool with blank", finding.InstallTool("a b", "r"), ErrUnsafe},
		{"manual name", finding.ManualStep("A B", "do it"), ErrUnsafe},
		{"manual without text", finding.ManualStep("x", ""), ErrInvalid},
		{"unknown kind", finding.Intent{Kind: "reboot"}, ErrInvalid},
		{"bad map", finding.AddSubIDs("alice", "all", 1, nil, "r"), ErrInvalid},
		{"negative count", finding.AddSubIDs("alice", "both", -1, nil, "r"), ErrInvalid},
		{"bad remove range", finding.AddSubIDs("alice", "both", 1, []string{"5-1"}, "r"), ErrInvalid},
		{"remove range past uint32", finding.AddSubIDs("alice", "both", 1, []string{"1-4294967295"}, "r"), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(Input{Requests: []Request{req("p", tt.in)}, Env: &facts.Env{Distro: debian(t)}})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Build error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Build(Input{Requests: []Request{req("p\nq", finding.EnableLinger("alice", "r"))}, Env: &facts.Env{Distro: debian(t)}}); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("probe id with newline: %v", err)
	}
}

func TestDedupeAndMerge(t *testing.T) {
	h := host.NewMemory().
		File(SysctlFile, "# old\nkernel.unprivileged_userns_clone = 1\nuser.max_user_namespaces=10\ngarbage\nbad.value = a;b\n").
		File(DelegateFile, "[Service]\nDelegate=cpu memory hugetlb\n").
		Host()
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t), Host: h}, Requests: []Request{
		req("net.driver", finding.InstallTool("slirp4netns", "a")),
		req("runtime.net", finding.InstallTool("slirp4netns", "b")),
		req("userns.max", finding.SetSysctl("user.max_user_namespaces", "28633", "c")),
		req("zzz.other", finding.SetSysctl("user.max_user_namespaces", "15000", "d")),
		req("cgroup.delegation", finding.DelegateControllers([]string{"cpu"}, "e")),
		req("net.ping", finding.SetSysctl("user.max_user_namespaces", "1", "f").Optionally()),
		req("x.one", finding.ManualStep("same", "do it")),
		req("x.two", finding.ManualStep("same", "do it")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Step{}
	for _, s := range p.Steps {
		byID[s.ID] = s
	}
	if s := byID["packages"]; !slices.Equal(s.Fixes, []string{"net.driver", "runtime.net"}) || !strings.HasSuffix(s.Commands[1], " slirp4netns </dev/null") {
		t.Errorf("packages step = %+v", s)
	}
	sys := byID["sysctl"]
	if got := sys.Files[0].Content; !strings.Contains(got, "kernel.unprivileged_userns_clone = 1\nuser.max_user_namespaces = 28633\n") || strings.Contains(got, "garbage") || strings.Contains(got, "bad.value") {
		t.Errorf("sysctl file does not keep the earlier key or keeps garbage:\n%s", got)
	}
	if !slices.Equal(sys.Fixes, []string{"net.ping", "userns.max", "zzz.other"}) {
		t.Errorf("the optional duplicate did not join the required step: %v", sys.Fixes)
	}
	if !slices.ContainsFunc(sys.Why, func(s string) bool {
		return strings.Contains(s, "zzz.other asked for user.max_user_namespaces = 15000")
	}) {
		t.Errorf("conflicting values not noted: %q", sys.Why)
	}
	if got := byID["systemd.delegate"].Files[0].Content; !strings.Contains(got, "Delegate=cpu cpuset io memory pids hugetlb\n") {
		t.Errorf("delegate drop-in does not keep hugetlb:\n%s", got)
	}
	if s := byID["manual.same"]; !slices.Equal(s.Fixes, []string{"x.one", "x.two"}) || len(s.Why) != 0 {
		t.Errorf("manual step = %+v", s)
	}
	if len(p.OptionalSteps()) != 0 {
		t.Errorf("optional steps: %+v", p.OptionalSteps())
	}
	// The relogin step credits only the probes whose fix needs a new session.
	if s := p.Steps[len(p.Steps)-1]; s.ID != "session.relogin" || !slices.Equal(s.Fixes, []string{"cgroup.delegation"}) {
		t.Errorf("last step = %+v", s)
	}
}

// TestHostProblemsBecomeManualSteps: no crash, no guess.
func TestHostProblemsBecomeManualSteps(t *testing.T) {
	m := host.NewMemory().File("/etc/subuid", "alice:1:1\n").Meta("/etc/subuid", host.FileMeta{Mode: "0000"})
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t), Host: m.Host()}, Requests: []Request{req("idmap.subuid", finding.AddSubIDs("alice", "uid", 65536, nil, "r"))}})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Steps[0]; !s.Manual || !strings.Contains(strings.Join(s.Why, " "), "reading /etc/subuid") {
		t.Fatalf("step = %+v", s)
	}
	m = host.NewMemory().File("/etc/login.defs", "SUB_UID_MAX 100\n")
	p, err = Build(Input{Env: &facts.Env{Distro: debian(t), Host: m.Host()}, Requests: []Request{req("idmap.subuid", finding.AddSubIDs("alice", "uid", 65536, nil, "r"))}})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Steps[0]; !s.Manual || !strings.Contains(s.Why[len(s.Why)-1], "no free range") {
		t.Fatalf("step = %+v", s)
	}
	// A nil host reads as empty.
	p, err = Build(Input{Env: &facts.Env{Distro: debian(t)}, Requests: []Request{req("net.tun", finding.DeviceMode("/dev/net/tun", "666", "r"))}})
	if err != nil || p.Steps[0].Commands[1] != "chmod 0666 /dev/net/tun" {
		t.Fatalf("nil host: %v %+v", err, p)
	}
}

func TestAppArmorNameCollision(t *testing.T) {
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t)}, Requests: []Request{
		req("userns.apparmor", finding.AppArmorProfile("/opt/a.b/rootlesskit", "r")),
		req("userns.apparmor", finding.AppArmorProfile("/opt/a/b/rootlesskit", "r")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 2 || p.Steps[0].Files[0].Path == p.Steps[1].Files[0].Path || p.Steps[0].ID == p.Steps[1].ID {
		t.Fatalf("profiles collide: %+v", p.Steps)
	}
}

func TestEmpty(t *testing.T) {
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t)}})
	if err != nil || !p.Empty() || p.Steps == nil {
		t.Fatalf("Build() = %+v, %v", p, err)
	}
}

// TestFreeCheck runs the awk guard that stops a script whose range is taken on the machine
// it runs on (a Dockerfile, a fleet).
func TestFreeCheck(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("skipping: no awk")
	}
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0::/:/bin/sh\nalice:x:1000:1000::/:/bin/sh\nldap:x:170500:1::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		subuid string
		lo, hi int64
		fail   string
	}{
		{"free", "bob:100000:65536\n", 165536, 169999, ""},
		{"taken by another owner", "bob:100000:65536\ncarol:160000:10000\n", 165536, 169999, "used by carol"},
		{"own lines do not count", "alice:165536:4464\n1000:165536:5\n", 165536, 169999, ""},
		{"touching is not overlapping", "bob:100000:65536\ncarol:170000:5\n", 165536, 169999, ""},
		{"a real uid inside", "", 170000, 171000, "used by ldap"},
		{"malformed lines are skipped", "garbage\nx:y\n", 165536, 169999, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subuid := filepath.Join(dir, "subuid")
			if err := os.WriteFile(subuid, []byte(tt.subuid), 0o644); err != nil {
				t.Fatal(err)
			}
			argv := freeCheck(subuid, passwd, parse.IDSpan{First: tt.lo, Last: tt.hi}, "alice", "1000")
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if tt.fail == "" && err != nil {
				t.Fatalf("check failed: %v %s", err, out)
			}
			if tt.fail != "" && (err == nil || !strings.Contains(string(out), tt.fail)) {
				t.Fatalf("check = %v %q, want a failure naming %q", err, out, tt.fail)
			}
		})
	}
}

func TestSameBaseName(t *testing.T) {
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t)}, Requests: []Request{
		req("a", finding.DeviceMode("/dev/net/tun", "0666", "r")),
		req("b", finding.DeviceMode("/dev/tun", "0666", "r")),
		req("c", finding.AppArmorProfile("/usr/local/bin/rootlesskit", "r")),
		req("d", finding.AppArmorProfile("/home/alice/bin/rootlesskit", "r").Optionally()),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ids, files []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
		files = append(files, s.Files[0].Path)
	}
	if len(p.Steps) != 4 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 4 || len(slices.Compact(slices.Sorted(slices.Values(files)))) != 4 {
		t.Fatalf("steps collide: %q %q", ids, files)
	}
	if !p.Steps[3].Optional || p.Steps[3].Files[0].Path != "/etc/apparmor.d/rootless-doctor.home.alice.bin.rootlesskit" {
		t.Fatalf("optional profile for another path was merged: %+v", p.Steps[3])
	}
}

// TestSysctlOverrideUsesTheBootModel: the planner judges what undoes its sysctl file at boot
// from the boot configuration the probes read (facts.Env.SysctlBoot), so they agree. A file
// linked into sysctl.d under a name before ours is applied there, once; before issue 11 the
// planner's own scan read /etc/sysctl.conf again at the end and asked to edit it.
func TestSysctlOverrideUsesTheBootModel(t *testing.T) {
	ask := []Request{req("userns.max", finding.SetSysctl("user.max_user_namespaces", "28633", "r"))}
	early := host.NewMemory().
		Symlink("/etc/sysctl.d/10-sysctl.conf", "../sysctl.conf").
		File("/etc/sysctl.conf", "user.max_user_namespaces = 0\n")
	late := host.NewMemory().File("/usr/lib/sysctl.d/99-hardening.conf", "user.max_user_namespaces = 0\n")
	for _, tt := range []struct {
		name     string
		h        *host.Memory
		override bool
	}{{"linked before ours", early, false}, {"a later file", late, true}} {
		env := &facts.Env{Host: tt.h.Host(), Distro: debian(t)}
		p, err := Build(Input{Requests: ask, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(p.Steps, func(s Step) bool { return s.ID == "sysctl.override" })
		if got != tt.override {
			t.Errorf("%s: override step %v, want %v: %+v", tt.name, got, tt.override, p.Steps)
		}
		if _, ok := env.SysctlBoot().Last("user.max_user_namespaces"); !ok {
			t.Errorf("%s: the probes' model does not see the setting", tt.name)
		}
	}
}
