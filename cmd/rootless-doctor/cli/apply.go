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

// NewCmdUserApply is the hidden command root starts with an account's credentials to apply
// that account's user-scope steps (apply.ServeUser): it reads the steps on stdin, checks they
// are its own and write only in its home, applies them and reports on stdout.
func NewCmdUserApply(f *Factory, runF func(context.Context, *ApplyHelperOptions) error) *cobra.Command {
	opts := &ApplyHelperOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:    apply.UserCommand,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if os.Geteuid() == 0 {
				return usageErr("%s runs as the account, not as root", apply.UserCommand)
			}
			name, home, err := apply.Self()
			if err != nil {
				return usageErr("%s: %v", apply.UserCommand, err)
			}
			if err := apply.ServeUser(cmd.Context(), opts.IO.In, opts.IO.Out, name, home, killHook(opts.IO.ErrOut)); errors.Is(err, fixes.ErrRefused) {
				return &exitError{Code: ExitError}
			} else if err != nil {
				return usageErr("%s: %v", apply.UserCommand, err)
			}
			return nil
		},
	}
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

// confirmApply asks whether to apply, on a terminal, as apt and `kubeadm reset` do: the
// question and [y/N] on one line; "y" or "yes" (any case) applies, anything else (an empty
// line, end of input, an interrupt) does not. Without a terminal it refuses (exit 2). It was
// a huh confirm until issue 16: huh linked bubbletea, bubbles and their clipboard and
// humanize packages, whose init ran at every start of every command for this one prompt
// (~0.4 ms and 340 allocations of a ~3 ms start, 0.9 MB of binary); huh's own plain mode
// printed the same line.
func confirmApply(ctx context.Context, opts *FixOptions, question string) (bool, error) {
	if opts.Yes {
		return true, nil
	}
	if !opts.IO.InIsTTY {
		return false, usageErr("fix --apply: no terminal to ask for confirmation on, and no --yes: nothing was changed. Review the plan above, then run again with --yes to apply it")
	}
	fmt.Fprintf(opts.IO.Out, "%s [y/N] ", question)
	answer := make(chan string, 1) // the reader may outlive an interrupted prompt
	go func() { answer <- readAnswer(opts.IO.In) }()
	select {
	case a := <-answer:
		a = strings.ToLower(strings.TrimSpace(a))
		return a == "y" || a == "yes", nil
	case <-ctx.Done():
		fmt.Fprintln(opts.IO.Out)
		return false, nil
	}
}

// maxAnswer bounds what readAnswer keeps of a line: an answer is a word.
const maxAnswer = 64

// readAnswer reads one line from in, a byte at a time so that nothing after the line is
// consumed, and keeps at most maxAnswer bytes of it (a longer line is no answer). End of
// input or an error ends the line.
func readAnswer(in io.Reader) string {
	var line []byte
	var b [1]byte
	for empty := 0; empty < 100; { // a reader that keeps returning nothing ends the line
		n, err := in.Read(b[:])
		if n == 0 {
			empty++
		}
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(line) <= maxAnswer {
				line = append(line, b[0])
			}
		}
		if err != nil {
			break
		}
	}
	if len(line) > maxAnswer {
		return ""
	}
	return string(line)
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
	needSudo := !asRoot && apply.Runnable(fixes.Plan{Steps: rootOnly(plan)})
	if needSudo && opts.Factory.System == nil {
		if _, err := exec.LookPath("sudo"); err != nil {
			return usageErr("fix --apply: you are not root and sudo is not installed: nothing was changed. Run it as root (with --user %s), or run the script of `rootless-doctor fix` as root", before.Env.User.Name)
		}
	}
	fmt.Fprintln(out)
	switch {
	case asRoot:
		fmt.Fprintln(out, "The numbered steps that are not marked \"By hand\" will run now, as root. Every file is backed up")
		fmt.Fprintln(out, "under "+apply.DefaultBackupRoot+"/<time>/ before it changes. Optional steps are not applied.")
	case needSudo:
		fmt.Fprintln(out, "You are not root: the steps will run through sudo, which may ask for your password. Every file is backed up")
		fmt.Fprintln(out, "under "+apply.DefaultBackupRoot+"/<time>/ before it changes. Optional steps are not applied.")
	}
	if _, user := fixes.UserSteps(plan); len(user.Steps) > 0 {
		who := before.Env.User.Name
		fmt.Fprintf(out, "Steps that write %s's own files run as %s, never as root; their backups go under %s.\n", who, who, apply.BackupDirIn(before.Env.User.Home))
	}
	ok, err := confirmApply(ctx, opts, "Apply these steps now?")
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

// applyPlan applies the plan of run: as root directly, else through the sudo helper, which is
// sent the requests of the root steps and their plan's digest and builds that plan again
// itself. User-scope steps (Step.As) are applied by the account: by this process when it is
// the account, else by a child with the account's credentials (apply.AsAccount), never by root.
// Factory.System, when set (tests), is the machine either way.
func applyPlan(ctx context.Context, opts *FixOptions, asRoot bool, run *probeRun, log io.Writer) (apply.Outcome, error) {
	hook := killHook(opts.IO.ErrOut)
	_, userPart := fixes.UserSteps(run.Plan)
	newSys := opts.Factory.System
	if newSys != nil {
		sys, closeSys, err := newSys(asRoot, hook)
		if err != nil {
			return apply.Outcome{}, err
		}
		outcome := (&apply.Applier{Sys: sys, User: sys, Log: log, Hook: hook}).Apply(ctx, run.Plan)
		if err := closeSys(); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "rootless-doctor: %v\n", err)
		}
		return outcome, nil
	}
	var outcome apply.Outcome
	switch {
	case asRoot:
		outcome = (&apply.Applier{Sys: &apply.Root{Hook: hook}, Log: log, Hook: hook}).Apply(ctx, run.Plan)
	case apply.Runnable(fixes.Plan{Steps: rootOnly(run.Plan)}):
		rootReqs := fixes.RootRequests(run.Requests)
		rootPlan, err := fixes.Build(fixes.Input{Requests: rootReqs, Env: run.Env})
		if err != nil {
			return apply.Outcome{}, err
		}
		s, err := apply.NewSudo(opts.IO.ErrOut)
		if err != nil {
			return apply.Outcome{}, err
		}
		ro, err := s.Apply(ctx, apply.NewOrder(run.Env.User.Name, rootReqs, rootPlan), rootPlan, log)
		if err != nil {
			return apply.Outcome{}, err
		}
		outcome = mergeByID(run.Plan, ro)
	default:
		outcome = (&apply.Applier{Log: log}).Apply(ctx, fixes.Plan{Steps: rootOnly(run.Plan)})
		outcome = mergeByID(run.Plan, outcome)
	}
	if len(userPart.Steps) == 0 || outcome.Failed() {
		return outcome, nil
	}
	var uo apply.Outcome
	if asRoot {
		acct, err := accountOf(run)
		if err != nil {
			return apply.Outcome{}, err
		}
		if uo, err = acct.Apply(ctx, userPart, log); err != nil {
			return apply.Outcome{}, err
		}
	} else {
		uo = (&apply.Applier{User: apply.AccountSystem(run.Env.User.Home, hook), Log: log, Hook: hook}).Apply(ctx, userPart)
	}
	return apply.Merge(outcome, uo), nil
}

// rootOnly are the steps of p that are not user-scope.
func rootOnly(p fixes.Plan) []fixes.Step {
	root, _ := fixes.UserSteps(p)
	return root.Steps
}

// mergeByID lays the outcome of part of a plan over the whole plan: the steps it does not
// name are left to the account (user-scope) or were not run.
func mergeByID(p fixes.Plan, part apply.Outcome) apply.Outcome {
	by := map[string]apply.StepOutcome{}
	for _, so := range part.Steps {
		by[so.Step.ID] = so
	}
	var out apply.Outcome
	for _, s := range p.Steps {
		so, ok := by[s.ID]
		switch {
		case ok:
		case s.As != "" && !s.Manual:
			so = apply.StepOutcome{Step: s, State: apply.StateAccount}
		case s.Optional:
			so = apply.StepOutcome{Step: s, State: apply.StateOptional}
		case s.Manual:
			so = apply.StepOutcome{Step: s, State: apply.StateManual}
		default:
			so = apply.StepOutcome{Step: s, State: apply.StateNotRun}
		}
		so.Step = s
		out.Steps = append(out.Steps, so)
	}
	return out
}

// accountOf is how root starts the account's user-scope apply: this binary (copied where the
// account can run it when it cannot, as the proof does), the account's ids and groups.
func accountOf(run *probeRun) (*apply.AsAccount, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	u := run.Env.User
	var groups []uint32
	for _, g := range u.Groups {
		groups = append(groups, uint32(g))
	}
	return &apply.AsAccount{Exe: exe, UID: u.UID, GID: u.GID, Groups: groups, Stderr: os.Stderr,
		Env: []string{"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, "PATH=/usr/local/bin:/usr/bin:/bin"}}, nil
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
