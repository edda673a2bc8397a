package parse

import (
	"bytes"
	"strings"
)

// DpkgPackageStatus looks pkg up in dpkg's status database (/var/lib/dpkg/status, deb822
// stanzas separated by blank lines). found says whether any stanza names the package;
// installed whether one of them has the status "install ok installed" (the third word of
// the Status field is the state: "installed", or "config-files", "half-installed", … for a
// package that is not usable). A multi-arch package has one stanza per architecture; any
// installed one counts.
func DpkgPackageStatus(data []byte, pkg string) (installed, found bool) {
	var name, status string
	flush := func() {
		if name == pkg {
			found = true
			if f := strings.Fields(status); len(f) == 3 && f[2] == "installed" {
				installed = true
			}
		}
		name, status = "", ""
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a multi-line field (Description, Conffiles)
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(k) {
		case "Package":
			name = strings.TrimSpace(string(v))
		case "Status":
			status = strings.TrimSpace(string(v))
		}
	}
	flush()
	return installed, found
}
