package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/report"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// ProveOptions are the flags of prove.
type ProveOptions struct {
	IO      *IOStreams
	Factory *Factory
	ReportFlags

	User string
	Net  string
}

// NewCmdProve builds `prove`: only the live proof, step by step, with timings. runF replaces
// the logic in tests.
func NewCmdProve(f *Factory, runF func(context.Context, *ProveOptions) error) *cobra.Command {
	opts := &ProveOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "prove",
		Short: "Prove the host for real: start the namespaces a rootless engine starts",
		Long: `Start the namespaces a rootless engine starts, with rootlesskit embedded, and report
each step with its time: the user namespace, the subordinate id maps, a private root with
pivot_root, an overlay mount, the network driver, a published port round trip and a
cgroup v2 limit.

The payload is this binary itself: no image, no network and no container runtime are
needed. A failed step names the static probe that explains it, and the fix when there is
one. On a terminal each step shows as it ends, with a spinner on the one that runs.

--timeout (default 30s, must be above 0) bounds the proof; a network driver that hangs is
stopped after a third of it and blamed (runtime.network), and the other steps are still
proven without a network namespace.

As root, --user NAME runs the proof as that account (image builds run as root); as root
without --user it refuses with exit 2: rootless mode is for an ordinary account.`,
		Example: `  rootless-doctor prove
  rootless-doctor prove --net gvisor -v
  sudo rootless-doctor prove --user ci --output junit --report json=prove.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Net, err = oneOf("--net", opts.Net, proof.Nets()); err != nil {
				return err
			}
			if err := opts.validate(f); err != nil {
				return err
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
	opts.addReportFlags(fl, "step")
	registerValues(cmd, "output", report.Formats()...)
	registerValues(cmd, "net", proof.Nets()...)
	return cmd
}

func proveRun(ctx context.Context, opts *ProveOptions) error {
	prove := opts.Factory.Prove
	if prove == nil {
		return &exitError{Code: ExitError, Err: errors.New("the live proof is not available in this build")}
	}
	h, err := opts.Factory.Host("")
	if err != nil {
		return usageErr("%v", err)
	}
	if h.Self().UID == 0 && opts.User == "" {
		// Issue 15: every step used to be skipped with exit 0, so a CI gate passed having
		// proven nothing.
		hint := "pass --user NAME"
		if su, ok := h.LookupEnv("SUDO_USER"); ok && su != "" && su != "root" {
			hint = fmt.Sprintf("pass --user NAME (you ran sudo as %s: --user %s)", su, su)
		}
		return usageErr("running as root: the live proof runs as the ordinary account that will run containers; %s", hint)
	}
	env := facts.NewEnv(ctx, h, opts.User)
	if opts.User != "" && errors.Is(env.UserErr, facts.ErrUnknownUser) {
		return usageErr("--user %s: unknown account: %v", opts.User, env.UserErr)
	}
	live := newProgress(opts.IO, nil)
	live.proofStart()
	results, err := prove(ctx, proof.Options{User: opts.User, Net: opts.Net, Timeout: opts.Timeout, Progress: live.proofOption()})
	live.close()
	if err := interrupted(ctx); err != nil {
		return err
	}
	if err != nil {
		return &exitError{Code: ExitError, Err: fmt.Errorf("the live proof could not start: %w", err)}
	}
	markIgnored(results, opts.Ignore)
	rep := newReport(opts.Factory, env, results, opts.FailOn)
	if err := report.Render(opts.Output, opts.IO.Out, rep, report.Options{Verbose: opts.Verbose, Timings: true, Profile: opts.IO.OutProfile}); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := opts.writeReports(rep); err != nil {
		return err
	}
	if rep.ExitCode() != ExitOK {
		return findings()
	}
	return nil
}
