package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
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
		Short: "List the probes, in report order",
		Args:  cobra.NoArgs,
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
	for _, p := range opts.Factory.Probes() {
		fmt.Fprintf(tw, "%s\t%s\n", p.ID, p.Title)
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
		Use:   "explain ID",
		Short: "Explain one probe: what it reads, why it matters, how it is fixed",
		Args:  cobra.ExactArgs(1),
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
	for _, p := range opts.Factory.Probes() {
		if p.ID == opts.ID {
			return explain(opts.IO.Out, p)
		}
	}
	return usageErr("no probe %q (see `rootless-doctor probes`)", opts.ID)
}

func explain(w io.Writer, p checks.Probe) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\n\n", p.ID, p.Title)
	fmt.Fprintf(&b, "Why it matters:\n  %s\n\n", wrap(p.Why, 76, "  "))
	b.WriteString("What it reads:\n")
	for _, r := range p.Reads {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if len(p.Fixes) > 0 {
		b.WriteString("\nFixes it may ask for (see `rootless-doctor fix`):\n")
		for _, k := range p.Fixes {
			fmt.Fprintf(&b, "  - %s\n", k)
		}
	}
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
