package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

const portSysctl = "net.ipv4.ip_unprivileged_port_start"

// portOKBelow is the highest ip_unprivileged_port_start that still lets the ports people
// publish most (80, 443) through without a warning.
const portOKBelow = 80

var netPrivilegedPorts = Probe{
	ID:    "net.privileged-ports",
	Title: "privileged ports",
	Fails: "ports below it cannot be published (warn, with both fixes)",
	Why: "The rootless port driver binds published host ports as the account. Ports below " +
		"net.ipv4.ip_unprivileged_port_start (1024 by default) need CAP_NET_BIND_SERVICE, so " +
		"`docker run -p 80:80` fails with `cannot expose privileged port 80` (moby/moby#40860, " +
		"rootlesskit#192, podman#13426). Either lower the sysctl or give rootlesskit the capability.",
	Reads: []string{facts.SysctlPath(portSysctl), "rootlesskit file capabilities"},
	Fixes: []finding.Kind{finding.Sysctl},
	Run:   runNetPrivilegedPorts,
}

func runNetPrivilegedPorts(_ context.Context, e *facts.Env) finding.Result {
	setcap := "The alternative: give rootlesskit the capability instead (setcap cap_net_bind_service=ep $(which rootlesskit), then restart the daemon); it works only for RootlessKit's own port drivers, not for pasta's."
	s, err := e.Sysctl(portSysctl)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The sysctl was added in Linux 4.11; before it the limit is fixed at 1024.
		r := finding.Result{}.With(facts.SysctlPath(portSysctl), "missing")
		if rk, ok := rootlesskitBindCap(e); ok {
			return r.With(rk, "cap_net_bind_service").WithStatus(finding.Pass, "%s has cap_net_bind_service: ports below 1024 can be published", rk)
		}
		return r.WithStatus(finding.Warn, "ports below 1024 cannot be published: this kernel has no %s (added in Linux 4.11)", portSysctl).
			Detail("docker run -p 80:80 fails with `cannot expose privileged port 80`.").
			Detail("%s", setcap)
	case err != nil:
		return finding.Undecided(err, "cannot read %s", facts.SysctlPath(portSysctl))
	}
	r := finding.Result{}.With(facts.SysctlPath(portSysctl), s)
	start, err := strconv.Atoi(s)
	if err != nil || start < 0 || start > 65536 {
		r.Err = fmt.Errorf("%s is %q, not a port number", portSysctl, s)
		r.Summary = fmt.Sprintf("cannot parse %s", portSysctl)
		return r
	}
	switch {
	case start == 0:
		return r.WithStatus(finding.Pass, "every port can be published (%s=0)", portSysctl)
	case start <= portOKBelow:
		return r.WithStatus(finding.Pass, "ports from %d up can be published (%s=%d)", start, portSysctl, start).
			Detail("Ports below %d still need cap_net_bind_service on rootlesskit.", start)
	}
	if rk, ok := rootlesskitBindCap(e); ok {
		return r.With(rk, "cap_net_bind_service").WithStatus(finding.Pass, "%s has cap_net_bind_service: ports below %d can be published", rk, start).
			Detail("With the pasta network driver, pasta binds the ports itself and the limit of %d applies.", start)
	}
	return r.WithStatus(finding.Warn, "ports below %d cannot be published: docker run -p 80:80 fails", start).
		Detail("dockerd reports `cannot expose privileged port 80, you might need to add \"net.ipv4.ip_unprivileged_port_start=0\" (currently %d)`.", start).
		Detail("Setting %s=0 lets every account bind every port on this host, not just the rootless engine.", portSysctl).
		Detail("%s", setcap).
		Fix(finding.SetSysctl(portSysctl, "0", "let rootless containers publish ports below 1024").Optionally())
}

// rootlesskitBindCap reports the rootlesskit binary when it carries cap_net_bind_service.
func rootlesskitBindCap(e *facts.Env) (string, bool) {
	p, err := e.LookPath("rootlesskit")
	if err != nil {
		return "", false
	}
	fi, err := e.Host.Stat(p)
	if err != nil {
		return "", false
	}
	return p, capGrantsEP(fi.Caps, "cap_net_bind_service")
}

// capGrantsEP reports whether getcap(8) text ("cap_net_bind_service=ep",
// "cap_net_admin,cap_net_bind_service+ep") grants capability name in the effective and
// permitted sets, which is what lets an unprivileged exec use it.
func capGrantsEP(caps, name string) bool {
	for _, clause := range strings.Fields(caps) {
		i := strings.IndexAny(clause, "=+")
		if i < 0 {
			continue
		}
		names, flags := clause[:i], clause[i+1:]
		if strings.ContainsAny(flags, "-=+") {
			// "cap_x=ep-e" and similar: too clever to judge; assume not.
			continue
		}
		for _, n := range strings.Split(names, ",") {
			if strings.EqualFold(strings.TrimSpace(n), name) && strings.Contains(flags, "e") && strings.Contains(flags, "p") {
				return true
			}
		}
	}
	return false
}
