package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// The modules each iptables backend needs for dockerd's NAT and filter rules, and how the kernel
// gets them when they are not loaded. From inside RootlessKit's namespaces dockerd cannot run
// modprobe, but the kernel loads a module on demand for it when a request names the module or
// one of its aliases (checks/facts/modules.go): the VM lab (test/vm) saw Debian 11, 12 and 13
// start rootless dockerd with nothing of nf_tables loaded before. ip_tables is the exception:
// iptables-legacy reaches it by socket options that load nothing, so it must be loaded or built
// in beforehand (`can't initialize iptables table `nat'`: docker/for-linux#1242). Blacklisting
// (modprobe.d, modprobe.blacklist=) stops the loads by alias (moby/moby#49727: `Could not
// fetch rule set generation id`; the lab: `Extension MASQUERADE revision 0 not supported` with
// nft_compat blacklisted).
var (
	modIPTables = facts.ModuleSpec{Names: []string{"ip_tables"}, Config: []string{"CONFIG_IP_NF_IPTABLES"},
		// The file exists whenever ip_tables is loaded or built in, even with no table in use.
		Proc: []string{"/proc/net/ip_tables_names"}}
	// xt_find_table_lock requests "iptable_%s" by name.
	modIPTableFilter = facts.ModuleSpec{Names: []string{"iptable_filter"}, Config: []string{"CONFIG_IP_NF_FILTER"}, OnDemand: facts.OnDemandByName}
	modIPTableNAT    = facts.ModuleSpec{Names: []string{"iptable_nat"}, Config: []string{"CONFIG_IP_NF_NAT"}, OnDemand: facts.OnDemandByName}
	// nfnetlink requests "nfnetlink-subsys-10".
	modNFTables = facts.ModuleSpec{Names: []string{"nf_tables"}, Config: []string{"CONFIG_NF_TABLES"}, OnDemand: facts.OnDemandByAlias}
	// nft_chain_nat replaced nft_chain_nat_ipv4 in Linux 5.1; requested as "nft-chain-2-nat".
	modNFTChainNAT = facts.ModuleSpec{Names: []string{"nft_chain_nat", "nft_chain_nat_ipv4"}, Config: []string{"CONFIG_NFT_NAT", "CONFIG_NFT_CHAIN_NAT_IPV4"}, OnDemand: facts.OnDemandByAlias}
	// iptables-nft runs the xtables extensions dockerd's rules use (MASQUERADE, addrtype,
	// conntrack) through nft_compat, requested as "nfnetlink-subsys-11"; without it dockerd
	// fails with `Extension MASQUERADE revision 0 not supported, missing kernel module?`.
	modNFTCompat = facts.ModuleSpec{Names: []string{"nft_compat"}, Config: []string{"CONFIG_NFT_COMPAT"}, OnDemand: facts.OnDemandByAlias}
	// br_netfilter matters only with --icc=false or "userland-proxy": false (moby/moby#41913);
	// it is reported, never warned about.
	modBrNetfilter = facts.ModuleSpec{Names: []string{"br_netfilter"}, Config: []string{"CONFIG_BRIDGE_NETFILTER"}}
)

// iptablesFallbacks are where distributions install iptables when the account's PATH lacks
// the sbin directories (Debian, openSUSE: docker/for-linux#1205).
var iptablesFallbacks = []string{"/usr/sbin/iptables", "/sbin/iptables"}

var netIptables = Probe{
	ID:     "net.iptables",
	Starts: true,
	Title:  "iptables for dockerd",
	Fails:  "the backend's modules not loaded and not loadable on demand (ip_tables; a blacklisted or disabled module), or missing: fail where rootless Docker is installed and not run with \"iptables\": false, warn elsewhere (no false alarm when the modules are built in); \"icc\" or \"userland-proxy\" false without br_netfilter (fail); dockerd-rootless-setuptool.sh not yet run and the module it greps for (ip_tables; nf_tables in newer ones) neither loaded nor in modules.builtin (fail: it refuses to install; warn when the kernel has it built in where the tool does not look)",
	Why: "Rootless dockerd sets up NAT and filtering for bridge networks with iptables, inside " +
		"RootlessKit's network namespace. It needs the iptables binary and the kernel modules of " +
		"its backend. It cannot run modprobe there: the kernel loads nf_tables, nft_chain_nat and " +
		"nft_compat for it on demand unless they are blacklisted or module loading is disabled, and " +
		"never loads ip_tables (the legacy backend) on demand; otherwise dockerd fails with " +
		"`can't initialize iptables table `nat'` or " +
		"`Could not fetch rule set generation id: Permission denied`. With \"icc\": false or " +
		"\"userland-proxy\": false it also needs br_netfilter (moby/moby#41913; " +
		"docs/failures/catalogue.json#iptables-modules-not-loaded, #br-netfilter-missing).",
	Reads: []string{"iptables on PATH, /usr/sbin/iptables, /sbin/iptables", "`iptables --version`",
		"/proc/modules", "/lib/modules/RELEASE/modules.builtin, modules.dep", "/proc/config.gz or /boot/config-RELEASE",
		"modprobe.d files (blacklist, install)", "/proc/cmdline (modprobe.blacklist=, module_blacklist=)", "/proc/sys/kernel/modules_disabled, modprobe",
		"/sys/module/NAME", "/proc/net/ip_tables_names", "dockerd and dockerd-rootless.sh on PATH",
		"~/.config/docker/daemon.json (iptables, icc, userland-proxy)", "the docker.service user unit (DOCKER_IGNORE_BR_NETFILTER_ERROR)",
		"dockerd-rootless-setuptool.sh (which module it checks)"},
	Fixes: []finding.Kind{finding.Package, finding.Module},
	Run:   runNetIptables,
}

func runNetIptables(ctx context.Context, e *facts.Env) finding.Result {
	bin, onPath := findIptables(e)
	if bin == "" {
		return finding.Warnf("iptables is not installed: rootless dockerd cannot set up NAT for bridge networks").
			With("PATH, "+strings.Join(iptablesFallbacks, ", "), "no iptables").
			Detail("dockerd logs `Failed to find iptables` and fails to start with its default --iptables=true (docker/for-linux#1205).").
			Detail("The alternative is to run dockerd with --iptables=false (dockerd-rootless-setuptool.sh install --skip-iptables); containers then get no NAT and no port isolation from iptables.").
			Fix(finding.InstallTool(string(distro.ToolIptables), "rootless dockerd uses iptables for bridge-network NAT"))
	}
	r := finding.Result{}
	ver, printed, verErr := iptablesVersion(ctx, e, bin)
	if verErr != nil {
		r = r.With(bin+" --version", "unreadable").Detail("Cannot tell the iptables backend: %v; checking both.", verErr)
	} else {
		// The line as printed: iptables before 1.8 names no backend ("iptables v1.4.21"),
		// which the summary spells out as legacy.
		r = r.With(bin+" --version", printed)
	}
	if !onPath {
		r = r.Detail("%s is not on this PATH. The systemd unit dockerd-rootless-setuptool.sh writes adds /sbin and /usr/sbin; starting dockerd-rootless.sh by hand needs them on PATH too.", bin)
	}

	var specs []facts.ModuleSpec
	quiet := map[string]bool{}
	switch ver.Backend {
	case parse.IptablesLegacy:
		specs = []facts.ModuleSpec{modIPTables, modIPTableFilter, modIPTableNAT}
	case parse.IptablesNFTables:
		specs = []facts.ModuleSpec{modNFTables, modNFTChainNAT, modNFTCompat}
		// nft_compat is named only when something stops it: every distribution kernel with
		// nf_tables builds it, and naming it on every healthy host whose /lib/modules cannot be
		// read would only add noise.
		quiet[modNFTCompat.Names[0]] = true
	default:
		return brNetfilterDetail(e, setupToolIptables(ctx, e, iptablesAnyBackend(e, r, bin), printed))
	}

	var usable, onDemand, unknown, notLoaded, missing []facts.ModuleFact
	var blocked []string
	for _, s := range specs {
		m := e.Module(s)
		var a facts.AutoloadFact
		if m.State == facts.ModuleNotLoaded {
			a = e.ModuleAutoload(s, m)
		}
		if quiet[s.Names[0]] && (m.State.Usable() || m.State == facts.ModuleUnknown || a.OK) {
			continue
		}
		r = withEvidence(r, m.Evidence)
		switch m.State {
		case facts.ModuleLoaded, facts.ModuleBuiltin:
			usable = append(usable, m)
		case facts.ModuleNotLoaded:
			r = withEvidence(r, a.Evidence)
			if a.OK {
				onDemand = append(onDemand, m)
				break
			}
			notLoaded = append(notLoaded, m)
			blocked = append(blocked, fmt.Sprintf("%s: %s", m.Name, a.Why))
		case facts.ModuleMissing:
			missing = append(missing, m)
		default:
			unknown = append(unknown, m)
		}
		if m.Note != "" {
			r = r.Detail("%s", m.Note)
		}
	}
	backend := "iptables"
	if verErr == nil {
		backend = fmt.Sprintf("iptables %s (%s)", ver.Version, ver.Backend)
	}
	// docs/failures/catalogue.json#iptables-modules-not-loaded: rootless dockerd, installed and
	// not told --iptables=false, does not start without them; anyone else only may need them.
	miss := finding.Warn
	if dockerNeedsIptables(e) {
		miss = finding.Fail
	}
	switch {
	case len(notLoaded) > 0:
		r = r.WithStatus(miss, "%s needs %s, which %s not loaded and cannot be loaded on demand: rootless dockerd cannot load %s", backend, moduleNames(notLoaded), isAre(len(notLoaded)), itThem(notLoaded)).
			Detail("Not loaded on demand: %s.", strings.Join(blocked, "; ")).
			Detail("dockerd fails with `can't initialize iptables table `nat'`, `Could not fetch rule set generation id: Permission denied (you must be root)` or `Extension MASQUERADE revision 0 not supported` (docker/for-linux#1242, moby/moby#49727).").
			Detail("The alternative is --iptables=false for dockerd (no NAT from iptables).")
		for _, m := range notLoaded {
			r = r.Fix(finding.LoadModule(m.Name, fmt.Sprintf("rootless dockerd needs %s for %s and cannot load it from its user namespace", m.Name, backend)))
		}
	case len(missing) > 0:
		r = r.WithStatus(miss, "the kernel has no %s, which %s needs: rootless dockerd cannot set up NAT", moduleNames(missing), backend).
			Detail("No module can be loaded for it; run dockerd with --iptables=false, or boot a kernel that has it.")
		if ver.Backend == parse.IptablesNFTables {
			r = r.Detail("If the legacy backend is available (ip_tables), switching iptables to it (update-alternatives --set iptables /usr/sbin/iptables-legacy) is another way.")
		}
	default:
		// Every module is usable, loads on demand, or is not proved missing.
		var parts []string
		if len(usable) > 0 {
			parts = append(parts, describeModules(usable))
		}
		if len(onDemand) > 0 {
			parts = append(parts, fmt.Sprintf("%s not loaded yet, loaded on demand when dockerd first uses %s", moduleNames(onDemand), itThem(onDemand)))
			r = r.Detail("The kernel loads %s for rootless dockerd on demand (nothing blacklists %s, module loading is enabled): seen in the VM lab on Debian 11, 12 and 13 (test/vm/README.md).", moduleNames(onDemand), itThem(onDemand))
		}
		if len(unknown) > 0 {
			parts = append(parts, fmt.Sprintf("%s could not be confirmed, nothing shows %s missing", moduleNames(unknown), itThem(unknown)))
			r = r.Detail("A module missing from /proc/modules may be built into the kernel, and nothing here (modules.builtin, kernel config, /sys/module) says otherwise; this is not reported as a problem.")
			if e.ModulesLoadable() {
				r = r.Detail("If dockerd fails with `can't initialize iptables table`, load %s.", moduleNames(unknown))
			}
		}
		r = r.WithStatus(finding.Pass, "%s at %s; %s", backend, bin, strings.Join(parts, "; "))
	}
	return brNetfilterDetail(e, setupToolIptables(ctx, e, r, printed))
}

// setupToolIptables holds r to what dockerd-rootless-setuptool.sh checks before it installs:
// a module named in /proc/modules or in /lib/modules/RELEASE/modules.builtin (grep -q). Up to
// moby 28.0 that module is ip_tables whatever the iptables backend
// (https://github.com/moby/moby/blob/v27.5.1/contrib/dockerd-rootless-setuptool.sh#L180-L191,
// and docker.io 20.10 of Debian 12, 26.1 of Debian 13): the tool stops with "Missing system
// requirements" and `modprobe ip_tables` even where the nf_tables backend has all it needs (the
// VM lab, Debian 12 and 13: net.iptables passed, the install refused). Since moby commit
// f80feba (2025-04-01, "Rootlesskit: check for module nf_tables") it is nf_tables unless
// `iptables --version` says legacy. The installed tool is read to tell which. Only where the
// tool is what sets Docker up: it is installed and the account has no docker.service user
// unit yet; dockerd-rootless.sh started otherwise does not check this.
func setupToolIptables(ctx context.Context, e *facts.Env, r finding.Result, printed string) finding.Result {
	d := e.Docker(ctx)
	if d == nil || d.SetupTool == "" || d.Unit != "" {
		return r
	}
	tool, err := e.Host.ReadFile(d.SetupTool)
	if err != nil {
		return r
	}
	var mod facts.ModuleSpec
	switch {
	case strings.Contains(string(tool), "grep -q ip_tables /proc/modules"):
		mod = modIPTables
	case strings.Contains(string(tool), `iptables_module="nf_tables"`):
		mod = modNFTables
		if strings.Contains(printed, "legacy") {
			mod = modIPTables
		}
	default:
		return r
	}
	name := mod.Names[0]
	builtin := "/lib/modules/" + e.Host.KernelRelease() + "/modules.builtin"
	for _, f := range []string{"/proc/modules", builtin} {
		if data, err := e.Host.ReadFile(f); err == nil && strings.Contains(string(data), name) {
			return r
		}
	}
	why := fmt.Sprintf("%s refuses to install rootless Docker until %s is loaded: it is in neither /proc/modules nor %s", d.SetupTool, name, builtin)
	r = r.With(d.SetupTool, "checks for "+name+" in /proc/modules and modules.builtin").
		Detail("The setup tool stops with `Missing system requirements` and `modprobe %s`; `dockerd-rootless-setuptool.sh install --skip-iptables` installs without it, with --iptables=false (no NAT from iptables).", name)
	m := e.Module(mod)
	if m.State.Usable() {
		// Not in /proc/modules, yet the kernel has it (built in where the tool does not look: no
		// modules.builtin, as on kernels installed without /lib/modules; /proc/net/ip_tables_names): dockerd has its module, only the installer's grep misses it.
		// rootless-doctor daemon/install and dockerd-rootless.sh run as they are, so this is a
		// warning, not "not ready" (this host: daemon and the engine matrix run dockerd).
		if r.Status == finding.Pass {
			prior := r.Summary
			r = r.WithStatus(finding.Warn, "%s (the kernel has it built in)", why)
			r = r.Detail("%s.", prior)
		} else {
			r = r.Detail("%s.", why)
		}
		return r.Fix(finding.ManualStep("docker-setuptool-skip-iptables", "install rootless Docker with dockerd-rootless-setuptool.sh install --skip-iptables, or start it with rootless-doctor install: the kernel has "+name+" built in where the tool does not look"))
	}
	if r.Status != finding.Fail {
		prior := r.Summary
		r = r.WithStatus(finding.Fail, "%s", why)
		if prior != "" {
			r = r.Detail("%s.", prior)
		}
	} else {
		r = r.Detail("%s.", why)
	}
	if m.State == facts.ModuleNotLoaded || m.State == facts.ModuleUnknown && e.ModulesLoadable() {
		return r.Fix(finding.LoadModule(name, "dockerd-rootless-setuptool.sh installs rootless Docker only with "+name+" loaded"))
	}
	return r.Fix(finding.ManualStep("docker-setuptool-skip-iptables", "install rootless Docker with dockerd-rootless-setuptool.sh install --skip-iptables: this kernel cannot load "+name+", and the tool refuses without it"))
}

// findIptables looks on PATH, then in the sbin directories. onPath is false when only the
// fallback found it.
func findIptables(e *facts.Env) (bin string, onPath bool) {
	if p, err := e.LookPath("iptables"); err == nil {
		return p, true
	}
	for _, p := range iptablesFallbacks {
		if q, err := e.LookPath(p); err == nil {
			return q, false
		}
	}
	return "", false
}

// iptablesVersion runs `iptables --version` and parses it; printed is its first line.
func iptablesVersion(ctx context.Context, e *facts.Env, bin string) (v parse.IptablesVersion, printed string, err error) {
	out, err := e.Host.Run(ctx, bin, "--version")
	if err != nil {
		return parse.IptablesVersion{}, "", err
	}
	if out.ExitCode != 0 {
		return parse.IptablesVersion{}, "", fmt.Errorf("%s --version exited with %d: %s", bin, out.ExitCode, finding.ClipLine(strings.TrimSpace(string(out.Stderr)), 200))
	}
	v, err = parse.ParseIptablesVersion(out.Stdout)
	return v, finding.ClipLine(strings.TrimSpace(string(out.Stdout)), 200), err
}

// withEvidence adds ev unless the result already shows it (two modules judged from the same
// missing /proc/modules would otherwise repeat it).
func withEvidence(r finding.Result, ev finding.Evidence) finding.Result {
	for _, have := range r.Evidence {
		if have == ev {
			return r
		}
	}
	return r.With(ev.Source, ev.Value)
}

// brNetfilterDetail says whether br_netfilter is there, and fails when daemon.json turns on
// what needs it (docs/failures/catalogue.json#br-netfilter-missing): with "icc": false or
// "userland-proxy": false the bridge driver enables bridge-nf-call-iptables, which exists
// only with br_netfilter loaded; from the user namespace dockerd cannot load it and stops
// with `cannot restrict inter-container communication or run without the userland proxy`
// (moby daemon/libnetwork/drivers/bridge/setup_bridgenetfiltering.go; moby/moby#41913).
func brNetfilterDetail(e *facts.Env, r finding.Result) finding.Result {
	m := e.Module(modBrNetfilter)
	d := e.DockerRootless()
	var needs []string
	if d.Daemon.ICC != nil && !*d.Daemon.ICC {
		needs = append(needs, `"icc": false`)
	}
	if d.Daemon.UserlandProxy != nil && !*d.Daemon.UserlandProxy {
		needs = append(needs, `"userland-proxy": false`)
	}
	_, ignored := d.Unit.Env["DOCKER_IGNORE_BR_NETFILTER_ERROR"]
	if len(needs) == 0 || !d.Installed() || m.State.Usable() || m.State == facts.ModuleUnknown || ignored {
		return r.Detail("br_netfilter is %s; it is needed only with --icc=false or \"userland-proxy\": false (moby/moby#41913).", m.State)
	}
	r = withEvidence(r, m.Evidence).With(d.DaemonFile, strings.Join(needs, ", ")).
		WithStatus(finding.Fail, "%s sets %s, which needs br_netfilter, and br_netfilter is %s: rootless dockerd will not start", homeRel(e, d.DaemonFile), netJoinAnd(needs), m.State).
		Detail("dockerd stops with `Error initializing network controller: … cannot restrict inter-container communication or run without the userland proxy: ensure that the br_netfilter kernel module is loaded`: from its user namespace it cannot load the module (moby/moby#41913, usernetes#287). Since Linux 5.3 the module's sysctls are per network namespace.")
	if m.State == facts.ModuleMissing || !e.ModulesLoadable() {
		return r.Fix(finding.ManualStep("br-netfilter", fmt.Sprintf("boot a kernel with CONFIG_BRIDGE_NETFILTER, or remove %s from %s", netJoinAnd(needs), homeRel(e, d.DaemonFile))))
	}
	return r.Fix(finding.LoadModule("br_netfilter", fmt.Sprintf("rootless dockerd needs br_netfilter for %s and cannot load it from its user namespace", netJoinAnd(needs))))
}

// dockerNeedsIptables reports whether rootless dockerd is installed and will set up iptables
// rules at start (daemon.json does not say "iptables": false).
func dockerNeedsIptables(e *facts.Env) bool {
	d := e.DockerRootless()
	return d.Installed() && (d.Daemon.Iptables == nil || *d.Daemon.Iptables)
}

func moduleNames(ms []facts.ModuleFact) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return netJoinAnd(names)
}

func describeModules(ms []facts.ModuleFact) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Name + " " + m.State.String()
	}
	return strings.Join(parts, ", ")
}

func netJoinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func itThem(ms []facts.ModuleFact) string {
	if len(ms) == 1 {
		return "it"
	}
	return "them"
}

// iptablesAnyBackend judges a host whose iptables backend is unknown: either front end's core
// module (nf_tables or ip_tables) will do, so it warns only when both are proved unusable.
func iptablesAnyBackend(e *facts.Env, r finding.Result, bin string) finding.Result {
	nft, legacy := e.Module(modNFTables), e.Module(modIPTables)
	for _, m := range []facts.ModuleFact{nft, legacy} {
		r = withEvidence(r, m.Evidence)
		if m.Note != "" {
			r = r.Detail("%s", m.Note)
		}
	}
	switch {
	case nft.State.Usable() || legacy.State.Usable():
		return r.WithStatus(finding.Pass, "iptables at %s; nf_tables %s, ip_tables %s", bin, nft.State, legacy.State)
	case nft.State == facts.ModuleUnknown || legacy.State == facts.ModuleUnknown:
		return r.WithStatus(finding.Pass, "iptables at %s; nf_tables and ip_tables could not be confirmed, nothing shows them missing", bin)
	}
	if a := e.ModuleAutoload(modNFTables, nft); a.OK {
		return withEvidence(r, a.Evidence).WithStatus(finding.Pass, "iptables at %s; nf_tables not loaded yet, loaded on demand when dockerd first uses it (ip_tables %s)", bin, legacy.State)
	}
	r = r.WithStatus(finding.Warn, "neither nf_tables nor ip_tables is loaded: rootless dockerd cannot set up NAT").
		Detail("The iptables backend is unknown, so either module would do; nf_tables is what iptables-nft, the default of current distributions, uses.")
	for _, m := range []facts.ModuleFact{nft, legacy} {
		if m.State == facts.ModuleNotLoaded {
			return r.Fix(finding.LoadModule(m.Name, "rootless dockerd needs an iptables backend module and cannot load it from its user namespace"))
		}
	}
	return r.Detail("The kernel has neither; run dockerd with --iptables=false.")
}
