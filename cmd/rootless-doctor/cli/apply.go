package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"charm.land/huh/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/fixes/apply"
	"github.com/rootless-doctor/rootless-doctor/report"
)

// killAtEnv is a test hook: with ROOTLESS_DOCTOR_TEST_KILL_AT=N, `fix --apply` kills itself
// with SIGKILL at the Nth point where it could be interrupted (before and after each backup,
// file write, rename and command). The live tests use it to prove that every file it touches
// stays valid whenever it dies. It has no other use.
const killAtEnv = "ROOTLESS_DOCTOR_TEST_KILL_AT"

// killHook returns the hook that kills the process at the Nth point, or nil.
func killHook(errOut io.Writer) func(string) {
	n, err := strconv.Atoi(os.Getenv(killAtEnv))
	if err != nil || n <= 0 {
		return nil
	}
	var count atomic.Int64
	return func(point string) {
		if count.Add(1) == int64(n) {
			fmt.Fprintf(errOut, "rootless-doctor: %s=%d: killed at %s\n", killAtEnv, n, point)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}

// ApplyHelperOptions are what the sudo helper needs.
type ApplyHelperOptions struct {
	IO      *IOStreams
	Factory *Factory
}

// NewCmdApplyHelper is the hidden command that `fix --apply` starts through sudo for an
// ordinary account: it reads one order (the plan's requests and digest) on stdin, checks it
// and builds the plan again as root, applies it and reports on stdout (apply.Helper,
// docs/security.md "The sudo helper"). A refusal is exit 2 with nothing changed. runF
// replaces the logic in tests.
func NewCmdApplyHelper(f *Factory, runF func(context.Context, *ApplyHelperOptions) error) *cobra.Command {
	opts := &ApplyHelperOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:    apply.HelperCommand,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return applyHelperRun(cmd.Context(), opts)
		},
	}
}

func applyHelperRun(ctx context.Context, opts *ApplyHelperOptions) error {
	if os.Geteuid() != 0 {
		return usageErr("%s must run as root (it is started through sudo by fix --apply)", apply.HelperCommand)
	}
	caller, err := apply.Caller()
	if err != nil {
		return usageErr("%s: %v", apply.HelperCommand, err)
	}
	h, err := opts.Factory.Host("")
	if err != nil {
		return usageErr("%v", err)
	}
	helper := &apply.Helper{Root: &apply.Root{Hook: killHook(opts.IO.ErrOut)}, Host: h, Caller: caller}
	if err := helper.Serve(ctx, opts.IO.In, opts.IO.Out); errors.Is(err, fixes.ErrRefused) {
		// The refusal went to stdout, where fix --apply reads it and says it.
		return &exitError{Code: ExitError}
	} else if err != nil {
		return usageErr("%s: %v", apply.HelperCommand, err)
	}
	return nil
}

// targeted are the probes the required steps of p fix, sorted.
func targeted(p fixes.Plan) []string {
	var ids []string
	for _, s := range p.Required() {
		ids = append(ids, s.Fixes...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func resultByID(results []finding.Result) map[string]finding.Result {
	m := map[string]finding.Result{}
	for _, r := range results {
		m[r.ID] = r
	}
	return m
}

// stillFailing reports whether a targeted probe fails in results.
func stillFailing(ids []string, results []finding.Result) bool {
	by := resultByID(results)
	for _, id := range ids {
		if r, ok := by[id]; ok && r.Status == finding.Fail {
			return true
		}
	}
	return false
}

// confirmApply asks whether to apply. On a terminal it is a huh confirm (plain [y/N] line
// when the output is not a colour terminal); without a terminal it refuses (exit 2).
func confirmApply(opts *FixOptions, title string) (bool, error) {
	if opts.Yes {
		return true, nil
	}
	if !opts.IO.InIsTTY {
		return false, usageErr("fix --apply: no terminal to ask for confirmation on, and no --yes: nothing was changed. Review the plan above, then run again with --yes to apply it")
	}
	ok := false
	c := huh.NewConfirm().Title(title).Affirmative("Yes").Negative("No").Value(&ok)
	var err error
	if opts.IO.OutProfile == colorprofile.NoTTY || opts.IO.OutProfile == colorprofile.Ascii {
		err = c.RunAccessible(opts.IO.Out, opts.IO.In)
	} else {
		err = c.Run()
	}
	if errors.Is(err, huh.ErrUserAborted) {
		return false, nil
	}
	return ok, err
}

// fixApply is `fix --apply`: show the plan, confirm, apply it, check again.
func fixApply(ctx context.Context, opts *FixOptions) error {
	if opts.Root != "" {
		return usageErr("--apply changes this machine; it cannot be used with --root")
	}
	spec := runSpec{User: opts.User, Only: opts.Only, Skip: opts.Skip, Static: opts.Static}
	before, err := runProbes(ctx, opts.Factory, spec)
	if err != nil {
		return err
	}
	if before.PlanErr != nil {
		return planError(before.PlanErr)
	}
	out := opts.IO.Out
	plan := before.Plan
	ids := targeted(plan)
	if len(plan.Required()) == 0 {
		fmt.Fprintln(out, "Nothing to fix: no finding asks for a change. Nothing was changed.")
		return nil
	}
	if err := report.WritePlanText(out, plan); err != nil {
		return fmt.Errorf("writing the plan: %w", err)
	}
	if !apply.Runnable(plan) {
		fmt.Fprintln(out, "\nNothing in this plan can be applied by rootless-doctor: every step is for you to do by hand. Nothing was changed.")
		apply.WriteOutcome(out, plan, (&apply.Applier{}).Apply(ctx, plan))
		if stillFailing(ids, before.Results) {
			return findings()
		}
		return nil
	}
	asRoot := before.Env.Host.Self().UID == 0
	if !asRoot && opts.Factory.System == nil {
		if _, err := exec.LookPath("sudo"); err != nil {
			return usageErr("fix --apply: you are not root and sudo is not installed: nothing was changed. Run it as root (with --user %s), or run the script of `rootless-doctor fix` as root", before.Env.User.Name)
		}
	}
	fmt.Fprintln(out)
	if asRoot {
		fmt.Fprintln(out, "The numbered steps that are not marked \"By hand\" will run now, as root. Every file is backed up")
	} else {
		fmt.Fprintln(out, "You are not root: the steps will run through sudo, which may ask for your password. Every file is backed up")
	}
	fmt.Fprintln(out, "under "+apply.DefaultBackupRoot+"/<time>/ before it changes. Optional steps are not applied.")
	ok, err := confirmApply(opts, "Apply these steps now?")
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(out, "Not applied: nothing was changed.")
		if stillFailing(ids, before.Results) {
			return findings()
		}
		return nil
	}
	outcome, err := applyPlan(ctx, opts, asRoot, before, out)
	if errors.Is(err, fixes.ErrRefused) {
		return usageErr("fix --apply: %v; nothing was changed", err)
	}
	if err != nil {
		return fmt.Errorf("fix --apply: %w", err)
	}
	if err := apply.WriteOutcome(out, plan, outcome); err != nil {
		return err
	}
	after, err := runProbes(ctx, opts.Factory, spec)
	if err != nil {
		return err
	}
	writeBeforeAfter(out, ids, before.Results, after.Results)
	if outcome.Failed() || stillFailing(ids, after.Results) {
		return findings()
	}
	return nil
}

// applyPlan applies the plan of run: as root directly, else through the sudo helper, which is sent
// the plan's requests and digest and builds the plan again itself. Factory.System, when set
// (tests), is the machine either way.
func applyPlan(ctx context.Context, opts *FixOptions, asRoot bool, run *probeRun, log io.Writer) (apply.Outcome, error) {
	hook := killHook(opts.IO.ErrOut)
	newSys := opts.Factory.System
	if newSys == nil && asRoot {
		newSys = func(bool, func(string)) (apply.System, func() error, error) {
			return &apply.Root{Hook: hook}, func() error { return nil }, nil
		}
	}
	if newSys == nil {
		s, err := apply.NewSudo(opts.IO.ErrOut)
		if err != nil {
			return apply.Outcome{}, err
		}
		return s.Apply(ctx, apply.NewOrder(run.Env.User.Name, run.Requests, run.Plan), run.Plan, log)
	}
	sys, closeSys, err := newSys(asRoot, hook)
	if err != nil {
		return apply.Outcome{}, err
	}
	outcome := (&apply.Applier{Sys: sys, Log: log, Hook: hook}).Apply(ctx, run.Plan)
	if err := closeSys(); err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "rootless-doctor: %v\n", err)
	}
	return outcome, nil
}

// writeBeforeAfter prints each targeted probe: status before → after, and the summary now.
func writeBeforeAfter(w io.Writer, ids []string, before, after []finding.Result) {
	b, a := resultByID(before), resultByID(after)
	width := 0
	for _, id := range ids {
		width = max(width, len(id))
	}
	fmt.Fprintln(w, "\nChecked again:")
	for _, id := range ids {
		rb, ra := b[id], a[id]
		if rb.ID == "" && ra.ID == "" {
			continue
		}
		fmt.Fprintf(w, "  %-*s  %s → %s  %s\n", width, id, status(rb), status(ra), ra.Summary)
	}
}

func status(r finding.Result) string {
	if r.ID == "" {
		return "-"
	}
	return strings.ToLower(string(r.Status))
}
