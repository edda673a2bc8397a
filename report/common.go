package report

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// Helpers shared by the human and machine renderers (text, junit, prometheus, markdown).

// clean makes probe-supplied text safe to print anywhere: it strips terminal escape sequences
// (evidence is often command output, and a colour code or an OSC hyperlink there would restyle
// the user's terminal or, inside JUnit CDATA, make the XML invalid), drops the remaining C0
// and C1 control characters except newline and tab, and replaces invalid UTF-8 and the two
// non-characters XML forbids with U+FFFD. The result is valid UTF-8 and valid XML text.
func clean(s string) string {
	if !needsCleaning(s) {
		return s
	}
	s = ansi.Strip(strings.ToValidUTF8(s, "\uFFFD"))
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return -1
		case r == 0xFFFE || r == 0xFFFF:
			return utf8.RuneError
		}
		return r
	}, s)
}

// needsCleaning is the fast path of clean: plain printable text is returned as is.
func needsCleaning(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r <= 0x9f || r == 0xFFFE || r == 0xFFFF {
			return true
		}
	}
	return false
}

// oneLine is clean for places that hold one line (summaries, table cells, label values):
// line breaks and tabs become single spaces and the ends are trimmed.
func oneLine(s string) string {
	s = clean(s)
	if !strings.ContainsAny(s, "\n\t") {
		return strings.TrimSpace(s)
	}
	var kept []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\t", " "), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, " ")
}

// lines is clean split into lines, with trailing blank lines and trailing spaces removed.
func lines(s string) []string {
	s = strings.ReplaceAll(clean(s), "\t", "    ")
	ls := strings.Split(strings.TrimRight(s, " \n"), "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " ")
	}
	return ls
}

// Symbol is the status mark of the reports, for the CLI's live progress.
func Symbol(s finding.Status) string { return symbol(s) }

// symbol is the one-character status mark of text and markdown. Anything that is not pass,
// warn or fail counts as skip, as finding.Summarize does.
func symbol(s finding.Status) string {
	switch s {
	case finding.Pass:
		return "✓"
	case finding.Warn:
		return "!"
	case finding.Fail:
		return "✗"
	}
	return "–"
}

// statusName is the status word; unknown statuses read as skip (see symbol).
func statusName(s finding.Status) finding.Status {
	if s.Valid() {
		return s
	}
	return finding.Skip
}

// failsRun reports whether a result fails the run: its severity reaches FailOn (fail when
// unset) and it was not waived with --ignore. Skips and unknown statuses never fail a run.
// Report.OK, the JUnit failures and the Prometheus ok gauges all use this one rule.
func (r *Report) failsRun(res finding.Result) bool {
	s := res.Status
	return !res.Ignored && s.Severity() > finding.Pass.Severity() && s.Severity() >= r.failOn().Severity()
}

// failOn is FailOn as the run applies it: warn or fail.
func (r *Report) failOn() finding.Status {
	if r.FailOn == finding.Warn {
		return finding.Warn
	}
	return finding.Fail
}

// groupOf is the area of a probe id: "idmap" for "idmap.subuid".
func groupOf(id string) string {
	g, _, _ := cutDot(id)
	return g
}

// distroName is the human name of the host's distro.
func (h HostInfo) distroName() string {
	if n := oneLine(h.Distro.PrettyName); n != "" {
		return n
	}
	if n := oneLine(strings.TrimSpace(h.Distro.ID + " " + h.Distro.VersionID)); n != "" {
		return n
	}
	return "unknown distro"
}

// distroID is "ubuntu 24.04" (machine formats prefer the stable id to the pretty name).
func (h HostInfo) distroID() string {
	return oneLine(strings.TrimSpace(h.Distro.ID + " " + h.Distro.VersionID))
}

// userName is "alice (uid 1000)", or the requested name when the account was not found
// (New sets UID -1 then).
func (h HostInfo) userName() string {
	name := oneLine(h.User.Name)
	switch {
	case name == "" && h.User.UID < 0:
		return "unknown"
	case name == "":
		return fmt.Sprintf("uid %d", h.User.UID)
	case h.User.UID < 0:
		return name + " (no such account)"
	}
	return fmt.Sprintf("%s (uid %d)", name, h.User.UID)
}

// hostLine is the one-line description of the host in text and markdown.
func (h HostInfo) hostLine() string {
	kernel := oneLine(h.Kernel)
	if kernel == "" {
		kernel = "unknown"
	}
	return fmt.Sprintf("%s, kernel %s, user %s", h.distroName(), kernel, h.userName())
}

// countLine is "21 passed, 1 warning, 1 failed, 0 skipped".
func countLine(s finding.Summary) string {
	return strings.Join(countParts(s), ", ")
}

func countParts(s finding.Summary) []string {
	warnings := "warnings"
	if s.Warn == 1 {
		warnings = "warning"
	}
	parts := []string{
		fmt.Sprintf("%d passed", s.Pass),
		fmt.Sprintf("%d %s", s.Warn, warnings),
		fmt.Sprintf("%d failed", s.Fail),
		fmt.Sprintf("%d skipped", s.Skip),
	}
	if s.Ignored > 0 {
		parts = append(parts, fmt.Sprintf("%d ignored", s.Ignored))
	}
	return parts
}

// fixLines are the fix hints of a result: one "fix: …" line per distinct intent, in order.
func fixLines(res finding.Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, in := range res.Intents {
		label := "fix: "
		if in.Optional {
			label = "fix (optional): "
		}
		l := label + oneLine(fixes.Describe(in))
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// evidenceLines is "source: value" per evidence, value lines after the first indented by two.
func evidenceLines(ev finding.Evidence) []string {
	src := oneLine(ev.Source)
	vals := lines(ev.Value)
	if len(vals) == 1 && vals[0] == "" {
		vals[0] = "(empty)"
	}
	out := []string{vals[0]}
	if src != "" {
		out[0] = src + ": " + vals[0]
	}
	for _, v := range vals[1:] {
		out = append(out, "  "+v)
	}
	return out
}

// body is what -v shows under a result, as plain lines: details, evidence, the error that left
// the probe undecided, and fix hints.
func body(res finding.Result) []string {
	var out []string
	for _, d := range res.Details {
		out = append(out, lines(d)...)
	}
	for _, ev := range res.Evidence {
		out = append(out, evidenceLines(ev)...)
	}
	if res.Err != nil {
		out = append(out, lines("error: "+res.Err.Error())...)
	}
	return append(out, fixLines(res)...)
}

// nextStep is the closing advice of text and markdown, or "" when there is none. It sends
// people to `fix` only when a failure asks for a fix (issue 15: a proof step that hung, with
// nothing to fix, and root without --user, for which fix prints only manual steps, ended with
// "run rootless-doctor fix").
func (r *Report) nextStep() string {
	if !r.OK() {
		var failed []finding.Result
		for _, res := range r.Results {
			if r.failsRun(res) {
				failed = append(failed, res)
			}
		}
		for _, res := range failed {
			if res.ID == "identity.user" && r.Host.User.UID == 0 {
				return "run rootless-doctor as the account that will run containers, or as root with --user NAME"
			}
		}
		for _, res := range failed {
			if len(res.Intents) > 0 {
				return "run `rootless-doctor fix` for the exact commands"
			}
		}
		if len(failed) > 0 {
			return fmt.Sprintf("no fix step applies: `rootless-doctor explain %s` says what it checks", oneLine(failed[0].ID))
		}
	}
	for _, res := range r.Results {
		if res.Status == finding.Warn && len(res.Intents) > 0 {
			return "`rootless-doctor fix` shows how to clear the warnings"
		}
	}
	return ""
}
