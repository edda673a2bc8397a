package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
)

// NewCmdProbes builds `probes`: the list of probe ids.
func NewCmdProbes(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "probes",
		Short: "List the probes, in report order",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			for _, p := range f.Probes() {
				fmt.Fprintf(tw, "%s\t%s\n", p.ID, p.Title)
			}
			return tw.Flush()
		},
	}
}

// NewCmdExplain builds `explain ID`.
func NewCmdExplain(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "explain ID",
		Short: "Explain one probe: what it reads, why it matters, how it is fixed",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			for _, p := range f.Probes() {
				if p.ID == args[0] {
					return explain(f.IO.Out, p)
				}
			}
			return usageErr("no probe %q (see `rootless-doctor probes`)", args[0])
		},
	}
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
