package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestNetProbesHostile calls every network probe directly (not through the runner, whose
// recovery would turn a panic into a result) over an empty host, a host full of garbage and a
// host with huge files: no panic, a status or the error the undecided policy reports, a
// summary without a final period, a warn or fail that explains itself, and evidence for every
// verdict. Before issue 11 it ran the probes through the runner, and a probe that always
// panicked passed it.
func TestNetProbesHostile(t *testing.T) {
	junk := "\x00\xff\xfe garbage ☃\n::::\n"
	huge := strings.Repeat("A", 3<<20)
	garbage := alice()
	for _, p := range []string{"/proc/modules", "/proc/config.gz", "/boot/config-6.8.0", "/lib/modules/6.8.0/modules.builtin",
		"/lib/modules/6.8.0/modules.dep", pingPath, portPath, "/etc/subgid", "/dev/net/tun",
		"/home/alice/.config/systemd/user/docker.service", "/home/alice/.config/containers/containers.conf"} {
		garbage = garbage.File(p, junk)
	}
	for _, name := range []string{"slirp4netns", "pasta", "vpnkit", "rootlesskit", "podman", "iptables"} {
		garbage = garbage.Exec("/usr/bin/"+name).Command([]string{name, "--version"}, junk, 0).Command([]string{name, "--help"}, junk, 0)
	}
	big := alice()
	for _, p := range []string{"/proc/modules", "/proc/config.gz", pingPath, portPath, "/etc/subgid"} {
		big = big.File(p, huge)
	}
	for _, name := range []string{"slirp4netns", "pasta", "rootlesskit", "podman", "iptables"} {
		big = big.Exec("/usr/bin/"+name).Command([]string{name, "--version"}, huge, 0).Command([]string{name, "--help"}, huge, 0)
	}
	hosts := map[string]*host.Memory{"empty": host.NewMemory(), "alice only": alice(), "garbage": garbage, "huge": big}
	for hname, h := range hosts {
		for _, p := range []Probe{netDriver, netTun, netIptables, netPing, netPrivilegedPorts} {
			t.Run(hname+"/"+p.ID, func(t *testing.T) {
				r := callDirect(t, p, facts.NewEnv(context.Background(), h.Host(), ""))
				if r.Err == nil && !r.Status.Valid() || r.Summary == "" || strings.HasSuffix(r.Summary, ".") {
					t.Fatalf("status %q summary %q error %v", r.Status, r.Summary, r.Err)
				}
				if r.Err == nil && (r.Status == finding.Warn || r.Status == finding.Fail) && len(r.Details) == 0 && len(r.Intents) == 0 {
					t.Errorf("%s without details or fixes: %q", r.Status, r.Summary)
				}
				if r.Err == nil && r.Status != finding.Skip && len(r.Evidence) == 0 {
					t.Errorf("%s without evidence: %q", r.Status, r.Summary)
				}
			})
		}
	}
}
