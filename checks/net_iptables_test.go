package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func withIptables(m *host.Memory, bin, out string) *host.Memory {
	return m.Exec(bin).Command([]string{bin, "--version"}, out, 0)
}

// modularKernel has module support and /lib/modules/6.8.0 with the netfilter modules available
// but none loaded.
func modularKernel(m *host.Memory, loaded string) *host.Memory {
	return m.File("/proc/modules", loaded).
		File("/lib/modules/6.8.0/modules.builtin", "kernel/fs/ext4/ext4.ko\n").
		File("/lib/modules/6.8.0/modules.dep", "kernel/net/ipv4/netfilter/ip_tables.ko:\nkernel/net/ipv4/netfilter/iptable_nat.ko:\nkernel/net/ipv4/netfilter/iptable_filter.ko:\n"+
			"kernel/net/netfilter/nf_tables.ko:\nkernel/net/netfilter/nft_chain_nat.ko:\nkernel/net/netfilter/nft_compat.ko:\nkernel/net/bridge/br_netfilter.ko:\n")
}

// blacklisted adds an admin's modprobe.d blacklist of names: the kernel's requests by alias
// then load nothing, so the modules must be loaded beforehand.
func blacklisted(m *host.Memory, names ...string) *host.Memory {
	conf := ""
	for _, n := range names {
		conf += "blacklist " + n + "\n"
	}
	return m.File("/etc/modprobe.d/netfilter-blacklist.conf", conf)
}

const (
	nftVersion    = "iptables v1.8.9 (nf_tables)\n"
	legacyVersion = "iptables v1.8.7 (legacy)\n"
)

// The module checks of dockerd-rootless-setuptool.sh: up to moby 28.0 (moby@v27.5.1
// contrib/dockerd-rootless-setuptool.sh#L181) and since commit f80feba (2025-04-01).
const (
	setupToolIPTables = "#!/bin/sh\n\tif ! grep -q ip_tables /proc/modules 2> /dev/null && ! grep -q ip_tables /lib/modules/$(uname -r)/modules.builtin 2> /dev/null; then\n"
	setupToolNFTables = "#!/bin/sh\n\tiptables_module=\"nf_tables\"\n\t\t\t*legacy*) iptables_module=\"ip_tables\" ;;\n\tif ! grep -q $iptables_module /proc/modules 2> /dev/null; then\n"
)

// setupTool installs dockerd and Docker's setup tool with the text tool.
func setupTool(m *host.Memory, tool string) *host.Memory {
	return m.Exec("/usr/bin/dockerd").File("/usr/bin/dockerd-rootless-setuptool.sh", tool).Meta("/usr/bin/dockerd-rootless-setuptool.sh", host.FileMeta{Mode: "0755"})
}

// daemonJSON is rootless dockerd's configuration file of alice.
const daemonJSON = "/home/alice/.config/docker/daemon.json"

func TestNetIptables(t *testing.T) {
	nftLoaded := "nf_tables 348160 12 nft_chain_nat, Live 0x0\nnft_chain_nat 16384 0 - Live 0x0\n"
	legacyLoaded := "ip_tables 32768 0 - Live 0x0\niptable_nat 16384 0 - Live 0x0\niptable_filter 16384 0 - Live 0x0\n"
	runProbeTests(t, netIptables, []probeTest{
		// This dev machine: iptables in /usr/sbin, nf_tables backend, everything built in,
		// no /proc/modules, no /lib/modules, /proc/config.gz present.
		{name: "dev machine with config.gz", host: withIptables(alice(), "/usr/sbin/iptables", nftVersion).
			GzipFile("/proc/config.gz", "# CONFIG_MODULES is not set\nCONFIG_NF_TABLES=y\nCONFIG_NFT_NAT=y\nCONFIG_NFT_COMPAT=y\nCONFIG_IP_NF_IPTABLES=y\n").
			File("/proc/net/ip_tables_names", ""),
			status: finding.Pass, summary: "nf_tables built in, nft_chain_nat built in", fixes: []string{}},
		// The crux: same machine without a kernel config. Nothing proves the modules absent.
		{name: "built in, no evidence either way (no false alarm)", host: withIptables(alice(), "/usr/sbin/iptables", nftVersion),
			status: finding.Pass, summary: "could not be confirmed", fixes: []string{}},
		{name: "legacy, ip_tables built in, no /lib/modules", host: withIptables(alice(), "/usr/sbin/iptables", legacyVersion).File("/proc/net/ip_tables_names", ""),
			status: finding.Pass, summary: "iptable_filter and iptable_nat could not be confirmed", fixes: []string{}},
		{name: "nf_tables loaded", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded),
			status: finding.Pass, summary: "nf_tables loaded, nft_chain_nat loaded"},
		{name: "legacy loaded", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", legacyVersion), legacyLoaded),
			status: finding.Pass, summary: "ip_tables loaded"},
		// Debian 12 as installed (the VM lab): nothing of nf_tables loaded, and rootless dockerd
		// runs, the kernel loading the modules on demand from its user namespace.
		{name: "nf_tables not loaded, loaded on demand", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n"),
			status: finding.Pass, summary: "nf_tables and nft_chain_nat not loaded yet, loaded on demand", fixes: []string{}},
		{name: "nf_tables not loaded, blacklisted", host: blacklisted(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n"), "nf_tables", "nft_compat"),
			status: finding.Warn, summary: "needs nf_tables and nft_compat, which are not loaded and cannot be loaded on demand", fixes: []string{"module.nf_tables", "module.nft_compat"}},
		{name: "nft_compat blacklisted on the command line", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded).
			File("/proc/cmdline", "root=/dev/vda modprobe.blacklist=ip_tables,nft_compat quiet"),
			status: finding.Warn, summary: "needs nft_compat, which is not loaded", fixes: []string{"module.nft_compat"}},
		{name: "modules_disabled", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n").File("/proc/sys/kernel/modules_disabled", "1\n"),
			status: finding.Warn, summary: "cannot be loaded on demand", fixes: []string{"module.nf_tables", "module.nft_chain_nat", "module.nft_compat"}},
		// Requested by name ("iptable_nat"): a blacklist does not stop it, an install line does.
		{name: "legacy, only ip_tables loaded", host: blacklisted(modularKernel(withIptables(alice(), "/usr/sbin/iptables", legacyVersion), "ip_tables 32768 0 - Live 0x0\n"), "iptable_nat"),
			status: finding.Pass, summary: "iptable_filter and iptable_nat not loaded yet, loaded on demand", fixes: []string{}},
		{name: "legacy, iptable_nat disabled by an install line", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", legacyVersion), "ip_tables 32768 0 - Live 0x0\n").
			File("/usr/lib/modprobe.d/hardening.conf", "install iptable_nat /bin/true\n"),
			status: finding.Warn, summary: "needs iptable_nat, which is not loaded", fixes: []string{"module.iptable_nat"}},
		// ip_tables is never loaded on demand: iptables-legacy fails with `Table does not exist`.
		{name: "old iptables without backend", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", "iptables v1.6.1\n"), "overlay 1 0 - Live 0x0\n"),
			status: finding.Warn, summary: "needs ip_tables, which is not loaded", fixes: []string{"module.ip_tables"}},
		{name: "config =m, not loaded, kernel upgraded", host: withIptables(alice(), "/usr/sbin/iptables", nftVersion).File("/proc/modules", "").
			File("/boot/config-6.8.0", "CONFIG_NF_TABLES=m\nCONFIG_NFT_NAT=m\n"),
			status: finding.Warn, fixes: []string{"module.nf_tables", "module.nft_chain_nat"}},
		{name: "kernel without nf_tables", host: withIptables(alice(), "/usr/sbin/iptables", nftVersion).
			GzipFile("/proc/config.gz", "# CONFIG_MODULES is not set\n# CONFIG_NF_TABLES is not set\n# CONFIG_NFT_NAT is not set\n"),
			status: finding.Warn, summary: "the kernel has no nf_tables and nft_chain_nat", fixes: []string{}},
		{name: "not installed", host: alice(), status: finding.Warn, summary: "iptables is not installed", fixes: []string{"package.iptables"}},

		// docs/failures/catalogue.json#iptables-modules-not-loaded: with rootless Docker installed
		// dockerd will not start.
		{name: "nf_tables blacklisted, Docker installed", host: blacklisted(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n"), "nf_tables", "nft_chain_nat", "nft_compat").Exec("/usr/bin/dockerd"),
			status: finding.Fail, summary: "which are not loaded", fixes: []string{"module.nf_tables", "module.nft_chain_nat", "module.nft_compat"}},
		{name: "nf_tables not loaded, Docker installed, loaded on demand", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n").Exec("/usr/bin/dockerd"),
			status: finding.Pass, summary: "loaded on demand", fixes: []string{}},
		{name: "nf_tables blacklisted, Docker told --iptables=false", host: blacklisted(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n"), "nf_tables").Exec("/usr/bin/dockerd").
			File(daemonJSON, `{"iptables": false}`), status: finding.Warn},
		{name: "kernel without nf_tables, Docker installed", host: withIptables(alice(), "/usr/sbin/iptables", nftVersion).Exec("/usr/bin/dockerd-rootless.sh").
			GzipFile("/proc/config.gz", "# CONFIG_MODULES is not set\n# CONFIG_NF_TABLES is not set\n# CONFIG_NFT_NAT is not set\n"),
			status: finding.Fail, summary: "the kernel has no nf_tables"},

		// The VM lab (N1): Docker's setup tool up to moby 28.0 wants ip_tables in /proc/modules or
		// modules.builtin whatever the backend, and refuses to install without it.
		{name: "nf_tables ready, setup tool wants ip_tables", host: setupTool(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded), setupToolIPTables),
			status: finding.Fail, summary: "/usr/bin/dockerd-rootless-setuptool.sh refuses to install rootless Docker until ip_tables is loaded", fixes: []string{"module.ip_tables"}},
		{name: "nf_tables blacklisted, setup tool wants ip_tables", host: setupTool(blacklisted(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n"), "nf_tables", "nft_chain_nat", "nft_compat"), setupToolIPTables),
			status: finding.Fail, summary: "which are not loaded", fixes: []string{"module.nf_tables", "module.nft_chain_nat", "module.nft_compat", "module.ip_tables"}},
		// The VM lab's modules scenario before its staging: dockerd would run (on demand), the
		// setup tool still refuses until ip_tables is loaded.
		{name: "nf_tables on demand, setup tool wants ip_tables", host: setupTool(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), "overlay 1 0 - Live 0x0\n"), setupToolIPTables),
			status: finding.Fail, summary: "refuses to install rootless Docker until ip_tables is loaded", fixes: []string{"module.ip_tables"}},
		{name: "setup tool, ip_tables loaded", host: setupTool(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded+"ip_tables 32768 0 - Live 0x0\n"), setupToolIPTables),
			status: finding.Pass, fixes: []string{}},
		{name: "setup tool, ip_tables in modules.builtin", host: setupTool(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded), setupToolIPTables).
			File("/lib/modules/6.8.0/modules.builtin", "kernel/net/ipv4/netfilter/ip_tables.ko\n"), status: finding.Pass, fixes: []string{}},
		{name: "setup tool already ran (docker.service)", host: setupTool(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded), setupToolIPTables).
			File("/home/alice/.config/systemd/user/docker.service", "[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\n"), status: finding.Pass},
		{name: "dockerd without the setup tool", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded).Exec("/usr/bin/dockerd").Exec("/usr/bin/dockerd-rootless.sh"),
			status: finding.Pass},
		{name: "newer setup tool checks nf_tables", host: setupTool(modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded), setupToolNFTables),
			status: finding.Pass, fixes: []string{}},
		{name: "newer setup tool, legacy backend wants ip_tables", host: setupTool(withIptables(alice(), "/usr/sbin/iptables", legacyVersion).File("/proc/net/ip_tables_names", "").
			GzipFile("/proc/config.gz", "# CONFIG_MODULES is not set\nCONFIG_IP_NF_IPTABLES=y\nCONFIG_IP_NF_FILTER=y\nCONFIG_IP_NF_NAT=y\n"), setupToolNFTables),
			status: finding.Warn, summary: "until ip_tables is loaded", fixes: []string{"manual.docker-setuptool-skip-iptables"}},
		{name: "setup tool, ip_tables built in without modules.builtin", host: setupTool(withIptables(alice(), "/usr/sbin/iptables", nftVersion).
			GzipFile("/proc/config.gz", "# CONFIG_MODULES is not set\nCONFIG_NF_TABLES=y\nCONFIG_NFT_NAT=y\nCONFIG_IP_NF_IPTABLES=y\n"), setupToolIPTables),
			status: finding.Warn, summary: "the kernel has it built in", fixes: []string{"manual.docker-setuptool-skip-iptables"}},

		// docs/failures/catalogue.json#br-netfilter-missing
		{name: "icc false, br_netfilter not loaded", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded).Exec("/usr/bin/dockerd").
			File(daemonJSON, `{"icc": false}`), status: finding.Fail, summary: `sets "icc": false, which needs br_netfilter`, fixes: []string{"module.br_netfilter"}},
		{name: "userland-proxy false, br_netfilter built in", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded).Exec("/usr/bin/dockerd").
			File(daemonJSON, `{"userland-proxy": false}`).Dir("/sys/module/br_netfilter"), status: finding.Pass},
		{name: "userland-proxy false, errors ignored", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded).Exec("/usr/bin/dockerd").
			File(daemonJSON, `{"userland-proxy": false}`).File("/home/alice/.config/systemd/user/docker.service.d/br.conf", "[Service]\nEnvironment=DOCKER_IGNORE_BR_NETFILTER_ERROR=1\n"), status: finding.Pass},
		{name: "icc false, no Docker", host: modularKernel(withIptables(alice(), "/usr/sbin/iptables", nftVersion), nftLoaded).File(daemonJSON, `{"icc": false}`), status: finding.Pass},
		{name: "icc false, kernel without br_netfilter", host: withIptables(alice(), "/usr/sbin/iptables", nftVersion).Exec("/usr/bin/dockerd").File(daemonJSON, `{"icc": false}`).
			GzipFile("/proc/config.gz", "# CONFIG_MODULES is not set\nCONFIG_NF_TABLES=y\nCONFIG_NFT_NAT=y\n# CONFIG_BRIDGE_NETFILTER is not set\n"),
			status: finding.Fail, fixes: []string{"manual.br-netfilter"}},
		{name: "only in /usr/sbin, PATH without it", host: withIptables(alice().Env("PATH", "/usr/local/bin:/usr/bin:/bin"), "/usr/sbin/iptables", nftVersion).
			GzipFile("/proc/config.gz", "CONFIG_NF_TABLES=y\nCONFIG_NFT_NAT=y\n"),
			status: finding.Pass, summary: "at /usr/sbin/iptables"},
		{name: "only in /sbin", host: withIptables(alice().Env("PATH", "/usr/bin"), "/sbin/iptables", nftVersion), status: finding.Pass, summary: "at /sbin/iptables"},
		{name: "--version fails, nf_tables loaded", host: modularKernel(alice().Exec("/usr/sbin/iptables"), nftLoaded).
			CommandError([]string{"/usr/sbin/iptables", "--version"}, "exec format error"),
			status: finding.Pass, summary: "nf_tables loaded"},
		{name: "--version garbage, no evidence", host: withIptables(alice(), "/usr/sbin/iptables", "\x00\xff garbage\n"),
			status: finding.Pass, summary: "could not be confirmed"},
		{name: "--version exit 1, neither loaded", host: modularKernel(alice().Exec("/usr/sbin/iptables"), "").
			Command([]string{"/usr/sbin/iptables", "--version"}, "", 1),
			status: finding.Pass, summary: "nf_tables not loaded yet, loaded on demand", fixes: []string{}},
		{name: "--version exit 1, neither loaded, nf_tables blacklisted", host: blacklisted(modularKernel(alice().Exec("/usr/sbin/iptables"), ""), "nf_tables").
			Command([]string{"/usr/sbin/iptables", "--version"}, "", 1),
			status: finding.Warn, summary: "neither nf_tables nor ip_tables", fixes: []string{"module.nf_tables"}},
		{name: "--version garbage, kernel has neither", host: withIptables(alice(), "/usr/sbin/iptables", "garbage").
			File("/boot/config-6.8.0", "# CONFIG_NF_TABLES is not set\n# CONFIG_IP_NF_IPTABLES is not set\n"),
			status: finding.Warn, summary: "neither nf_tables nor ip_tables", fixes: []string{}},
	})
}

func TestNetIptablesDetails(t *testing.T) {
	r := result(t, netIptables, withIptables(alice().Env("PATH", "/usr/bin"), "/usr/sbin/iptables", nftVersion), "")
	if !netHasDetail(r, "not on this PATH") {
		t.Errorf("iptables off PATH: no detail: %q", r.Details)
	}
	if !netHasDetail(r, "br_netfilter is unknown") {
		t.Errorf("no br_netfilter detail: %q", r.Details)
	}
	r = result(t, netIptables, alice(), "")
	if !netHasDetail(r, "--iptables=false") {
		t.Errorf("missing iptables: no --iptables=false alternative: %q", r.Details)
	}
	r = result(t, netIptables, withIptables(alice(), "/usr/sbin/iptables", nftVersion).File("/proc/modules", "").
		File("/boot/config-6.8.0", "CONFIG_NF_TABLES=m\nCONFIG_NFT_NAT=m\n"), "")
	if !netHasDetail(r, "not rebooted") {
		t.Errorf("config =m without /lib/modules: no reboot hint: %q", r.Details)
	}
}
