package report

import (
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// renderMarkdown writes GitHub-flavoured markdown for a pull-request or CI job comment: a
// heading that says ok or failed, the host, one table row per probe (status, id, summary),
// a collapsed <details> section per non-passing result (every result with something to show
// under -v) holding its details, evidence and fixes, then the notes, the counts and what to do
// next.
//
// Probe text is escaped for where it lands: table cells and prose escape markdown's inline
// syntax, `|` and HTML (`<`, `>`, `&` as entities, so a summary cannot open a tag), and
// newlines never break a row; evidence goes into a fenced code block whose fence is longer
// than any backtick run inside it.
func renderMarkdown(w io.Writer, r *Report, opt Options) error {
	var b strings.Builder
	verdict := "ok"
	if !r.OK() {
		verdict = "failed"
	}
	fmt.Fprintf(&b, "### rootless-doctor: %s\n\n", verdict)
	fmt.Fprintf(&b, "%s\n\n", mdEscape(r.Host.hostLine()))

	var shown []finding.Result
	if len(r.Results) > 0 {
		b.WriteString("| | Probe | Summary |\n| --- | --- | --- |\n")
		for _, g := range r.Grouped() {
			for _, res := range g.Results {
				st := statusName(res.Status)
				fmt.Fprintf(&b, "| %s %s | %s | %s |\n", symbol(st), st, mdEscape(oneLine(res.ID)), mdEscape(oneLine(res.Summary)))
				if (st != finding.Pass || opt.Verbose) && len(body(res)) > 0 {
					shown = append(shown, res)
				}
			}
		}
		b.WriteString("\n")
	}

	for _, res := range shown {
		writeMarkdownDetails(&b, res)
	}

	for _, n := range r.Notes {
		fmt.Fprintf(&b, "> %s\n\n", mdEscape(oneLine(n)))
	}
	fmt.Fprintf(&b, "**%s**\n", countLine(r.Summary))
	if next := r.nextStep(); next != "" {
		// nextStep is our own text; its backticks are meant as code.
		fmt.Fprintf(&b, "\n%s%s.\n", strings.ToUpper(next[:1]), next[1:])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdownDetails writes one collapsed section. The blank line after <summary> ends the
// HTML block, so the markdown inside renders (GitHub and CommonMark).
func writeMarkdownDetails(b *strings.Builder, res finding.Result) {
	st := statusName(res.Status)
	// The <details> line is an HTML block: markdown escapes would show there, HTML ones only.
	fmt.Fprintf(b, "<details><summary>%s %s: %s</summary>\n\n", symbol(st), html.EscapeString(oneLine(res.ID)), html.EscapeString(oneLine(res.Summary)))
	for _, d := range res.Details {
		fmt.Fprintf(b, "%s\n\n", strings.Join(mdEscapeLines(lines(d)), "<br>\n"))
	}
	if res.Err != nil {
		fmt.Fprintf(b, "Error: %s\n\n", mdEscape(oneLine(res.Err.Error())))
	}
	if len(res.Evidence) > 0 {
		var ev []string
		for _, e := range res.Evidence {
			ev = append(ev, evidenceLines(e)...)
		}
		text := strings.Join(ev, "\n")
		fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
		fmt.Fprintf(b, "%stext\n%s\n%s\n\n", fence, text, fence)
	}
	for _, f := range fixLines(res) {
		label, rest, _ := strings.Cut(f, ": ")
		fmt.Fprintf(b, "- **%s:** %s\n", label, mdEscape(rest))
	}
	if len(res.Intents) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("</details>\n\n")
}

// mdReplacer escapes one line of text for a GFM table cell or paragraph: backslash first,
// the inline syntax (emphasis, code, links, strike-through), the table pipe, and HTML.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`,
	"`", "\\`",
	`*`, `\*`,
	`_`, `\_`,
	`[`, `\[`,
	`]`, `\]`,
	`~`, `\~`,
	`|`, `\|`,
	`<`, "&lt;",
	`>`, "&gt;",
	`&`, "&amp;",
)

// mdEscape escapes one line; a line break (there should be none after oneLine) becomes <br>.
func mdEscape(s string) string {
	return strings.Join(mdEscapeLines(strings.Split(s, "\n")), "<br>")
}

// mdEscapeLines escapes each line, and also a leading `#`, `-`, `+`, `>` or "1." that would
// otherwise start a heading, list or quote when the line begins a paragraph.
func mdEscapeLines(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		l = mdReplacer.Replace(strings.TrimLeft(l, " "))
		if l != "" && strings.ContainsRune("#-+=", rune(l[0])) {
			l = `\` + l
		} else if j := strings.IndexFunc(l, func(r rune) bool { return r < '0' || r > '9' }); j > 0 && (l[j] == '.' || l[j] == ')') {
			l = l[:j] + `\` + l[j:]
		}
		out[i] = l
	}
	return out
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			longest = max(longest, n)
		} else {
			n = 0
		}
	}
	return longest
}
