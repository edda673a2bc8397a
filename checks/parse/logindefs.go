package parse

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// LoginDefs is /etc/login.defs: KEY VALUE lines, '#' comments. A key defined twice takes its
// last value, as shadow's getdef.c does.
type LoginDefs map[string]string

// ParseLoginDefs parses /etc/login.defs. Values wrapped in double quotes are unquoted
// (getdef.c accepts VALUE and "VALUE"); a line with a key and no value is ignored.
func ParseLoginDefs(data []byte) LoginDefs {
	defs := LoginDefs{}
	for _, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			continue
		}
		key, value := line[:i], strings.TrimSpace(line[i:])
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		defs[key] = value
	}
	return defs
}

// Number reads a numeric key the way shadow does (strtoul with base 0: decimal, 0x hex, 0
// octal). ok is false when the key is absent; err is set when it is present but not a number
// (shadow then warns and uses its built-in default).
func (d LoginDefs) Number(key string) (n int64, ok bool, err error) {
	v, ok := d[key]
	if !ok {
		return 0, false, nil
	}
	s, base := v, 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	// An explicit base keeps ParseInt from accepting Go's "1_000" and "0b" forms.
	n, err = strconv.ParseInt(s, base, 64)
	if err != nil || n < 0 {
		return 0, true, fmt.Errorf("%s %q is not a number", key, v)
	}
	return n, true, nil
}

// SubIDLimits are the bounds useradd and usermod allocate subordinate ids within.
type SubIDLimits struct {
	Min, Max, Count int64
	// Problems lists values that were present but unusable (their defaults were taken).
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
			l.Problems = append(l.Problems, err.Error())
		case ok:
			*f.dst = n
		}
	}
	return l
}
