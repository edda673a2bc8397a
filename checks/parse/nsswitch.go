package parse

import (
	"bytes"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// NSSwitchLine is the line of /etc/nsswitch.conf that configures one database.
type NSSwitchLine struct {
	// Services are the sources in order, without [STATUS=action] items.
	Services []string
	// Line is the 1-based line number; Text the line, trimmed and clipped.
	Line int
	Text string
}

// SubIDModule is the libsubid provider shadow will try for subordinate ids: "" for the files
// /etc/subuid and /etc/subgid, else a module name ("sss") that libsubid loads as
// libsubid_NAME.so. It reads the file the way shadow's nss_init does (lib/nss.c,
// https://github.com/shadow-maint/shadow/blob/4.13/lib/nss.c#L42-L120), which is not how
// glibc reads nsswitch.conf: a line counts only when it starts with "subid:" (any case) at its
// very first byte, lines starting with '#' or shorter than 8 bytes with their '\n' are
// skipped, a "subid:" line with nothing after the blanks is passed over, and the first such
// line decides with its first token (split at ' ', '\t', '\n' only, so "[NOTFOUND=return]"
// or "sss\r" is taken as a module name). shadow uses the files when that token is "files" or
// longer than 50 bytes — and also when libsubid_NAME.so cannot be loaded ("Error opening
// …", "Using files"), which the caller must check (SubIDModuleLibrary).
func SubIDModule(data []byte) (module string, line NSSwitchLine) {
	for i, raw := range bytes.SplitAfter(data, []byte("\n")) {
		l := string(raw)
		if l == "" || l[0] == '#' || len(l) < 8 || !strings.EqualFold(l[:6], "subid:") {
			continue
		}
		p := strings.TrimLeft(l[6:], " \t\n\v\f\r")
		if p == "" {
			continue
		}
		token := p
		if j := strings.IndexAny(p, " \t\n"); j >= 0 {
			token = p[:j]
		}
		line = NSSwitchLine{Services: []string{token}, Line: i + 1, Text: finding.Clip(strings.TrimRight(l, "\n"), maxText)}
		if token == "files" || len(token) > 50 {
			return "", line
		}
		return token, line
	}
	return "", NSSwitchLine{}
}
