package parse

import (
	"bytes"
	"strings"
)

// ParseUnitEnvironment returns the variables a systemd unit or drop-in sets with Environment=
// lines, such as the override Docker's docs suggest for choosing the network driver:
//
//	[Service]
//	Environment="DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta"
//
// An Environment= line may set several variables, each optionally quoted; an empty
// Environment= resets the list, as in systemd.exec(5). Later files override earlier ones;
// callers merge.
func ParseUnitEnvironment(data []byte) map[string]string {
	env := map[string]string{}
	section := ""
	for line := range bytes.Lines(data) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		if s[0] == '[' {
			section = strings.Trim(s, "[]")
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) != "Environment" || (section != "Service" && section != "") {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" {
			clear(env)
			continue
		}
		for _, w := range splitUnitWords(v) {
			if name, val, ok := strings.Cut(w, "="); ok && name != "" {
				env[name] = val
			}
		}
	}
	return env
}

// splitUnitWords splits on whitespace, honouring double and single quotes and backslash
// escapes inside double quotes — enough of systemd's quoting for Environment= values.
func splitUnitWords(s string) []string {
	var words []string
	var b strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == '"' && c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case quote != 0:
			b.WriteByte(c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words
}
