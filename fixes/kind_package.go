package fixes

import (
	"fmt"
	"slices"

	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Package: install the distribution's package that provides a tool (distro.Tool).
var kindPackage = kind{
	kind: finding.Package,
	id:   func(in finding.Intent) string { return "package." + in.Tool },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("install the package that provides %s", in.Tool)
	},
	validate: func(in finding.Intent) error {
		if !validName(in.Tool) {
			return unsafef("tool name %q", in.Tool)
		}
		return nil
	},
	sudo: func(in finding.Intent, _ string, _ host.Host) error {
		if !slices.Contains(distro.Tools, distro.Tool(in.Tool)) {
			return fmt.Errorf("no probe installs %q", in.Tool)
		}
		return nil
	},
	build: (*builder).packages,
}

func (b *builder) packages(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	tools, byTool := byField(reqs, func(r Request) string { return r.Intent.Tool })
	if b.distro.PackageManager == "" {
		s := newStep("packages"+suffix(optional), "Install what provides "+joinAnd(tools), reqs)
		s.Manual = true
		s.Why = append(s.Why, fmt.Sprintf("rootless-doctor does not know the package manager of %s", b.distroName()))
		s.tasks = []Task{debugTask("Install by hand", s.Title)}
		return []Step{s}
	}
	var pkgs []string
	var pkgReqs []Request
	var manual []Step
	var reloginProbes []string
	for _, tool := range tools {
		rs := byTool[tool]
		pkg, ok := b.distro.Package(distro.Tool(tool))
		if !ok || !packagePattern().MatchString(pkg) {
			m := newStep("package."+tool, fmt.Sprintf("Install %s from upstream: %s has no package that provides it", tool, b.distroName()), rs)
			m.Manual = true
			m.tasks = []Task{debugTask("Install by hand", m.Title)}
			manual = append(manual, m)
			continue
		}
		pkgs = append(pkgs, pkg)
		pkgReqs = append(pkgReqs, rs...)
		// The per-user D-Bus starts with the next login (dbus-user-session, rootless docs).
		if tool == string(distro.ToolDBusUser) {
			reloginProbes = append(reloginProbes, probeIDs(rs)...)
		}
	}
	if len(pkgs) == 0 {
		return manual
	}
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	title := "Install the package " + pkgs[0]
	if len(pkgs) > 1 {
		title = "Install the packages " + joinAnd(pkgs)
	}
	s := newStep("packages"+suffix(optional), title, pkgReqs)
	s.Relogin = len(reloginProbes) > 0
	s.reloginFixes = reloginProbes
	// Package managers may prompt; inside `sudo sh <<EOF` their stdin is the rest of the
	// script, so they get /dev/null instead.
	if refresh := b.distro.RefreshCommand(); refresh != nil {
		s.Commands = append(s.Commands, shjoin(refresh)+" </dev/null")
	}
	install := b.distro.InstallCommand(pkgs)
	s.Commands = append(s.Commands, shjoin(install)+" </dev/null")
	s.Unless = installedCheck(b.distro.PackageManager, pkgs)
	switch b.distro.PackageManager {
	case distro.Apt:
		s.tasks = []Task{{Name: title, Module: "ansible.builtin.apt", Args: []Arg{
			{"name", pkgs}, {"state", "present"}, {"update_cache", true}, {"install_recommends", false},
		}}}
	case distro.Dnf, distro.Yum:
		s.tasks = []Task{{Name: title, Module: "ansible.builtin.package", Args: []Arg{{"name", pkgs}, {"state", "present"}}}}
	default:
		// zypper, pacman and apk modules live in community.general, not in ansible-core.
		s.tasks = guardedCommands(s)
	}
	return append([]Step{s}, manual...)
}

// installedCheck is a shell condition that succeeds when every package is installed.
func installedCheck(pm distro.PackageManager, pkgs []string) string {
	list := shjoin(pkgs)
	switch pm {
	case distro.Apt:
		// dpkg -s also succeeds for a removed package whose config files remain; the status
		// field says "installed" only for an installed one.
		return "(for p in " + list + `; do dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || exit 1; done)`
	case distro.Dnf, distro.Yum, distro.Zypper:
		return "rpm -q --quiet " + list
	case distro.Pacman:
		return "pacman -Q " + list + " >/dev/null 2>&1"
	case distro.Apk:
		return "apk info -e " + list + " >/dev/null 2>&1"
	}
	return ""
}
