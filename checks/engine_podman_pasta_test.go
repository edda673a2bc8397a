package checks

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
)

// TestPodmanPastaHelpCut: Debian 13's pasta (passt 2025_05_03) prints --help to stdout and
// leaves with _exit(), so through a pipe only its first 4096 bytes arrive, and they end before
// --config-net. Podman 5.4.2 runs containers with that pasta (the VM lab, debian13 stock):
// engine.podman must not call it too old. testdata/pasta-2025_05_03-help.txt is that pasta's
// --help on a terminal (Debian's passt 0.0~git20250503.587980c-2+deb13u1); a pipe gives its
// first 4096 bytes, byte for byte.
func TestPodmanPastaHelpCut(t *testing.T) {
	full, err := os.ReadFile("testdata/pasta-2025_05_03-help.txt")
	if err != nil {
		t.Fatal(err)
	}
	noConfigNet := strings.ReplaceAll(string(full), "--config-net", "--no-such-option")
	for _, tt := range []struct {
		name, help string
		fail       string // a substring of the one fail, "" for none
	}{
		{name: "through a pipe (the first 4096 bytes)", help: string(full[:4096])},
		{name: "whole help", help: string(full)},
		{name: "whole help without --config-net", help: noConfigNet, fail: "lacks --config-net"},
		{name: "short help without --config-net", help: noConfigNet[:4000], fail: "lacks --config-net"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := withPodman(alice()).Env("XDG_RUNTIME_DIR", "/run/user/1000").Exec("/usr/bin/pasta").
				Command([]string{"/usr/bin/podman", "--version"}, "podman version 5.4.2\n", 0).
				Command([]string{"/usr/bin/pasta", "--help"}, tt.help, 0)
			env := facts.NewEnv(context.Background(), h.Host(), "")
			pm := env.Podman(context.Background())
			if pm.NetworkCmd != "pasta" || pm.NetworkBin.Path != "/usr/bin/pasta" {
				t.Fatalf("network %q %q, want pasta at /usr/bin/pasta", pm.NetworkCmd, pm.NetworkBin.Path)
			}
			v := newVerdict(env, facts.EnginePodman)
			podmanPasta(env, pm, v)
			switch {
			case tt.fail == "" && len(v.fails) > 0:
				t.Errorf("fails %q, want none", v.fails)
			case tt.fail != "" && (len(v.fails) != 1 || !strings.Contains(v.fails[0], tt.fail)):
				t.Errorf("fails %q, want one with %q", v.fails, tt.fail)
			}
			if len(v.warns) > 0 {
				t.Errorf("warns %q, want none (this pasta has --map-guest-addr)", v.warns)
			}
		})
	}
}
