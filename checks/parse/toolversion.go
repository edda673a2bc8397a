package parse

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

var toolVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^(\S+) version v?([0-9][0-9A-Za-z.+~-]*)`) })

// ParseToolVersion parses the "NAME version X.Y.Z" line that urfave/cli and cobra programs
// print for --version: `rootlesskit --version` ("rootlesskit version 2.3.6"), `podman
// --version` ("podman version 5.0.2"). The first such line whose NAME is name counts.
func ParseToolVersion(out []byte, name string) (*Version, error) {
	out = versionHead(out)
	for _, m := range toolVersionRE().FindAllSubmatch(out, 8) {
		if string(m[1]) != name {
			continue
		}
		v, err := NewVersion(string(m[2]))
		if err != nil {
			return nil, fmt.Errorf("%s version %q: %w", name, finding.Clip(string(m[2]), 64), err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%s --version: %w", name, ErrNoVersion)
}

// maxVersionOutput bounds what version parsers scan: `--version` prints a few lines, and a
// runaway or hostile command must not make a regexp walk megabytes.
const maxVersionOutput = 16 << 10

// versionHead is the part of a command's output a version parser looks at.
func versionHead(out []byte) []byte {
	if len(out) > maxVersionOutput {
		return out[:maxVersionOutput]
	}
	return out
}
