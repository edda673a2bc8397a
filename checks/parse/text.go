package parse

import (
	"strings"
	"unicode/utf8"
)

// maxText bounds a piece of host text quoted in an error or a report: a hostile file may hold
// a megabyte on one line.
const maxText = 160

// clip makes host text safe to quote: valid UTF-8, at most maxText bytes, cut on a rune
// boundary, with an ellipsis when cut.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxText {
		return s
	}
	cut := maxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
