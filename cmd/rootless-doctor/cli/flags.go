package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// oneOf returns the entry of want that v names, compared without regard to case (`-o JSON`
// is `-o json`), or a usage error that lists want.
func oneOf(flag, v string, want []string) (string, error) {
	for _, w := range want {
		if strings.EqualFold(strings.TrimSpace(v), w) {
			return w, nil
		}
	}
	return "", usageErr("%s %q: want one of %s", flag, v, strings.Join(want, ", "))
}

// registerValues completes the values of a flag that takes one of a fixed list.
func registerValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}
