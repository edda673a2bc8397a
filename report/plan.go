package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// putFunc writes a file only when its content differs, atomically (rename of a temporary
// file in the same directory), keeping a backup of what it replaces. The temporary and
// backup names start with a dot and end in no known suffix, so sysctl.d, modules-load.d,
// udev and apparmor_parser (which skips dot files) all ignore them. The comparison is done
// in the shell (a trailing "." keeps trailing newlines), since cmp(1) is not in every
// minimal image.
var putFunc = []string{
	"# put FILE MODE: write standard input to FILE unless FILE holds exactly that already;",
	"# a file that is replaced is kept as .NAME.rootless-doctor-backup next to it.",
	"put() {",
	"\tnew=$(cat; echo .)",
	"\told=$(cat -- \"$1\" 2>/dev/null || :; echo .)",
	"\tif [ \"$new\" != \"$old\" ]; then",
	"\t\tmkdir -p -- \"${1%/*}\"",
	"\t\tif [ -e \"$1\" ]; then cp -p -- \"$1\" \"${1%/*}/.${1##*/}.rootless-doctor-backup\"; fi",
	"\t\tprintf '%s' \"${new%.}\" >\"${1%/*}/.${1##*/}.rootless-doctor-new\"",
	"\t\tchmod \"$2\" \"${1%/*}/.${1##*/}.rootless-doctor-new\"",
	"\t\tmv -f -- \"${1%/*}/.${1##*/}.rootless-doctor-new\" \"$1\"",
	"\tfi",
	"\tchmod \"$2\" \"$1\"",
	"}",
}

// scriptBody writes the shell lines of steps (no shebang, no set): put() when needed, then
// each step with a comment header.
func scriptBody(p fixes.Plan, optional bool) []string { return scriptPart(p, optional, false) }

// scriptPart is scriptBody for the root steps (user false) or the user-scope steps (true).
func scriptPart(p fixes.Plan, optional, user bool) []string {
	num := p.Numbers()
	var lines []string
	needPut := false
	for _, s := range p.Steps {
		if s.Optional == optional && len(s.Files) > 0 && !s.Manual && (s.As != "") == user {
			needPut = true
		}
	}
	if needPut {
		lines = append(lines, putFunc...)
	}
	for i, s := range p.Steps {
		if s.Optional != optional || (s.As != "" && !s.Manual) != user {
			continue
		}
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		if s.Manual {
			lines = append(lines, fmt.Sprintf("# %s. By hand: %s", num[i], s.Title))
		} else {
			lines = append(lines, fmt.Sprintf("# %s. %s", num[i], s.Title))
		}
		if len(s.Fixes) > 0 {
			lines = append(lines, "#    fixes: "+strings.Join(s.Fixes, ", "))
		}
		for _, why := range s.Why {
			lines = append(lines, "#    why: "+why)
		}
		if s.Manual {
			continue
		}
		for _, f := range s.Files {
			lines = append(lines, fmt.Sprintf("put %s %s <<'%s'", fixes.ShellQuote(f.Path), f.Mode, fixes.FileEOF))
			lines = append(lines, strings.Split(strings.TrimSuffix(f.Content, "\n"), "\n")...)
			lines = append(lines, fixes.FileEOF)
		}
		if s.Unless != "" {
			lines = append(lines, "if ! "+s.Unless+"; then")
			for _, c := range s.Commands {
				lines = append(lines, "\t"+c)
			}
			lines = append(lines, "fi")
			continue
		}
		lines = append(lines, s.Commands...)
	}
	return lines
}

// WritePlanScript writes the plan as a shell script: one `sudo sh -eux <<'EOF' … EOF` block,
// or with asRoot the bare script (`set -eux` first). Manual steps are comments in their
// place and are listed again at the end. Optional steps follow, commented out: removing
// the leading "# " of those lines gives a script that applies them.
func WritePlanScript(w io.Writer, p fixes.Plan, asRoot bool) error {
	if err := fixes.CheckPlan(p); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("#!/bin/sh\n")
	body := scriptBody(p, false)
	num := p.Numbers()
	var manual []string
	runnable, rootRunnable := false, false
	as := ""
	for i, s := range p.Steps {
		if s.Optional {
			continue
		}
		switch {
		case s.Manual:
			manual = append(manual, fmt.Sprintf("#   %s. %s", num[i], s.Title))
		case s.As != "":
			runnable, as = true, s.As
		default:
			runnable, rootRunnable = true, true
		}
	}
	switch {
	case len(p.Required()) == 0:
		b.WriteString("# rootless-doctor: nothing to fix.\n")
	case !runnable:
		b.WriteString("# rootless-doctor: nothing for a script to do; these steps are for you:\n")
		for _, l := range manual {
			b.WriteString(l + "\n")
		}
	default:
		b.WriteString("# Fix plan from rootless-doctor. Review it, then run it: every step is idempotent,\n")
		b.WriteString("# so running it again changes nothing. Steps marked \"By hand\" are comments only.\n")
		if rootRunnable || len(body) > 0 {
			if asRoot {
				b.WriteString("set -eux\n\n")
			} else {
				b.WriteString("sudo sh -eux <<'" + fixes.ScriptEOF + "'\n")
			}
			for _, l := range body {
				b.WriteString(l + "\n")
			}
			if !asRoot {
				b.WriteString(fixes.ScriptEOF + "\n")
			}
		}
		if user := scriptPart(p, false, true); len(user) > 0 {
			// User-scope steps write the account's own files: run as the account, never by
			// root (docs/security.md, "User-scope steps").
			fmt.Fprintf(&b, "\n# As %s, not root (no sudo): these steps write %s's own files.\n", as, as)
			if asRoot {
				b.WriteString("runuser -u " + fixes.ShellQuote(as) + " -- sh -eux <<'" + fixes.ScriptEOF + "'\n")
			} else {
				b.WriteString("sh -eux <<'" + fixes.ScriptEOF + "'\n")
			}
			for _, l := range user {
				b.WriteString(l + "\n")
			}
			b.WriteString(fixes.ScriptEOF + "\n")
		}
		if len(manual) > 0 {
			b.WriteString("\n# Then, by hand:\n")
			for _, l := range manual {
				b.WriteString(l + "\n")
			}
		}
	}
	if opt := scriptBody(p, true); len(opt) > 0 {
		b.WriteString("\n# Optional steps, not applied by default. To apply them, remove the leading \"# \"\n")
		b.WriteString("# of the lines below and run them as well.\n")
		var block []string
		if !asRoot {
			block = append(block, "sudo sh -eux <<'"+fixes.ScriptEOF+"'")
		}
		block = append(block, opt...)
		if !asRoot {
			block = append(block, fixes.ScriptEOF)
		}
		for _, l := range block {
			if l == "" {
				b.WriteString("#\n")
			} else {
				b.WriteString("# " + l + "\n")
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WritePlanText writes the plan as numbered steps for a person to read.
func WritePlanText(w io.Writer, p fixes.Plan) error {
	if err := fixes.CheckPlan(p); err != nil {
		return err
	}
	var b bytes.Buffer
	if p.Empty() {
		b.WriteString("Nothing to fix.\n")
		_, err := w.Write(b.Bytes())
		return err
	}
	num := p.Numbers()
	req := p.Required()
	switch len(req) {
	case 0:
		b.WriteString("Nothing needs to be fixed. Optional steps follow.\n")
	case 1:
		b.WriteString("Fix plan: 1 step.\n")
	default:
		fmt.Fprintf(&b, "Fix plan: %d steps, in this order. Commands run as root, except in steps that say otherwise.\n", len(req))
	}
	header := false
	for i, s := range p.Steps {
		if s.Optional && !header {
			header = true
			b.WriteString("\nOptional steps (not applied by default):\n")
		}
		b.WriteString("\n")
		if s.Manual {
			fmt.Fprintf(&b, "%s. By hand: %s\n", num[i], s.Title)
		} else {
			fmt.Fprintf(&b, "%s. %s\n", num[i], s.Title)
		}
		ind := strings.Repeat(" ", len(num[i])+2)
		if s.As != "" && !s.Manual {
			fmt.Fprintf(&b, "%sRuns as %s, not root: it writes %s's own files.\n", ind, s.As, s.As)
		}
		if len(s.Fixes) > 0 {
			fmt.Fprintf(&b, "%sFixes: %s\n", ind, strings.Join(s.Fixes, ", "))
		}
		for _, why := range s.Why {
			fmt.Fprintf(&b, "%sWhy: %s\n", ind, why)
		}
		for _, f := range s.Files {
			fmt.Fprintf(&b, "%sWrite %s (mode %s):\n", ind, f.Path, f.Mode)
			for _, line := range strings.Split(strings.TrimSuffix(f.Content, "\n"), "\n") {
				b.WriteString(strings.TrimRight(ind+"    "+line, " ") + "\n")
			}
		}
		if len(s.Commands) > 0 {
			if s.Unless != "" {
				fmt.Fprintf(&b, "%sRun, unless `%s` succeeds (already done):\n", ind, s.Unless)
			} else {
				fmt.Fprintf(&b, "%sRun:\n", ind)
			}
			for _, c := range s.Commands {
				fmt.Fprintf(&b, "%s    %s\n", ind, c)
			}
		}
		if s.Relogin && !s.Manual {
			fmt.Fprintf(&b, "%sTakes effect after logging out and in again.\n", ind)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WritePlanJSON writes the plan as indented JSON, byte-stable for the same plan.
func WritePlanJSON(w io.Writer, p fixes.Plan) error {
	if p.Steps == nil {
		p.Steps = []fixes.Step{}
	}
	return writeIndented(w, p)
}

// planEnvelope is `fix -o json`: the plan's steps in the envelope of check's JSON report
// (schema, tool, host), so one consumer reads both (issue 15: it was {"steps": …} alone;
// "steps" stays where it was).
type planEnvelope struct {
	Schema string       `json:"schema"`
	Tool   Tool         `json:"tool"`
	Host   HostInfo     `json:"host"`
	Steps  []fixes.Step `json:"steps"`
	Notes  []string     `json:"notes,omitempty"`
}

// WritePlanReport writes r's plan (an empty one when nil) with r's schema, tool and host, as
// indented JSON, byte-stable.
func WritePlanReport(w io.Writer, r *Report) error {
	env := planEnvelope{Schema: Schema, Tool: r.Tool, Host: r.Host, Steps: []fixes.Step{}, Notes: r.Notes}
	if env.Tool.Name == "" {
		env.Tool.Name = "rootless-doctor"
	}
	if r.Plan != nil && r.Plan.Steps != nil {
		env.Steps = r.Plan.Steps
	}
	return writeIndented(w, env)
}

func writeIndented(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
