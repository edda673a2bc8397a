package parse

import (
	"bytes"
	"strings"
)

// ModprobeConf is what modprobe.d(5) configuration says about loading modules, as far as it
// decides whether the kernel's on-demand loading of a module can work.
type ModprobeConf struct {
	// Blacklist holds the modules of "blacklist NAME" lines: modprobe ignores their aliases,
	// so a request by alias (the kernel's "nfnetlink-subsys-10", "nft-chain-2-nat") loads
	// nothing, while `modprobe NAME` still loads them.
	Blacklist map[string]bool
	// Install maps the modules of "install NAME COMMAND" lines to COMMAND, which modprobe runs
	// instead of loading the module (hardening guides use /bin/true or /bin/false).
	Install map[string]string
}

// ParseModprobeConf adds the blacklist and install lines of one modprobe.d file to c (files
// are read in modprobe's order; for these two keywords a later line only adds). Lines ending
// in a backslash continue on the next; # starts a comment line. Names are normalised with
// ModuleName ("nf-tables" is nf_tables).
func ParseModprobeConf(data []byte, c *ModprobeConf) {
	if c.Blacklist == nil {
		c.Blacklist = map[string]bool{}
	}
	if c.Install == nil {
		c.Install = map[string]string{}
	}
	var logical strings.Builder
	for line := range bytes.Lines(data) {
		s := strings.TrimRight(string(line), "\r\n")
		if cont, ok := strings.CutSuffix(s, `\`); ok {
			logical.WriteString(cont)
			logical.WriteByte(' ')
			continue
		}
		logical.WriteString(s)
		modprobeLine(logical.String(), c)
		logical.Reset()
	}
	if logical.Len() > 0 {
		modprobeLine(logical.String(), c)
	}
}

func modprobeLine(s string, c *ModprobeConf) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '#' {
		return
	}
	f := strings.Fields(s)
	if len(f) < 2 {
		return
	}
	name := ModuleName(f[1])
	if name == "" {
		return
	}
	switch f[0] {
	case "blacklist":
		c.Blacklist[name] = true
	case "install":
		if len(f) > 2 {
			c.Install[name] = strings.Join(f[2:], " ")
		}
	}
}

// InstallDisables reports whether an install command only pretends to load the module: the
// hardening idiom "install NAME /bin/true" (or false, with or without a path).
func InstallDisables(cmd string) bool {
	switch strings.TrimSpace(cmd) {
	case "/bin/true", "/bin/false", "/usr/bin/true", "/usr/bin/false", "true", "false":
		return true
	}
	return false
}
