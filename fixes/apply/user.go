package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// User-scope steps (Step.As) write files in the account's home. They are applied by the
// account: directly when the account runs `fix --apply`, and when root runs it for an account
// (--user), by a child process of rootless-doctor that runs with the account's credentials
// (setgroups, setresgid, setresuid before exec: syscall.Credential), reads the steps on its
// standard input and writes the applier's log and outcome back, like the sudo helper. Root
// never opens a path in the account's home (docs/security.md, "User-scope steps").

// UserCommand is the hidden subcommand root starts as the account: `rootless-doctor
// __user-apply`.
const UserCommand = "__user-apply"

// BackupDirIn is where the account's own backups go: one directory per run under
// ~/.local/state/rootless-doctor/backups (the XDG state directory).
func BackupDirIn(home string) string {
	return filepath.Join(home, ".local/state/rootless-doctor/backups")
}

// AccountSystem is the machine as the account itself: atomic writes and backups in its home.
// It runs no command: user-scope steps have none.
func AccountSystem(home string, hook func(string)) System {
	return accountSystem{&Root{BackupRoot: BackupDirIn(home), Hook: hook}}
}

type accountSystem struct{ *Root }

func (accountSystem) Run(context.Context, string) (string, error) {
	return "", errors.New("a user-scope step runs no command")
}

// ErrNotUserStep is returned (wrapped) for a plan handed to the account that holds anything
// but the account's own user-scope steps.
var ErrNotUserStep = errors.New("not a user-scope step of this account")

// CheckUserPlan checks that every step of p is a user-scope step of account that runs no
// command and writes only below home.
func CheckUserPlan(p fixes.Plan, account, home string) error {
	if err := fixes.CheckPlan(p); err != nil {
		return err
	}
	home = filepath.Clean(home)
	for _, s := range p.Steps {
		switch {
		case s.As != account:
			return fmt.Errorf("%w: step %s runs as %q, not %q", ErrNotUserStep, s.ID, s.As, account)
		case len(s.Commands) > 0 || s.Unless != "":
			return fmt.Errorf("%w: step %s runs commands", ErrNotUserStep, s.ID)
		}
		for _, f := range s.Files {
			if home == "/" || !strings.HasPrefix(f.Path, home+"/") || filepath.Clean(f.Path) != f.Path {
				return fmt.Errorf("%w: step %s writes %s, outside %s", ErrNotUserStep, s.ID, f.Path, home)
			}
		}
	}
	return nil
}

// ServeUser is the account's side of a root apply: it reads one plan from r, checks it is
// made of the account's own user-scope steps, applies it as the account, and writes the log and
// the outcome (or the refusal) to w, one JSON object a line.
func ServeUser(ctx context.Context, r io.Reader, w io.Writer, account, home string, hook func(string)) error {
	enc := json.NewEncoder(w)
	dec := json.NewDecoder(io.LimitReader(r, maxOrder))
	dec.DisallowUnknownFields()
	var p fixes.Plan
	err := dec.Decode(&p)
	if err == nil {
		err = CheckUserPlan(p, account, home)
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", fixes.ErrRefused, err)
		_ = enc.Encode(reply{Refused: err.Error()})
		return err
	}
	a := &Applier{User: AccountSystem(home, hook), Log: logLines{enc}, Hook: hook}
	return enc.Encode(outcomeReply(a.Apply(ctx, p)))
}

// AsAccount starts `rootless-doctor __user-apply` as an account, from root.
type AsAccount struct {
	// Exe is the rootless-doctor binary (it must be executable by the account).
	Exe      string
	UID, GID int
	Groups   []uint32
	// Env is the child's environment (HOME, USER, PATH).
	Env    []string
	Stderr io.Writer
}

// Apply has the account apply the user-scope steps p, copying the log to log.
func (a *AsAccount) Apply(ctx context.Context, p fixes.Plan, log io.Writer) (Outcome, error) {
	proc, err := host.StartPiped(ctx, []string{a.Exe, UserCommand}, func(cmd *exec.Cmd) {
		cmd.Env, cmd.Dir, cmd.Stderr = a.Env, "/", a.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID), Groups: a.Groups}, Pdeathsig: syscall.SIGKILL}
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("starting %s as uid %d: %w", UserCommand, a.UID, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		proc.Stdin.Close()
		_ = proc.Wait()
		return Outcome{}, err
	}
	_, werr := proc.Stdin.Write(append(b, '\n'))
	proc.Stdin.Close()
	outcome, err := readReplies(proc.Stdout, werr, p, log)
	if werr := proc.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("%s: %w", UserCommand, werr)
	}
	return outcome, err
}

// Merge puts the outcome of the user-scope steps (applied apart) into the outcome of the whole
// plan, where those steps were left (StateAccount).
func Merge(all, user Outcome) Outcome {
	by := map[string]StepOutcome{}
	for _, so := range user.Steps {
		by[so.Step.ID] = so
	}
	for i, so := range all.Steps {
		if u, ok := by[so.Step.ID]; ok && so.State == StateAccount {
			all.Steps[i] = u
		}
	}
	return all
}

// Self is the running account's name and home, from the passwd database (not $HOME).
func Self() (name, home string, err error) {
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		return "", "", err
	}
	return u.Username, u.HomeDir, nil
}
