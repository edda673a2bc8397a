package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Main runs the program and returns its exit code.
func Main() int {
	f := NewFactory()
	ctx, stop := notifyContext(context.Background())
	defer stop()
	return Execute(ctx, f, nil)
}

// signalError is the cause of a run's context cancelled by SIGINT or SIGTERM.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "stopped by " + unix.SignalName(e.sig) }

// ExitCode is 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports
// a process the signal killed.
func (e signalError) ExitCode() int { return 128 + int(e.sig) }

// notifyContext cancels the run's context on the first SIGINT or SIGTERM, with signalError as
// its cause, and stops catching them: every wait of the tool honours the context (reads,
// commands, probes, the bus), so the run ends at once with exit 130 or 143; should anything
// still block, a second signal takes its default action and kills the process. This is what
// the docker CLI does (cmd/docker/docker.go, notifyContext and getExitCode:
// https://github.com/docker/cli/blob/master/cmd/docker/docker.go). Before issue 10,
// signal.NotifyContext kept catching every signal while a read of a FIFO in a tree blocked the
// run, so only SIGKILL stopped it.
func notifyContext(parent context.Context) (context.Context, func()) {
	ctx, stop, _ := notifyContextAsync(parent)
	return ctx, stop
}

// notifyContextAsync is notifyContext, with the signals' handler installed in the background:
// signal.Notify's first call starts the runtime's signal-mask thread and waits for it twice,
// ~0.25 ms in which a static check's start did nothing else (issue 16). A signal that comes
// before the handler is installed (registered, closed then) takes its default action, as
// before main: the process ends, and a shell reports 130 or 143 all the same.
func notifyContextAsync(parent context.Context) (ctx context.Context, stop func(), registered <-chan struct{}) {
	ch := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancelCause(parent)
	reg := make(chan struct{})
	go func() {
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		close(reg)
		select {
		case sig := <-ch:
			signal.Stop(ch)
			s, _ := sig.(syscall.Signal)
			cancel(signalError{sig: s})
		case <-ctx.Done():
			signal.Stop(ch)
		}
	}()
	return ctx, func() {
		<-reg
		signal.Stop(ch)
		cancel(nil)
	}, reg
}

// interrupted is the error of a run whose context a signal ended (nil otherwise): commands
// return it instead of a report of probes cut short.
func interrupted(ctx context.Context) error {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		return se
	}
	return nil
}

// Execute runs the command line args (os.Args[1:] when nil) with f and returns the exit code.
func Execute(ctx context.Context, f *Factory, args []string) int {
	cmd := NewCmdRoot(f)
	if args != nil {
		cmd.SetArgs(args)
	}
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	err := cmd.ExecuteContext(ctx)
	if se := (signalError{}); errors.As(context.Cause(ctx), &se) {
		fmt.Fprintf(f.IO.ErrOut, "rootless-doctor: %v\n", se)
		return se.ExitCode()
	}
	code := codeOf(err)
	if err != nil {
		if msg := err.Error(); code != ExitFindings && msg != "" {
			fmt.Fprintf(f.IO.ErrOut, "rootless-doctor: %s\n", msg)
		}
	}
	return code
}

// NewCmdRoot builds the command tree. With no subcommand it runs check.
func NewCmdRoot(f *Factory) *cobra.Command {
	checkCmd := NewCmdCheck(f, nil)
	var showVersion bool
	root := &cobra.Command{
		Use:   "rootless-doctor",
		Short: "Tell whether this account can run rootless containers, and what to fix",
		Long: `rootless-doctor inspects this Linux host and an account and says exactly what stops
rootless Docker, Podman, nerdctl or BuildKit from working: subordinate ids, newuidmap,
user-namespace sysctls and AppArmor, cgroup delegation, the login session, network and
storage drivers. With no command it runs "check".

Exit codes: 0 nothing failed, 1 a probe failed (or warned, with --fail-on warn),
2 usage error, bad input, or the tool itself could not run; 130 or 143 stopped by
SIGINT or SIGTERM (a second one kills it at once).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return writeVersion(f.IO.Out, f.build())
			}
			return checkCmd.RunE(cmd, args)
		},
	}
	// The root command accepts check's flags so that `rootless-doctor -o json` works (their
	// completions too: cobra keys them by the flag, which both commands share).
	root.Flags().AddFlagSet(checkCmd.Flags())
	root.Flags().BoolVar(&showVersion, "version", false, "print the version, VCS revision and Go release (as the version command)")
	root.AddCommand(checkCmd, NewCmdFix(f, nil), NewCmdProve(f, nil), NewCmdSnapshot(f, nil), NewCmdProbes(f, nil),
		NewCmdExplain(f, nil), NewCmdApplyHelper(f, nil), NewCmdUserApply(f, nil), NewCmdDaemon(f, nil), NewCmdInstall(f, nil), NewCmdUninstall(f, nil),
		NewCmdVersion(f, nil))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErr("%v", err)
	})
	// cobra's own `completion bash|zsh|fish|powershell`; the scripts call the hidden
	// __complete command, which asks the flags' completion functions (completion.go).
	root.CompletionOptions.HiddenDefaultCmd = false
	registerCompletions(root, f)
	return root
}
