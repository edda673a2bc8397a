package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/report"
)

// CheckOptions are the flags of check.
type CheckOptions struct {
	IO      *IOStreams
	Factory *Factory

	Static  bool
	User    string
	Root    string
	Output  string
	FailOn  string
	Skip    []string
	Only    []string
	Verbose bool
}

// NewCmdCheck builds `check`. runF replaces the logic in tests.
func NewCmdCheck(f *Factory, runF func(context.Context, *CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run every probe and print the report (the default command)",
		Long: `Run every probe on this host for an account and print what would stop rootless
containers, with the fix for each finding.

With --root DIR the probes read a recorded host (a snapshot directory or a fixture tree)
instead of this machine. With --user NAME, root checks the host on behalf of that account
(image builds run as root). Running as root without --user is itself a finding.

The live proof (runtime.* probes, an embedded rootlesskit sandbox) is not part of this
build yet: check runs the static probes and says so in one line.`,
		Example: `  rootless-doctor check
  rootless-doctor check -v
  sudo rootless-doctor check --user ci --output junit --fail-on warn > rootless.xml
  rootless-doctor check --root fixtures/ubuntu-24.04-apparmor-restricted --output json
  rootless-doctor check --only idmap,userns.max --skip idmap.newuidmap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !report.HasFormat(opts.Output) {
				return usageErr("--output %q: want one of %s", opts.Output, strings.Join(report.Formats(), ", "))
			}
			if opts.FailOn != "fail" && opts.FailOn != "warn" {
				return usageErr("--fail-on %q: want fail or warn", opts.FailOn)
			}
			opts.Skip, opts.Only = splitList(opts.Skip), splitList(opts.Only)
			if err := checks.Select(f.Probes(), opts.Only, opts.Skip); err != nil {
				return usageErr("%v", err)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return checkRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Static, "static", false, "run only the static probes (no live proof)")
	fl.StringVarP(&opts.User, "user", "u", "", "check on behalf of this account (name or uid; for root, e.g. in image builds)")
	fl.StringVar(&opts.Root, "root", "", "read a recorded host tree instead of this machine (see docs/snapshot-format.md)")
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: "+strings.Join(report.Formats(), "|"))
	fl.StringVar(&opts.FailOn, "fail-on", "fail", "exit 1 when a probe reaches this status: fail|warn")
	fl.StringSliceVar(&opts.Skip, "skip", nil, "skip probes by id or group (comma-separated)")
	fl.StringSliceVar(&opts.Only, "only", nil, "run only these probes, by id or group (comma-separated)")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "show details, evidence and fixes under each probe")
	return cmd
}

// splitList trims and drops empty entries of a comma list.
func splitList(in []string) []string {
	out := []string{}
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return slices.Compact(out)
}

// staticNote is the one line that says the live proof did not run, and why.
func staticNote(opts *CheckOptions) string {
	switch {
	case opts.Root != "":
		return fmt.Sprintf("static probes only: %s is a recorded host, so the live proof does not run", opts.Root)
	case opts.Static:
		return ""
	default:
		return "static probes only: the live proof (runtime.*) is not part of this build yet"
	}
}

func checkRun(ctx context.Context, opts *CheckOptions) error {
	run, err := runProbes(ctx, opts.Factory, opts.User, opts.Root, opts.Only, opts.Skip)
	if err != nil {
		return err
	}
	var notes []string
	if n := staticNote(opts); n != "" {
		notes = append(notes, n)
	}
	if run.PlanErr != nil {
		notes = append(notes, "no fix plan: "+run.PlanErr.Error())
	}
	rep := report.New(run.Env, run.Results, checks.Status(opts.FailOn), notes...)
	if run.PlanErr == nil {
		rep.Plan = &run.Plan
	}
	if err := report.Render(opts.Output, opts.IO.Out, rep, report.Options{Verbose: opts.Verbose, Profile: opts.IO.OutProfile}); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if rep.ExitCode() != ExitOK {
		return findings()
	}
	return nil
}
