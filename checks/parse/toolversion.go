package parse

import (
	"fmt"
	"regexp"

	"github.com/Masterminds/semver/v3"
)

var toolVersionRE = regexp.MustCompile(`(?m)^(\S+) version v?([0-9][0-9A-Za-z.+~-]*)`)

// ParseToolVersion parses the "NAME version X.Y.Z" line that urfave/cli and cobra programs
// print for --version: `rootlesskit --version` ("rootlesskit version 2.3.6"), `podman
// --version` ("podman version 5.0.2"). The first such line whose NAME is name counts.
func ParseToolVersion(out []byte, name string) (*semver.Version, error) {
	for _, m := range toolVersionRE.FindAllSubmatch(out, 8) {
		if string(m[1]) != name {
			continue
		}
		v, err := semver.NewVersion(string(m[2]))
		if err != nil {
			return nil, fmt.Errorf("%s version %q: %w", name, truncate(string(m[2]), 64), err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%s --version: %w", name, ErrNoVersion)
}
