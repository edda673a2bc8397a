package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var limitsRlimits = Probe{
	ID:    "limits.rlimits",
	Title: "Resource limits",
	Fails: "a hard limit of open files under 65,536 or of processes under 4,096 warns",
	Why: "A rootless engine cannot raise a hard rlimit: every container inherits the limits of the " +
		"session that starts the engine, and a container that asks for more (--ulimit, compose " +
		"ulimits, default_ulimits in containers.conf, default-ulimits in daemon.json) fails with " +
		"\"error setting rlimit type 7: operation not permitted\" (podman-container-tools/podman#6668, " +
		"podman-container-tools/podman#6389). Every process of every container counts against the " +
		"account's RLIMIT_NPROC (setrlimit(2)). " +
		"docs/failures/catalogue.json#rlimit-nofile-hard-too-low, " +
		"docs/failures/catalogue.json#rlimit-nproc-too-low.",
	Reads: []string{"/proc/self/limits (Max open files, Max processes; when checking the running account)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runLimitsRlimits,
}

const procSelfLimits = "/proc/self/limits"

// rlimitWants are the hard limits below which the probe warns, and the value the fix asks
// for: 1048576 open files is what Docker's and containerd's units set (LimitNOFILE=) and
// what container images such as Elasticsearch check for at 65,536; 4,096 processes is
// what a kind node or a few busy containers need, 65,536 what the fix asks.
var rlimitWants = []struct {
	name, short, item, unit string
	low, fix                int64
}{
	{"Max open files", "open files", "nofile", "LimitNOFILE", 65536, 1048576},
	{"Max processes", "processes", "nproc", "LimitNPROC", 4096, 65536},
}

func runLimitsRlimits(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	if e.OnBehalf {
		return finding.Skipf("the limits %s gets are set when %s logs in (pam_limits, the unit that starts the engine); run the check as %s",
			e.User.Name, e.User.Name, e.User.Name)
	}
	data, err := e.Host.ReadFile(procSelfLimits)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return finding.Skipf("%s was not recorded", procSelfLimits)
	case err != nil:
		return finding.Undecided(err, "cannot read %s", procSelfLimits)
	}
	limits := parse.ParseProcLimits(data)
	var r finding.Result
	var low, lines, units []string
	for _, w := range rlimitWants {
		l, ok := limits[w.name]
		if !ok {
			r = r.Detail("%s has no %q line.", procSelfLimits, w.name)
			continue
		}
		r = r.With(procSelfLimits, fmt.Sprintf("%s: soft %s, hard %s", w.name, rlimitText(l.Soft), rlimitText(l.Hard)))
		if l.Hard != parse.Unlimited && l.Hard < w.low {
			low = append(low, fmt.Sprintf("%s %d", w.short, l.Hard))
			lines = append(lines, fmt.Sprintf("`%s hard %s %d`", e.User.Name, w.item, w.fix))
			units = append(units, fmt.Sprintf("%s=%d", w.unit, w.fix))
		}
	}
	if len(low) == 0 {
		if len(r.Evidence) == 0 {
			return r.WithStatus(finding.Skip, "%s holds no limits of open files or processes", procSelfLimits)
		}
		return r.WithStatus(finding.Pass, "the hard limits of open files and processes leave containers room")
	}
	return r.WithStatus(finding.Warn, "containers started from this session cannot get more than its hard limits (%s)", strings.Join(low, ", ")).
		Detail("A container that asks for more (--ulimit, compose ulimits, default_ulimits in containers.conf, default-ulimits in daemon.json) fails with \"error setting rlimit type 7: operation not permitted\"; every process of every container counts against the process limit.").
		Detail("The limits come from whatever started this session: pam_limits at login (limits.conf(5)), a CI agent's service unit (LimitNOFILE=, LimitNPROC=), or a container's --ulimit.").
		Fix(finding.ManualStep("rlimits", fmt.Sprintf(
			"add %s in /etc/security/limits.d/90-rootless.conf and log in again; for an engine started by a systemd unit set %s in a drop-in of that unit instead",
			strings.Join(lines, " and "), strings.Join(units, " and "))))
}

func rlimitText(n int64) string {
	if n == parse.Unlimited {
		return "unlimited"
	}
	return fmt.Sprint(n)
}
