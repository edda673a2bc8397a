package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/report"
)

// CheckOptions are the flags of check.
type CheckOptions struct {
	IO      *IOStreams
	Factory *Factory

	ReportFlags

	Static bool
	User   string
	// Roots are the recorded hosts of --root (none: this machine).
	Roots    []string
	Textfile string
	Skip     []string
	Only     []string
	// Engines are the engines of --engine: the verdict and exit code are about them only.
	Engines []string
}

// NewCmdCheck builds `check`. runF replaces the logic in tests.
func NewCmdCheck(f *Factory, runF func(context.Context, *CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run every probe and print the report (the default command)",
		Long: `Run every probe on this host for an account and print what would stop rootless
containers, with the fix for each finding.

With --root DIR the probes read a recorded host (a snapshot directory or .tar.gz from
"rootless-doctor snapshot", or a fixture tree) instead of this machine. Several --root
(repeated, comma-separated, or a quoted glob) check a fleet: one line per host and a
summary, or --output jsonl (one JSON report per line), junit (one testsuite per host) or
prometheus (a root label). --output prometheus --textfile FILE.prom writes the metrics
atomically for node_exporter's textfile collector.

With --user NAME, root checks the host on behalf of that account (image builds run as
root). Running as root without --user is itself a finding.

After the static probes, check runs the live proof (the runtime.* steps, as in
"rootless-doctor prove"): it starts an embedded rootlesskit sandbox as the account and
reports each step. --static leaves it out; with --root it cannot run. Either way its steps
appear as skipped, with the reason. --timeout bounds it (default 30s).

On a terminal (stdout and stderr both), the run shows as it goes on stderr: the static
probes' count, each step of the live proof as it ends with its time, a spinner on the one
that runs; it is erased before the report. Piped or redirected, nothing but the report.

--report FORMAT=FILE (repeatable) writes the same run in more formats beside the printed
one: one run, several reports (a CI job's text log plus junit for its test view).
--ignore ID,... waives probes or steps (kubeadm's --ignore-preflight-errors): they are
still shown, marked ignored (JSON "ignored": true), but do not fail the run; an engine.*
result whose every reason is a waived probe (JSON blocked_by) is waived with them. --engine NAME,... makes the verdict about those
engines only. --output, --fail-on, --engine and --report formats are case-insensitive.`,
		Example: `  rootless-doctor check
  rootless-doctor check -v
  sudo rootless-doctor check --user ci --output junit --fail-on warn > rootless.xml
  rootless-doctor check --engine podman
  rootless-doctor check --root fixtures/ubuntu-24.04-apparmor-restricted --output json
  rootless-doctor check --only idmap,userns.max --skip idmap.newuidmap
  rootless-doctor check --root 'snapshots/*.tar.gz' --output jsonl
  rootless-doctor check --static --output prometheus --textfile /var/lib/node_exporter/textfile_collector/rootless_doctor.prom`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(f); err != nil {
				return err
			}
			opts.Skip, opts.Only = splitList(opts.Skip), splitList(opts.Only)
			roots, err := expandRoots(splitList(opts.Roots))
			if err != nil {
				return usageErr("%v", err)
			}
			opts.Roots = roots
			if opts.Textfile != "" {
				if opts.Output != "prometheus" {
					return usageErr("--textfile needs --output prometheus")
				}
				if !strings.HasSuffix(opts.Textfile, ".prom") {
					return usageErr("--textfile %q: the name must end in .prom (node_exporter reads only those)", opts.Textfile)
				}
			}
			if len(opts.Roots) > 1 && !slices.Contains(report.FleetFormats(), opts.Output) {
				return usageErr("--output %s takes one host; with several --root use one of %s", opts.Output, strings.Join(report.FleetFormats(), ", "))
			}
			if len(opts.Roots) > 1 && len(opts.reports) > 0 {
				return usageErr("--report takes one host; with several --root print one format")
			}
			if err := checkIDs(f, "--only", opts.Only); err != nil {
				return err
			}
			if err := checkIDs(f, "--skip", opts.Skip); err != nil {
				return err
			}
			opts.Engines = splitList(opts.Engines)
			for i, e := range opts.Engines {
				if opts.Engines[i], err = oneOf("--engine", e, facts.Engines); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return checkRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Static, "static", false, "run only the static probes, not the live proof")
	fl.StringVarP(&opts.User, "user", "u", "", "check on behalf of this account (name or uid; for root, e.g. in image builds)")
	fl.StringSliceVar(&opts.Roots, "root", nil, "read a recorded host (snapshot directory, fixture tree or .tar.gz) instead of this machine;\nrepeat or comma-separate for several hosts, one line each (see docs/snapshot-format.md)")
	opts.addReportFlags(fl, "probe")
	fl.StringVar(&opts.Textfile, "textfile", "", "with --output prometheus: write the metrics atomically to this file (ends in .prom),\nfor node_exporter's textfile collector")
	fl.StringSliceVar(&opts.Skip, "skip", nil, "skip probes by id or group (comma-separated)")
	fl.StringSliceVar(&opts.Only, "only", nil, "run only these probes, by id or group (comma-separated)")
	fl.StringSliceVar(&opts.Engines, "engine", nil, "make the verdict and exit code about these engines only: "+strings.Join(facts.Engines, ",")+"\n(their engine.* probes, which fold in the generic probes they need, and the live steps they need)")
	registerValues(cmd, "output", report.Formats()...)
	registerValues(cmd, "engine", facts.Engines...)
	return cmd
}

// EngineGate are the result ids that decide the verdict of --engine: each engine's probe
// (which folds in the static probes it needs, checks.EngineNeeds) and the live proof's steps
// it needs. Nil for no engine: every result counts.
func EngineGate(engines []string) []string {
	if len(engines) == 0 {
		return nil
	}
	var ids []string
	for _, e := range engines {
		ids = append(ids, checks.EngineProbe(e))
		for _, id := range checks.EngineNeeds[e] {
			if strings.HasPrefix(id, "runtime.") {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
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

func checkRun(ctx context.Context, opts *CheckOptions) error {
	// GOGC 400 unless the caller set GOGC (issue 16). One host's check allocates ~4 MB and
	// ends: with the default the collector ran once during the probes, for nothing; at 400 it
	// does not run, and peak RSS is unchanged (~17 MB, goal ≤ 40 MB). A fleet's live heap is
	// a few MB (the hosts in flight and the decode memo), and at the default the collector
	// ran every ~20 hosts: 400 took a fleet of 1,000 hosts from 628 to 481 ms on two cores,
	// peak RSS from 20 to 32 MB, flat in the number of hosts (goal ≤ 64 MB).
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	if len(opts.Roots) > 1 {
		return fleetRun(ctx, opts)
	}
	root := ""
	if len(opts.Roots) == 1 {
		root = opts.Roots[0]
	}
	var live *liveProgress
	if root == "" {
		live = newProgress(opts.IO, nil)
	}
	rep, err := checkOne(ctx, opts, root, live)
	live.close()
	if err != nil {
		return err
	}
	if opts.Textfile != "" {
		var b bytes.Buffer
		if err := report.Render("prometheus", &b, rep, report.Options{}); err != nil {
			return err
		}
		if err := writeFileAtomic(opts.Textfile, b.Bytes()); err != nil {
			return err
		}
	} else if err := report.Render(opts.Output, opts.IO.Out, rep, report.Options{Verbose: opts.Verbose, Profile: opts.IO.OutProfile}); err != nil {
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

// checkOne runs the probes on one host (this machine for root "") and builds its report.
func checkOne(ctx context.Context, opts *CheckOptions, root string, live *liveProgress) (*report.Report, error) {
	run, err := runProbes(ctx, opts.Factory, runSpec{User: opts.User, Root: root, Only: opts.Only, Skip: opts.Skip, Ignore: opts.Ignore,
		Static: opts.Static, Timeout: opts.Timeout, Progress: live})
	if err != nil {
		return nil, err
	}
	var notes []string
	if run.PlanErr != nil {
		notes = append(notes, "no fix plan: "+run.PlanErr.Error())
	}
	gate := EngineGate(opts.Engines)
	if gate != nil {
		notes = append(notes, fmt.Sprintf("--engine %s: only %s decide the verdict", strings.Join(opts.Engines, ","), strings.Join(gate, ", ")))
	}
	rep := newReport(opts.Factory, run.Env, run.Results, opts.FailOn, notes...)
	rep.Gate = gate
	if run.PlanErr == nil {
		// A copy, not &run.Plan: a pointer into run kept the run alive, and with it its Env
		// and the whole Host tree, for as long as a fleet keeps the report (issue 10).
		plan := run.Plan
		rep.Plan = &plan
	}
	return rep, nil
}
