package checks

import (
	"context"
	"slices"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Regression tests for what the fixture trees (fixtures/) showed wrong in the reports.

// identity.user printed the home's mode as "-rwxr-x---" where every other probe prints
// octal.
func TestIdentityUserEvidenceIsOctal(t *testing.T) {
	r := runForResult(t, identityUser, alice(), "")
	if !slices.Contains(r.Evidence, finding.Evidence{Source: "/home/alice", Value: "owner=1000 mode=0750"}) {
		t.Errorf("evidence = %q, want /home/alice owner=1000 mode=0750", r.Evidence)
	}
	r = runForResult(t, identityUser, alice().Meta("/home/alice", host.FileMeta{Mode: "0755", UID: host.Int(0)}), "")
	wantDetailsContain(t, r, "owned by uid 0 with mode 0755")
}

// On kernels before 5.1 the NAT chain module is nft_chain_nat_ipv4 (debian-10 fixture): the
// fact is named after the module the kernel has, not the current spelling.
func TestModuleFactNamesTheLoadedModule(t *testing.T) {
	e := facts.NewEnv(context.Background(), host.NewMemory().Kernel("4.19.0-27-amd64").
		File("/proc/modules", "nft_chain_nat_ipv4 16384 1 - Live 0x0000000000000000\n").Host(), "")
	if f := e.Module(modNFTChainNAT); f.State != facts.ModuleLoaded || f.Name != "nft_chain_nat_ipv4" {
		t.Errorf("got %s %s, want nft_chain_nat_ipv4 loaded", f.Name, f.State)
	}
	e = facts.NewEnv(context.Background(), host.NewMemory().File("/proc/modules", "").Dir("/sys/module/nft_chain_nat_ipv4").Host(), "")
	if f := e.Module(modNFTChainNAT); f.Name != "nft_chain_nat_ipv4" {
		t.Errorf("/sys/module: got %s, want nft_chain_nat_ipv4", f.Name)
	}
	r := runForResult(t, netIptables, withIptables(alice().Kernel("4.19.0-27-amd64"), "/usr/sbin/iptables", "iptables v1.8.2 (nf_tables)\n").
		File("/proc/modules", "nft_chain_nat_ipv4 16384 1 - Live 0x0\nnf_tables 143360 1 nft_chain_nat_ipv4, Live 0x0\n"), "")
	if r.Summary != "iptables 1.8.2 (nf_tables) at /usr/sbin/iptables; nf_tables loaded, nft_chain_nat_ipv4 loaded" {
		t.Errorf("summary = %q", r.Summary)
	}
}

// On 4.19 (debian-10 fixture without the modules loaded) the NAT chain module to load is
// nft_chain_nat_ipv4: CONFIG_NFT_NAT is set there too but builds nft_nat, and the fix used to
// run `modprobe nft_chain_nat`, which does not exist before 5.1 and stopped the script.
func TestModuleNotLoadedOnOldKernelNamesTheOldModule(t *testing.T) {
	cfg := "CONFIG_NF_TABLES=m\nCONFIG_NFT_CHAIN_NAT_IPV4=m\nCONFIG_NFT_NAT=m\n"
	h := withIptables(alice().Kernel("4.19.0-27-amd64"), "/usr/sbin/iptables", "iptables v1.8.2 (nf_tables)\n").
		File("/proc/modules", "overlay 131072 0 - Live 0x0\n").File("/boot/config-4.19.0-27-amd64", cfg).Dir("/lib/modules/4.19.0-27-amd64")
	// Blacklisted, so that they must be loaded beforehand (not loaded on demand).
	h = blacklisted(h, "nf_tables", "nft_chain_nat_ipv4", "nft_chain_nat")
	e := facts.NewEnv(context.Background(), h.Host(), "")
	if f := e.Module(modNFTChainNAT); f.State != facts.ModuleNotLoaded || f.Name != "nft_chain_nat_ipv4" ||
		f.Evidence.Value != "CONFIG_NFT_CHAIN_NAT_IPV4=m, and nft_chain_nat_ipv4 is not in /proc/modules" {
		t.Errorf("got %s %s (%q)", f.Name, f.State, f.Evidence.Value)
	}
	r := runForResult(t, netIptables, h, "")
	if got := fixes.FixIDs(r); !slices.Equal(got, []string{"module.nf_tables", "module.nft_chain_nat_ipv4"}) {
		t.Errorf("fixes = %q", got)
	}
	// A current kernel has no CONFIG_NFT_CHAIN_NAT_IPV4: nft_chain_nat it is.
	h = withIptables(alice(), "/usr/sbin/iptables", nftVersion).File("/proc/modules", "overlay 131072 0 - Live 0x0\n").
		File("/boot/config-6.8.0", "CONFIG_NF_TABLES=m\nCONFIG_NFT_NAT=m\n").Dir("/lib/modules/6.8.0")
	h = blacklisted(h, "nf_tables", "nft_chain_nat")
	r = runForResult(t, netIptables, h, "")
	if got := fixes.FixIDs(r); !slices.Equal(got, []string{"module.nf_tables", "module.nft_chain_nat"}) {
		t.Errorf("fixes on 6.8 = %q", got)
	}
}

// iptables before 1.8 prints no backend (centos-7 fixture): the evidence is the line as
// printed, not one the probe made up.
func TestIptablesEvidenceIsVerbatim(t *testing.T) {
	r := runForResult(t, netIptables, withIptables(alice(), "/usr/sbin/iptables", "iptables v1.4.21\n").
		File("/proc/modules", "ip_tables 27126 2 iptable_filter,iptable_nat, Live 0x0\niptable_filter 12810 1 - Live 0x0\niptable_nat 12875 1 - Live 0x0\n"), "")
	if !slices.Contains(r.Evidence, finding.Evidence{Source: "/usr/sbin/iptables --version", Value: "iptables v1.4.21"}) {
		t.Errorf("evidence = %q", r.Evidence)
	}
	if r.Status != finding.Pass || r.Summary != "iptables 1.4.21 (legacy) at /usr/sbin/iptables; ip_tables loaded, iptable_filter loaded, iptable_nat loaded" {
		t.Errorf("%s: %q", r.Status, r.Summary)
	}
}

// When docker's and podman's data roots sit on the same btrfs mount (fedora-41 fixture), the
// merged result said the same user_subvol_rm_allowed note twice.
func TestStorageDataRootMergeDropsRepeatedDetails(t *testing.T) {
	mi := "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n2 1 8:2 /@home /home rw,relatime shared:2 - btrfs /dev/sda2 rw,ssd,subvol=/@home\n"
	h := storageHost("6.8.0").FSType("/home", "btrfs").File(facts.MountinfoPath, mi).
		Exec("/usr/bin/podman").
		Dir("/home/alice/.local/share/containers/storage").
		Meta("/home/alice/.local/share", host.FileMeta{Type: "dir", Mode: "0755", UID: host.Int(1000), GID: host.Int(1000)}).
		Meta("/home/alice/.local/share/containers/storage", host.FileMeta{Mode: "0700", UID: host.Int(1000), GID: host.Int(1000)})
	r := runForResult(t, storageDataRoot, h, "")
	if r.Status != finding.Pass {
		t.Fatalf("%s: %q", r.Status, r.Summary)
	}
	seen := map[string]bool{}
	for _, d := range r.Details {
		if seen[d] {
			t.Errorf("detail repeated: %q", d)
		}
		seen[d] = true
	}
	wantDetailsContain(t, r, "/home is not mounted with user_subvol_rm_allowed")
}
