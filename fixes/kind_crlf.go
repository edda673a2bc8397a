package fixes

import (
	"fmt"
	"path"
	"slices"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// CRLF: remove the carriage returns of CRLF line ends from /etc/subuid or /etc/subgid.
var kindCRLF = kind{
	kind: finding.CRLF,
	id:   func(in finding.Intent) string { return "crlf." + baseName(in.Path) },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("remove the carriage returns (CRLF line ends) from %s", in.Path)
	},
	validate: func(in finding.Intent) error {
		// Only the subid files: the step rewrites a root-owned file in place.
		if in.Path != "/etc/subuid" && in.Path != "/etc/subgid" {
			return unsafef("CRLF repair of %q, which is not /etc/subuid or /etc/subgid", in.Path)
		}
		return nil
	},
	// validate allows only /etc/subuid and /etc/subgid.
	sudo:  func(finding.Intent, string, host.Host) error { return nil },
	build: (*builder).stripCR,
}

// stripCR removes the carriage returns of CRLF line ends from /etc/subuid or /etc/subgid.
// shadow cuts only the '\n' off a line (lib/commonio.c) and then reads "65536\r" with
// strtoul, which stops at the CR, so getulong rejects the count and the whole line is skipped:
// getsubids lists nothing and newuidmap refuses, while Go readers that trim the line see a
// range (checks/parse/subid.go). It runs before subid.add, whose allocator already keeps
// clear of the ids these lines will hold.
func (b *builder) stripCR(reqs []Request, optional bool) []Step {
	paths, byPath := byField(reqs, func(r Request) string { return r.Intent.Path })
	slices.Sort(paths)
	var steps []Step
	for _, p := range paths {
		s := newStep("crlf."+path.Base(p)+suffix(optional), "Remove the carriage returns (CRLF line ends) from "+p, byPath[p])
		s.Why = append(s.Why, "shadow reads the CR at the end of a line as part of the count and skips the line, so getsubids and newuidmap do not see its range")
		// printf '\r' keeps the script free of control characters; sed -i is what the applier
		// recognises as a write (and backs the file up first).
		cr := `"$(printf '\r')"`
		s.Commands = []string{fmt.Sprintf(`if grep -q %[1]s'$' %[2]s; then sed -i "s/$(printf '\r')*\$//" %[2]s; fi`, cr, p)}
		s.tasks = []Task{{Name: "Remove the carriage returns from " + p, Module: "ansible.builtin.replace",
			Args: []Arg{{"path", p}, {"regexp", `\r+$`}, {"replace", ""}}}}
		steps = append(steps, s)
	}
	return steps
}
