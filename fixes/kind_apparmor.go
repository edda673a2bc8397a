package fixes

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// AppArmor: write and load a profile that grants `userns` to the binary at Path.
var kindAppArmor = kind{
	kind: finding.AppArmor,
	// The whole path, as AppArmor names profile files (usr.bin.rootlesskit): two rootlesskit
	// binaries at different paths need two profiles.
	id: func(in finding.Intent) string {
		return "apparmor." + strings.ReplaceAll(strings.Trim(in.Path, "/"), "/", ".")
	},
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("load an AppArmor profile that allows user namespaces for %s", in.Path)
	},
	mergeKey: pathKey,
	validate: func(in finding.Intent) error { return checkPath("binary path", in.Path) },
	sudo: func(in finding.Intent, _ string, h host.Host) error {
		return rootOnly(h, in.Path)
	},
	build: func(b *builder, reqs []Request, _ bool) []Step { return b.appArmor(reqs) },
}

// profileName turns a binary path into the name of its profile file the way the apparmor
// package does (/usr/bin/rootlesskit → usr.bin.rootlesskit), with characters outside
// [A-Za-z0-9._-] as "_".
func profileName(p string) string {
	var sb strings.Builder
	for _, r := range strings.TrimPrefix(p, "/") {
		switch {
		case r == '/':
			sb.WriteByte('.')
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

func (b *builder) appArmor(reqs []Request) []Step {
	if len(reqs) == 0 {
		return nil
	}
	// AppArmor attaches to the path the kernel executes, with symlinks resolved: a profile
	// for ~/bin/rootlesskit does nothing if that is a link to /opt/…/rootlesskit
	// (rootless-containers/rootlesskit#439).
	resolved := map[string]string{}
	paths, byPath := byField(reqs, func(r Request) string {
		p := r.Intent.Path
		if real, err := b.host.EvalSymlinks(p); err == nil && real != p && checkPath("path", real) == nil {
			resolved[real] = p
			return real
		}
		return p
	})
	slices.Sort(paths)
	names := map[string]string{}
	count := map[string]int{}
	for _, p := range paths {
		names[p] = profileName(p)
		count[names[p]]++
	}
	var steps []Step
	for _, p := range paths {
		name := names[p]
		if count[name] > 1 {
			h := fnv.New32a()
			h.Write([]byte(p))
			name += "-" + strconv.FormatUint(uint64(h.Sum32()), 16)
		}
		prof := "rootless-doctor." + name
		file := AppArmorDir + "/" + prof
		attach := p
		if strings.Contains(p, " ") {
			attach = `"` + p + `"`
		}
		content := "# Written by `rootless-doctor fix`: lets " + p + " create user namespaces while\n" +
			"# kernel.apparmor_restrict_unprivileged_userns=1 (the default since Ubuntu 24.04).\n" +
			"# https://rootlesscontaine.rs/getting-started/common/apparmor/\n" +
			"abi <abi/4.0>,\n" +
			"include <tunables/global>\n\n" +
			"profile " + prof + " " + attach + " flags=(unconfined) {\n" +
			"  userns,\n\n" +
			"  # Site-specific additions and overrides. See local/README for details.\n" +
			"  include if exists <local/" + prof + ">\n" +
			"}\n"
		s := newStep("apparmor."+name, "Let "+p+" create user namespaces (AppArmor profile "+prof+")", byPath[p])
		if from, ok := resolved[p]; ok {
			s.Why = append(s.Why, from+" resolves to "+p+", the path AppArmor sees")
		}
		s.Why = append(s.Why, "alternative, not used: sysctl kernel.apparmor_restrict_unprivileged_userns=0 lifts the restriction for every program on the host, which weakens its security")
		s.Files = []File{{Path: file, Mode: "0644", Content: content}}
		s.Commands = []string{"apparmor_parser -r " + ShellQuote(file)}
		load := "Load the AppArmor profile " + prof
		s.tasks = filesTasks(s.Files, load)
		s.handlers = []Task{{Name: load, Module: "ansible.builtin.command", Args: []Arg{{"argv", []string{"apparmor_parser", "-r", file}}}}}
		steps = append(steps, s)
	}
	return steps
}
