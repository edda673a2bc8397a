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

As root, --user NAME runs the proof as that account (image builds run as root).`,
		Example: `  rootless-doctor prove
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
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return proveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.User, "user", "u", "", "prove the host for this account (root only; name or uid)")
	fl.StringVar(&opts.Net, "net", rootlesskit.NetAuto, "network driver: "+strings.Join(proof.Nets(), "|"))
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: "+strings.Join(report.Formats(), "|"))
	fl.StringVar(&opts.FailOn, "fail-on", "fail", "exit 1 when a step reaches this status: fail|warn")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "show details, evidence and fixes under each step")
	fl.DurationVar(&opts.Timeout, "timeout", proof.DefaultTimeout, "give up on the proof after this long")
	return cmd
}

func proveRun(ctx context.Context, opts *ProveOptions) error {
	prove := opts.Factory.Prove
	if prove == nil {
		return &exitError{Code: ExitError, Err: errors.New("the live proof is not available in this build")}
	}
	results, err := prove(ctx, proof.Options{User: opts.User, Net: opts.Net, Timeout: opts.Timeout})
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
