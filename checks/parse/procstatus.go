package parse

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseProcStatus parses /proc/PID/status ("Name:\tvalue" lines) into a map of trimmed
// values. Lines without a colon are skipped; a repeated key keeps its first value.
func ParseProcStatus(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if _, dup := out[k]; !dup {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// ParseCapMask parses a capability mask of /proc/PID/status (CapBnd: "000001ffffffffff"):
// 16 hex digits or fewer.
func ParseCapMask(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 16 {
		return 0, fmt.Errorf("capability mask %q is not up to 16 hex digits", s)
	}
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("capability mask %q is not hexadecimal", s)
	}
	return n, nil
}
