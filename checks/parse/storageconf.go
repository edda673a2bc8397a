package parse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ContainersStorageConf is what the doctor needs from a containers-storage.conf(5) file
// (podman, buildah, CRI-O): /etc/containers/storage.conf, /usr/share/containers/storage.conf,
// or the account's $XDG_CONFIG_HOME/containers/storage.conf.
type ContainersStorageConf struct {
	// Driver is [storage] driver ("overlay", "vfs", "btrfs", …).
	Driver string
	// GraphRoot is [storage] graphroot. In the account's own file it is the rootless data
	// root; in the system file it is root's, and rootless users get RootlessStoragePath.
	GraphRoot string
	// RootlessStoragePath is [storage] rootless_storage_path (may hold $HOME, $UID, $USER).
	RootlessStoragePath string
	// MountProgram is [storage.options.overlay] mount_program (or the older
	// [storage.options] mount_program): fuse-overlayfs when set.
	MountProgram string
	// MountOpt is [storage.options.overlay] mountopt (or the older [storage.options]
	// mountopt): extra options of every overlay mount ("nodev,metacopy=on").
	MountOpt string
}

// storageConfKeys maps the dotted keys the doctor reads to their fields. Where two keys set
// the same field, the [storage.options.overlay] one is listed last: containers/storage reads
// the older [storage.options] key first and the overlay table's over it.
var storageConfKeys = []struct {
	key   string
	field func(*ContainersStorageConf) *string
}{
	{"storage.driver", func(c *ContainersStorageConf) *string { return &c.Driver }},
	{"storage.graphroot", func(c *ContainersStorageConf) *string { return &c.GraphRoot }},
	{"storage.rootless_storage_path", func(c *ContainersStorageConf) *string { return &c.RootlessStoragePath }},
	{"storage.options.mount_program", func(c *ContainersStorageConf) *string { return &c.MountProgram }},
	{"storage.options.overlay.mount_program", func(c *ContainersStorageConf) *string { return &c.MountProgram }},
	{"storage.options.mountopt", func(c *ContainersStorageConf) *string { return &c.MountOpt }},
	{"storage.options.overlay.mountopt", func(c *ContainersStorageConf) *string { return &c.MountOpt }},
}

// StorageConfKeys are the dotted keys ParseContainersStorageConf reads, for ParseTOMLStrings.
func StorageConfKeys() []string {
	out := make([]string, len(storageConfKeys))
	for i, k := range storageConfKeys {
		out[i] = k.key
	}
	return out
}

// StorageConfFrom builds the configuration from the values ParseTOMLStrings found for
// StorageConfKeys (one file's, or the merge of several: a key a later file sets replaces the
// earlier value, containers-config(5)).
func StorageConfFrom(vals map[string]string) ContainersStorageConf {
	var c ContainersStorageConf
	for _, k := range storageConfKeys {
		if v, ok := vals[k.key]; ok {
			*k.field(&c) = v
		}
	}
	return c
}

// ParseContainersStorageConf reads the few storage.conf keys the doctor needs with
// ParseTOMLStrings. What was read before an error is returned with it.
func ParseContainersStorageConf(data []byte) (ContainersStorageConf, error) {
	vals, err := ParseTOMLStrings(data, StorageConfKeys())
	return StorageConfFrom(vals), err
}

// ContainersConfEngine is what the doctor needs from containers.conf(5): the [engine] table.
type ContainersConfEngine struct {
	// ImageCopyTmpDir is [engine] image_copy_tmp_dir: where pulls stage blobs ("storage"
	// for below the graphroot, a path, or unset for $TMPDIR, then /var/tmp).
	ImageCopyTmpDir string
}

// ContainersConfKeys are the containers.conf keys the doctor reads.
var ContainersConfKeys = []string{"engine.image_copy_tmp_dir"}

// ParseContainersConfEngine reads [engine] image_copy_tmp_dir from one containers.conf file.
func ParseContainersConfEngine(data []byte) (ContainersConfEngine, error) {
	vals, err := ParseTOMLStrings(data, ContainersConfKeys)
	return ContainersConfEngine{ImageCopyTmpDir: vals["engine.image_copy_tmp_dir"]}, err
}

// ParseTOMLStrings returns the string values of the dotted keys (lower case, "storage.driver")
// that data sets. It is a small TOML scanner, not a full decoder: it understands tables,
// dotted and quoted keys, the four string forms, arrays and inline tables (so that a value
// spanning lines does not confuse it), comments and bare scalars, and returns the first syntax
// error with its line. Keys are matched case-insensitively, as BurntSushi/toml (which
// containers/storage and containers/common decode with) matches struct fields. Input that is
// not UTF-8, and a key asked for that is not a string, are errors: the engines reject them
// too. What was read before an error is returned with it.
func ParseTOMLStrings(data []byte, keys []string) (map[string]string, error) {
	vals := map[string]string{}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	s := &tomlScanner{s: string(data)}
	if !utf8.Valid(data) {
		// TOML is UTF-8; BurntSushi/toml rejects anything else, and so do the engines.
		for s.pos < len(s.s) {
			r, size := utf8.DecodeRuneInString(s.s[s.pos:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			s.pos += size
		}
		return vals, s.errorf("invalid UTF-8")
	}
	var table []string
	for {
		s.skipBlankLines()
		if s.eof() {
			return vals, nil
		}
		if s.peek() == '[' {
			t, err := s.header()
			if err != nil {
				return vals, s.errorf("%v", err)
			}
			table = t
			continue
		}
		key, err := s.keyPath('=')
		if err != nil {
			return vals, s.errorf("%v", err)
		}
		s.pos++ // '='
		s.skipSpaces()
		v, isString, err := s.value(0)
		if err != nil {
			return vals, s.errorf("%v", err)
		}
		if err := s.endOfLine(); err != nil {
			return vals, s.errorf("%v", err)
		}
		full := strings.ToLower(strings.Join(append(append([]string{}, table...), key...), "."))
		if want[full] {
			if !isString {
				return vals, s.errorf("%s must be a string", full)
			}
			vals[full] = v
		}
	}
}

// maxTOMLDepth bounds nested arrays and inline tables: hostile input must not exhaust the
// stack (a Go stack overflow cannot be recovered).
const maxTOMLDepth = 64

type tomlScanner struct {
	s   string
	pos int
}

func (t *tomlScanner) eof() bool  { return t.pos >= len(t.s) }
func (t *tomlScanner) peek() byte { return t.s[t.pos] }

func (t *tomlScanner) errorf(format string, args ...any) error {
	line := 1 + strings.Count(t.s[:min(t.pos, len(t.s))], "\n")
	return fmt.Errorf("parsing TOML: line %d: %s", line, fmt.Sprintf(format, args...))
}

func (t *tomlScanner) skipSpaces() {
	for !t.eof() && (t.peek() == ' ' || t.peek() == '\t') {
		t.pos++
	}
}

func (t *tomlScanner) skipComment() {
	if !t.eof() && t.peek() == '#' {
		for !t.eof() && t.peek() != '\n' {
			t.pos++
		}
	}
}

// skipBlankLines skips whitespace, newlines and comments.
func (t *tomlScanner) skipBlankLines() {
	for {
		t.skipSpaces()
		t.skipComment()
		if t.eof() || (t.peek() != '\n' && t.peek() != '\r') {
			return
		}
		t.pos++
	}
}

// endOfLine accepts trailing spaces and a comment up to the newline or the end.
func (t *tomlScanner) endOfLine() error {
	t.skipSpaces()
	t.skipComment()
	switch {
	case t.eof():
		return nil
	case t.peek() == '\n':
		t.pos++
		return nil
	case strings.HasPrefix(t.s[t.pos:], "\r\n"):
		t.pos += 2
		return nil
	}
	return fmt.Errorf("unexpected %q after the value", t.peek())
}

// header reads [a.b] or [[a.b]] and the end of its line.
func (t *tomlScanner) header() ([]string, error) {
	t.pos++ // '['
	array := !t.eof() && t.peek() == '['
	if array {
		t.pos++
	}
	key, err := t.keyPath(']')
	if err != nil {
		return nil, err
	}
	t.pos++ // ']'
	if array {
		if t.eof() || t.peek() != ']' {
			return nil, errors.New("array table header must end with ]]")
		}
		t.pos++
	}
	return key, t.endOfLine()
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyPath reads a dotted key up to term ('=' or ']'), leaving pos at term.
func (t *tomlScanner) keyPath(term byte) ([]string, error) {
	var parts []string
	for {
		t.skipSpaces()
		if t.eof() {
			return nil, errors.New("unexpected end of file in a key")
		}
		var part string
		switch c := t.peek(); {
		case c == '"':
			s, err := t.basicString()
			if err != nil {
				return nil, err
			}
			part = s
		case c == '\'':
			s, err := t.literalString()
			if err != nil {
				return nil, err
			}
			part = s
		case isBareKeyChar(c):
			start := t.pos
			for !t.eof() && isBareKeyChar(t.peek()) {
				t.pos++
			}
			part = t.s[start:t.pos]
		default:
			return nil, fmt.Errorf("expected a key, found %q", c)
		}
		parts = append(parts, part)
		t.skipSpaces()
		if t.eof() {
			return nil, errors.New("unexpected end of file after a key")
		}
		switch t.peek() {
		case '.':
			t.pos++
		case term:
			return parts, nil
		default:
			return nil, fmt.Errorf("expected %q after the key %q, found %q", term, strings.Join(parts, "."), t.peek())
		}
	}
}

// value reads any TOML value. Strings are returned decoded with isString set; other values
// are skipped over.
func (t *tomlScanner) value(depth int) (s string, isString bool, err error) {
	if depth > maxTOMLDepth {
		return "", false, errors.New("values nested too deeply")
	}
	if t.eof() {
		return "", false, errors.New("missing value")
	}
	rest := t.s[t.pos:]
	switch {
	case strings.HasPrefix(rest, `"""`):
		s, err = t.multiline(`"""`, true)
		return s, err == nil, err
	case strings.HasPrefix(rest, `'''`):
		s, err = t.multiline(`'''`, false)
		return s, err == nil, err
	case rest[0] == '"':
		s, err = t.basicString()
		return s, err == nil, err
	case rest[0] == '\'':
		s, err = t.literalString()
		return s, err == nil, err
	case rest[0] == '[':
		return "", false, t.array(depth)
	case rest[0] == '{':
		return "", false, t.inlineTable(depth)
	}
	start := t.pos
	for !t.eof() {
		c := t.peek()
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' || c == '#' {
			break
		}
		t.pos++
	}
	if t.pos == start {
		return "", false, fmt.Errorf("expected a value, found %q", t.peek())
	}
	return "", false, nil
}

func (t *tomlScanner) array(depth int) error {
	t.pos++ // '['
	for {
		t.skipBlankLines()
		if t.eof() {
			return errors.New("unterminated array")
		}
		if t.peek() == ']' {
			t.pos++
			return nil
		}
		if _, _, err := t.value(depth + 1); err != nil {
			return err
		}
		t.skipBlankLines()
		if t.eof() {
			return errors.New("unterminated array")
		}
		switch t.peek() {
		case ',':
			t.pos++
		case ']':
			t.pos++
			return nil
		default:
			return fmt.Errorf("expected , or ] in an array, found %q", t.peek())
		}
	}
}

func (t *tomlScanner) inlineTable(depth int) error {
	t.pos++ // '{'
	for {
		// TOML 1.1 allows newlines in inline tables; accepting them costs nothing.
		t.skipBlankLines()
		if t.eof() {
			return errors.New("unterminated inline table")
		}
		if t.peek() == '}' {
			t.pos++
			return nil
		}
		if _, err := t.keyPath('='); err != nil {
			return err
		}
		t.pos++ // '='
		t.skipSpaces()
		if _, _, err := t.value(depth + 1); err != nil {
			return err
		}
		t.skipBlankLines()
		if t.eof() {
			return errors.New("unterminated inline table")
		}
		switch t.peek() {
		case ',':
			t.pos++
		case '}':
			t.pos++
			return nil
		default:
			return fmt.Errorf("expected , or } in an inline table, found %q", t.peek())
		}
	}
}

// basicString reads "…" with escapes, on one line.
func (t *tomlScanner) basicString() (string, error) {
	t.pos++ // '"'
	start := t.pos
	for !t.eof() {
		switch t.peek() {
		case '\\':
			t.pos += 2
			continue
		case '\n':
			return "", errors.New("newline in a string")
		case '"':
			raw := t.s[start:t.pos]
			t.pos++
			return tomlUnescape(raw)
		}
		t.pos++
	}
	t.pos = len(t.s)
	return "", errors.New("unterminated string")
}

// literalString reads '…' (no escapes), on one line.
func (t *tomlScanner) literalString() (string, error) {
	t.pos++ // '\''
	end := strings.IndexAny(t.s[t.pos:], "'\n")
	if end < 0 || t.s[t.pos+end] == '\n' {
		return "", errors.New("unterminated string")
	}
	s := t.s[t.pos : t.pos+end]
	t.pos += end + 1
	return s, nil
}

// multiline reads a multi-line string, basic (delimited by three double quotes, with
// escapes) or literal (three single quotes). A newline right after the opening delimiter is
// not part of the value.
func (t *tomlScanner) multiline(delim string, escapes bool) (string, error) {
	t.pos += len(delim)
	if strings.HasPrefix(t.s[t.pos:], "\r\n") {
		t.pos += 2
	} else if !t.eof() && t.peek() == '\n' {
		t.pos++
	}
	start := t.pos
	for i := t.pos; i < len(t.s); i++ {
		if escapes && t.s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(t.s[i:], delim) {
			// Up to two quotes may sit right before the closing delimiter.
			end := i
			for end+len(delim) < len(t.s) && t.s[end+len(delim)] == delim[0] && end-i < 2 {
				end++
			}
			raw := t.s[start:end]
			t.pos = end + len(delim)
			if !escapes {
				return raw, nil
			}
			return tomlUnescape(lineEndingBackslash(raw))
		}
	}
	t.pos = len(t.s)
	return "", errors.New("unterminated multi-line string")
}

// lineEndingBackslash removes "\" + newline + following whitespace, as TOML does in
// multi-line basic strings. A "\\" pair is an escaped backslash, not a line ending one.
func lineEndingBackslash(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r') {
			j++
		}
		if j < len(s) && s[j] == '\n' {
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n') {
				j++
			}
			i = j - 1
			continue
		}
		b.WriteByte('\\')
		if i+1 < len(s) {
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String()
}

// tomlUnescape decodes the escapes of a TOML basic string.
func tomlUnescape(raw string) (string, error) {
	if !strings.Contains(raw, `\`) {
		return raw, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", errors.New("string ends with a backslash")
		}
		switch raw[i] {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case '"':
			b.WriteByte('"')
		case '\\':
			b.WriteByte('\\')
		case 'u', 'U':
			n := 4
			if raw[i] == 'U' {
				n = 8
			}
			if i+1+n > len(raw) {
				return "", errors.New("short unicode escape")
			}
			v, err := strconv.ParseUint(raw[i+1:i+1+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return "", fmt.Errorf("invalid unicode escape \\%c%s", raw[i], raw[i+1:i+1+n])
			}
			b.WriteRune(rune(v))
			i += n
		default:
			return "", fmt.Errorf("invalid escape \\%c", raw[i])
		}
	}
	return b.String(), nil
}
