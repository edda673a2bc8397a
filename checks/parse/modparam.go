package parse

import (
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// ParseModuleBool parses a boolean kernel module parameter as read from
// /sys/module/MODULE/parameters/NAME: the kernel prints bool parameters as "Y" or "N"
// (param_get_bool), and older or hand-made values use "1"/"0". Anything else is an error.
// /sys/module/overlay/parameters/permit_mounts_in_userns (a Debian-only patch) is one.
func ParseModuleBool(data []byte) (bool, error) {
	switch v := strings.TrimSpace(string(data)); v {
	case "Y", "y", "1":
		return true, nil
	case "N", "n", "0":
		return false, nil
	default:
		v = finding.Clip(v, 32)
		return false, fmt.Errorf("module parameter %q is not a boolean (Y or N)", v)
	}
}
