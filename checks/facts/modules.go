package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Kernel modules, shared by the probes that need one (net.tun, net.iptables).
//
// A rootless engine cannot run modprobe, but the kernel still loads some modules on demand for
// it: a request from inside its user namespace that names an alias the kernel asks modprobe for
// ("nfnetlink-subsys-10" for nf_tables, "nft-chain-2-nat", "ipt_MASQUERADE") loads the module
// like any other. The VM lab (test/vm, Debian 11, 12 and 13 booted as installed) saw rootless
// dockerd start with nf_tables, nft_chain_nat, nft_compat and xt_* loaded that way, none loaded
// before. What cannot load on demand: ip_tables (iptables-legacy reaches it through a socket
// option nothing autoloads, so it fails with `Table does not exist (do you need to insmod?)`:
// docker/for-linux#1242), and any module blacklisted in modprobe.d or on the kernel command line
// (blacklisting ignores aliases), disabled with "install NAME /bin/true", or on a kernel with
// modules_disabled=1. ModuleAutoload tells which. Whether a module is loaded at all is harder to
// tell than it looks: built-in modules are not in /proc/modules, a kernel built without module
// support has no /proc/modules and no /lib/modules at all (this is what makes Docker's own
// setuptool ask to modprobe ip_tables on kernels that have it built in), and after a kernel
// upgrade /lib/modules no longer has the running kernel's directory. So the evidence is
// weighed in order — proof of presence first, then proof of absence — and a module nothing
// proves absent is reported as unknown, never as missing.

// ModuleState is what the evidence says about a kernel module.
type ModuleState int

// The states, from "usable" to "no evidence".
const (
	// ModuleUnknown: nothing proves the module present or absent.
	ModuleUnknown ModuleState = iota
	// ModuleLoaded: listed in /proc/modules (or present in /sys/module when /proc/modules
	// cannot be read).
	ModuleLoaded
	// ModuleBuiltin: compiled into the kernel.
	ModuleBuiltin
	// ModuleNotLoaded: built as a module that is not loaded; modprobe would load it.
	ModuleNotLoaded
	// ModuleMissing: the running kernel has no such driver, built in or as a module.
	ModuleMissing
)

// Usable reports whether the module's code is in the running kernel.
func (s ModuleState) Usable() bool { return s == ModuleLoaded || s == ModuleBuiltin }

func (s ModuleState) String() string {
	switch s {
	case ModuleLoaded:
		return "loaded"
	case ModuleBuiltin:
		return "built in"
	case ModuleNotLoaded:
		return "not loaded"
	case ModuleMissing:
		return "missing from this kernel"
	}
	return "unknown"
}

// ModuleSpec names a module and the evidence that can prove it present.
type ModuleSpec struct {
	// Names are the module's names, current first; later ones are older spellings
	// (nft_chain_nat was nft_chain_nat_ipv4 before Linux 5.1).
	Names []string
	// Config are the kernel config symbols that build it (CONFIG_TUN). When there are as many
	// as Names, Config[i] builds Names[i]: the symbol a kernel has tells which name the module
	// has there (CONFIG_NFT_CHAIN_NAT_IPV4 exists only before 5.1, with nft_chain_nat_ipv4).
	Config []string
	// Proc are paths that exist only while the module's code is in the kernel
	// (/proc/net/ip_tables_names for ip_tables).
	Proc []string
	// OnDemand is how the kernel requests the module when a process uses what it provides;
	// OnDemandNever for a module that must be loaded beforehand.
	OnDemand OnDemand
}

// OnDemand is how the kernel asks modprobe for a module it needs.
type OnDemand int

const (
	// OnDemandNever: nothing requests it (ip_tables: iptables-legacy's socket options).
	OnDemandNever OnDemand = iota
	// OnDemandByAlias: requested by an alias (nf_tables as "nfnetlink-subsys-10"), which a
	// modprobe.d blacklist makes modprobe ignore.
	OnDemandByAlias
	// OnDemandByName: requested by its own name (iptable_nat), which a blacklist does not stop.
	OnDemandByName
)

// ModuleFact is the verdict on one module and the evidence behind it.
type ModuleFact struct {
	Name  string
	State ModuleState
	// Evidence is what decided it.
	Evidence finding.Evidence
	// Note says what could not be read or what it means, for details ("" when nothing to add).
	Note string
}

// moduleTables are the module facts of the running kernel, read once per run.
type moduleTables struct {
	release string
	// proc is /proc/modules; procErr why it could not be read (fs.ErrNotExist: the kernel
	// has no loadable-module support).
	proc    map[string]bool
	procErr error
	// dir is /lib/modules/RELEASE; dirExists whether it does.
	dir       string
	dirExists bool
	// builtin is modules.builtin (nil when unreadable), dep the module names in modules.dep.
	builtin map[string]bool
	dep     map[string]bool
	// config is the running kernel's build config (nil when neither /proc/config.gz nor
	// /boot/config-RELEASE is readable) and configPath where it came from.
	config     *parse.KernelConfig
	configPath string
}

func (e *Env) moduleTables() *moduleTables {
	return e.modTables.get(func() *moduleTables {
		t := &moduleTables{release: e.Host.KernelRelease()}
		if data, err := e.Host.ReadFile("/proc/modules"); err == nil {
			t.proc = parse.ParseProcModules(data)
		} else {
			t.procErr = err
		}
		if t.release != "" && !strings.ContainsAny(t.release, "/\x00") {
			t.dir = "/lib/modules/" + t.release
			if fi, err := e.Host.Stat(t.dir); err == nil && fi.IsDir() {
				t.dirExists = true
				if data, err := e.Host.ReadFile(t.dir + "/modules.builtin"); err == nil {
					t.builtin = parse.ParseModulesBuiltin(data)
				}
				if data, err := e.Host.ReadFile(t.dir + "/modules.dep"); err == nil {
					t.dep = parseModulesDep(data)
				}
			}
		}
		cands := []string{"/proc/config.gz"}
		if t.release != "" && !strings.ContainsAny(t.release, "/\x00") {
			cands = append(cands, "/boot/config-"+t.release)
		}
		for _, p := range cands {
			if cfg, err := e.kernelConfigAt(p, t.release); err == nil {
				t.config, t.configPath = cfg, p
				break
			}
		}
		return t
	})
}

// kernelConfigKind names what kernelConfigAt keeps: parse.KernelConfig.AppendBinary's form.
const kernelConfigKind = "kernel-config-2"

// kernelConfigAt reads and parses the kernel config at p, through the account's cache when
// the host keeps one (host.Deriver): decompressing and parsing /proc/config.gz was ~0.7 ms
// of a static check (issue 16). The cache's key is the file's device, inode, size, mtime and
// ctime; /proc/config.gz's inode is made when the running kernel first shows it (its ctime
// is then), and the kernel release is the entry's variant besides, so another kernel's
// config is never read back. Bytes that do not decode make it parse the file as without a cache.
func (e *Env) kernelConfigAt(p, release string) (*parse.KernelConfig, error) {
	if d, ok := e.Host.(host.Deriver); ok {
		var cfg *parse.KernelConfig
		var perr error
		b, err := d.Derived(p, kernelConfigKind, release, func(data []byte) ([]byte, bool) {
			if cfg, perr = parse.ParseKernelConfig(data); perr != nil {
				return nil, false
			}
			out, _ := cfg.AppendBinary(nil)
			return out, true
		})
		switch {
		case err != nil:
			return nil, err
		case cfg != nil || perr != nil:
			return cfg, perr // parsed just now
		}
		if cfg, err := parse.DecodeKernelConfig(b); err == nil {
			return cfg, nil
		}
	}
	data, err := e.Host.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return parse.ParseKernelConfig(data)
}

// parseModulesDep takes the module names from modules.dep ("kernel/net/netfilter/nf_tables.ko.zst: …").
func parseModulesDep(data []byte) map[string]bool {
	mods := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		p, _, ok := strings.Cut(line, ":")
		if n := parse.ModuleName(p); ok && n != "" {
			mods[n] = true
		}
	}
	return mods
}

// ModulesLoadable reports whether the running kernel can load modules at all (it has
// /proc/modules; kernels built without CONFIG_MODULES do not).
func (e *Env) ModulesLoadable() bool {
	return !errors.Is(e.moduleTables().procErr, fs.ErrNotExist)
}

// ModuleDir is /lib/modules/RELEASE and whether it exists. A loadable-module kernel whose
// directory is gone was usually upgraded without a reboot: modprobe cannot load anything.
func (e *Env) ModuleDir() (string, bool) {
	t := e.moduleTables()
	return t.dir, t.dirExists
}

// Module weighs the evidence about one kernel module.
func (e *Env) Module(spec ModuleSpec) ModuleFact {
	if len(spec.Names) == 0 {
		return ModuleFact{State: ModuleUnknown, Note: "no module name"}
	}
	key := strings.Join(spec.Names, ",")
	e.modMu.Lock()
	if e.modFacts == nil {
		e.modFacts = map[string]*once[ModuleFact]{}
	}
	o, ok := e.modFacts[key]
	if !ok {
		o = &once[ModuleFact]{}
		e.modFacts[key] = o
	}
	e.modMu.Unlock()
	return o.get(func() ModuleFact { return e.module(spec) })
}

func (e *Env) module(spec ModuleSpec) ModuleFact {
	t := e.moduleTables()
	name := spec.Names[0]
	f := func(s ModuleState, src, val, note string) ModuleFact {
		return ModuleFact{Name: name, State: s, Evidence: finding.Evidence{Source: src, Value: val}, Note: note}
	}
	// named is f for a fact proved under one of the module's names: the fact carries the name
	// the kernel uses (nft_chain_nat_ipv4 on kernels before 5.1), not the current spelling.
	named := func(n string, s ModuleState, src, val string) ModuleFact {
		m := f(s, src, val, "")
		m.Name = n
		return m
	}
	// Proof of presence.
	for _, n := range spec.Names {
		if t.proc[n] {
			return named(n, ModuleLoaded, "/proc/modules", n+" is loaded")
		}
	}
	for _, p := range spec.Proc {
		if _, err := e.Host.Stat(p); err == nil {
			if t.proc != nil {
				return f(ModuleBuiltin, p, "exists, and "+name+" is not in /proc/modules: built in", "")
			}
			return f(ModuleLoaded, p, "exists: "+name+" is active", "")
		}
	}
	for _, n := range spec.Names {
		// Built-in modules with parameters or a version appear in /sys/module too; absence
		// there proves nothing.
		if fi, err := e.Host.Stat("/sys/module/" + n); err == nil && fi.IsDir() {
			if t.proc != nil {
				return named(n, ModuleBuiltin, "/sys/module/"+n, "exists, not in /proc/modules: built in")
			}
			return named(n, ModuleLoaded, "/sys/module/"+n, "exists: "+n+" is active")
		}
	}
	for _, n := range spec.Names {
		if t.builtin[n] {
			return named(n, ModuleBuiltin, t.dir+"/modules.builtin", n+" is built in")
		}
	}
	mentioned := false
	// Older spellings come last and their symbols exist only on the kernels that use them, so
	// they are looked at first: on 4.19 CONFIG_NFT_NAT is set too, but builds nft_nat, and
	// `modprobe nft_chain_nat` would fail there.
	for i := len(spec.Config) - 1; i >= 0; i-- {
		sym := spec.Config[i]
		if t.config == nil {
			break
		}
		n := name
		if len(spec.Config) == len(spec.Names) {
			n = spec.Names[i]
		}
		switch t.config.Tristate(sym) {
		case "y":
			return named(n, ModuleBuiltin, t.configPath, sym+"=y")
		case "m":
			if t.proc != nil {
				m := named(n, ModuleNotLoaded, t.configPath, sym+"=m, and "+n+" is not in /proc/modules")
				if !t.dirExists {
					m.Note = fmt.Sprintf("%s does not exist: the kernel was probably upgraded and the machine not rebooted since, so modprobe cannot load %s until it is.", t.dir, n)
				}
				return m
			}
		}
		if t.config.Has(sym) {
			mentioned = true
		}
	}
	// Proof of absence.
	if t.config != nil && mentioned {
		set := false
		for _, sym := range spec.Config {
			if v := t.config.Tristate(sym); v == "y" || v == "m" {
				set = true
			}
		}
		if !set {
			return f(ModuleMissing, t.configPath, strings.Join(spec.Config, ", ")+" not set", "")
		}
	}
	if t.proc != nil && t.dirExists && t.builtin != nil {
		if t.dep != nil {
			found := false
			for _, n := range spec.Names {
				found = found || t.dep[n]
			}
			if !found {
				return f(ModuleMissing, t.dir+"/modules.dep", name+" is neither built in nor in modules.dep", "")
			}
		}
		return f(ModuleNotLoaded, "/proc/modules", name+" is not loaded (and not in modules.builtin)", "")
	}
	// No evidence either way.
	switch {
	case errors.Is(t.procErr, fs.ErrNotExist):
		return f(ModuleUnknown, "/proc/modules", "does not exist",
			fmt.Sprintf("The kernel has no loadable-module support (no /proc/modules), so %s is built in or absent; nothing readable here says which (no kernel config, no %s).", name, t.dir))
	case t.procErr != nil:
		return f(ModuleUnknown, "/proc/modules", "unreadable", fmt.Sprintf("Cannot read /proc/modules (%v), so whether %s is loaded cannot be told.", t.procErr, name))
	case !t.dirExists:
		return f(ModuleUnknown, "/proc/modules", name+" is not loaded",
			fmt.Sprintf("%s is not loaded, but %s does not exist, so whether it is built in cannot be told.", name, t.dir))
	}
	return f(ModuleUnknown, t.dir, "no modules.builtin", fmt.Sprintf("%s is not loaded and %s/modules.builtin is unreadable, so whether it is built in cannot be told.", name, t.dir))
}

// KernelConfig is the running kernel's build configuration and the file it came from
// (/proc/config.gz, else /boot/config-RELEASE); nil and "" when neither could be read.
func (e *Env) KernelConfig() (*parse.KernelConfig, string) {
	t := e.moduleTables()
	return t.config, t.configPath
}

// ModprobeDirs are the modprobe.d(5) directories, highest precedence first: a file in an
// earlier directory masks a file of the same name in a later one.
var ModprobeDirs = []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"}

// AutoloadFact says whether the kernel would load a module that is not loaded when a rootless
// engine first uses it.
type AutoloadFact struct {
	OK bool
	// Evidence is what decided it (the blocking line, or the settings that allow it).
	Evidence finding.Evidence
	// Why says, when !OK, what stops it, in words for a finding.
	Why string
}

// ModuleAutoload tells whether m (a module fact of spec in state ModuleNotLoaded) would be
// loaded on demand: the kernel requests it at all (spec.OnDemand), module loading is enabled
// (/proc/sys/kernel/modules_disabled, /proc/sys/kernel/modprobe), the module's directory
// exists, and neither modprobe.d nor the command line blocks it. Unreadable settings count as
// their defaults (loading enabled, nothing blacklisted): the files are world-readable on every
// distribution, and the module is then reported as loading on demand with the evidence shown.
func (e *Env) ModuleAutoload(spec ModuleSpec, m ModuleFact) AutoloadFact {
	no := func(src, val, why string) AutoloadFact {
		return AutoloadFact{Evidence: finding.Evidence{Source: src, Value: val}, Why: why}
	}
	name := m.Name
	if spec.OnDemand == OnDemandNever {
		return no("kernel", name+" is never loaded on demand", "nothing in the kernel loads it on demand")
	}
	if m.State != ModuleNotLoaded {
		return no("/proc/modules", name+" is "+m.State.String(), "it is "+m.State.String())
	}
	t := e.moduleTables()
	if !t.dirExists {
		return no(t.dir, "does not exist", t.dir+" does not exist (a kernel upgraded without a reboot)")
	}
	conf := e.modprobeConf()
	if conf.off.Why != "" {
		return conf.off
	}
	for _, p := range conf.cmdline {
		if !p.HasValue {
			continue
		}
		for _, n := range strings.Split(p.Value, ",") {
			if parse.ModuleName(n) != name {
				continue
			}
			switch {
			case p.Key == "module_blacklist":
				return no("/proc/cmdline", "module_blacklist="+p.Value, "the kernel command line forbids it (module_blacklist=), even to modprobe")
			case p.Key == "modprobe.blacklist" && spec.OnDemand == OnDemandByAlias:
				return no("/proc/cmdline", "modprobe.blacklist="+p.Value, "it is blacklisted on the kernel command line (modprobe.blacklist=)")
			}
		}
	}
	if cmd, ok := conf.c.Install[name]; ok && parse.InstallDisables(cmd) {
		return no(conf.where[name], "install "+name+" "+cmd, "modprobe.d replaces loading it with `"+cmd+"`")
	}
	if conf.c.Blacklist[name] && spec.OnDemand == OnDemandByAlias {
		return no(conf.where[name], "blacklist "+name, "it is blacklisted in "+conf.where[name]+", and the kernel asks for it by an alias, which a blacklist makes modprobe ignore")
	}
	return AutoloadFact{OK: true, Evidence: finding.Evidence{Source: t.dir + "/modules.dep", Value: name + " is there, not blacklisted: loaded on demand"}}
}

// modprobeInfo is what decides on-demand loading for every module alike, read once per run:
// the merged modprobe.d configuration and, per module it names, the file; the kernel command
// line; and, when module loading is off altogether, why (off.Why is "" otherwise).
type modprobeInfo struct {
	c       parse.ModprobeConf
	where   map[string]string
	cmdline []parse.CmdlineParam
	off     AutoloadFact
}

// modprobeConf reads the settings of on-demand module loading once.
func (e *Env) modprobeConf() modprobeInfo {
	return e.modprobe.get(func() modprobeInfo {
		out := modprobeInfo{where: map[string]string{}, c: parse.ModprobeConf{Blacklist: map[string]bool{}, Install: map[string]string{}}}
		off := func(src, val, why string) {
			out.off = AutoloadFact{Evidence: finding.Evidence{Source: src, Value: val}, Why: why}
		}
		if v, err := e.Host.ReadFile("/proc/sys/kernel/modules_disabled"); err == nil && strings.TrimSpace(string(v)) == "1" {
			off("/proc/sys/kernel/modules_disabled", "1", "module loading is disabled until the next boot (kernel.modules_disabled=1)")
		} else if v, err := e.Host.ReadFile("/proc/sys/kernel/modprobe"); err == nil && strings.TrimSpace(string(v)) == "" {
			off("/proc/sys/kernel/modprobe", "empty", "the kernel's modprobe helper is unset (kernel.modprobe is empty)")
		}
		if data, err := e.Host.ReadFile("/proc/cmdline"); err == nil {
			out.cmdline = parse.ParseCmdline(data)
		}
		seen := map[string]bool{}
		var files []string
		for _, d := range ModprobeDirs {
			ents, err := e.Host.ReadDir(d)
			if err != nil {
				continue
			}
			for _, ent := range ents {
				n := ent.Name()
				if !strings.HasSuffix(n, ".conf") || seen[n] || ent.IsDir() {
					continue
				}
				seen[n] = true
				files = append(files, d+"/"+n)
			}
		}
		// modprobe reads the surviving files sorted by name, whatever their directory.
		slices.SortFunc(files, func(a, b string) int { return strings.Compare(path.Base(a), path.Base(b)) })
		for _, f := range files {
			data, err := e.Host.ReadFile(f)
			if err != nil {
				continue
			}
			// One file's lines, added to the merged configuration as ParseModprobeConf would
			// add them, remembering which file named each module.
			var one parse.ModprobeConf
			parse.ParseModprobeConf(data, &one)
			for n := range one.Blacklist {
				out.c.Blacklist[n], out.where[n] = true, f
			}
			for n, cmd := range one.Install {
				out.c.Install[n], out.where[n] = cmd, f
			}
		}
		return out
	})
}
