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
	found, installed, _ = dpkgLookup(data, pkg)
	return installed, found
}

// DpkgInstalledVersion is the Version field of pkg when it is installed ("4.3.1+ds1-8+b1").
// Reading it costs microseconds where running the tool to ask can cost tens of milliseconds.
func DpkgInstalledVersion(data []byte, pkg string) (string, bool) {
	_, installed, version := dpkgLookup(data, pkg)
	return version, installed && version != ""
}

func dpkgLookup(data []byte, pkg string) (found, installed bool, version string) {
	var name, status, ver string
	flush := func() {
		if name == pkg {
			found = true
			if f := strings.Fields(status); len(f) == 3 && f[2] == "installed" {
				installed, version = true, ver
			}
		}
		name, status, ver = "", "", ""
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
		case "Version":
			ver = strings.TrimSpace(string(v))
		}
	}
	flush()
	return found, installed, version
}

// DebianUpstreamVersion strips a Debian version to its upstream part: no epoch ("1:"), no
// Debian revision ("-8+b1"), no repack suffix ("+ds1", "~rc1"). "1:4.3.1+ds1-8+b1" → "4.3.1".
func DebianUpstreamVersion(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		v = rest
	}
	if i := strings.LastIndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	if i := strings.IndexAny(v, "+~"); i > 0 {
		v = v[:i]
	}
	return v
}

// PacmanEntry splits a directory name of pacman's local database ("crun-1.19.1-1",
// "passt-2025_01_21.4f2c8e7-1") into the package name and its version ("1.19.1-1"): the
// last two dash-separated fields are the version and the release.
func PacmanEntry(dir string) (name, version string, ok bool) {
	i := strings.LastIndexByte(dir, '-')
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(dir[:i], '-')
	if j <= 0 {
		return "", "", false
	}
	return dir[:j], dir[j+1:], true
}
