package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// System is the machine an Applier changes: the only door it has. The real one (Root,
// host.go) runs commands with sh -c as root and writes files atomically, in this
// process or in the sudo helper (which builds and applies the plan itself); tests pass a fake.
// Every method acts as root.
type System interface {
	// Run runs one shell command line (sh -c) and returns its combined output. A command
	// that ran and exited non-zero returns an error too.
	Run(ctx context.Context, command string) (output string, err error)
	// ReadFile returns the content and permission bits of a file; an error wrapping
	// fs.ErrNotExist when it does not exist.
	ReadFile(path string) (content []byte, mode fs.FileMode, err error)
	// WriteFile replaces path with content and mode atomically (a temporary file in the same
	// directory, fsync, rename), keeping the owner of the file it replaces.
	WriteFile(path string, content []byte, mode fs.FileMode) error
	// Backup copies path, as it is now, into this run's backup directory and returns where
	// the copy is; "" (and no error) when path does not exist or is not a regular file.
	Backup(path string) (string, error)
	// Discard removes a backup that turned out not to be needed (the file did not change).
	Discard(backup string) error
}

// Step states in an Outcome.
const (
	StateDone     = "done"     // its files and commands were applied
	StateAlready  = "already"  // nothing to change: files held the content, Unless succeeded
	StateFailed   = "failed"   // a file or command failed; later steps did not run
	StateNotRun   = "not run"  // an earlier step failed
	StateManual   = "manual"   // only a person can do it (including logging out and in)
	StateOptional = "optional" // optional steps are never applied by --apply
	StateAccount  = "account"  // a user-scope step, left to the account (Applier.User is nil)
)

// StepOutcome is what happened to one step.
type StepOutcome struct {
	Step  fixes.Step
	State string
	// Changed are the files this step changed (written, or changed by its commands).
	Changed []string
	// Backups are the copies kept of the files before they changed.
	Backups []string
	Err     error
}

// Outcome is what an apply did, step by step, in plan order.
type Outcome struct {
	Steps []StepOutcome
}

// Failed reports whether a step failed (later ones were not run).
func (o Outcome) Failed() bool {
	return slices.ContainsFunc(o.Steps, func(s StepOutcome) bool { return s.State == StateFailed })
}

// Changed reports whether any file or command changed something.
func (o Outcome) Changed() bool {
	return slices.ContainsFunc(o.Steps, func(s StepOutcome) bool { return len(s.Changed) > 0 })
}

// Runnable reports whether the plan has a step --apply would run (required, not manual).
func Runnable(p fixes.Plan) bool {
	return slices.ContainsFunc(p.Steps, func(s fixes.Step) bool { return !s.Optional && !s.Manual })
}

// Applier applies a plan on a System and says what it does on Log.
type Applier struct {
	Sys System
	// User is the machine as the account, for user-scope steps (Step.As): their files are
	// the account's and are written by the account, never by root (docs/security.md). Nil:
	// those steps are left (StateAccount) for the account to apply.
	User System
	// Log receives one line per file and command, with outcomes (nil: io.Discard).
	Log io.Writer
	// Hook, when set, is called at every point where the apply could be interrupted
	// ("file PATH", "command N", …): tests use it to kill the process there.
	Hook func(point string)
}

// writePatterns find the files under /etc a command writes: redirections (`>FILE`, `>>FILE`)
// and `sed -i … FILE`. usermod edits /etc/subuid and /etc/subgid (touched adds both). These
// files are backed up before the commands run, and the backup is dropped when they did not
// change. Files a command only reads (awk … /etc/passwd) are left alone.
var writePatterns = sync.OnceValue(func() []*regexp.Regexp {
	return []*regexp.Regexp{
		regexp.MustCompile(`>>?\s*(/etc/[A-Za-z0-9._@/+-]*[A-Za-z0-9_])`),
		regexp.MustCompile(`\bsed -i .* (/etc/[A-Za-z0-9._@/+-]*[A-Za-z0-9_])`),
	}
})

// touched are the files under /etc the commands of s write, except its own Files, sorted.
func touched(s fixes.Step) []string {
	var out []string
	for _, c := range s.Commands {
		for _, re := range writePatterns() {
			for _, m := range re.FindAllStringSubmatch(c, -1) {
				out = append(out, m[1])
			}
		}
	}
	// usermod edits both id files whichever it is told to change.
	for _, c := range s.Commands {
		if strings.Contains(c, "usermod ") {
			out = append(out, "/etc/subuid", "/etc/subgid")
		}
	}
	// The step's own files were just written (and backed up) from the plan.
	out = slices.DeleteFunc(out, func(p string) bool {
		return slices.ContainsFunc(s.Files, func(f fixes.File) bool { return f.Path == p })
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// Apply runs every required, non-manual step of p in order: it writes the step's files (only
// when content or mode differ, after a backup), then runs its commands unless its Unless
// condition succeeds. It stops at the first step that fails; that step and the ones after it
// say so in the Outcome. Manual and optional steps are never run; the Outcome lists them.
// Nothing is written or run that is not in the plan.
func (a *Applier) Apply(ctx context.Context, p fixes.Plan) Outcome {
	if err := fixes.CheckPlan(p); err != nil {
		out := Outcome{}
		for _, s := range p.Steps {
			out.Steps = append(out.Steps, StepOutcome{Step: s, State: StateNotRun})
		}
		if len(out.Steps) > 0 {
			out.Steps[0].State, out.Steps[0].Err = StateFailed, err
		}
		return out
	}
	log := a.Log
	if log == nil {
		log = io.Discard
	}
	num := p.Numbers()
	var out Outcome
	failed := false
	for i, s := range p.Steps {
		so := StepOutcome{Step: s}
		switch {
		case s.Optional:
			so.State = StateOptional
		case s.Manual:
			so.State = StateManual
		case failed:
			so.State = StateNotRun
		case s.As != "" && a.User == nil:
			so.State = StateAccount
		case s.As != "":
			fmt.Fprintf(log, "\n%s. %s\n", num[i], s.Title)
			a.step(ctx, log, &so, a.User)
			failed = so.State == StateFailed
		default:
			fmt.Fprintf(log, "\n%s. %s\n", num[i], s.Title)
			a.step(ctx, log, &so, a.Sys)
			failed = so.State == StateFailed
		}
		out.Steps = append(out.Steps, so)
	}
	return out
}

func (a *Applier) hook(point string) {
	if a.Hook != nil {
		a.Hook(point)
	}
}

// step applies one step, filling so.
func (a *Applier) step(ctx context.Context, log io.Writer, so *StepOutcome, sys System) {
	s := so.Step
	fail := func(err error) {
		so.State, so.Err = StateFailed, err
		fmt.Fprintf(log, "   failed: %v\n", err)
	}
	for _, f := range s.Files {
		changed, backup, err := a.writeFile(sys, f)
		if backup != "" {
			so.Backups = append(so.Backups, backup)
		}
		if err != nil {
			fail(fmt.Errorf("writing %s: %w", f.Path, err))
			return
		}
		if changed {
			so.Changed = append(so.Changed, f.Path)
			if backup != "" {
				fmt.Fprintf(log, "   wrote %s (mode %s; the old one is kept as %s)\n", f.Path, f.Mode, backup)
			} else {
				fmt.Fprintf(log, "   wrote %s (mode %s)\n", f.Path, f.Mode)
			}
		} else {
			fmt.Fprintf(log, "   %s already holds this content\n", f.Path)
		}
	}
	if len(s.Commands) > 0 && s.Unless != "" {
		a.hook("unless " + s.ID)
		fmt.Fprintf(log, "   $ %s\n", s.Unless)
		if _, err := sys.Run(ctx, s.Unless); err == nil {
			fmt.Fprintf(log, "   already done: the condition holds, the commands are skipped\n")
			a.finish(so, false)
			return
		}
		fmt.Fprintf(log, "   not done yet\n")
	}
	if len(s.Commands) > 0 {
		// Back up the files the commands may change before running them.
		type before struct {
			path, backup string
			content      []byte
			mode         fs.FileMode
			exists       bool
		}
		var befores []before
		for _, p := range touched(s) {
			b := before{path: p}
			content, mode, err := sys.ReadFile(p)
			switch {
			case err == nil:
				b.content, b.mode, b.exists = content, mode, true
			case !errors.Is(err, fs.ErrNotExist):
				fail(fmt.Errorf("reading %s before changing it: %w", p, err))
				return
			}
			if b.exists {
				a.hook("backup " + p)
				bk, err := sys.Backup(p)
				if err != nil {
					fail(fmt.Errorf("backing up %s: %w", p, err))
					return
				}
				b.backup = bk
			}
			befores = append(befores, b)
		}
		var runErr error
		for n, c := range s.Commands {
			a.hook("command " + s.ID + " " + strconv.Itoa(n+1))
			fmt.Fprintf(log, "   $ %s\n", c)
			output, err := sys.Run(ctx, c)
			for _, l := range strings.Split(strings.TrimRight(output, "\n"), "\n") {
				if l != "" {
					fmt.Fprintf(log, "     %s\n", l)
				}
			}
			if err != nil {
				runErr = fmt.Errorf("%s: %w", c, err)
				break
			}
		}
		a.hook("after " + s.ID)
		// Which files did the commands change? Keep their backups; drop the others.
		for _, b := range befores {
			content, mode, err := sys.ReadFile(b.path)
			exists := err == nil
			same := exists == b.exists && bytes.Equal(content, b.content) && mode == b.mode
			if same {
				if b.backup != "" {
					if err := sys.Discard(b.backup); err != nil {
						fmt.Fprintf(log, "   note: could not remove the unneeded backup %s: %v\n", b.backup, err)
					}
				}
				continue
			}
			so.Changed = append(so.Changed, b.path)
			if b.backup != "" {
				so.Backups = append(so.Backups, b.backup)
				fmt.Fprintf(log, "   changed %s (the old one is kept as %s)\n", b.path, b.backup)
			} else {
				fmt.Fprintf(log, "   created %s\n", b.path)
			}
		}
		if runErr != nil {
			fail(runErr)
			return
		}
	}
	a.finish(so, len(s.Commands) > 0)
}

// finish sets the state of a step that ran without error.
// ran says whether its commands ran: commands always do what they do (chmod, sysctl -p,
// modprobe change no file but set the state again), so the step is done then.
func (a *Applier) finish(so *StepOutcome, ran bool) {
	if len(so.Changed) == 0 && !ran {
		so.State = StateAlready
		return
	}
	so.State = StateDone
}

// writeFile writes one plan file when its content or mode differ, after backing it up.
func (a *Applier) writeFile(sys System, f fixes.File) (changed bool, backup string, err error) {
	mode64, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil {
		return false, "", fmt.Errorf("mode %q: %w", f.Mode, err)
	}
	mode := fs.FileMode(mode64) & fs.ModePerm
	content, cur, err := sys.ReadFile(f.Path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, "", err
	}
	if exists && string(content) == f.Content && cur == mode {
		return false, "", nil
	}
	if exists {
		a.hook("backup " + f.Path)
		if backup, err = sys.Backup(f.Path); err != nil {
			return false, "", fmt.Errorf("backing up: %w", err)
		}
	}
	a.hook("file " + f.Path)
	if err := sys.WriteFile(f.Path, []byte(f.Content), mode); err != nil {
		return false, backup, err
	}
	a.hook("wrote " + f.Path)
	return true, backup, nil
}

// WriteOutcome writes what an apply did, for a person: one line per step.
func WriteOutcome(w io.Writer, p fixes.Plan, o Outcome) error {
	num := p.Numbers()
	var b strings.Builder
	b.WriteString("\nWhat was done:\n")
	for i, so := range o.Steps {
		var what string
		switch so.State {
		case StateDone:
			what = "done"
			if so.Step.Relogin {
				what = "applied; takes effect only after logging out and in again (or a reboot)"
			}
		case StateAlready:
			what = "already done, nothing changed"
		case StateFailed:
			what = "FAILED: " + so.Err.Error()
		case StateNotRun:
			what = "not done (an earlier step failed)"
		case StateManual:
			what = "not done: by hand"
			if so.Step.Relogin {
				what = "not done: log out and in again (or reboot) yourself"
			}
		case StateOptional:
			what = "not done: optional (apply it yourself from `rootless-doctor fix`)"
		case StateAccount:
			what = "not done: it runs as " + so.Step.As + " (run rootless-doctor fix --apply as " + so.Step.As + ")"
		}
		fmt.Fprintf(&b, "  %s. %s: %s\n", num[i], strings.TrimSuffix(so.Step.Title, "."), what)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
