package parse

import (
	"bytes"
	"strings"
)

// NSSwitchLine is the line of /etc/nsswitch.conf that configures one database.
type NSSwitchLine struct {
	// Services are the sources in order, without [STATUS=action] items.
	Services []string
	// Line is the 1-based line number; Text the line, trimmed and clipped.
	Line int
	Text string
}

// NSSwitch finds the line for db ("subid", "passwd") in /etc/nsswitch.conf. Database names
// match without regard to case, and the first line that names at least one service wins: that
// is how shadow's nss_init reads the `subid:` line (lib/nss.c), which, unlike glibc databases,
// takes a single module. ok is false when no such line exists.
func NSSwitch(data []byte, db string) (NSSwitchLine, bool) {
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), db) {
			continue
		}
		if j := strings.IndexByte(rest, '#'); j >= 0 {
			rest = rest[:j] // glibc allows a trailing comment
		}
		var services []string
		inAction := false // inside "[ STATUS=action ... ]", which may hold blanks
		for _, f := range strings.Fields(rest) {
			switch {
			case inAction:
				inAction = !strings.HasSuffix(f, "]")
			case strings.HasPrefix(f, "["):
				inAction = !strings.HasSuffix(f, "]")
			default:
				services = append(services, f)
			}
		}
		if len(services) == 0 {
			continue
		}
		return NSSwitchLine{Services: services, Line: i + 1, Text: clip(line)}, true
	}
	return NSSwitchLine{}, false
}

// SubIDModule is the libsubid provider shadow will use for subordinate ids: "" for the
// files /etc/subuid and /etc/subgid, else a module name ("sss") that libsubid loads as
// libsubid_NAME.so. shadow falls back to files when the name is "files" or longer than 50
// bytes (lib/nss.c); it also falls back when the module cannot be loaded, which only running
// getsubids can tell.
func SubIDModule(data []byte) (module string, line NSSwitchLine) {
	l, ok := NSSwitch(data, "subid")
	if !ok || l.Services[0] == "files" || len(l.Services[0]) > 50 {
		return "", l
	}
	return l.Services[0], l
}
