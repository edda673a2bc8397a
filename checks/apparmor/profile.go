package apparmor

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// This file is a pragmatic scanner for AppArmor policy text (apparmor.d(5)), not a policy
// compiler. It answers the two questions userns.apparmor asks about the files under
// /etc/apparmor.d: which executables does each profile attach to, and does the profile grant
// `userns` (the rule AppArmor 4 requires for unprivileged user namespace creation once
// kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10+). It understands what real
// profiles use: `abi <abi/4.0>,`, `include <tunables/global>` / `#include` / `include if
// exists`, comments, quoted names and paths, `profile NAME ATTACH flags=(…) {`, unnamed
// `/path {` profiles, `@{VAR} = …` variables, nested child profiles and hats (whose rules do
// not count for the parent), and AARE globs in attachments: `*`, `**`, `?`, `[…]`, `{a,b}`.

// Include is one include directive.
type Include struct {
	// Path is what is between the brackets or quotes ("tunables/global", "local/rootlesskit").
	Path string
	// Angle is true for <path>: relative to the policy directory (/etc/apparmor.d). A quoted
	// or bare path is absolute or relative to the including file.
	Angle bool
	// IfExists is true for `include if exists`: a missing file is not an error.
	IfExists bool
	Line     int
}

// Profile is one top-level profile block.
type Profile struct {
	// Name is the profile name; for an unnamed profile (`/usr/bin/foo {`) it is the
	// attachment.
	Name string
	// Attach is the attachment pattern as written ("/usr/bin/passt{,.avx2}"), "" when the
	// profile attaches to no executable (`profile foo {`).
	Attach string
	// Flags are the words of flags=(…) ("unconfined", "attach_disconnected", "complain").
	Flags []string
	// Userns is true when the body has an allow rule for userns (`userns,`, `userns create,`,
	// `audit allow userns,`); DenyUserns when it has a deny rule (deny wins in AppArmor).
	Userns, DenyUserns bool
	// Includes are the include directives of the body (not of child profiles).
	Includes []Include
	// Files are the file rules of the body (not of child profiles).
	Files []FileRule
	// Line is where the header starts (1-based).
	Line int
}

// FileRule is one file rule (apparmor.d(5) "File rules"): `[owner] [deny] PATH PERMS,` or
// `PERMS PATH,`, optionally after the `file` keyword and audit/allow qualifiers.
type FileRule struct {
	// Path is the AARE pattern as written ("@{run}/user/@{uid}/netns/*").
	Path string
	// Perms are the access letters ("r", "rw", "ix").
	Perms string
	// Deny marks a deny rule; Owner a rule that applies only to files the process owns.
	Deny, Owner bool
	Line        int
}

// HasFlag reports whether the profile has flag f.
func (p Profile) HasFlag(f string) bool {
	for _, g := range p.Flags {
		if g == f {
			return true
		}
	}
	return false
}

// File is what Scan finds in one policy file.
type File struct {
	// ABI is the abi directive ("abi/4.0"), "" when absent.
	ABI      string
	Profiles []Profile
	// Includes are the include directives outside any profile (tunables, usually).
	Includes []Include
	// Variables are the @{NAME} assignments outside any profile, in order (see Define).
	Variables []Variable
	// Userns and DenyUserns are userns rules outside any profile: an abstraction file
	// (abstractions/pasta) holds bare rules that apply to the profile including it.
	Userns, DenyUserns bool
	// Files are file rules outside any profile (an abstraction's).
	Files []FileRule
}

// Variable is one `@{NAME} = VALUES` or `@{NAME} += VALUES` line.
type Variable struct {
	Name   string
	Values []string
	// Append is true for +=: the values add to a definition from an earlier file
	// (tunables/home.d/* add to @{HOMEDIRS} of tunables/home).
	Append bool
	Line   int
}

// Define applies the file's variable assignments, in order, to vars (which holds what the
// files included before defined).
func (f File) Define(vars map[string][]string) {
	for _, v := range f.Variables {
		if !v.Append {
			vars[v.Name] = nil
		}
		if len(vars[v.Name])+len(v.Values) <= maxAppArmorVarVals {
			vars[v.Name] = append(vars[v.Name], v.Values...)
		}
	}
}

// Limits of the scanner: policy files are a few kilobytes; these only stop hostile input.
const (
	maxAppArmorProfiles = 1000
	maxAppArmorIncludes = 1000
	maxAppArmorVarVals  = 1000
	maxAppArmorFiles    = 5000
)

// aaStmt is one statement: the words up to a terminator.
type aaStmt struct {
	words []string
	line  int
	// end is ',' (rule), '\n' (include or variable, which end at the line), '{' (block
	// header), '}' (words before a closing brace) or 0 (end of input).
	end byte
}

// aaLex splits policy text into statements and block braces. It calls emit for each
// statement and close for each closing brace of a block.
func aaLex(src string, emit func(aaStmt), closeBlock func()) {
	var (
		words   []string
		word    strings.Builder
		inWord  bool
		quoted  bool
		paren   int // depth of (…) in the current statement: commas and spaces inside do not split
		glob    int // depth of {…} inside the current word: AARE alternation
		line    = 1
		start   = 0
		lineEnd = func() bool { // statements that end at a newline
			if len(words) == 0 {
				return false
			}
			w := words[0]
			if w == "include" || w == "#include" {
				return true
			}
			// A variable or boolean assignment ends at the line; a header that starts with a
			// variable (`@{exec_path} flags=(…) {`) does not.
			if strings.HasPrefix(w, "@{") || strings.HasPrefix(w, "${") {
				for _, x := range words {
					if strings.Contains(x, "=") && !strings.HasPrefix(x, "flags") && !strings.HasPrefix(x, "xattrs") {
						return true
					}
				}
			}
			return false
		}
	)
	endWord := func() {
		if inWord {
			if len(words) == 0 {
				start = line
			}
			words = append(words, word.String())
		}
		word.Reset()
		inWord, glob = false, 0
	}
	flush := func(end byte) {
		endWord()
		if len(words) > 0 || end == '{' {
			emit(aaStmt{words: words, line: start, end: end})
		}
		words, paren = nil, 0
	}
	addRune := func(r rune) {
		if !inWord && len(words) == 0 {
			start = line
		}
		inWord = true
		word.WriteRune(r)
	}
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		next := i + size
		if quoted {
			switch r {
			case '"':
				quoted = false
			case '\\':
				if next < len(src) {
					r2, s2 := utf8.DecodeRuneInString(src[next:])
					addRune(r2)
					next += s2
				}
			case '\n':
				line++
				addRune(r)
			default:
				addRune(r)
			}
			i = next
			continue
		}
		switch {
		case r == '"':
			quoted = true
			inWord = true
			if len(words) == 0 {
				start = line
			}
		case r == '#' && !inWord:
			// "#include" is the old include syntax, not a comment.
			if strings.HasPrefix(src[i:], "#include") && (len(src) == i+8 || strings.ContainsRune(" \t<\"", rune(src[i+8]))) {
				endWord()
				addRune('#')
				i = next
				continue
			}
			for next < len(src) && src[next] != '\n' {
				next++
			}
		case r == '\n':
			endWord()
			line++
			if paren == 0 && lineEnd() {
				flush('\n')
			}
		case r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f':
			if paren > 0 && inWord {
				word.WriteRune(' ')
			} else {
				endWord()
			}
		case r == '(':
			paren++
			addRune(r)
		case r == ')':
			if paren > 0 {
				paren--
			}
			addRune(r)
		case r == ',' && paren == 0 && glob == 0:
			flush(',')
		case r == '{':
			w := word.String()
			if glob > 0 || (inWord && !strings.HasSuffix(w, ")")) {
				// Part of a word: an alternation (/usr/bin/{a,b}) or a variable (@{HOME}).
				glob++
				addRune(r)
			} else {
				flush('{')
			}
		case r == '}':
			if glob > 0 {
				glob--
				addRune(r)
			} else {
				flush('}')
				closeBlock()
			}
		default:
			addRune(r)
		}
		i = next
	}
	flush(0)
}

// Scan scans one policy file. It never fails and never panics: what it cannot read
// it skips, so a garbage file yields an empty result.
func Scan(data []byte) File {
	var f File
	type frame struct{ profile int } // index into f.Profiles, or -1 for other blocks
	var stack []frame
	vals, files := 0, 0
	emit := func(s aaStmt) {
		depth := len(stack)
		cur := -1
		if depth == 1 {
			cur = stack[0].profile
		}
		if s.end == '{' {
			p := -1
			if depth == 0 && len(f.Profiles) < maxAppArmorProfiles {
				if prof, ok := profileHeader(s.words); ok {
					prof.Line = s.line
					f.Profiles = append(f.Profiles, prof)
					p = len(f.Profiles) - 1
				}
			}
			stack = append(stack, frame{profile: p})
			return
		}
		if len(s.words) == 0 {
			return
		}
		w := s.words
		switch {
		case w[0] == "abi" && depth == 0:
			if len(w) > 1 {
				f.ABI, _ = includePath(w[1])
			}
		case w[0] == "include" || w[0] == "#include":
			inc, ok := parseInclude(w[1:], s.line)
			if !ok {
				return
			}
			switch {
			case depth == 0 && len(f.Includes) < maxAppArmorIncludes:
				f.Includes = append(f.Includes, inc)
			case cur >= 0 && len(f.Profiles[cur].Includes) < maxAppArmorIncludes:
				f.Profiles[cur].Includes = append(f.Profiles[cur].Includes, inc)
			}
		case strings.HasPrefix(w[0], "@{") && depth == 0:
			name, add, values, ok := parseVariable(w)
			if !ok {
				// Not an assignment: an abstraction's bare rule on a variable path
				// (`@{run}/user/@{uid}/netns/* r,`).
				if fr, ok := fileRule(w, s.line); ok && files < maxAppArmorFiles {
					files++
					f.Files = append(f.Files, fr)
				}
				return
			}
			if vals+len(values) > maxAppArmorVarVals {
				return
			}
			vals += len(values)
			f.Variables = append(f.Variables, Variable{Name: name, Values: values, Append: add, Line: s.line})
		default:
			if fr, ok := fileRule(w, s.line); ok && files < maxAppArmorFiles {
				files++
				switch {
				case depth == 0:
					f.Files = append(f.Files, fr)
				case cur >= 0:
					f.Profiles[cur].Files = append(f.Profiles[cur].Files, fr)
				}
				return
			}
			allow, deny := usernsRule(w)
			switch {
			case depth == 0:
				f.Userns = f.Userns || allow
				f.DenyUserns = f.DenyUserns || deny
			case cur >= 0:
				f.Profiles[cur].Userns = f.Profiles[cur].Userns || allow
				f.Profiles[cur].DenyUserns = f.Profiles[cur].DenyUserns || deny
			}
		}
	}
	closeBlock := func() {
		if len(stack) > 0 {
			stack = stack[:len(stack)-1]
		}
	}
	aaLex(string(data), emit, closeBlock)
	return f
}

// profileHeader reads `profile NAME [ATTACH] [xattrs=(…)] [flags=(…)]` or
// `ATTACH [flags=(…)]`. Other blocks (hats, conditionals, garbage) are not profiles.
func profileHeader(w []string) (Profile, bool) {
	var p Profile
	rest := w
	switch {
	case len(w) >= 2 && w[0] == "profile":
		p.Name = w[1]
		rest = w[2:]
		if len(rest) > 0 && !isHeaderOption(rest[0]) {
			p.Attach = rest[0]
			rest = rest[1:]
		} else if isAttachment(p.Name) {
			p.Attach = p.Name
		}
	case len(w) >= 1 && isAttachment(w[0]):
		p.Name, p.Attach = w[0], w[0]
		rest = w[1:]
	default:
		return p, false
	}
	if p.Name == "" {
		return p, false
	}
	// Options: flags=(a, b) — possibly written "flags = (a, b)" — or the old bare
	// "(complain)" form. xattrs=(…) is skipped.
	opts := ""
	if j := strings.Index(strings.Join(rest, ""), "flags=("); j >= 0 {
		opts = strings.Join(rest, "")[j+len("flags="):]
	} else {
		for _, r := range rest {
			if strings.HasPrefix(r, "(") {
				opts = r
				break
			}
		}
	}
	if end := strings.IndexByte(opts, ')'); strings.HasPrefix(opts, "(") && end > 0 {
		p.Flags = strings.FieldsFunc(opts[1:end], func(r rune) bool { return r == ',' || r == ' ' })
	}
	return p, true
}

func isHeaderOption(w string) bool {
	return strings.HasPrefix(w, "flags") || strings.HasPrefix(w, "xattrs") || strings.HasPrefix(w, "(") || w == "="
}

// isAttachment: an attachment is an absolute path pattern or starts with a variable.
func isAttachment(w string) bool {
	return strings.HasPrefix(w, "/") || strings.HasPrefix(w, "@{")
}

// parseInclude reads what follows `include`: `[if exists] <path>` or `"path"` or a bare path.
func parseInclude(w []string, line int) (Include, bool) {
	inc := Include{Line: line}
	if len(w) >= 2 && w[0] == "if" && w[1] == "exists" {
		inc.IfExists = true
		w = w[2:]
	}
	if len(w) == 0 {
		return inc, false
	}
	p := strings.Join(w, " ")
	inc.Path, inc.Angle = includePath(p)
	return inc, inc.Path != ""
}

// includePath strips <…>; angle reports whether it had them.
func includePath(w string) (p string, angle bool) {
	w = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(w), ","))
	if strings.HasPrefix(w, "<") && strings.HasSuffix(w, ">") && len(w) >= 2 {
		return strings.TrimSpace(w[1 : len(w)-1]), true
	}
	return w, false
}

// parseVariable reads `@{NAME} = a b`, `@{NAME}=a`, `@{NAME} += c`.
func parseVariable(w []string) (name string, add bool, values []string, ok bool) {
	first := w[0]
	end := strings.IndexByte(first, '}')
	if end < 2 {
		return "", false, nil, false
	}
	name = first[2:end]
	rest := append([]string{first[end+1:]}, w[1:]...)
	joinedOp := ""
	for len(rest) > 0 && joinedOp == "" {
		r := rest[0]
		switch {
		case r == "":
			rest = rest[1:]
		case strings.HasPrefix(r, "+="):
			joinedOp, rest[0] = "+=", r[2:]
		case strings.HasPrefix(r, "="):
			joinedOp, rest[0] = "=", r[1:]
		default:
			return "", false, nil, false
		}
	}
	if joinedOp == "" || name == "" {
		return "", false, nil, false
	}
	for _, v := range rest {
		if v != "" {
			values = append(values, v)
		}
	}
	return name, joinedOp == "+=", values, true
}

// usernsRule tells whether a rule is `[qualifiers] userns [create]`, and whether it allows or
// denies.
func usernsRule(w []string) (allow, deny bool) {
	denied := false
	for len(w) > 0 {
		switch q := w[0]; {
		case q == "audit" || q == "allow" || q == "quiet" || q == "kill" || q == "prompt" || q == "complain":
		case q == "deny":
			denied = true
		case strings.HasPrefix(q, "priority="):
		case q == "priority" && len(w) >= 3 && w[1] == "=":
			w = w[2:]
		default:
			if q != "userns" || len(w) > 2 || (len(w) == 2 && w[1] != "create") {
				return false, false
			}
			return !denied, denied
		}
		w = w[1:]
	}
	return false, false
}

// fileRule reads `[qualifiers] [owner] [file] PATH PERMS [-> TARGET]` or the same with PERMS
// before PATH. Anything else (capability, network, mount, signal, … rules) is not one.
func fileRule(w []string, line int) (FileRule, bool) {
	r := FileRule{Line: line}
	for len(w) > 0 {
		switch q := w[0]; {
		case q == "audit" || q == "allow" || q == "quiet" || q == "kill" || q == "prompt" || q == "complain" || q == "file":
		case q == "deny":
			r.Deny = true
		case q == "owner":
			r.Owner = true
		case strings.HasPrefix(q, "priority="):
		default:
			if len(w) < 2 || len(w) > 4 || len(w) > 2 && w[2] != "->" {
				return r, false
			}
			switch {
			case isFilePath(w[0]) && isFilePerms(w[1]):
				r.Path, r.Perms = w[0], w[1]
			case isFilePerms(w[0]) && isFilePath(w[1]):
				r.Path, r.Perms = w[1], w[0]
			default:
				return r, false
			}
			return r, true
		}
		w = w[1:]
	}
	return r, false
}

// isFilePath reports whether a word is a file rule's path: absolute, or starting with a
// variable.
func isFilePath(w string) bool { return strings.HasPrefix(w, "/") || strings.HasPrefix(w, "@{") }

// isFilePerms reports whether a word is a file rule's access mode.
func isFilePerms(w string) bool {
	if w == "" || len(w) > 16 {
		return false
	}
	for _, c := range w {
		if !strings.ContainsRune("rwalkmxiuUpPcCbBD", c) {
			return false
		}
	}
	return true
}

// ErrUnknownVariable is returned (wrapped) by MatchAttachment when a pattern uses a
// variable that has no definition.
var ErrUnknownVariable = errors.New("undefined AppArmor variable")

// Limits of matching: attachments are short; these only stop hostile input.
const (
	maxAttachLen      = 4096
	maxAttachExpanded = 256
	maxVarDepth       = 16
)

// MatchAttachment reports whether the attachment pattern matches the executable path,
// the way AppArmor matches the path of an executed file (after symlinks are resolved): AARE
// globs (`*` within one path component, `**` across them, `?`, `[…]`, `{a,b}`), variables
// from vars (`@{HOME}`), duplicate slashes collapsed. An error means the pattern could not be
// evaluated (undefined variable, unbalanced braces, too large) — not a match, but the caller
// may want to say so.
func MatchAttachment(pattern string, vars map[string][]string, path string) (bool, error) {
	if len(pattern) > maxAttachLen {
		return false, fmt.Errorf("attachment longer than %d bytes", maxAttachLen)
	}
	expanded, err := expandVars(pattern, vars, 0)
	if err != nil {
		return false, err
	}
	path = collapseSlashes(path)
	for _, p := range expanded {
		p = collapseSlashes(p)
		if IsLiteralAttachment(p) {
			if p == path {
				return true, nil
			}
			continue
		}
		if !utf8.ValidString(p) || !utf8.ValidString(path) {
			// Go's regexp reads invalid bytes as U+FFFD and would confuse them.
			return false, fmt.Errorf("attachment %q or path %q is not UTF-8", p, path)
		}
		re, err := aareRegexp(p)
		if err != nil {
			return false, err
		}
		if re.MatchString(path) {
			return true, nil
		}
	}
	return false, nil
}

// IsLiteralAttachment reports whether the pattern has no glob characters and no variables:
// AppArmor prefers an exact attachment over a pattern when both match.
func IsLiteralAttachment(pattern string) bool {
	return !strings.ContainsAny(pattern, "*?[]{}@\\")
}

// expandVars replaces every @{NAME} with each of its values (the cartesian product, bounded).
func expandVars(p string, vars map[string][]string, depth int) ([]string, error) {
	i := strings.Index(p, "@{")
	if i < 0 {
		return []string{p}, nil
	}
	if depth > maxVarDepth {
		return nil, errors.New("AppArmor variables nest too deeply")
	}
	end := strings.IndexByte(p[i:], '}')
	if end < 0 {
		return nil, fmt.Errorf("unterminated variable in %q", p)
	}
	name := p[i+2 : i+end]
	values, ok := vars[name]
	if !ok {
		return nil, fmt.Errorf("%w @{%s}", ErrUnknownVariable, name)
	}
	var out []string
	for _, v := range values {
		exp, err := expandVars(p[:i]+v+p[i+end+1:], vars, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, exp...)
		if len(out) > maxAttachExpanded {
			return nil, fmt.Errorf("attachment %q expands to more than %d patterns", p, maxAttachExpanded)
		}
	}
	return out, nil
}

func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

// aareRegexp translates an AARE glob (without variables) into an anchored regexp.
func aareRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	if err := aareTo(&b, p); err != nil {
		return nil, err
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("attachment %q: %w", p, err)
	}
	return re, nil
}

func aareTo(b *strings.Builder, p string) error {
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		switch r {
		case '\\':
			if i+size < len(p) {
				r2, s2 := utf8.DecodeRuneInString(p[i+size:])
				b.WriteString(regexp.QuoteMeta(string(r2)))
				size += s2
			}
		case '*':
			n := 1
			for i+n < len(p) && p[i+n] == '*' {
				n++
			}
			if n >= 2 {
				b.WriteString(".*")
			} else {
				b.WriteString("[^/]*")
			}
			size = n
		case '?':
			b.WriteString("[^/]")
		case '[':
			end := strings.IndexByte(p[i+1:], ']')
			if end < 0 {
				return fmt.Errorf("unterminated character class in %q", p)
			}
			class := p[i+1 : i+1+end]
			neg := strings.HasPrefix(class, "^")
			if neg {
				class = class[1:]
			}
			b.WriteString("[")
			if neg {
				b.WriteString("^")
			}
			for _, c := range class {
				if c == '-' {
					b.WriteRune(c)
				} else {
					b.WriteString(regexp.QuoteMeta(string(c)))
				}
			}
			b.WriteString("]")
			size = end + 2
		case '{':
			alts, n, err := splitAlternation(p[i:])
			if err != nil {
				return err
			}
			b.WriteString("(?:")
			for k, a := range alts {
				if k > 0 {
					b.WriteString("|")
				}
				if err := aareTo(b, a); err != nil {
					return err
				}
			}
			b.WriteString(")")
			size = n
		case '}':
			return fmt.Errorf("unbalanced '}' in %q", p)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
		i += size
	}
	return nil
}

// splitAlternation splits "{a,b{c,d}}rest" into ["a", "b{c,d}"] and the length consumed.
func splitAlternation(p string) ([]string, int, error) {
	depth := 0
	var alts []string
	last := 1
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return append(alts, p[last:i]), i + 1, nil
			}
		case ',':
			if depth == 1 {
				alts = append(alts, p[last:i])
				last = i + 1
			}
		}
	}
	return nil, 0, fmt.Errorf("unterminated alternation in %q", p)
}

// Loaded is one line of /sys/kernel/security/apparmor/profiles.
type Loaded struct {
	Name string
	// Mode is "enforce", "complain", "unconfined", "kill", "prompt" …
	Mode string
}

// ParseLoaded parses /sys/kernel/security/apparmor/profiles: one "NAME (MODE)" line
// per loaded profile. Lines of another shape are skipped.
func ParseLoaded(data []byte) []Loaded {
	var out []Loaded
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, " \t\r")
		i := strings.LastIndex(line, " (")
		if i <= 0 || !strings.HasSuffix(line, ")") {
			continue
		}
		out = append(out, Loaded{Name: line[:i], Mode: line[i+2 : len(line)-1]})
	}
	return out
}
