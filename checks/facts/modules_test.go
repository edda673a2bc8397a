package facts

import (
	"context"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestModuleFacts(t *testing.T) {
	ipt := ModuleSpec{Names: []string{"ip_tables"}, Config: []string{"CONFIG_IP_NF_IPTABLES"}, Proc: []string{"/proc/net/ip_tables_names"}}
	tunModule := ModuleSpec{Names: []string{"tun"}, Config: []string{"CONFIG_TUN"}}
	nat := ModuleSpec{Names: []string{"nft_chain_nat", "nft_chain_nat_ipv4"}, Config: []string{"CONFIG_NFT_NAT", "CONFIG_NFT_CHAIN_NAT_IPV4"}}
	tests := []struct {
		name   string
		host   *host.Memory
		spec   ModuleSpec
		want   ModuleState
		source string
	}{
		{"loaded", host.NewMemory().File("/proc/modules", "ip_tables 32768 0 - Live 0x0\n"), ipt, ModuleLoaded, "/proc/modules"},
		{"old name loaded", host.NewMemory().File("/proc/modules", "nft_chain_nat_ipv4 16384 0 - Live 0x0\n"), nat, ModuleLoaded, "/proc/modules"},
		{"modules.builtin", host.NewMemory().File("/proc/modules", "").File("/lib/modules/6.8.0/modules.builtin", "kernel/net/ipv4/netfilter/ip_tables.ko\n"),
			ipt, ModuleBuiltin, "/lib/modules/6.8.0/modules.builtin"},
		// The dev machine: no /proc/modules (CONFIG_MODULES=n), no /lib/modules, ip_tables built in.
		{"proc file, no module support", host.NewMemory().File("/proc/net/ip_tables_names", ""), ipt, ModuleLoaded, "/proc/net/ip_tables_names"},
		{"proc file, not in /proc/modules", host.NewMemory().File("/proc/modules", "").File("/proc/net/ip_tables_names", ""), ipt, ModuleBuiltin, "/proc/net/ip_tables_names"},
		{"/sys/module", host.NewMemory().File("/proc/modules", "").Dir("/sys/module/tun"), tunModule, ModuleBuiltin, "/sys/module/tun"},
		{"config.gz =y", host.NewMemory().GzipFile("/proc/config.gz", "# CONFIG_MODULES is not set\nCONFIG_NF_TABLES=y\nCONFIG_NFT_NAT=y\n"),
			nat, ModuleBuiltin, "/proc/config.gz"},
		{"boot config =m, not loaded", host.NewMemory().File("/proc/modules", "").File("/boot/config-6.8.0", "CONFIG_TUN=m\n"), tunModule, ModuleNotLoaded, "/boot/config-6.8.0"},
		{"config =m, /proc/modules unreadable", host.NewMemory().File("/boot/config-6.8.0", "CONFIG_TUN=m\n"), tunModule, ModuleUnknown, "/proc/modules"},
		{"config not set", host.NewMemory().File("/boot/config-6.8.0", "# CONFIG_IP_NF_IPTABLES is not set\n"), ipt, ModuleMissing, "/boot/config-6.8.0"},
		{"config does not mention it", host.NewMemory().File("/boot/config-6.8.0", "CONFIG_X=y\n"), ipt, ModuleUnknown, "/proc/modules"},
		{"not loaded, not built in", host.NewMemory().File("/proc/modules", "").File("/lib/modules/6.8.0/modules.builtin", "").
			File("/lib/modules/6.8.0/modules.dep", "kernel/net/ipv4/netfilter/ip_tables.ko:\n"), ipt, ModuleNotLoaded, "/proc/modules"},
		{"not in modules.dep", host.NewMemory().File("/proc/modules", "").File("/lib/modules/6.8.0/modules.builtin", "").
			File("/lib/modules/6.8.0/modules.dep", "kernel/fs/ext4/ext4.ko:\n"), ipt, ModuleMissing, "/lib/modules/6.8.0/modules.dep"},
		{"modules.builtin unreadable", host.NewMemory().File("/proc/modules", "").Dir("/lib/modules/6.8.0"), ipt, ModuleUnknown, "/lib/modules/6.8.0"},
		{"no /lib/modules for this kernel", host.NewMemory().File("/proc/modules", "").Dir("/lib/modules/6.1.0"), ipt, ModuleUnknown, "/proc/modules"},
		{"no evidence at all", host.NewMemory(), ipt, ModuleUnknown, "/proc/modules"},
		{"hostile kernel release", host.NewMemory().Kernel("../../etc").File("/proc/modules", ""), ipt, ModuleUnknown, "/proc/modules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEnv(context.Background(), tt.host.Host(), "")
			f := e.Module(tt.spec)
			if f.State != tt.want || f.Evidence.Source != tt.source {
				t.Errorf("got %s from %s (%q, note %q), want %s from %s", f.State, f.Evidence.Source, f.Evidence.Value, f.Note, tt.want, tt.source)
			}
			if f.State == ModuleUnknown && f.Note == "" {
				t.Error("unknown without a note")
			}
		})
	}
	e := NewEnv(context.Background(), host.NewMemory().Host(), "")
	if f := e.Module(ModuleSpec{}); f.State != ModuleUnknown {
		t.Errorf("empty spec: %v", f.State)
	}
	if e.ModulesLoadable() {
		t.Error("no /proc/modules, yet modules are loadable")
	}
}
