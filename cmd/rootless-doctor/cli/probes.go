package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

// ProbesOptions are what probes needs.
type ProbesOptions struct {
	IO      *IOStreams
	Factory *Factory
}

// NewCmdProbes builds `probes`: the list of probe ids. runF replaces the logic in tests.
func NewCmdProbes(f *Factory, runF func(context.Context, *ProbesOptions) error) *cobra.Command {
	opts := &ProbesOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "probes",
		Short: "List every probe and live-proof step id, in report order",
		Long: `List every id a report holds, in report order: the static probes, then the steps of the
live proof (runtime.*). The same ids, and their groups (the part before the dot: "idmap",
"runtime"), are what explain, --only, --skip and --ignore take.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return probesRun(opts)
		},
	}
}

func probesRun(opts *ProbesOptions) error {
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	for _, e := range vocabulary(opts.Factory) {
		fmt.Fprintf(tw, "%s\t%s\n", e.ID, e.Title)
	}
	return tw.Flush()
}

// ExplainOptions are the argument of explain.
type ExplainOptions struct {
	IO      *IOStreams
	Factory *Factory

	ID string
}

// NewCmdExplain builds `explain ID`. runF replaces the logic in tests.
func NewCmdExplain(f *Factory, runF func(context.Context, *ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "explain ID|GROUP",
		Short: "Explain a probe, a live-proof step or a group: what it reads, why it matters, how it is fixed",
		Long: `Explain one id of "rootless-doctor probes": for a static probe, why it matters, what it
reads, when it fails or warns and the ids of the fix steps it may ask for (the ids of the
"fixes" field of JSON and of "fix -o json"); for a step of the live proof (runtime.*), what
it proves and the static probes that explain its failures. A group (idmap, runtime, …)
lists its ids with their titles.`,
		Example: `  rootless-doctor explain idmap.subuid
  rootless-doctor explain runtime.port
  rootless-doctor explain idmap`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("explain takes one id: rootless-doctor explain ID|GROUP — %s; `rootless-doctor probes` lists them", describeIDs(f))
			}
			return nil
		},
		ValidArgsFunction: completeIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return explainRun(opts)
		},
	}
}

func explainRun(opts *ExplainOptions) error {
	f := opts.Factory
	id := strings.TrimSuffix(strings.TrimSpace(opts.ID), ".*")
	var members []idEntry
	for _, e := range vocabulary(f) {
		if e.ID == id {
			if e.Probe != nil {
				return explain(opts.IO.Out, *e.Probe)
			}
			return explainStep(opts.IO.Out, *e.Step)
		}
		if g, _, _ := strings.Cut(e.ID, "."); g == id {
			members = append(members, e)
		}
	}
	if len(members) == 0 {
		return unknownID(f, opts.ID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s: %d ids (rootless-doctor explain ID for one)\n\n", id, checks.GroupTitle(id), len(members))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, e := range members {
		fmt.Fprintf(tw, "  %s\t%s\n", e.ID, e.Title)
	}
	_ = tw.Flush()
	_, err := io.WriteString(opts.IO.Out, b.String())
	return err
}

func explain(w io.Writer, p checks.Probe) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\n\n", p.ID, p.Title)
	fmt.Fprintf(&b, "Why it matters:\n  %s\n\n", wrap(p.Why, 76, "  "))
	b.WriteString("What it reads:\n")
	for _, r := range p.Reads {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if p.Fails != "" {
		fmt.Fprintf(&b, "\nFails or warns when:\n  %s\n", wrap(p.Fails, 76, "  "))
	}
	if len(p.Fixes) > 0 {
		b.WriteString("\nFix steps it may ask for (ids as in JSON \"fixes\"; see `rootless-doctor fix`):\n")
		var seen []string
		for _, k := range p.Fixes {
			if id := fixes.IDPattern(k); !contains(seen, id) {
				seen = append(seen, id)
				fmt.Fprintf(&b, "  - %s\n", id)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// explainStep explains a step of the live proof.
func explainStep(w io.Writer, s proof.StepInfo) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\n\n", s.ID, s.Title)
	fmt.Fprintf(&b, "What it proves (run by `rootless-doctor prove`, and by `check` unless --static):\n  %s\n\n", wrap(s.Proves, 76, "  "))
	b.WriteString("A failure names the static probe that explains it, one of:\n")
	for _, p := range s.Probes {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	b.WriteString("\nThe fix steps are those of that probe (rootless-doctor explain PROBE).\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap folds text at width, indenting continuation lines.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		if i > 0 {
			if n+1+len(word) > width {
				b.WriteString("\n" + indent)
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
