package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the program and returns its exit code.
func Main() int {
	f := NewFactory()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, f, nil)
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
	root := &cobra.Command{
		Use:   "rootless-doctor",
		Short: "Tell whether this account can run rootless containers, and what to fix",
		Long: `rootless-doctor inspects this Linux host and an account and says exactly what stops
rootless Docker, Podman, nerdctl or BuildKit from working: subordinate ids, newuidmap,
user-namespace sysctls and AppArmor, cgroup delegation, the login session, network and
storage drivers. With no command it runs "check".

Exit codes: 0 nothing failed, 1 a probe failed (or warned, with --fail-on warn),
2 usage error, bad input, or the tool itself could not run.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          checkCmd.RunE,
	}
	// The root command accepts check's flags so that `rootless-doctor -o json` works.
	root.Flags().AddFlagSet(checkCmd.Flags())
	root.AddCommand(checkCmd, NewCmdFix(f, nil), NewCmdProve(f), NewCmdSnapshot(f), NewCmdProbes(f), NewCmdExplain(f), NewCmdApplyHelper(f), NewCmdDaemon(f), NewCmdInstall(f), NewCmdUninstall(f))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErr("%v", err)
	})
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}
