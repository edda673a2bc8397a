package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/report"
)

// fixFormats are the outputs of fix.
var fixFormats = []string{"script", "json", "text", "ansible"}

// FixOptions are the flags of fix.
type FixOptions struct {
	IO      *IOStreams
	Factory *Factory

	User   string
	Root   string
	Static bool
	Output string
	Skip   []string
	Only   []string
	Apply  bool
	Yes    bool
}

// NewCmdFix builds `fix`: the plan of the current findings, as a script to review.
func NewCmdFix(f *Factory, runF func(context.Context, *FixOptions) error) *cobra.Command {
	opts := &FixOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Print the exact, ordered fix plan for this host's findings (or apply it)",
		Long: `Run the probes (and, on this machine, the live proof), then print what must change as one reviewable plan for this
distribution: packages first (that distro's names, non-interactive), then kernel modules,
sysctls (one file, /etc/sysctl.d/60-rootless-doctor.conf), the carriage returns of CRLF
line ends in /etc/subuid and /etc/subgid (shadow skips such lines), subordinate ids (a free
range computed from /etc/subuid, /etc/subgid, login.defs and the real uids — never a fixed
100000; a range listed twice keeps its first line and loses the later copies, so the
account's container storage stays mapped), AppArmor profiles for the real binary paths, the cgroup delegation drop-in,
/dev/net/tun, linger, manual steps, and last "log out and in" where needed. Every step is
idempotent: running the script twice changes nothing the second time. Optional steps
(ping group range, unprivileged port start) are shown apart, commented out. Turning the
AppArmor restriction off globally is never a step.

--output script (default) prints one "sudo sh -eux <<'EOF' … EOF" block (the bare script
when run as root); json the plan's steps, with every file's full content, in the envelope
of check's JSON (schema, tool, host); text numbered steps; ansible a playbook of builtin
modules for a group of hosts: the account is a variable, the free subordinate range is
computed on each host, sysctl, AppArmor and systemd reloads are handlers. fix exits 0
after printing.

--apply applies the plan on this machine and checks again. It prints the plan, asks for
confirmation (--yes skips the question; with no terminal and no --yes nothing is changed
and the exit code is 2), then runs each numbered step that is not "By hand" — directly as
root, otherwise by a helper started through sudo, which builds the same plan again as root
and applies only that plan (docs/security.md) — printing every file written and every
command with its output, and stops at the first step that fails. Each file is backed up before it changes
under /var/backups/rootless-doctor/<time>/ and replaced atomically (temporary file, fsync,
rename; same owner), so a killed apply leaves every file whole (old, new, or between two
commands of one step their complete result so far), never partial. Only
what the plan shows is written; a second apply changes nothing. Steps "By hand" (and
logging out and in) are reported as not done, and optional steps are never applied. Then
the probes run again (with the live proof unless --static) and each probe the plan targets
is printed before → after. Exit codes: 0 no targeted probe fails any more, 1 one still
fails (for example because its step is by hand) or a step failed; answering no changes
nothing and exits 1 while a targeted probe fails; 2 the apply could not start.`,
		Example: `  rootless-doctor fix
  rootless-doctor fix > fix.sh && less fix.sh && sh fix.sh
  sudo rootless-doctor fix --user ci --output ansible > rootless.yml
  rootless-doctor fix --root fixtures/centos-7-maxuserns-zero --output text
  rootless-doctor fix --apply
  sudo rootless-doctor fix --apply --yes --user ci --static`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Output, err = oneOf("--output", opts.Output, fixFormats); err != nil {
				return err
			}
			opts.Skip, opts.Only = splitList(opts.Skip), splitList(opts.Only)
			if err := checkIDs(f, "--only", opts.Only); err != nil {
				return err
			}
			if err := checkIDs(f, "--skip", opts.Skip); err != nil {
				return err
			}
			if opts.Yes && !opts.Apply {
				return usageErr("--yes only makes sense with --apply")
			}
			if opts.Apply && cmd.Flags().Changed("output") && opts.Output != "text" {
				return usageErr("--apply shows the plan as text; --output %s cannot be used with it", opts.Output)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.Apply {
				return fixApply(cmd.Context(), opts)
			}
			return fixRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.User, "user", "u", "", "plan for this account (name or uid; for root, e.g. in image builds)")
	fl.StringVar(&opts.Root, "root", "", "plan for a recorded host tree instead of this machine")
	fl.BoolVar(&opts.Static, "static", false, "plan from the static probes only, without the live proof")
	fl.StringVarP(&opts.Output, "output", "o", "script", "output format: "+strings.Join(fixFormats, "|"))
	fl.StringSliceVar(&opts.Skip, "skip", nil, "ignore the findings of these probes, by id or group")
	fl.StringSliceVar(&opts.Only, "only", nil, "plan only for these probes, by id or group")
	fl.BoolVar(&opts.Apply, "apply", false, "apply the plan on this machine (after confirmation), then check again")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "with --apply: do not ask for confirmation")
	registerValues(cmd, "output", fixFormats...)
	return cmd
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func fixRun(ctx context.Context, opts *FixOptions) error {
	run, err := runProbes(ctx, opts.Factory, runSpec{User: opts.User, Root: opts.Root, Only: opts.Only, Skip: opts.Skip, Static: opts.Static})
	if err != nil {
		return err
	}
	if run.PlanErr != nil {
		return planError(run.PlanErr)
	}
	out := opts.IO.Out
	if run.Plan.Empty() && opts.Output != "json" {
		who := "this account"
		if run.Env.UserErr == nil {
			who = run.Env.User.Name
		}
		_, err := fmt.Fprintf(out, "# Nothing to fix: no finding for %s asks for a change.\n", who)
		return err
	}
	switch opts.Output {
	case "json":
		rep := newReport(opts.Factory, run.Env, nil, "fail")
		rep.Plan = &run.Plan
		err = report.WritePlanReport(out, rep)
	case "text":
		err = report.WritePlanText(out, run.Plan)
	case "ansible":
		err = report.WritePlanAnsible(out, run.Plan)
	default:
		err = report.WritePlanScript(out, run.Plan, run.Env.Host.Self().UID == 0)
	}
	if err != nil {
		return fmt.Errorf("writing the plan: %w", err)
	}
	return nil
}
