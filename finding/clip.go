package finding

import (
	"strings"
	"unicode/utf8"
)

// Clip makes host text safe to quote in a finding, an error or a report: valid UTF-8 (each
// invalid byte becomes U+FFFD), at most max bytes, cut on a rune boundary, with "…" after a
// cut. A hostile file may hold megabytes on one line, or bytes that are not text. It is the
// one clip of the module: before issue 11 there were seven, and two cut inside a character.
func Clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ClipLine is Clip of the first line of s.
func ClipLine(s string, max int) string {
	s, _, _ = strings.Cut(s, "\n")
	return Clip(s, max)
}

// ClipTail keeps the end of s instead, "…" first after a cut: rootlesskit's messages embed
// whole structs with %+v and end with the reason.
func ClipTail(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := len(s) - max
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return "…" + s[cut:]
}
