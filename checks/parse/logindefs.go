package parse

import (
	"fmt"
	"strconv"
	"strings"
)

// LoginDefs is /etc/login.defs: KEY VALUE lines, '#' comments. A key defined twice takes its
// last value, as shadow's getdef.c does.
type LoginDefs map[string]string

// ParseLoginDefs parses /etc/login.defs the way shadow's def_load (lib/getdef.c) does: trailing
// blanks are cut, a line whose first non-blank is '#' is a comment, the key runs to the first
// space or tab, the value starts after the blanks and double quotes that follow it and ends
// at the next double quote or the end of the line. So `KEY "VALUE"`, `KEY VALUE` and `KEY
// "VALUE` all give VALUE, while `KEY 5 # note` gives "5 # note", which is not a number to
// shadow either. A line with a key and no value is ignored.
func ParseLoginDefs(data []byte) LoginDefs {
	defs := LoginDefs{}
	for _, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimLeft(strings.TrimRight(raw, cSpace), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			continue
		}
		key, value := line[:i], strings.TrimLeft(line[i:], " \"\t")
		if j := strings.IndexByte(value, '"'); j >= 0 {
			value = value[:j]
		}
		defs[key] = value
	}
	return defs
}

// cSpace is what C's isspace() takes in the C locale: the trailing blanks def_load cuts.
const cSpace = " \t\n\v\f\r"

// Number reads a numeric key the way shadow does (strtoul with base 0: decimal, 0x hex, 0
// octal, an optional leading '+'). A minus sign is refused, as current shadow does (its str2ul
// refuses negative numbers; plain strtoul took "-1" for ULONG_MAX), and so is a sign after the base prefix ("0x+5",
// "0+5"), where strtoul stops reading. ok is false when the key is absent; err is set when
// it is present but not a number (shadow then warns and uses its built-in default).
func (d LoginDefs) Number(key string) (n int64, ok bool, err error) {
	v, ok := d[key]
	if !ok {
		return 0, false, nil
	}
	s, base := strings.TrimPrefix(v, "+"), 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	// An explicit base keeps ParseInt from accepting Go's "1_000" and "0b" forms; a sign
	// left here is one ParseInt would take but strtoul would not.
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, true, fmt.Errorf("%s %q is not a number", key, v)
	}
	n, err = strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%s %q is not a number", key, v)
	}
	return n, true, nil
}

// SubIDLimits are the bounds useradd and usermod allocate subordinate ids within.
type SubIDLimits struct {
	Min, Max, Count int64
	// Problems lists values that were present but unusable, each with the default taken
	// instead: `SUB_UID_MIN "lots" is not a number; using 100000`.
	Problems []string
}

// The defaults shadow uses when login.defs does not set SUB_UID_* / SUB_GID_*
// (libmisc/find_new_sub_uids.c, find_new_sub_gids.c).
const (
	DefaultSubIDMin   = 100000
	DefaultSubIDMax   = 600100000
	DefaultSubIDCount = 65536
)

// SubIDLimits reads SUB_UID_MIN/MAX/COUNT (prefix "SUB_UID") or SUB_GID_* (prefix
// "SUB_GID"), with shadow's defaults for keys that are absent or not numbers.
func (d LoginDefs) SubIDLimits(prefix string) SubIDLimits {
	l := SubIDLimits{Min: DefaultSubIDMin, Max: DefaultSubIDMax, Count: DefaultSubIDCount}
	for _, f := range []struct {
		key string
		dst *int64
	}{{prefix + "_MIN", &l.Min}, {prefix + "_MAX", &l.Max}, {prefix + "_COUNT", &l.Count}} {
		n, ok, err := d.Number(f.key)
		switch {
		case err != nil:
			l.Problems = append(l.Problems, fmt.Sprintf("%v; using %d", err, *f.dst))
		case ok:
			*f.dst = n
		}
	}
	return l
}
