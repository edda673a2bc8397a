package fixes

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixtures"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// binaries is a host with a root-owned binary, one the account owns, one reached through a
// symlink and one in a directory others can write.
func binaries() host.Host {
	root := host.FileMeta{Mode: "0755", UID: host.Int(0)}
	return host.NewMemory().
		Dir("/usr").Meta("/usr", host.FileMeta{Type: "dir", Mode: "0755", UID: host.Int(0)}).
		Dir("/usr/bin").Meta("/usr/bin", host.FileMeta{Type: "dir", Mode: "0755", UID: host.Int(0)}).
		Exec("/usr/bin/rootlesskit").Meta("/usr/bin/rootlesskit", root).
		Symlink("/usr/bin/rk", "rootlesskit").
		Dir("/home/alice/bin").Meta("/home/alice/bin", host.FileMeta{Type: "dir", Mode: "0755", UID: host.Int(1000)}).
		Exec("/home/alice/bin/rootless-doctor").Meta("/home/alice/bin/rootless-doctor", root).
		Dir("/opt").Meta("/opt", host.FileMeta{Type: "dir", Mode: "0777", UID: host.Int(0)}).
		Exec("/opt/rk").Meta("/opt/rk", root).
		Host()
}

// TestCheckSudoRefuses lists what the sudo helper must refuse from an ordinary account: values
// no probe asks for (any of them would give the account root: kernel.core_pattern, a disk made
// 0666), another account's ids or lingering, a path with "..", and an AppArmor profile for a
// binary the account can change.
func TestCheckSudoRefuses(t *testing.T) {
	h := binaries()
	for _, in := range []finding.Intent{
		finding.SetSysctl("kernel.core_pattern", "x", ""),
		finding.SetSysctl("user.max_user_namespaces", "1", ""),
		finding.DeviceMode("/dev/sda", "0666", ""),
		finding.DeviceMode("/dev/net/tun", "0777", ""),
		finding.DeviceMode("/dev/net/../sda", "0666", ""),
		finding.AddSubIDs("bob", "both", 65536, nil, ""),
		finding.AddSubIDs("alice", "both", 1<<31, nil, ""),
		finding.EnableLinger("bob", ""),
		finding.LoadModule("evil", ""),
		finding.InstallTool("bash", ""),
		finding.DelegateControllers([]string{"cpu", "devices"}, ""),
		finding.AppArmorProfile("/home/alice/bin/rootless-doctor", ""),
		finding.AppArmorProfile("/usr/bin/rk", ""),
		finding.AppArmorProfile("/opt/rk", ""),
		finding.AppArmorProfile("/usr/bin/../bin/rootlesskit", ""),
		finding.AppArmorProfile("/usr/bin/missing", ""),
		{Kind: "run", Reason: "sh -c id"},
	} {
		err := CheckSudo([]Request{{ProbeID: "test", Intent: in}}, "alice", h)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s %+v: %v, want a refusal", IntentID(in), in, err)
		}
	}
	ok := []Request{
		{ProbeID: "net.tun", Intent: finding.DeviceMode("/dev/net/tun", "0666", "")},
		{ProbeID: "idmap.subuid", Intent: finding.AddSubIDs("alice", "both", 65536, []string{"100000-165535"}, "")},
		{ProbeID: "userns.apparmor", Intent: finding.AppArmorProfile("/usr/bin/rootlesskit", "")},
		{ProbeID: "userns.max", Intent: finding.SetSysctl("user.max_user_namespaces", "28633", "")},
	}
	if err := CheckSudo(ok, "alice", h); err != nil {
		t.Errorf("what probes ask for was refused: %v", err)
	}
}

// TestCheckSudoAcceptsWhatProbesAsk runs every probe over every fixture tree and checks that the
// contract accepts every request they make for the fixture's account: the tables of sudo.go
// must keep up with the probes.
func TestCheckSudoAcceptsWhatProbesAsk(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "fixtures", "*", "manifest.json"))
	if len(dirs) == 0 {
		t.Fatal("no fixtures")
	}
	for i, m := range dirs {
		dirs[i] = filepath.Dir(m)
	}
	// The failure-mode fixtures too (docs/failures/README.md): since issue 14 the healthy
	// trees ask for little, and most requests come from a base with one condition changed.
	modes, _ := filepath.Glob(filepath.Join("..", "fixtures", fixtures.FailuresDir, "*", "expect.json"))
	for _, m := range modes {
		x, err := fixtures.LoadExpectation(filepath.Dir(m))
		if err != nil {
			t.Fatal(err)
		}
		if x.Undetectable != "" {
			continue
		}
		tree := filepath.Join(t.TempDir(), filepath.Base(filepath.Dir(m)))
		if err := fixtures.Compose(filepath.Join("..", "fixtures"), filepath.Dir(m), tree); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, tree)
	}
	ctx := context.Background()
	seen := map[string]bool{}
	for _, dir := range dirs {
		h, err := host.OpenTree(dir)
		if err != nil {
			t.Fatal(err)
		}
		env := facts.NewEnv(ctx, h, h.Manifest().User)
		res := checks.Run(ctx, checks.All(), env, checks.Options{Sequential: true})
		var reqs []Request
		for _, r := range res {
			for _, in := range r.Intents {
				reqs = append(reqs, Request{ProbeID: r.ID, Intent: in})
				seen[string(in.Kind)] = true
			}
		}
		// A recorded tree holds only what the probes read, not the owner of every directory
		// above a binary: AppArmor binaries are checked on a host where they are root's.
		mem := host.NewMemory()
		for _, r := range reqs {
			if r.Intent.Kind == finding.AppArmor {
				for d := filepath.Dir(r.Intent.Path); d != "/"; d = filepath.Dir(d) {
					mem.Dir(d).Meta(d, host.FileMeta{Type: "dir", Mode: "0755", UID: host.Int(0)})
				}
				mem.Exec(r.Intent.Path).Meta(r.Intent.Path, host.FileMeta{Mode: "0755", UID: host.Int(0)})
			}
		}
		if err := CheckSudo(RootRequests(reqs), env.User.Name, mem.Host()); err != nil {
			t.Errorf("%s: %v", filepath.Base(dir), err)
		}
		// User-scope steps never go through sudo: the helper refuses every one.
		for _, r := range reqs {
			if r.Intent.Kind == finding.UserFile {
				if err := CheckSudo([]Request{r}, env.User.Name, mem.Host()); !errors.Is(err, ErrRefused) {
					t.Errorf("%s: the sudo helper accepted the user-scope %s: %v", filepath.Base(dir), IntentID(r.Intent), err)
				}
			}
		}
	}
	for _, k := range []finding.Kind{finding.Package, finding.Sysctl, finding.SubIDs, finding.Device, finding.Module, finding.AppArmor} {
		if !seen[string(k)] {
			t.Errorf("no fixture asks for a %s change: the test covers less than it claims", k)
		}
	}
}

// TestDigest: the digest covers every byte of the plan (a command, a file's content).
func TestDigest(t *testing.T) {
	p := Plan{Steps: []Step{{ID: "a", Title: "A", Commands: []string{"true"}, Files: []File{{Path: "/etc/x", Mode: "0644", Content: "x\n"}}}}}
	d := Digest(p)
	if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 || Digest(p) != d {
		t.Fatalf("digest %q", d)
	}
	q := p
	q.Steps = []Step{p.Steps[0]}
	q.Steps[0].Commands = []string{"true; id"}
	if Digest(q) == d {
		t.Error("a changed command keeps the digest")
	}
	q.Steps[0] = p.Steps[0]
	q.Steps[0].Files = []File{{Path: "/etc/x", Mode: "0644", Content: "y\n"}}
	if Digest(q) == d {
		t.Error("a changed file keeps the digest")
	}
}
