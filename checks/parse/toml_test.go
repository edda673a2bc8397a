package parse

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	gotoml "github.com/pelletier/go-toml/v2"
)

// debianContainersConf is the part of Debian 12's /usr/share/containers/containers.conf that
// sets something (golang-github-containers-common 0.50.1+ds1-4): everything else is comments.
const debianContainersConf = `[containers]
[secrets]
[secrets.opts]
[network]
[engine]
  [engine.runtimes]
[engine.volume_plugins]
[machine]
`

const fedoraStorageConf = `# This file is the configuration file for all tools
# that use the containers/storage library.
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
# rootless_storage_path = "$HOME/.local/share/containers/storage"

[storage.options]
additionalimagestores = [
]
pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos=""}

[storage.options.overlay]
#ignore_chown_errors = "false"
mountopt = "nodev,metacopy=on"
`

func TestContainersConfChain(t *testing.T) {
	tests := []struct {
		name       string
		attributed bool
		files      []string
		want       ContainersConf
		wantErr    string
	}{
		{name: "debian defaults", files: []string{debianContainersConf}, want: ContainersConf{}},
		{name: "the runc drop-in", files: []string{debianContainersConf, "[engine]\nruntime = \"runc\"\n"},
			want: ContainersConf{Runtime: "runc"}},
		{name: "a later file overrides only its keys", files: []string{
			"[engine]\nruntime = \"crun\"\ncgroup_manager = \"systemd\"\n",
			"[engine]\nruntime = \"runc\"\n"},
			want: ContainersConf{Runtime: "runc", CgroupManager: "systemd"}},
		{name: "runtimes merge per key", files: []string{
			"[engine.runtimes]\ncrun = [\"/a/crun\"]\nrunc = [\"/a/runc\"]\n",
			"[engine.runtimes]\nrunc = [\"/b/runc\"]\n"},
			want: ContainersConf{Runtimes: map[string][]string{"crun": {"/a/crun"}, "runc": {"/b/runc"}}}},
		{name: "arrays are replaced", files: []string{
			"[engine]\nhelper_binaries_dir = [\"/a\"]\n", "[engine]\nhelper_binaries_dir = [\"/b\"]\n"},
			want: ContainersConf{HelperBinariesDir: []string{"/b"}}},
		{name: "append=true appends (4.8+)", attributed: true, files: []string{
			"[engine]\nhelper_binaries_dir = [\"/a\"]\n", "[engine]\nhelper_binaries_dir = [\"/b\", {append=true}]\n"},
			want: ContainersConf{HelperBinariesDir: []string{"/a", "/b"}}},
		{name: "the append flag stays set on the merged value", attributed: true, files: []string{
			"[engine]\nconmon_path = [\"/a\", {append=true}]\n", "[engine]\nconmon_path = [\"/b\"]\n"},
			want: ContainersConf{ConmonPath: []string{"/a", "/b"}}},
		{name: "append=true is a type error before 4.8", files: []string{
			"[engine]\nhelper_binaries_dir = [\"/b\", {append=true}]\n"}, wantErr: "helper_binaries_dir"},
		{name: "another attribute", attributed: true, files: []string{
			"[engine]\nhelper_binaries_dir = [\"/b\", {prepend=true}]\n"}, wantErr: `unsupported key "prepend"`},
		{name: "append not a bool", attributed: true, files: []string{
			"[engine]\nhelper_binaries_dir = [{append=1}]\n"}, wantErr: "unable to cast append to bool"},
		{name: "default_sysctls emptied", files: []string{"[containers]\ndefault_sysctls = [\"net.ipv4.ping_group_range=0 0\"]\n", "[containers]\ndefault_sysctls = []\n"},
			want: ContainersConf{DefaultSysctls: []string{}}},
		{name: "default_sysctls emptied (4.8+)", attributed: true, files: []string{"[containers]\ndefault_sysctls = []\n"},
			want: ContainersConf{DefaultSysctls: []string{}}},
		{name: "default_sysctls set", attributed: true, files: []string{"[containers]\ndefault_sysctls = [\"net.ipv4.ping_group_range=0 0\"]\n"},
			want: ContainersConf{DefaultSysctls: []string{"net.ipv4.ping_group_range=0 0"}}},
		{name: "unknown keys are ignored", files: []string{"[engine]\nruntyme = \"runc\"\n[nosuch]\nx = 1\n"}, want: ContainersConf{}},
		{name: "keys match case-insensitively", files: []string{"[ENGINE]\nRunTime = \"runc\"\n"}, want: ContainersConf{Runtime: "runc"}},
		// Measured with Podman 4.3.1 (docs/engines.md §8): `runtime = runc` is fatal.
		{name: "unquoted value", files: []string{"[engine]\nruntime = runc\n"}, wantErr: "line 2"},
		{name: "wrong type", files: []string{"[engine]\nruntime = 5\n"}, wantErr: "runtime"},
		{name: "not UTF-8", files: []string{"[engine]\nruntime = \"\xff\"\n"}, wantErr: "UTF-8"},
		{name: "deep nesting", files: []string{"x = " + strings.Repeat("[", 4<<20)}, wantErr: "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewContainersConfDecoder(tt.attributed)
			var err error
			for _, f := range tt.files {
				if err = d.Decode([]byte(f)); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Conf(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseContainersStorageConf(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ContainersStorageConf
		wantErr string
	}{
		{"fedora system file", fedoraStorageConf, ContainersStorageConf{Driver: "overlay", GraphRoot: "/var/lib/containers/storage", MountOpt: "nodev,metacopy=on"}, ""},
		{"old mountopt, overlay table wins", "[storage.options.overlay]\nmountopt = \"nodev\"\n[storage.options]\nmountopt = \"nodev,metacopy=on\"\n", ContainersStorageConf{MountOpt: "nodev"}, ""},
		{"old mountopt alone", "[storage.options]\nmountopt = \"nodev,metacopy=on\"\n", ContainersStorageConf{MountOpt: "nodev,metacopy=on"}, ""},
		{"empty", "", ContainersStorageConf{}, ""},
		{"user file", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/alice/containers\"\n", ContainersStorageConf{Driver: "overlay", GraphRoot: "/srv/alice/containers"}, ""},
		{"rootless_storage_path", "[storage]\nrootless_storage_path = \"/scratch/$USER/containers\" # local disk\n", ContainersStorageConf{RootlessStoragePath: "/scratch/$USER/containers"}, ""},
		{"dotted key at top level", "storage.graphroot = \"/dotted\"\n", ContainersStorageConf{GraphRoot: "/dotted"}, ""},
		{"mixed case key", "[storage]\nGraphRoot = \"/case\"\n", ContainersStorageConf{GraphRoot: "/case"}, ""},
		{"mount_program", "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", ContainersStorageConf{MountProgram: "/usr/bin/fuse-overlayfs"}, ""},
		{"old mount_program", "[storage.options]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", ContainersStorageConf{MountProgram: "/usr/bin/fuse-overlayfs"}, ""},
		{"graphroot not a string", "[storage]\ngraphroot = 5\n", ContainersStorageConf{}, "graphroot"},
		{"unterminated string", "[storage]\ngraphroot = \"/x\n", ContainersStorageConf{}, "line 2"},
		{"bad header", "[storage\ngraphroot = \"/x\"\n", ContainersStorageConf{}, "line 2"},
		{"deep nesting", "x = " + strings.Repeat("[", 100000), ContainersStorageConf{}, "nested too deeply"},
		{"not UTF-8", "[storage]\ngraphroot = \"/\xff\"\n", ContainersStorageConf{}, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseContainersStorageConf([]byte(tt.in))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr == "" && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStorageConfValues(t *testing.T) {
	got, err := StorageConfValues([]byte("[storage]\nDriver = \"\"\n# graphroot = \"/x\"\n[storage.options.overlay]\nmountopt = \"nodev\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	// A key set to "" is set (it resets an earlier file's value, matched whatever its case);
	// a commented one is not.
	want := map[string]string{"storage.driver": "", "storage.options.overlay.mountopt": "nodev"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StorageConfValues = %q, want %q", got, want)
	}
	// Merged over two files, a later file's key replaces the earlier one's.
	first, _ := StorageConfValues([]byte("[storage]\ndriver = \"vfs\"\ngraphroot = \"/a\"\n"))
	maps.Copy(first, got)
	if c := StorageConfFrom(first); c != (ContainersStorageConf{GraphRoot: "/a", MountOpt: "nodev"}) {
		t.Errorf("merged: %+v", c)
	}
}

func TestParseNerdctlConf(t *testing.T) {
	c, err := ParseNerdctlConf([]byte("cni_path = \"/usr/lib/cni\"\nsnapshotter = \"fuse-overlayfs\"\n"))
	if err != nil || c.CNIPath != "/usr/lib/cni" || c.Snapshotter != "fuse-overlayfs" {
		t.Fatalf("got %+v, %v", c, err)
	}
	// A containerd key in nerdctl.toml: nerdctl refuses the file.
	if _, err := ParseNerdctlConf([]byte("version = 2\n[plugins]\n")); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("unknown key: err = %v", err)
	}
	if _, err := ParseNerdctlConf([]byte("x = " + strings.Repeat("[", 20000))); !errors.Is(err, ErrTOMLNesting) {
		t.Fatalf("nesting: err = %v", err)
	}
}

func TestParseBuildkitdAndContainerdConf(t *testing.T) {
	b, err := ParseBuildkitdConf([]byte("debug = true\n[worker.oci]\nenabled = false\nsnapshotter = \"native\"\n[worker.containerd]\nenabled = true\n"))
	if err != nil || b.Worker.OCI.Enabled == nil || *b.Worker.OCI.Enabled || b.Worker.OCI.Snapshotter != "native" || !*b.Worker.Containerd.Enabled {
		t.Fatalf("buildkitd: %+v, %v", b, err)
	}
	c, err := ParseContainerdConf([]byte("version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[plugins]\nx = 1\n"))
	if err != nil || c.Version != 2 || len(c.DisabledPlugins) != 1 {
		t.Fatalf("containerd: %+v, %v", c, err)
	}
	if _, err := ParseContainerdConf([]byte("version = \n")); err == nil {
		t.Fatal("containerd: a syntax error was accepted")
	}
	n, err := ParseNvidiaContainerConf([]byte("[nvidia-container-cli]\nno-cgroups = true\n"))
	if err != nil || !n.CLI.NoCgroups {
		t.Fatalf("nvidia: %+v, %v", n, err)
	}
}

// tomlSeeds are inputs every TOML fuzz target starts from.
var tomlSeeds = []string{
	debianContainersConf, fedoraStorageConf, "", "[engine]\nruntime = \"runc\"\n",
	"[engine]\nhelper_binaries_dir = [\"/b\", {append=true}]\n", "[engine.runtimes]\nrunc = [\"/x\"]\n",
	"[network]\ndefault_rootless_network_cmd = 'pasta'\npasta_options = [\"-T\", \"none\"]\n",
	"[storage]\ngraphroot = 5\n", "a = [[1],[2]]\n", "k = {a = 1, b = [\"x\"]}\n", "[[a]]\n",
	"cni_path = \"/usr/lib/cni\"\n", "[worker.oci]\nenabled = true\n",
}

// engineValue walks a generically decoded document down keys, the way BurntSushi/toml matches
// struct fields: exact name first, else case-insensitively.
func engineValue(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := mm[k]
		if !ok {
			for kk, vv := range mm {
				if strings.EqualFold(kk, k) {
					v, ok = vv, true
				}
			}
		}
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// FuzzContainersConfDifferential feeds the same bytes to BurntSushi/toml decoding into a
// generic document (the engine's decoder; containers/common decodes with it) and to
// ParseContainersConf. Ours must refuse every file the engine's decoder refuses, refuse every
// file whose keys of ours hold a type the engine's struct cannot take, and, when it accepts,
// read exactly the values the document holds.
func FuzzContainersConfDifferential(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, attributed bool) {
		var doc map[string]any
		_, engineErr := toml.Decode(string(data), &doc)
		ours, err := ParseContainersConf(data, attributed)
		if engineErr != nil {
			if err == nil {
				t.Fatalf("accepted what BurntSushi/toml refuses (%v): %q", engineErr, data)
			}
			return
		}
		if err != nil {
			return // a type the engine's struct refuses, or the nesting guard
		}
		str := func(got string, keys ...string) {
			v, ok := engineValue(doc, keys...)
			if !ok {
				if got != "" {
					t.Fatalf("%s = %q, absent from the document", strings.Join(keys, "."), got)
				}
				return
			}
			if s, isStr := v.(string); !isStr || s != got {
				t.Fatalf("%s: ours %q, document %#v", strings.Join(keys, "."), got, v)
			}
		}
		str(ours.Runtime, "engine", "runtime")
		str(ours.CgroupManager, "engine", "cgroup_manager")
		str(ours.EventsLogger, "engine", "events_logger")
		str(ours.EngineInitPath, "engine", "init_path")
		str(ours.ContainersInitPath, "containers", "init_path")
		str(ours.NetworkCmdPath, "engine", "network_cmd_path")
		str(ours.DefaultRootlessNetworkCmd, "network", "default_rootless_network_cmd")
		str(ours.NetworkBackend, "network", "network_backend")
		str(ours.FirewallDriver, "network", "firewall_driver")
		list := func(got []string, keys ...string) {
			v, ok := engineValue(doc, keys...)
			if !ok {
				if got != nil {
					t.Fatalf("%s = %q, absent from the document", strings.Join(keys, "."), got)
				}
				return
			}
			items, isArr := v.([]any)
			if !isArr {
				t.Fatalf("%s: accepted %#v", strings.Join(keys, "."), v)
			}
			var want []string
			for _, it := range items {
				switch x := it.(type) {
				case string:
					want = append(want, x)
				case map[string]any:
					if !attributed {
						t.Fatalf("%s: a table in the array accepted before 4.8", strings.Join(keys, "."))
					}
				default:
					t.Fatalf("%s: accepted the item %#v", strings.Join(keys, "."), it)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: ours %q, document %q", strings.Join(keys, "."), got, want)
			}
		}
		list(ours.ConmonPath, "engine", "conmon_path")
		list(ours.HelperBinariesDir, "engine", "helper_binaries_dir")
		list(ours.PastaOptions, "network", "pasta_options")
		if v, ok := engineValue(doc, "engine", "runtimes"); ok {
			if _, isMap := v.(map[string]any); !isMap {
				t.Fatalf("engine.runtimes: accepted %#v", v)
			}
		}
		for name, paths := range ours.Runtimes {
			v, _ := engineValue(doc, "engine", "runtimes", name)
			if fmt.Sprint(v) != fmt.Sprint(toAny(paths)) {
				t.Fatalf("runtimes.%s: ours %q, document %#v", name, paths, v)
			}
		}
	})
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// FuzzStorageConfDifferential is FuzzContainersConfDifferential for storage.conf.
func FuzzStorageConfDifferential(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc map[string]any
		_, engineErr := toml.Decode(string(data), &doc)
		ours, err := ParseContainersStorageConf(data)
		if engineErr != nil {
			if err == nil {
				t.Fatalf("accepted what BurntSushi/toml refuses (%v): %q", engineErr, data)
			}
			return
		}
		if err != nil {
			return
		}
		for _, c := range []struct {
			got  string
			keys []string
		}{
			{ours.Driver, []string{"storage", "driver"}},
			{ours.GraphRoot, []string{"storage", "graphroot"}},
			{ours.RootlessStoragePath, []string{"storage", "rootless_storage_path"}},
		} {
			v, ok := engineValue(doc, c.keys...)
			if s, _ := v.(string); ok && s != c.got || !ok && c.got != "" {
				t.Fatalf("%v: ours %q, document %#v", c.keys, c.got, v)
			}
		}
	})
}

// FuzzNerdctlConfDifferential feeds the same bytes to go-toml/v2 in nerdctl's strict mode on
// nerdctl's own key set (the engine's decoder) and to ParseNerdctlConf: they must agree on
// accepting, and on the values.
func FuzzNerdctlConfDifferential(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc map[string]any
		syntaxErr := gotoml.Unmarshal(data, &doc)
		ours, err := ParseNerdctlConf(data)
		if syntaxErr != nil && err == nil {
			t.Fatalf("accepted what go-toml/v2 refuses (%v): %q", syntaxErr, data)
		}
		if err != nil {
			return
		}
		known := map[string]bool{}
		rt := reflect.TypeOf(ours)
		for i := range rt.NumField() {
			known[rt.Field(i).Tag.Get("toml")] = true
		}
		for k := range doc {
			if !known[k] {
				t.Fatalf("accepted the key %q nerdctl does not know", k)
			}
		}
		if v, ok := doc["cni_path"]; ok && v != ours.CNIPath {
			t.Fatalf("cni_path: ours %q, document %#v", ours.CNIPath, v)
		}
	})
}

// commentedSeeds exercise tomlText: comment lines in every place a comment may stand, with
// CRLF, tabs, control characters, and multi-line strings that hold a '#' line.
var commentedSeeds = []string{
	"# top\n[engine]\n  # indented\n\truntime = \"crun\" # trailing\n#last",
	"a = [\n  \"x\",\n  # inside an array\n  \"y\",\n]\n",
	"# crlf\r\n[storage]\r\n  # again\r\ndriver = \"overlay\"\r\n",
	"# a lone \r in a comment\n", "# a control \x01 character\nk = 1\n", "# del \x7f\n",
	"s = \"\"\"\n# not a comment\n\"\"\"\n", "s = '''\n# nor this\n'''\n",
	"a = {b = 1\n# c\n}\n", "a = [\n# open at the end", "k =\n# value on the next line\n1\n",
	"[a]\nx = 1\n# c\n[a]\n", "\ufeff# a byte order mark\nk = 1\n", "#\n#\n\n  #\t\n",
}

// FuzzTOMLText checks that decoding tomlText(data) is decoding data: the same document, the
// same keys, the same error text (with its line number).
func FuzzTOMLText(f *testing.F) {
	for _, s := range append(slices.Clone(tomlSeeds), commentedSeeds...) {
		f.Add([]byte(s))
	}
	// The distributions' files as the fixtures hold them: 800 lines, nearly all comments.
	confs, _ := filepath.Glob("../../fixtures/*/*/*/containers/*.conf")
	more, _ := filepath.Glob("../../fixtures/*/*/containers/*.conf")
	for _, p := range append(confs, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkTOMLInput(data) != nil {
			return // never reaches the decoder
		}
		decode := func(s string) string {
			var doc map[string]any
			md, err := toml.Decode(s, &doc)
			return fmt.Sprintf("%#v\n%q\n%v", doc, md.Keys(), err)
		}
		if a, b := decode(string(data)), decode(tomlText(data)); a != b {
			t.Fatalf("%q:\nwhole:    %s\nstripped: %s", data, a, b)
		}
		var c1, c2 containersConfFile[attrSlice]
		_, e1 := toml.Decode(string(data), &c1)
		_, e2 := toml.Decode(tomlText(data), &c2)
		if fmt.Sprint(e1) != fmt.Sprint(e2) || !reflect.DeepEqual(c1, c2) {
			t.Fatalf("%q: into containers.conf's struct: %v %+v, stripped %v %+v", data, e1, c1, e2, c2)
		}
	})
}

func TestTOMLTextStripsComments(t *testing.T) {
	for in, want := range map[string]string{
		"# top\n[engine]\n  # indented\n\truntime = \"crun\" # trailing\n#last": "\n[engine]\n\n\truntime = \"crun\" # trailing\n#last",
		"# crlf\r\nk = 1\r\n":         "\r\nk = 1\r\n",
		"# control \x01\nk = 1\n":     "# control \x01\nk = 1\n",
		"# c\nk = 1 # \x7f\n":         "# c\nk = 1 # \x7f\n",
		"# c\r\nk = \"a\rb\"\r\n":     "# c\r\nk = \"a\rb\"\r\n",
		"# c\n\t# d\r\n":              "\n\r\n",
		"s = '''\n# kept\n'''\n# c\n": "s = '''\n# kept\n'''\n# c\n",
	} {
		if got := tomlText([]byte(in)); got != want {
			t.Errorf("tomlText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckTOMLInputNesting(t *testing.T) {
	deep := strings.Repeat("[", MaxTOMLNesting+1)
	for in, want := range map[string]bool{
		deep: true, "x = " + deep: true, strings.Repeat("[", MaxTOMLNesting): false,
		strings.Repeat("[]", MaxTOMLNesting+1): false, strings.Repeat("{[", MaxTOMLNesting/2) + "[": true,
		strings.Repeat("[", MaxTOMLNesting/2) + strings.Repeat("]", 10) + strings.Repeat("{", MaxTOMLNesting/2+5): false,
		strings.Repeat("]", 5) + strings.Repeat("[", MaxTOMLNesting+1):                                            true,
	} {
		if err := checkTOMLInput([]byte(in)); errors.Is(err, ErrTOMLNesting) != want {
			t.Errorf("%.20q… (%d bytes): %v, want an error: %v", in, len(in), err, want)
		}
	}
}

func FuzzControlFree(f *testing.F) {
	for _, s := range append(slices.Clone(tomlSeeds), commentedSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := true
		for i, c := range data {
			if c < 0x20 && c != '\t' && c != '\n' && (c != '\r' || i+1 == len(data) || data[i+1] != '\n') || c == 0x7f {
				want = false
			}
		}
		if got := controlFree(data); got != want {
			t.Fatalf("controlFree(%q) = %v, want %v", data, got, want)
		}
	})
}
