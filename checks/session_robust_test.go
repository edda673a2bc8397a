package checks

import (
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// sessionCgroupProbes are the probes of cgroup_*.go and session_*.go.
var sessionCgroupProbes = []Probe{cgroupVersion, cgroupDelegation, sessionXDGRuntimeDir, sessionDBus, sessionSystemd, sessionLinger}

// readPaths are the files these probes read.
var readPaths = []string{
	"/proc/self/cgroup", "/proc/cmdline", "/proc/version", "/proc/1/comm", "/etc/wsl.conf",
	"/sys/fs/cgroup/cgroup.controllers", svcCgroup + "/cgroup.controllers",
	"/usr/lib/systemd/system/user@.service", "/etc/systemd/system/user@.service.d/a.conf",
	"/etc/systemd/logind.conf", "/etc/systemd/logind.conf.d/a.conf", "/var/lib/dpkg/status",
	"/etc/os-release",
}

func TestSessionCgroupProbesRobust(t *testing.T) {
	fill := func(m *host.Memory, content string) *host.Memory {
		for _, p := range readPaths {
			m = m.File(p, content)
		}
		return m
	}
	huge := strings.Repeat("A", host.MaxRead+1)
	garbage := "\x00\xff\xfe[[[=\n\n::::%%%\r\n" + strings.Repeat("x", 3000) + "\n"
	hosts := map[string]*host.Memory{
		"empty":                 host.NewMemory(),
		"empty, unified":        unified(host.NewMemory()),
		"alice, empty":          alice(),
		"garbage, v2 + systemd": fill(v2session(), garbage).Env("DBUS_SESSION_BUS_ADDRESS", garbage),
		"garbage, hybrid":       fill(hybrid(alice()), garbage),
		"huge, v2 + systemd":    fill(v2session(), huge),
		"huge, on behalf":       fill(v2sd(), huge).Self(rootSelf),
		"dirs where files are": v2sd().Dir("/proc/self/cgroup").Dir(svcCgroup + "/cgroup.controllers").Dir("/run/user/1000/bus").
			Dir("/etc/systemd/logind.conf").Dir("/var/lib/dpkg/status"),
	}
	for name, m := range hosts {
		for _, user := range []string{"", "alice"} {
			for _, p := range sessionCgroupProbes {
				r := result(t, p, m, user)
				if !r.Status.Valid() || r.Summary == "" {
					t.Errorf("%s/%q/%s: status %q summary %q", name, user, p.ID, r.Status, r.Summary)
				}
				if strings.Contains(r.Summary, "crashed") {
					t.Errorf("%s/%q/%s: %q %v", name, user, p.ID, r.Summary, r.Err)
				}
				if (r.Status == finding.Warn || r.Status == finding.Fail) && len(r.Details) == 0 && len(r.Evidence) == 0 {
					t.Errorf("%s/%q/%s: %s without details or evidence: %q", name, user, p.ID, r.Status, r.Summary)
				}
				if len(r.Summary) > 400 {
					t.Errorf("%s/%q/%s: summary is %d bytes", name, user, p.ID, len(r.Summary))
				}
				for _, ev := range r.Evidence {
					if len(ev.Value) > 400 {
						t.Errorf("%s/%q/%s: evidence %s is %d bytes", name, user, p.ID, ev.Source, len(ev.Value))
					}
				}
			}
		}
	}
}

// TestProbeMetadata keeps the metadata `explain` shows filled in.
func TestSessionCgroupProbeMetadata(t *testing.T) {
	for _, p := range sessionCgroupProbes {
		if p.Title == "" || p.Why == "" || len(p.Reads) == 0 || len(p.Fixes) == 0 || p.Run == nil {
			t.Errorf("%s: incomplete metadata %+v", p.ID, p)
		}
		if !slices.ContainsFunc(All(), func(q Probe) bool { return q.ID == p.ID && q.Title == p.Title }) {
			t.Errorf("%s is not in the registry", p.ID)
		}
	}
}
