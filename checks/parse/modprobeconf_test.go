package parse

import (
	"testing"
)

func TestParseModprobeConf(t *testing.T) {
	var c ModprobeConf
	ParseModprobeConf([]byte("# an admin's list\nblacklist nf_tables\nblacklist   nft-compat # trailing words are ignored\n\ninstall cramfs /bin/true\ninstall dccp \\\n  /bin/false\ninstall nf_nat /sbin/modprobe --ignore-install nf_nat $CMDLINE_OPTS\noptions ip_tables foo=1\nblacklist\n"), &c)
	ParseModprobeConf([]byte("blacklist ip_tables\r\n"), &c)
	for _, n := range []string{"nf_tables", "nft_compat", "ip_tables"} {
		if !c.Blacklist[n] {
			t.Errorf("%s not blacklisted: %v", n, c.Blacklist)
		}
	}
	if c.Blacklist["foo"] || len(c.Blacklist) != 3 {
		t.Errorf("blacklist = %v", c.Blacklist)
	}
	if !InstallDisables(c.Install["cramfs"]) || !InstallDisables(c.Install["dccp"]) {
		t.Errorf("install = %q", c.Install)
	}
	if InstallDisables(c.Install["nf_nat"]) {
		t.Errorf("an install line that runs modprobe does not disable the module: %q", c.Install["nf_nat"])
	}
}

func FuzzParseModprobeConf(f *testing.F) {
	f.Add([]byte("blacklist nf_tables\ninstall x /bin/true\\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c ModprobeConf
		ParseModprobeConf(data, &c)
		for n := range c.Blacklist {
			if ModuleName(n) != n {
				t.Fatalf("blacklisted name %q is not normalised", n)
			}
		}
	})
}
