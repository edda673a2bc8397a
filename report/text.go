package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// The text styles use the 4-bit theme colours: they follow the user's terminal theme, so no
// background detection is needed (lipgloss v2 leaves that to the caller). They always emit escape sequences; the
// colorprofile.Writer in renderText downsamples or strips them for the actual output.
var (
	styleHeading = lipgloss.NewStyle().Bold(true)
	styleFaint   = lipgloss.NewStyle().Faint(true)
	styleFix     = lipgloss.NewStyle().Foreground(lipgloss.Cyan)
	styleStatus  = map[finding.Status]lipgloss.Style{
		finding.Pass: lipgloss.NewStyle().Foreground(lipgloss.Green),
		finding.Warn: lipgloss.NewStyle().Foreground(lipgloss.Yellow),
		finding.Fail: lipgloss.NewStyle().Foreground(lipgloss.Red),
		finding.Skip: styleFaint,
	}
)

const (
	textIndent   = "  "     // results under their group heading
	detailIndent = "      " // -v lines under a result
)

// renderText is the human report: a host line, results grouped by area with one line each
// (status symbol, id padded to a common width, summary), under -v the details, evidence and
// fix hints of each result, then the run's notes, the counts and what to do next.
//
// Everything a probe supplied goes through clean/oneLine first, so a probe's text can never
// carry its own escape sequences to the terminal; the only styling is ours, and the
// colorprofile.Writer strips it for NoTTY (pipes, golden files) and drops colour for ASCII
// (NO_COLOR). The layout has no terminal-width dependence, so output is byte-stable.
func renderText(w io.Writer, r *Report, opt Options) error {
	r = withoutUnselected(r)
	var b strings.Builder
	line := func(parts ...string) {
		b.WriteString(strings.TrimRight(strings.Join(parts, ""), " "))
		b.WriteByte('\n')
	}

	line(styleFaint.Render("rootless-doctor on " + r.Host.hostLine()))
	line()

	width := 0
	for _, res := range r.Results {
		width = max(width, ansi.StringWidth(oneLine(res.ID)))
	}
	timing := func(res finding.Result) string {
		if !opt.Timings || statusName(res.Status) == finding.Skip {
			return ""
		}
		return fmt.Sprintf("%9s  ", DurationText(res.Duration))
	}
	for _, g := range r.Grouped() {
		title := oneLine(g.Title)
		if title == "" {
			title = "Other"
		}
		line(styleHeading.Render(title))
		for _, res := range g.Results {
			st := statusName(res.Status)
			id, summary := oneLine(res.ID), oneLine(res.Summary)
			pad := ""
			if summary != "" {
				pad = strings.Repeat(" ", width-ansi.StringWidth(id)+2)
			}
			if res.Ignored {
				summary += " [ignored]"
			}
			took := timing(res)
			if opt.Timings && took == "" && summary != "" {
				took = strings.Repeat(" ", 11)
			}
			if st == finding.Skip {
				id, summary = styleFaint.Render(id), styleFaint.Render(summary)
			}
			if took != "" {
				took = styleFaint.Render(took)
			}
			line(textIndent, styleStatus[st].Render(symbol(st)), " ", id, pad, took, summary)
			if opt.Verbose {
				writeTextBody(line, res)
			}
		}
	}

	if len(r.Notes) > 0 || len(r.Results) > 0 {
		line()
	}
	for _, n := range r.Notes {
		line(styleFaint.Render(oneLine(n)))
	}
	line(countsText(r.Summary))
	if next := r.nextStep(); next != "" {
		if !r.OK() && !opt.Verbose {
			next += " (add -v for details and evidence)"
		}
		line(styleHeading.Render(next))
	}

	cw := &colorprofile.Writer{Forward: w, Profile: opt.Profile}
	_, err := io.WriteString(cw, b.String())
	return err
}

// writeTextBody writes the -v lines of one result.
func writeTextBody(line func(...string), res finding.Result) {
	for _, d := range res.Details {
		for _, l := range lines(d) {
			line(detailIndent, l)
		}
	}
	for _, ev := range res.Evidence {
		for _, l := range evidenceLines(ev) {
			line(detailIndent, styleFaint.Render(l))
		}
	}
	if res.Err != nil {
		for _, l := range lines("error: " + res.Err.Error()) {
			line(detailIndent, styleFaint.Render(l))
		}
	}
	for _, l := range fixLines(res) {
		label, rest, _ := strings.Cut(l, ": ")
		line(detailIndent, styleFix.Render(label+":"), " ", rest)
	}
}

// DurationText is "12.3 ms" below a second, "1.2 s" above: prove's text report and the
// CLI's live progress.
func DurationText(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// countsText is the closing count line, each count in its status colour when it is not zero.
func countsText(s finding.Summary) string {
	parts := countParts(s)
	for i, st := range []finding.Status{finding.Pass, finding.Warn, finding.Fail, finding.Skip} {
		if n := []int{s.Pass, s.Warn, s.Fail, s.Skip}[i]; n > 0 {
			parts[i] = styleStatus[st].Render(parts[i])
		}
	}
	return strings.Join(parts, ", ")
}

// withoutUnselected drops the probes --only/--skip left out, with one note saying how many:
// twenty "not selected" lines would bury the two a person asked for.
func withoutUnselected(r *Report) *Report {
	var shown []finding.Result
	for _, res := range r.Results {
		if !res.Unselected {
			shown = append(shown, res)
		}
	}
	if len(shown) == len(r.Results) {
		return r
	}
	c := *r
	c.Results = shown
	c.Notes = append(append([]string(nil), r.Notes...),
		fmt.Sprintf("%d probes not selected by --only/--skip are not shown", len(r.Results)-len(shown)))
	return &c
}
