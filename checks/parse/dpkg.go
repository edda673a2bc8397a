package parse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
)

// DpkgPackageStatus looks pkg up in dpkg's status database (/var/lib/dpkg/status, deb822
// stanzas separated by blank lines). found says whether any stanza names the package;
// installed whether one of them has the status "install ok installed" (the third word of
// the Status field is the state: "installed", or "config-files", "half-installed", … for a
// package that is not usable). A multi-arch package has one stanza per architecture; any
// installed one counts.
func DpkgPackageStatus(data []byte, pkg string) (installed, found bool) {
	return IndexDpkg(data).PackageStatus(pkg)
}

// DpkgInstalledVersion is the Version field of pkg when it is installed ("4.3.1+ds1-8+b1").
// Reading it costs microseconds where running the tool to ask can cost tens of milliseconds.
func DpkgInstalledVersion(data []byte, pkg string) (string, bool) {
	return IndexDpkg(data).InstalledVersion(pkg)
}

// DpkgIndex is dpkg's status database read once: what DpkgPackageStatus and
// DpkgInstalledVersion say of every package it names. A desktop's database is ~700 KB and
// 20,000 lines; a static check asks it for eight packages, and splitting it into lines for
// each question was a third of that check's CPU time (issue 16). The zero value (or nil) is
// an empty database.
type DpkgIndex struct {
	pkgs map[string]dpkgPackage
}

type dpkgPackage struct {
	installed bool
	version   string // of the last installed stanza
}

// IndexDpkg reads the stanzas of a dpkg status database in one pass. Lines end at "\n" (a
// "\r" before it is dropped); a line of only spaces and tabs ends a stanza; a line that starts
// with a space or tab continues a multi-line field (Description, Conffiles) and is skipped;
// the Package, Status and Version fields are taken with their surrounding space trimmed, the
// last of each in a stanza winning. Only those three fields' values are copied.
func IndexDpkg(data []byte) *DpkgIndex {
	x := &DpkgIndex{pkgs: map[string]dpkgPackage{}}
	var name, status, ver []byte
	inStanza := false
	flush := func() {
		if inStanza {
			p, seen := x.pkgs[string(name)]
			if statusInstalled(status) {
				p.installed, p.version = true, string(ver)
				x.pkgs[string(name)] = p
			} else if !seen {
				x.pkgs[string(name)] = p
			}
		}
		name, status, ver, inStanza = nil, nil, nil, false
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimRight(line, "\r")
		if blank(line) {
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
			name, inStanza = bytes.TrimSpace(v), true
		case "Status":
			status = v
		case "Version":
			ver = bytes.TrimSpace(v)
		}
	}
	flush()
	return x
}

// statusInstalled says whether a Status field's value has three words, the third
// "installed" ("install ok installed"), as strings.Fields splits them, without allocating.
func statusInstalled(status []byte) bool {
	for _, c := range status {
		if c >= 0x80 {
			f := strings.Fields(string(status)) // Unicode spaces: rare, done the long way
			return len(f) == 3 && f[2] == "installed"
		}
	}
	n, third := 0, []byte(nil)
	for i := 0; i < len(status); {
		if asciiSpace(status[i]) {
			i++
			continue
		}
		j := i
		for j < len(status) && !asciiSpace(status[j]) {
			j++
		}
		if n++; n == 3 {
			third = status[i:j]
		}
		i = j
	}
	return n == 3 && string(third) == "installed"
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// blank says whether line holds only white space (what bytes.TrimSpace would empty).
func blank(line []byte) bool {
	for _, c := range line {
		if c >= 0x80 {
			return len(bytes.TrimSpace(line)) == 0 // U+0085, U+00A0 and other Unicode spaces
		}
		if !asciiSpace(c) {
			return false
		}
	}
	return true
}

// PackageStatus is DpkgPackageStatus on the indexed database.
func (x *DpkgIndex) PackageStatus(pkg string) (installed, found bool) {
	if x == nil {
		return false, false
	}
	p, found := x.pkgs[pkg]
	return p.installed, found
}

// InstalledVersion is DpkgInstalledVersion on the indexed database.
func (x *DpkgIndex) InstalledVersion(pkg string) (string, bool) {
	if x == nil {
		return "", false
	}
	p := x.pkgs[pkg]
	return p.version, p.installed && p.version != ""
}

// AppendBinary appends the index in the form DecodeDpkgIndex reads back: for each package,
// the length of its name (uvarint) and the name, 1 when it is installed else 0, the length of
// its version and the version (empty unless installed). An account's cache keeps it between
// runs (facts.Env.dpkgFor, host.Deriver): reading it back costs a tenth of indexing the
// database again (issue 16). It never fails; the error is encoding.BinaryAppender's.
func (x *DpkgIndex) AppendBinary(b []byte) ([]byte, error) {
	if x == nil {
		return b, nil
	}
	for name, p := range x.pkgs {
		b = appendField(b, name)
		if p.installed {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendField(b, p.version)
	}
	return b, nil
}

// errDpkgIndex: bytes that AppendBinary did not write.
var errDpkgIndex = errors.New("not an index of dpkg's database")

// DecodeDpkgIndex reads what AppendBinary wrote. Anything else (a length past the end, a flag
// other than 0 or 1, a version of a package not installed, a name twice) is an error, and the
// caller indexes the database again. The names and versions share one string of b's bytes.
func DecodeDpkgIndex(b []byte) (*DpkgIndex, error) {
	r := binReader{string(b)}
	x := &DpkgIndex{pkgs: make(map[string]dpkgPackage, len(r.s)/32)}
	for len(r.s) > 0 {
		name, ok := r.field()
		if !ok || len(r.s) == 0 || r.s[0] > 1 {
			return nil, errDpkgIndex
		}
		installed := r.s[0] == 1
		r.s = r.s[1:]
		ver, ok := r.field()
		if _, dup := x.pkgs[name]; !ok || dup || ver != "" && !installed {
			return nil, errDpkgIndex
		}
		x.pkgs[name] = dpkgPackage{installed: installed, version: ver}
	}
	return x, nil
}

// binReader reads what binary.AppendUvarint and the bytes after it wrote: the forms that
// DpkgIndex and KernelConfig keep in an account's cache. Every field is a substring of s.
type binReader struct{ s string }

// field is the next length-prefixed field; false when the length is malformed or runs past
// the end.
func (r *binReader) field() (string, bool) {
	n, k := binary.Uvarint([]byte(r.s[:min(len(r.s), binary.MaxVarintLen64)]))
	if k <= 0 || n > uint64(len(r.s)-k) {
		return "", false
	}
	f := r.s[k : k+int(n)]
	r.s = r.s[k+int(n):]
	return f, true
}

// appendField appends f as binReader.field reads it.
func appendField(b []byte, f string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(f))), f...)
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
