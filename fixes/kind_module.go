package fixes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Module: load a kernel module now and at boot (modules-load.d).
var kindModule = kind{
	kind: finding.Module,
	id:   func(in finding.Intent) string { return "module." + in.Name },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("load the kernel module %s now and at boot", in.Name)
	},
	validate: func(in finding.Intent) error {
		if !validModule(in.Name) {
			return unsafef("module name %q is not [A-Za-z0-9_-]", in.Name)
		}
		return nil
	},
	sudo: func(in finding.Intent, _ string, _ host.Host) error {
		if !slices.Contains(sudoModules, in.Name) {
			return fmt.Errorf("no probe loads the module %q", in.Name)
		}
		return nil
	},
	build: (*builder).modules,
}

// sudoModules are the kernel modules probes ask to load: tun (net.tun), fuse (storage.driver)
// and the iptables backends rootless dockerd needs (net.iptables).
var sudoModules = []string{
	"tun", "fuse", "ip_tables", "iptable_filter", "iptable_nat", "nf_tables", "nft_chain_nat",
	"nft_chain_nat_ipv4", "nft_compat", "br_netfilter",
}

func (b *builder) modules(reqs []Request, optional bool) []Step {
	if len(reqs) == 0 {
		return nil
	}
	names, _ := byField(reqs, func(r Request) string { return r.Intent.Name })
	file := ModulesFile
	if optional {
		file = OptionalModulesFile
	}
	all := slices.Clone(names)
	for _, line := range strings.Split(b.readText(file), "\n") {
		line = strings.TrimSpace(line)
		if validModule(line) {
			all = append(all, line)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	content := "# Kernel modules for rootless containers, loaded at boot by systemd-modules-load\n" +
		"# (modules-load.d(5)). Written by `rootless-doctor fix`, which keeps what an earlier run\n" +
		"# put here.\n" + strings.Join(all, "\n") + "\n"
	title := "Load the kernel module " + names[0] + " now and at boot"
	if len(names) > 1 {
		title = "Load the kernel modules " + joinAnd(names) + " now and at boot"
	}
	s := newStep("modules"+suffix(optional), title, reqs)
	s.Files = []File{{Path: file, Mode: "0644", Content: content}}
	for _, n := range names {
		// /sys/module/NAME exists for a loaded module and for a built-in one with a version or
		// parameters: then modprobe is not needed, and may not even work (a kernel without
		// /lib/modules, as on many container hosts).
		s.Commands = append(s.Commands, fmt.Sprintf("[ -d /sys/module/%s ] || modprobe %s", strings.ReplaceAll(n, "-", "_"), n))
	}
	s.tasks = filesTasks(s.Files)
	for _, n := range names {
		s.tasks = append(s.tasks, Task{Name: "Load " + n, Module: "ansible.builtin.command", Args: []Arg{
			{"argv", []string{"modprobe", n}}, {"creates", "/sys/module/" + strings.ReplaceAll(n, "-", "_")},
		}, ChangedWhenFalse: true})
	}
	return []Step{s}
}
