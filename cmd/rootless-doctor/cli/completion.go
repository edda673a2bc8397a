package cli

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/report"
)

// Shell completion: cobra's `completion bash|zsh|fish|powershell` scripts call the hidden
// __complete command, which asks the functions registered here. They run only then: nothing
// here costs a normal start anything.

// completeIDs completes probe and step ids and their groups (`group`, `group.*`). With list
// set the flag takes a comma-separated list: the words before the last comma are kept.
func completeIDs(f *Factory, list bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !list && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix := ""
		if list {
			if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
				prefix, toComplete = toComplete[:i+1], toComplete[i+1:]
			}
		}
		var out []cobra.Completion
		add := func(word, desc string) {
			if strings.HasPrefix(word, toComplete) {
				out = append(out, cobra.CompletionWithDesc(prefix+word, desc))
			}
		}
		for _, g := range groups(f) {
			add(g, "group: "+checks.GroupTitle(g))
		}
		for _, e := range vocabulary(f) {
			add(e.ID, e.Title)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeUsers completes account names for --user from the passwd database of the host the
// command looks at (this machine, or the recorded host of --root), through the Host: ordinary
// accounts, the ones rootless mode is for (uid 1000 and up, not nobody).
func completeUsers(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		root := ""
		if fl := cmd.Flags().Lookup("root"); fl != nil {
			// cobra parses the line twice before completing, and a slice flag appends: the
			// one --root given reads as two equal values.
			if roots, err := cmd.Flags().GetStringSlice("root"); err == nil {
				if roots = slices.Compact(roots); len(roots) == 1 {
					root = roots[0]
				}
			} else {
				root = fl.Value.String()
			}
		}
		h, err := f.Host(root)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		data, err := h.ReadFile("/etc/passwd")
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		users, err := user.ParsePasswdFilter(bytes.NewReader(data), func(u user.User) bool {
			return u.Uid >= 1000 && u.Uid != 65534 && strings.HasPrefix(u.Name, toComplete)
		})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, u := range users {
			out = append(out, cobra.CompletionWithDesc(u.Name, "uid "+strconv.Itoa(u.Uid)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// engineNames are the values of --engine: the engines rootless-doctor knows
// (docs/engines.md), with dockerd's client name as an alias.
var engineNames = []string{"dockerd", "docker", "podman", "nerdctl", "buildkit"}

// registerCompletions gives every command of the tree the completions of the flags it has:
// ids for --only, --skip and --ignore, accounts for --user, the fixed values of --output,
// --net, --fail-on and --engine. It goes by flag name, so a flag another change adds (e.g.
// --engine) is completed as soon as it exists; a flag that registered its own is left alone.
func registerCompletions(root *cobra.Command, f *Factory) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for name, fn := range map[string]cobra.CompletionFunc{
			"only":   completeIDs(f, true),
			"skip":   completeIDs(f, true),
			"ignore": completeIDs(f, true),
			"user":   completeUsers(f),
			"engine": cobra.FixedCompletions(engineNames, cobra.ShellCompDirectiveNoFileComp),
			"fail-on": cobra.FixedCompletions([]string{"fail", "warn"},
				cobra.ShellCompDirectiveNoFileComp),
			"report": completeReport,
		} {
			if c.Flags().Lookup(name) == nil {
				continue
			}
			if _, ok := c.GetFlagCompletionFunc(name); !ok {
				_ = c.RegisterFlagCompletionFunc(name, fn)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeReport completes the FORMAT= part of --report FORMAT=FILE, then files.
func completeReport(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var out []cobra.Completion
	for _, f := range report.Formats() {
		out = append(out, f+"=")
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}
