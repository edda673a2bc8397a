package parse

import (
	"strconv"
	"strings"
	"testing"
)

// fedoraStorageConf is the head of Fedora's /usr/share/containers/storage.conf.
const fedoraStorageConf = `# This file is the configuration file for all tools
# that use the containers/storage library.
[storage]

# Default Storage Driver, Must be set for proper operation.
driver = "overlay"

# Temporary storage location
runroot = "/run/containers/storage"

# Primary Read/Write location of container storage
graphroot = "/var/lib/containers/storage"

# Storage path for rootless users
#
# rootless_storage_path = "$HOME/.local/share/containers/storage"

[storage.options]
additionalimagestores = [
]

pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos=""}

[storage.options.overlay]
#ignore_chown_errors = "false"
mountopt = "nodev,metacopy=on"
`

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
		{"comments only", "# nothing\n\n   # here\n", ContainersStorageConf{}, ""},
		{"user file", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/alice/containers\"\n", ContainersStorageConf{Driver: "overlay", GraphRoot: "/srv/alice/containers"}, ""},
		{"rootless_storage_path", "[storage]\nrootless_storage_path = \"/scratch/$USER/containers\" # local disk\n", ContainersStorageConf{RootlessStoragePath: "/scratch/$USER/containers"}, ""},
		{"literal string", "[storage]\ngraphroot = 'C:\\no\\escapes'\n", ContainersStorageConf{GraphRoot: `C:\no\escapes`}, ""},
		{"escapes", "[storage]\ngraphroot = \"/a\\tb\\u00e9\\\\c\\\"\"\n", ContainersStorageConf{GraphRoot: "/a\tbé\\c\""}, ""},
		{"multi-line basic", "[storage]\ngraphroot = \"\"\"\n/srv/\\\n   x\"\"\"\n", ContainersStorageConf{GraphRoot: "/srv/x"}, ""},
		{"multi-line literal", "[storage]\ngraphroot = '''\n/srv/y'''\n", ContainersStorageConf{GraphRoot: "/srv/y"}, ""},
		{"quoted key and spaces", "[ storage ]\n\"graphroot\" = \"/q\"\n", ContainersStorageConf{GraphRoot: "/q"}, ""},
		{"dotted key at top level", "storage.graphroot = \"/dotted\"\n", ContainersStorageConf{GraphRoot: "/dotted"}, ""},
		{"mixed case key", "[storage]\nGraphRoot = \"/case\"\n", ContainersStorageConf{GraphRoot: "/case"}, ""},
		{"other table", "[other]\ngraphroot = \"/nope\"\n[storage]\ndriver=\"vfs\"\n", ContainersStorageConf{Driver: "vfs"}, ""},
		{"mount_program", "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", ContainersStorageConf{MountProgram: "/usr/bin/fuse-overlayfs"}, ""},
		{"old mount_program", "[storage.options]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", ContainersStorageConf{MountProgram: "/usr/bin/fuse-overlayfs"}, ""},
		{"array spanning lines with = inside", "[storage]\nx = [\n  \"a=b\", # c\n  'graphroot = \"/trap\"',\n]\ngraphroot = \"/real\"\n", ContainersStorageConf{GraphRoot: "/real"}, ""},
		{"array of tables", "[[storage.x]]\ngraphroot = \"/nope\"\n[storage]\ngraphroot = \"/yes\"\n", ContainersStorageConf{GraphRoot: "/yes"}, ""},
		{"crlf", "[storage]\r\ngraphroot = \"/crlf\"\r\n", ContainersStorageConf{GraphRoot: "/crlf"}, ""},
		{"bare values", "[storage]\nsize = 10\nflag = true\ngraphroot = \"/b\"\n", ContainersStorageConf{GraphRoot: "/b"}, ""},
		{"graphroot not a string", "[storage]\ngraphroot = 5\n", ContainersStorageConf{}, "storage.graphroot must be a string"},
		{"unterminated string", "[storage]\ngraphroot = \"/x\n", ContainersStorageConf{}, "line 2: newline in a string"},
		{"no value", "[storage]\ngraphroot =\n", ContainersStorageConf{}, "line 2"},
		{"no equals", "[storage]\ngraphroot \"/x\"\n", ContainersStorageConf{}, "line 2"},
		{"junk after value", "[storage]\ngraphroot = \"/x\" junk\n", ContainersStorageConf{}, "after the value"},
		{"bad header", "[storage\ngraphroot = \"/x\"\n", ContainersStorageConf{}, "line 1"},
		{"bad escape", "[storage]\ngraphroot = \"\\q\"\n", ContainersStorageConf{}, "invalid escape"},
		{"short unicode escape", "[storage]\ngraphroot = \"\\u12\"\n", ContainersStorageConf{}, "unicode escape"},
		{"unterminated array", "x = [1, 2\n", ContainersStorageConf{}, "unterminated array"},
		{"deep nesting", "x = " + strings.Repeat("[", 100000), ContainersStorageConf{}, "nested too deeply"},
		{"garbage", "\x00\x01", ContainersStorageConf{}, "expected a key"},
		{"not UTF-8", "[storage]\ngraphroot = \"/\xff\"\n", ContainersStorageConf{}, "line 2: invalid UTF-8"},
		{"value before error is kept", "[storage]\ndriver = \"overlay\"\n!", ContainersStorageConf{Driver: "overlay"}, "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseContainersStorageConf([]byte(tt.in))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseContainersStorageConf(f *testing.F) {
	for _, s := range []string{fedoraStorageConf, "", "[storage]\ngraphroot = \"/x\"\n", "a = [[1],[2]]\n", "k = {a = 1, b = [\"x\"]}\n", "s = \"\"\"\nx\"\"\"\n", "[[a]]\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseContainersStorageConf(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parsing TOML: line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		// What was read is read again from a file written with those values.
		var b strings.Builder
		b.WriteString("[storage]\n")
		for _, kv := range [][2]string{{"driver", c.Driver}, {"graphroot", c.GraphRoot}, {"rootless_storage_path", c.RootlessStoragePath}} {
			b.WriteString(kv[0] + " = " + tomlQuote(kv[1]) + "\n")
		}
		b.WriteString("[storage.options.overlay]\nmount_program = " + tomlQuote(c.MountProgram) + "\n")
		b.WriteString("mountopt = " + tomlQuote(c.MountOpt) + "\n")
		again, err := ParseContainersStorageConf([]byte(b.String()))
		if err != nil {
			t.Fatalf("reparse of %q: %v", b.String(), err)
		}
		if again != c {
			t.Fatalf("round trip: %+v, want %+v", again, c)
		}
	})
}

// tomlQuote writes s as a TOML basic string (\uXXXX for control characters and for bytes
// that are not UTF-8 it cannot represent, so those are compared after the same mapping).
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u` + strconv.FormatInt(int64(r)+0x10000, 16)[1:])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestParseTOMLStrings(t *testing.T) {
	keys := []string{"engine.image_copy_tmp_dir", "storage.driver"}
	got, err := ParseTOMLStrings([]byte("[engine]\nimage_copy_tmp_dir = \"\"\n[storage]\n# driver = \"vfs\"\n"), keys)
	if err != nil {
		t.Fatal(err)
	}
	// A key set to "" is set (it overrides an earlier file's value); a commented one is not.
	if v, ok := got["engine.image_copy_tmp_dir"]; !ok || v != "" {
		t.Errorf("image_copy_tmp_dir = %q, %v; want set to \"\"", v, ok)
	}
	if _, ok := got["storage.driver"]; ok {
		t.Errorf("a commented key counts as set: %q", got)
	}
}

func TestParseContainersConfEngine(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"[engine]\nimage_copy_tmp_dir = \"storage\"\n", "storage", ""},
		{"[engine]\nimage_copy_tmp_dir=\"/srv/tmp\" # big disk\n[network]\nx = 1\n", "/srv/tmp", ""},
		{"[containers]\nimage_copy_tmp_dir = \"/nope\"\n", "", ""},
		{"engine.image_copy_tmp_dir = '/dotted'\n", "/dotted", ""},
		{"[engine]\nimage_copy_tmp_dir = 3\n", "", "must be a string"},
		{"[engine\n", "", "line 1"},
	}
	for _, tt := range tests {
		got, err := ParseContainersConfEngine([]byte(tt.in))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
		}
		if got.ImageCopyTmpDir != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got.ImageCopyTmpDir, tt.want)
		}
	}
}

func FuzzParseContainersConfEngine(f *testing.F) {
	for _, s := range []string{"[engine]\nimage_copy_tmp_dir = \"storage\"\n", "", "[engine\n", "a = {b = [1, {c = 2}]}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseContainersConfEngine(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parsing TOML: line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		again, err := ParseContainersConfEngine([]byte("[engine]\nimage_copy_tmp_dir = " + tomlQuote(c.ImageCopyTmpDir) + "\n"))
		if err != nil || again != c {
			t.Fatalf("round trip: %+v (%v), want %+v", again, err, c)
		}
	})
}
