package parse

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNotInteger is returned (wrapped) by ParseSysctlInt for a value that is not one integer.
var ErrNotInteger = errors.New("not an integer")

// ParseSysctlInt parses the content of an integer sysctl (/proc/sys/user/max_user_namespaces):
// one decimal integer with optional sign, surrounded by any whitespace (the kernel ends it with
// a newline; a recorded tree may have \r\n or trailing NULs). Anything else — an empty file,
// two fields, a word, a number that does not fit in 64 bits — is an error: a probe must say it
// could not read the value rather than guess.
func ParseSysctlInt(data []byte) (int64, error) {
	s := strings.TrimFunc(string(data), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0
	})
	if s == "" {
		return 0, fmt.Errorf("%w: the value is empty", ErrNotInteger)
	}
	if len(s) > 40 {
		return 0, fmt.Errorf("%w: %q…", ErrNotInteger, s[:40])
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w: %q is out of range", ErrNotInteger, s)
		}
		return 0, fmt.Errorf("%w: %q", ErrNotInteger, s)
	}
	return n, nil
}

// SysctlAssignment is one `key = value` line of a sysctl.d(5) file.
type SysctlAssignment struct {
	// Key is in dotted form ("kernel.unprivileged_userns_clone") whichever separator the file
	// used.
	Key   string
	Value string
	// Line is 1-based.
	Line int
	// IgnoreErrors is set by a leading "-": systemd-sysctl does not fail when the key is
	// missing or cannot be written.
	IgnoreErrors bool
}

// SysctlConf is what ParseSysctlConf finds in one file.
type SysctlConf struct {
	Assignments []SysctlAssignment
	// Malformed counts non-comment lines that are not assignments (systemd-sysctl and
	// sysctl --system skip them with a warning).
	Malformed int
}

// ParseSysctlConf parses a sysctl.conf(5) / sysctl.d(5) file: "key = value" lines, "#" and ";"
// comments, a leading "-" to ignore failures, keys separated by "." or "/". It never fails:
// lines it cannot read are counted in Malformed.
//
// Key normalisation follows systemd's sysctl_normalize(): when the first separator is "/",
// slashes are the separators and dots are part of names (net/ipv4/conf/eth0.1/forwarding);
// we return the dotted form, swapping the two, so keys compare with what probes ask for.
func ParseSysctlConf(data []byte) SysctlConf {
	var out SysctlConf
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		ignore := false
		if line[0] == '-' {
			ignore = true
			line = strings.TrimSpace(line[1:])
		}
		k, v, ok := strings.Cut(line, "=")
		k = NormalizeSysctlKey(strings.TrimSpace(k))
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			out.Malformed++
			continue
		}
		out.Assignments = append(out.Assignments, SysctlAssignment{
			Key:          k,
			Value:        strings.TrimSpace(v),
			Line:         i + 1,
			IgnoreErrors: ignore,
		})
	}
	return out
}

// NormalizeSysctlKey returns the dotted form of a sysctl key written with "." or "/"
// separators ("kernel/unprivileged_userns_clone" → "kernel.unprivileged_userns_clone").
func NormalizeSysctlKey(k string) string {
	k = strings.Trim(k, "./")
	i := strings.IndexAny(k, "./")
	if i < 0 || k[i] == '.' {
		return k
	}
	b := []byte(k)
	for j := range b {
		switch b[j] {
		case '/':
			b[j] = '.'
		case '.':
			b[j] = '/'
		}
	}
	return string(b)
}
