package parse

import (
	"bytes"
	"compress/gzip"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseSlirp4netnsVersion(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     string // Version.String(); "" = error
		atLeast  bool
		libslirp string
	}{
		{"debian 12", "slirp4netns version 1.2.0\ncommit: 656041d45cfca7a4176f6b7eed9e4fe6c11e8383\nlibslirp: 4.7.0\nSLIRP_CONFIG_VERSION_MAX: 4\nlibseccomp: 2.5.4\n", "1.2.0", true, "4.7.0"},
		{"old, first line only", "slirp4netns version 0.3.0\n", "0.3.0", false, ""},
		{"0.4.0 exactly", "slirp4netns version 0.4.0\ncommit: x\n", "0.4.0", true, ""},
		// The semver pitfall: a constraint ">= 0.4.0" rejects every pre-release; Compare does not.
		{"pre-release of a new version", "slirp4netns version 1.3.0-beta.1\n", "1.3.0-beta.1", true, ""},
		{"pre-release of 0.4.0 is below it", "slirp4netns version 0.4.0-beta.3\n", "0.4.0-beta.3", false, ""},
		{"git build metadata", "slirp4netns version 1.2.1+dev\n", "1.2.1+dev", true, ""},
		{"v prefix", "slirp4netns version v1.1.12\n", "1.1.12", true, ""},
		{"two-part", "slirp4netns version 1.2\n", "1.2.0", true, ""},
		{"leading noise line", "WARNING: something\nslirp4netns version 1.2.0\n", "1.2.0", true, ""},
		{"usage instead", "Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]\n", "", false, ""},
		{"garbage version", "slirp4netns version banana\n", "", false, ""},
		{"empty", "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseSlirp4netnsVersion([]byte(tt.in))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", v.Version)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Version.String(); got != tt.want {
				t.Errorf("version = %q, want %q", got, tt.want)
			}
			if got := v.AtLeast(Slirp4netnsMin); got != tt.atLeast {
				t.Errorf("AtLeast(0.4.0) = %v, want %v", got, tt.atLeast)
			}
			if v.Libslirp != tt.libslirp {
				t.Errorf("libslirp = %q, want %q", v.Libslirp, tt.libslirp)
			}
		})
	}
}

func TestSlirp4netnsHasNetnsType(t *testing.T) {
	for in, want := range map[string]bool{
		"--netns-type=TYPE \t specify network namespace type ([path|pid], default=pid)\n": true,
		"-c, --configure          bring up the interface\n--netns-type=TYPE\n":            true,
		"Usage: slirp4netns [OPTION]... PID [TAPNAME]\n-c, --configure\n":                 false,
		"--netns-typo=TYPE\n": false,
		"":                    false,
	} {
		if got := Slirp4netnsHasNetnsType([]byte(in)); got != want {
			t.Errorf("Slirp4netnsHasNetnsType(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseSlirp4netnsVersion(f *testing.F) {
	for _, s := range []string{"slirp4netns version 1.2.0\ncommit: abc\nlibslirp: 4.7.0\n", "slirp4netns version 0.3.0-beta.1+x", "slirp4netns version ", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseSlirp4netnsVersion(data)
		if err != nil {
			if v.Version != nil {
				t.Fatalf("error %v with a version %v", err, v.Version)
			}
			return
		}
		if v.Version == nil || v.Raw == "" {
			t.Fatalf("no version without an error: %+v", v)
		}
		// A parsed version must parse again the same (round trip through its canonical form).
		again, err := NewVersion(v.Version.String())
		if err != nil || !again.Equal(v.Version) {
			t.Fatalf("version %q does not round-trip: %v", v.Version, err)
		}
		_ = Slirp4netnsHasNetnsType(data)
	})
}

func TestParsePastaVersion(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   PastaDate // zero = error
		before bool      // before PastaMinRootlesskit
	}{
		{"upstream", "pasta 2023_03_09.ee7d0b6\nCopyright Red Hat\n", PastaDate{2023, 3, 9}, true},
		{"upstream minimum", "pasta 2023_12_04.b86afe3\n", PastaDate{2023, 12, 4}, false},
		{"upstream git describe", "pasta 2024_10_30.ee7d0b6-12-g1234abc\n", PastaDate{2024, 10, 30}, false},
		{"fedora rpm", "pasta 0^20230309.gee7d0b6-1.fc38.x86_64\n", PastaDate{2023, 3, 9}, true},
		{"fedora rpm new", "pasta 0^20250217.ga1e48a0-1.fc41.x86_64\n", PastaDate{2025, 2, 17}, false},
		{"debian package", "pasta 0.0~git20240220.1e6f92b-1\n", PastaDate{2024, 2, 20}, false},
		{"passt binary", "passt 2024_06_07.8a83b53\n", PastaDate{2024, 6, 7}, false},
		{"debian 12: unknown version", "pasta unknown version\nCopyright Red Hat\nGNU Affero GPL version 3 or later <https://www.gnu.org/licenses/agpl-3.0.html>\n", PastaDate{}, false},
		{"not pasta", "slirp4netns version 1.2.0\n", PastaDate{}, false},
		{"impossible month", "pasta 2023_13_09.ee7d0b6\n", PastaDate{}, false},
		{"date later on the line is the licence", "pasta unknown\nCopyright 2023_01_01\n", PastaDate{}, false},
		{"empty", "", PastaDate{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParsePastaVersion([]byte(tt.in))
			if tt.want.IsZero() {
				if err == nil {
					t.Fatalf("got %v, want an error", v.Date)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Date != tt.want {
				t.Errorf("date = %v, want %v", v.Date, tt.want)
			}
			if got := v.Date.Before(PastaMinRootlesskit); got != tt.before {
				t.Errorf("Before(%v) = %v, want %v", PastaMinRootlesskit, got, tt.before)
			}
		})
	}
	if v, err := ParsePastaVersion([]byte("pasta unknown version\n")); !errors.Is(err, ErrNoVersion) || v.Raw != "unknown version" {
		t.Errorf("unknown version: got %+v, %v; want Raw %q and ErrNoVersion", v, err, "unknown version")
	}
	if s := (PastaDate{2023, 3, 9}).String(); s != "2023_03_09" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParsePastaVersion(f *testing.F) {
	for _, s := range []string{"pasta 2023_03_09.ee7d0b6\n", "pasta 0^20230309.gee7d0b6-1.fc38", "pasta 0.0~git20240220.1e6f92b-1", "pasta unknown version", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParsePastaVersion(data)
		if err != nil {
			if !v.Date.IsZero() {
				t.Fatalf("error %v with a date %v", err, v.Date)
			}
			return
		}
		d := v.Date
		if d.Year < 2000 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
			t.Fatalf("impossible date %+v", d)
		}
		// The upstream spelling parses back to the same date.
		again, err := ParsePastaVersion([]byte("pasta " + d.String()))
		if err != nil || again.Date != d {
			t.Fatalf("%v does not round-trip: %v, %v", d, again.Date, err)
		}
		if d.Before(d) {
			t.Fatal("a date is before itself")
		}
	})
}

func TestParseIptablesVersion(t *testing.T) {
	tests := []struct {
		in, version, backend string // version "" = error
	}{
		{"iptables v1.8.9 (nf_tables)\n", "1.8.9", IptablesNFTables},
		{"iptables v1.8.7 (legacy)\n", "1.8.7", IptablesLegacy},
		{"iptables v1.6.1\n", "1.6.1", IptablesLegacy},
		{"iptables-legacy v1.8.4 (legacy)\n", "1.8.4", IptablesLegacy},
		{"iptables v1.8.10 (nf_tables): some warning\n", "1.8.10", IptablesNFTables},
		{"iptables v1.8.9 (martian)\n", "", ""},
		{"iptables: command not found\n", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		v, err := ParseIptablesVersion([]byte(tt.in))
		if tt.version == "" {
			if err == nil {
				t.Errorf("%q: got %+v, want an error", tt.in, v)
			}
			continue
		}
		if err != nil || v.Version != tt.version || v.Backend != tt.backend {
			t.Errorf("%q: got %+v, %v; want %s (%s)", tt.in, v, err, tt.version, tt.backend)
		}
	}
}

func FuzzParseIptablesVersion(f *testing.F) {
	for _, s := range []string{"iptables v1.8.9 (nf_tables)\n", "iptables v1.6.1", "iptables v1.8.7 (legacy)", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseIptablesVersion(data)
		if err != nil {
			return
		}
		if v.Backend != IptablesLegacy && v.Backend != IptablesNFTables {
			t.Fatalf("backend %q", v.Backend)
		}
		if v.Version == "" || !bytes.Contains(data, []byte(v.Version)) {
			t.Fatalf("version %q not from the input", v.Version)
		}
	})
}

func TestParseToolVersion(t *testing.T) {
	tests := []struct {
		in, name, want string // want "" = error
	}{
		{"rootlesskit version 1.1.0\n", "rootlesskit", "1.1.0"},
		{"rootlesskit version 3.3.0\n", "rootlesskit", "3.3.0"},
		{"podman version 5.0.2\n", "podman", "5.0.2"},
		{"podman version 4.9.4-rhel\n", "podman", "4.9.4-rhel"},
		{"podman version 5.0.2\n", "rootlesskit", ""},
		{"rootlesskit version\n", "rootlesskit", ""},
		{"", "podman", ""},
	}
	for _, tt := range tests {
		v, err := ParseToolVersion([]byte(tt.in), tt.name)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: got %v, want an error", tt.in, v)
			}
			continue
		}
		if err != nil || v.String() != tt.want {
			t.Errorf("%q: got %v, %v; want %s", tt.in, v, err, tt.want)
		}
	}
}

func FuzzParseToolVersion(f *testing.F) {
	f.Add([]byte("rootlesskit version 2.3.6\n"))
	f.Add([]byte("podman version 5.0.2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseToolVersion(data, "rootlesskit")
		if err == nil && v == nil {
			t.Fatal("nil version without an error")
		}
	})
}

func TestModules(t *testing.T) {
	proc := ParseProcModules([]byte("nf_tables 348160 12 nft_chain_nat,nft_compat, Live 0x0000000000000000\nip_tables 32768 0 - Live 0x0\n\n  \ntun 61440 0 - Live 0x0\n"))
	for _, m := range []string{"nf_tables", "ip_tables", "tun"} {
		if !proc[m] {
			t.Errorf("/proc/modules: %s missing from %v", m, proc)
		}
	}
	if len(proc) != 3 {
		t.Errorf("/proc/modules: %d modules, want 3: %v", len(proc), proc)
	}
	builtin := ParseModulesBuiltin([]byte("kernel/net/ipv4/netfilter/ip_tables.ko\nkernel/drivers/net/tun.ko\n# comment\n\nkernel/net/netfilter/nf-tables.ko.zst\n"))
	for _, m := range []string{"ip_tables", "tun", "nf_tables"} {
		if !builtin[m] {
			t.Errorf("modules.builtin: %s missing from %v", m, builtin)
		}
	}
	if len(builtin) != 3 {
		t.Errorf("modules.builtin: %d modules, want 3: %v", len(builtin), builtin)
	}
	for in, want := range map[string]string{
		"kernel/net/netfilter/nf_tables.ko.xz": "nf_tables",
		"nft-chain-nat":                        "nft_chain_nat",
		" ip_tables.ko ":                       "ip_tables",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseProcModules(f *testing.F) {
	f.Add([]byte("nf_tables 348160 12 nft_chain_nat, Live 0x0\n"))
	f.Add([]byte("kernel/net/ipv4/netfilter/ip_tables.ko\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		for name := range ParseProcModules(data) {
			if name == "" || strings.Contains(name, "-") {
				t.Fatalf("bad module name %q", name)
			}
		}
		if n := len(ParseProcModules(data)); n > lines {
			t.Fatalf("%d modules from %d lines", n, lines)
		}
	})
}

func FuzzParseModulesBuiltin(f *testing.F) {
	f.Add([]byte("kernel/net/ipv4/netfilter/ip_tables.ko\nkernel/drivers/net/tun.ko.zst\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		mods := ParseModulesBuiltin(data)
		if len(mods) > lines {
			t.Fatalf("%d modules from %d lines", len(mods), lines)
		}
		for name := range mods {
			if name == "" || strings.Contains(name, "-") || strings.Contains(name, "/") {
				t.Fatalf("bad module name %q", name)
			}
			if ModuleName(name) != name {
				t.Fatalf("ModuleName is not idempotent on %q", name)
			}
		}
	})
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestParseKernelConfig(t *testing.T) {
	text := "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_IKCONFIG=y\n# CONFIG_MODULES is not set\nCONFIG_NF_TABLES=y\nCONFIG_TUN=m\nCONFIG_LOCALVERSION=\"-fc\"\nCONFIG_NR_CPUS=64\n"
	for name, data := range map[string][]byte{"plain": []byte(text), "gzip": gz(t, text)} {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseKernelConfig(data)
			if err != nil {
				t.Fatal(err)
			}
			for sym, want := range map[string]string{"CONFIG_NF_TABLES": "y", "CONFIG_TUN": "m", "CONFIG_MODULES": "n", "CONFIG_IP_NF_IPTABLES": "n", "CONFIG_NR_CPUS": "n"} {
				if got := cfg.Tristate(sym); got != want {
					t.Errorf("Tristate(%s) = %q, want %q", sym, got, want)
				}
			}
			if !cfg.Has("CONFIG_MODULES") || cfg.Has("CONFIG_IP_NF_IPTABLES") {
				t.Errorf("Has: CONFIG_MODULES %v (want true), CONFIG_IP_NF_IPTABLES %v (want false)", cfg.Has("CONFIG_MODULES"), cfg.Has("CONFIG_IP_NF_IPTABLES"))
			}
			if v, _ := cfg.Value("CONFIG_LOCALVERSION"); v != `"-fc"` {
				t.Errorf("CONFIG_LOCALVERSION = %q", v)
			}
		})
	}
	for name, data := range map[string][]byte{
		"empty":          nil,
		"not a config":   []byte("hello\nworld\n"),
		"truncated gzip": gz(t, text)[:20],
		"gzip of junk":   gz(t, "junk\n"),
	} {
		if _, err := ParseKernelConfig(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A gzip bomb stops at the limit.
	if _, err := ParseKernelConfig(gz(t, "CONFIG_X=y\n"+strings.Repeat("#", maxConfig))); err == nil {
		t.Error("oversized config: no error")
	}
}

func FuzzParseKernelConfig(f *testing.F) {
	f.Add([]byte("CONFIG_TUN=y\n# CONFIG_MODULES is not set\n"))
	f.Add(gz(f, "CONFIG_NF_TABLES=m\n"))
	f.Add([]byte(" CONFIG_A=m \r\n#  CONFIG_B is not set\n# CONFIG_C is not set \nCONFIG_D\t=y\nCONFIG_E=\"x y\"\nCONFIG_A=n\n\u00a0CONFIG_F=y\u00a0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseKernelConfig(data)
		if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
			if ref := kernelConfigReference(data); err == nil && !maps.Equal(maps.Collect(cfg.All()), ref) || err != nil && len(ref) != 0 {
				t.Fatalf("%q: %v, %v; line by line: %v", data, cfg, err, ref)
			}
		}
		if err != nil {
			if cfg != nil {
				t.Fatal("config with an error")
			}
			return
		}
		all := maps.Collect(cfg.All())
		if len(all) == 0 {
			t.Fatal("empty config without an error")
		}
		for sym, v := range all {
			if got, ok := cfg.Value(sym); !ok || got != v {
				t.Fatalf("Value(%s) = %q, %v; All says %q", sym, got, ok, v)
			}
			if !strings.HasPrefix(sym, "CONFIG_") {
				t.Fatalf("symbol %q", sym)
			}
			if v := cfg.Tristate(sym); v != "y" && v != "m" && v != "n" {
				t.Fatalf("tristate %q", v)
			}
		}
	})
}

func TestParsePingGroupRange(t *testing.T) {
	tests := []struct {
		in       string
		lo, hi   int64
		err      bool
		disabled bool
	}{
		{"0\t2147483647\n", 0, 2147483647, false, false},
		{"1\t0", 1, 0, false, true},
		{"100 200", 100, 200, false, false},
		{"0", 0, 0, true, false},
		{"0 1 2", 0, 0, true, false},
		{"-1 5", 0, 0, true, false},
		{"0 4294967295", 0, 0, true, false},
		{"a b", 0, 0, true, false},
		{"", 0, 0, true, false},
	}
	for _, tt := range tests {
		r, err := ParsePingGroupRange(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("%q: got %v, want an error", tt.in, r)
			}
			continue
		}
		if err != nil || r.Lo != tt.lo || r.Hi != tt.hi || r.Disabled() != tt.disabled {
			t.Errorf("%q: got %+v (disabled %v), %v", tt.in, r, r.Disabled(), err)
		}
	}
	r := PingGroupRange{100, 200}
	if !r.Contains(100) || !r.Contains(200) || r.Contains(99) || r.Contains(201) {
		t.Error("Contains is not inclusive of exactly [100, 200]")
	}
	if (PingGroupRange{1, 0}).Contains(0) || (PingGroupRange{1, 0}).Contains(1) {
		t.Error("a disabled range contains a gid")
	}
}

func FuzzParsePingGroupRange(f *testing.F) {
	f.Add("0\t2147483647\n")
	f.Add("1\t0")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePingGroupRange(s)
		if err != nil {
			return
		}
		if r.Lo < 0 || r.Hi < 0 || r.Lo > maxGID || r.Hi > maxGID {
			t.Fatalf("out of range %+v", r)
		}
		again, err := ParsePingGroupRange(r.String())
		if err != nil || again != r {
			t.Fatalf("%+v does not round-trip: %+v, %v", r, again, err)
		}
		if r.Disabled() && (r.Contains(r.Lo) || r.Contains(r.Hi)) {
			t.Fatal("disabled range contains its bounds")
		}
	})
}

func TestParseUnitEnvironment(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
	}{
		{"docs override", "[Service]\nEnvironment=\"DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\"\nEnvironment=\"DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=implicit\"\n",
			map[string]string{"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "pasta", "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER": "implicit"}},
		{"unquoted, several", "[Service]\nEnvironment=A=1 B=2\n", map[string]string{"A": "1", "B": "2"}},
		{"quoted with space", "[Service]\nEnvironment=\"PATH=/a b:/c\" 'X=y z'\n", map[string]string{"PATH": "/a b:/c", "X": "y z"}},
		{"reset", "[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n", map[string]string{"B": "2"}},
		{"later wins", "[Service]\nEnvironment=A=1\nEnvironment=A=2\n", map[string]string{"A": "2"}},
		{"other section ignored", "[Unit]\nEnvironment=A=1\n[Service]\n# Environment=B=2\nEnvironment=C=3\n", map[string]string{"C": "3"}},
		{"garbage", "\x00\xff=\n====\nEnvironment\n", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseUnitEnvironment([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func FuzzParseUnitEnvironment(f *testing.F) {
	f.Add([]byte("[Service]\nEnvironment=\"A=b c\" D=e\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := range ParseUnitEnvironment(data) {
			if k == "" || strings.ContainsAny(k, "=") {
				t.Fatalf("bad name %q", k)
			}
		}
	})
}

// kernelConfigReference is the line-by-line parse of plain text that ParseKernelConfig's
// allocation-free loop replaced (issue 16), the reference of FuzzParseKernelConfig.
func kernelConfigReference(data []byte) map[string]string {
	cfg := map[string]string{}
	for line := range bytes.Lines(data) {
		s := strings.TrimSpace(string(line))
		if rest, ok := strings.CutPrefix(s, "# "); ok {
			if sym, ok := strings.CutSuffix(rest, " is not set"); ok && strings.HasPrefix(sym, "CONFIG_") && !strings.ContainsAny(sym, " \t") {
				cfg[sym] = "n"
			}
			continue
		}
		sym, val, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(sym, "CONFIG_") || strings.ContainsAny(sym, " \t") {
			continue
		}
		cfg[sym] = val
	}
	return cfg
}

// FuzzKernelConfigBinary: a config read back from AppendBinary's bytes is the config it was
// written from, and bytes AppendBinary did not write are refused or read as a config that
// writes itself back the same (never a panic).
func FuzzKernelConfigBinary(f *testing.F) {
	f.Add([]byte("# CONFIG_MODULES is not set\nCONFIG_TUN=m\nCONFIG_EXT4_FS=y\nCONFIG_HZ=250\nCONFIG_S=\"a b\"\n"), []byte{})
	f.Add([]byte("CONFIG_=\n"), []byte{8, 'C', 'O', 'N', 'F', 'I', 'G', '_', 'X', 1, 'y'})
	f.Add([]byte{}, []byte{8, 'C', 'O', 'N', 'F', 'I', 'G', '_', 'X', 0x80})
	f.Add([]byte{}, []byte("\x08CONFIG_B\x01y\x08CONFIG_A\x01y")) // out of order: refused
	f.Fuzz(func(t *testing.T, config, raw []byte) {
		if cfg, err := ParseKernelConfig(config); err == nil {
			b, _ := cfg.AppendBinary(nil)
			back, err := DecodeKernelConfig(b)
			if err != nil || !maps.Equal(maps.Collect(back.All()), maps.Collect(cfg.All())) {
				t.Fatalf("%q: read back %v (%v), written %v", config, back, err, cfg)
			}
		}
		if c, err := DecodeKernelConfig(raw); err == nil {
			b, _ := c.AppendBinary(nil)
			again, err := DecodeKernelConfig(b)
			if err != nil || !maps.Equal(maps.Collect(again.All()), maps.Collect(c.All())) {
				t.Fatalf("%q decodes, but not once written back (%v)", raw, err)
			}
		}
	})
}

// TestDecodeKernelConfigRefuses: bytes AppendBinary does not write are refused, so that the
// sorted table's binary search never meets symbols out of order.
func TestDecodeKernelConfigRefuses(t *testing.T) {
	for name, raw := range map[string]string{
		"out of order":  "\x08CONFIG_B\x01y\x08CONFIG_A\x01y",
		"twice":         "\x08CONFIG_A\x01y\x08CONFIG_A\x01m",
		"no prefix":     "\x03TUN\x01m",
		"cut short":     "\x08CONFIG_A\x05y",
		"empty":         "",
		"bad length":    "\x80",
		"value missing": "\x08CONFIG_A",
	} {
		if cfg, err := DecodeKernelConfig([]byte(raw)); err == nil {
			t.Errorf("%s: decoded %v", name, maps.Collect(cfg.All()))
		}
	}
	cfg, err := DecodeKernelConfig([]byte("\x08CONFIG_A\x01y\x08CONFIG_B\x01m"))
	if err != nil || cfg.Tristate("CONFIG_A") != "y" || cfg.Tristate("CONFIG_B") != "m" || cfg.Has("CONFIG_C") {
		t.Errorf("in order: %v, %v", cfg, err)
	}
}
