package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/report"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// ProveOptions are the flags of prove.
type ProveOptions struct {
	IO      *IOStreams
	Factory *Factory

	User    string
	Engine  []string
	Net     string
	Output  string
	FailOn  string
	Verbose bool
	Timeout time.Duration
}

// NewCmdProve builds `prove`: only the live proof, step by step, with timings. runF replaces
// the logic in tests.
func NewCmdProve(f *Factory, runF func(context.Context, *ProveOptions) error) *cobra.Command {
	opts := &ProveOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "prove",
		Short: "Prove the host for real: start the namespaces a rootless engine starts",
		Long: `Start the namespaces a rootless engine starts, with rootlesskit embedded, and report
each step: the user namespace, the subordinate id maps, a private root with pivot_root,
an overlay mount, the network driver, a published port round trip and a cgroup v2 limit.

The payload is this binary itself: no image, no network and no container runtime are
needed. A failed step names the static probe and the fix that explain it.

As root, --user NAME runs the proof as that account (image builds run as root).

With --engine NAME (docker, podman; comma-separated for both) the real engine runs a
container instead, as the account, with no registry and no network: Podman runs
"podman run --rm --network none --rootfs DIR" with this binary as the container's process,
Docker loads an image FROM scratch that this binary writes ("docker load") and runs it on
the account's rootless daemon, or on "rootless-doctor daemon -- dockerd" started for the
run. Inside, the payload checks uid 0 in a user namespace, /proc, its mounts, the network
interfaces and a write to its root. The result is runtime.engine.NAME; a failure carries
the engine's own error and names the probe that explains it. The binary must be statically
linked (make build). The default --timeout is then 3m.`,
		Example: `  rootless-doctor prove
  rootless-doctor prove --engine podman -v
  sudo rootless-doctor prove --user ci --engine docker,podman --output json
  rootless-doctor prove --net gvisor -v
  sudo rootless-doctor prove --user ci --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(proof.Nets(), opts.Net) {
				return usageErr("--net %q: want one of %s", opts.Net, strings.Join(proof.Nets(), ", "))
			}
			if opts.FailOn != "fail" && opts.FailOn != "warn" {
				return usageErr("--fail-on %q: want fail or warn", opts.FailOn)
			}
			if !report.HasFormat(opts.Output) {
				return usageErr("--output %q: want one of %s", opts.Output, strings.Join(report.Formats(), ", "))
			}
			for _, e := range opts.Engine {
				if !slices.Contains(proof.EngineNames(), e) {
					return usageErr("--engine %q: want one of %s", e, strings.Join(proof.EngineNames(), ", "))
				}
			}
			if len(opts.Engine) > 0 && !cmd.Flags().Changed("timeout") {
				opts.Timeout = proof.DefaultEngineTimeout
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return proveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.User, "user", "u", "", "prove the host for this account (root only; name or uid)")
	fl.StringSliceVar(&opts.Engine, "engine", nil, "run these engines end to end instead of the sandbox: "+strings.Join(proof.EngineNames(), ","))
	fl.StringVar(&opts.Net, "net", rootlesskit.NetAuto, "network driver: "+strings.Join(proof.Nets(), "|"))
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: "+strings.Join(report.Formats(), "|"))
	fl.StringVar(&opts.FailOn, "fail-on", "fail", "exit 1 when a step reaches this status: fail|warn")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "show details, evidence and fixes under each step")
	fl.DurationVar(&opts.Timeout, "timeout", proof.DefaultTimeout, "give up on the proof after this long")
	return cmd
}

func proveRun(ctx context.Context, opts *ProveOptions) error {
	var results []finding.Result
	var err error
	if len(opts.Engine) > 0 {
		results, err = proveEngines(ctx, opts)
	} else if opts.Factory.Prove == nil {
		err = errors.New("not available in this build")
	} else {
		results, err = opts.Factory.Prove(ctx, proof.Options{User: opts.User, Net: opts.Net, Timeout: opts.Timeout})
	}
	if err != nil {
		return &exitError{Code: ExitError, Err: fmt.Errorf("the live proof could not start: %w", err)}
	}
	h, err := opts.Factory.Host("")
	if err != nil {
		return usageErr("%v", err)
	}
	env := facts.NewEnv(ctx, h, opts.User)
	rep := report.New(env, results, finding.Status(opts.FailOn))
	if err := report.Render(opts.Output, opts.IO.Out, rep, report.Options{Verbose: opts.Verbose, Profile: opts.IO.OutProfile}); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if rep.ExitCode() != ExitOK {
		return findings()
	}
	return nil
}

// proveEngines runs each engine of --engine in turn (two daemons' starts at once would race
// for the account's XDG_RUNTIME_DIR).
func proveEngines(ctx context.Context, opts *ProveOptions) ([]finding.Result, error) {
	run := opts.Factory.ProveEngine
	if run == nil {
		return nil, errors.New("the engine proof is not available in this build")
	}
	var out []finding.Result
	for _, e := range opts.Engine {
		r, err := run(ctx, proof.EngineOptions{User: opts.User, Engine: e, Timeout: opts.Timeout})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e, err)
		}
		out = append(out, r)
	}
	return out, nil
}
