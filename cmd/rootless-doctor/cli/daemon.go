package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/report"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// DaemonOptions are the flags of daemon.
type DaemonOptions struct {
	IO      *IOStreams
	Factory *Factory

	Force  bool
	Net    string
	Static bool
	Engine []string
	// Ignore waives probes or steps (--ignore): they do not stop the start.
	Ignore  []string
	Timeout time.Duration
}

// NewCmdDaemon builds `daemon`: the preflight, then the engine inside embedded rootlesskit.
// runF replaces the logic in tests.
func NewCmdDaemon(f *Factory, runF func(context.Context, *DaemonOptions) error) *cobra.Command {
	opts := &DaemonOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "daemon [--force] [--ignore ID,...] [--net auto|slirp4netns|pasta|gvisor] [--static] [--timeout D] [-- ENGINE ARGS...]",
		Short: "Run a rootless engine (dockerd, containerd, buildkitd) once the host checks pass",
		Long: `Check the host (the static probes and the live proof, or only the static probes with
--static) and refuse to start when a probe fails: the failing probes and the fix plan are
printed and the exit status is 1 (--force starts anyway; --ignore ID,... waives only the
probes or steps named, as kubeadm's --ignore-preflight-errors; --timeout bounds the live
proof, default 30s). Then run the engine inside the
user, mount and network namespaces of an embedded rootlesskit, as dockerd-rootless.sh does:
state dir and API socket in $XDG_RUNTIME_DIR/rootless-doctor (one daemon per account; a
0700 directory of the account, else refused with exit 2), copy-up
of /etc and /run, rslave propagation, host loopback not reachable from inside, the builtin
port driver (docker run -p publishes on the host), ROOTLESSKIT_STATE_DIR,
ROOTLESSKIT_PARENT_EUID and ROOTLESSKIT_PARENT_EGID exported to the engine.

The engine is the command after --, else the first of dockerd, containerd, buildkitd on
PATH. dockerd then uses its rootless defaults: socket unix://$XDG_RUNTIME_DIR/docker.sock,
data in ~/.local/share/docker, exec root $XDG_RUNTIME_DIR/docker. SIGTERM and SIGINT go to
the engine; the daemon exits with its status. Messages of the daemon go to stderr.`,
		Example: `  rootless-doctor daemon
  rootless-doctor daemon --static -- dockerd --experimental
  rootless-doctor daemon --net gvisor -- containerd`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Net, err = oneOf("--net", opts.Net, daemonNets); err != nil {
				return err
			}
			if opts.Ignore, err = checkWaivers(f, opts.Timeout, opts.Ignore); err != nil {
				return err
			}
			dash := cmd.ArgsLenAtDash()
			if dash < 0 && len(args) > 0 {
				return usageErr("unexpected arguments %q: put the engine's command after --", args)
			}
			if dash > 0 {
				return usageErr("unexpected arguments %q before --", args[:dash])
			}
			opts.Engine = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return daemonRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Force, "force", false, "start even when a probe fails")
	fl.StringVar(&opts.Net, "net", rootlesskit.NetAuto, "network driver: auto|slirp4netns|pasta|gvisor")
	fl.BoolVar(&opts.Static, "static", false, "run only the static probes before starting (no live proof)")
	fl.StringSliceVar(&opts.Ignore, "ignore", nil, "start even when these probes or steps fail (ids or groups, comma-separated)")
	fl.DurationVar(&opts.Timeout, "timeout", proof.DefaultTimeout, "give up on the live proof after this long (more than 0)")
	registerValues(cmd, "net", daemonNets...)
	return cmd
}

// daemonNets are the network drivers the daemon runs an engine with (none has no use there).
var daemonNets = []string{rootlesskit.NetAuto, rootlesskit.NetSlirp4netns, rootlesskit.NetPasta, rootlesskit.NetGvisor}

func daemonRun(ctx context.Context, opts *DaemonOptions) error {
	f := opts.Factory
	engine, err := daemon.FindEngine(opts.Engine)
	if err != nil {
		return usageErr("%v", err)
	}
	run, err := runProbes(ctx, f, runSpec{Static: opts.Static, Ignore: opts.Ignore, Net: opts.Net, Timeout: opts.Timeout})
	if err != nil {
		return err
	}
	failed := daemonGate(run.Results, engine[0])
	for _, r := range run.Results {
		if r.Status == finding.Fail && r.Ignored {
			fmt.Fprintf(opts.IO.ErrOut, "rootless-doctor daemon: %s failed, ignored with --ignore: %s\n", r.ID, r.Summary)
		}
	}
	if len(failed) > 0 {
		rep := newReport(f, run.Env, failed, "fail")
		if run.PlanErr == nil {
			rep.Plan = &run.Plan
		}
		fmt.Fprintf(opts.IO.ErrOut, "rootless-doctor daemon: %d probe(s) failed:\n", len(failed))
		if err := report.Render("text", opts.IO.ErrOut, rep, report.Options{Verbose: true}); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		if run.PlanErr == nil && !run.Plan.Empty() {
			fmt.Fprintln(opts.IO.ErrOut)
			if err := report.WritePlanText(opts.IO.ErrOut, run.Plan); err != nil {
				return fmt.Errorf("writing the plan: %w", err)
			}
		}
		if !opts.Force {
			fmt.Fprintln(opts.IO.ErrOut, "rootless-doctor daemon: not starting; fix the above (rootless-doctor fix) or pass --force")
			return findings()
		}
		fmt.Fprintln(opts.IO.ErrOut, "rootless-doctor daemon: --force: starting anyway")
	}
	if f.Daemon == nil {
		return fmt.Errorf("the daemon is not available in this build")
	}
	if err := f.Daemon(daemon.Options{Net: opts.Net, Engine: engine}); err != nil {
		if errors.Is(err, daemon.ErrStateDir) {
			return usageErr("daemon: %v", err)
		}
		fmt.Fprintf(opts.IO.ErrOut, "rootless-doctor daemon: %v\n", err)
		return findings()
	}
	return nil
}

// daemonGate is the failures that stop the daemon from starting bin. The verdict is the
// engine's it starts (check --engine): a generic probe that engine does not need does not stop
// it. An engine the doctor does not know (a wrapper script, a daemon of another name) is held
// to every generic probe, but not to the engine.* verdicts of the engines it is not: Podman's
// OCI runtime does not stop a dockerd wrapper.
func daemonGate(results []finding.Result, bin string) []finding.Result {
	gate := EngineGate(daemonEngine(bin))
	var failed []finding.Result
	for _, r := range results {
		if r.Status != finding.Fail || r.Ignored {
			continue
		}
		if gate != nil && !slices.Contains(gate, r.ID) || gate == nil && checks.IsEngineProbe(r.ID) {
			continue
		}
		failed = append(failed, r)
	}
	return failed
}

// daemonEngine is the engine (check --engine's names) a daemon binary is: dockerd is Docker,
// containerd nerdctl's daemon, buildkitd BuildKit; none for anything else (every probe counts).
func daemonEngine(bin string) []string {
	switch path.Base(bin) {
	case "dockerd":
		return []string{"docker"}
	case "containerd":
		return []string{"nerdctl"}
	case "buildkitd":
		return []string{"buildkit"}
	}
	return nil
}
