package parse

import (
	"strings"
	"testing"
)

func TestSubIDModule(t *testing.T) {
	tests := []struct {
		name, in, module string
		line             int
	}{
		{name: "no file content", in: "", module: ""},
		{name: "no subid line", in: "passwd: files systemd\ngroup: files\n", module: ""},
		{name: "files", in: "passwd: files\nsubid: files\n", module: "", line: 2},
		{name: "sss", in: "passwd: files sss\nsubid:\tsss\n", module: "sss", line: 2},
		{name: "case and trailing comment", in: "SubID: sss # FreeIPA\n", module: "sss", line: 1},
		{name: "commented out", in: "#subid: sss\n", module: ""},
		{name: "empty line skipped, next wins", in: "subid:\nsubid: sss files\n", module: "sss", line: 2},
		{name: "first line wins", in: "subid: files\nsubid: sss\n", module: "", line: 1},
		// shadow's nss_init, unlike glibc, takes the first token whatever it is (lib/nss.c):
		// libsubid_[NOTFOUND=return].so then fails to load and shadow uses the files.
		{name: "action item taken for a module", in: "subid: [NOTFOUND=return] sss\n", module: "[NOTFOUND=return]", line: 1},
		{name: "spaced action item", in: "subid: [ NOTFOUND=return ] sss\n", module: "[", line: 1},
		{name: "indented line is not read", in: "  subid: sss\n", module: ""},
		{name: "blank before the colon is not read", in: "subid : sss\n", module: ""},
		{name: "CR kept in the name", in: "subid: sss\r\n", module: "sss\r", line: 1},
		{name: "short last line without newline", in: "subid:x", module: ""},
		{name: "module name too long", in: "subid: " + strings.Repeat("x", 51) + "\n", module: "", line: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			module, l := SubIDModule([]byte(tt.in))
			if module != tt.module || l.Line != tt.line {
				t.Errorf("SubIDModule = %q (line %d), want %q (line %d)", module, l.Line, tt.module, tt.line)
			}
		})
	}
}

func FuzzNSSwitch(f *testing.F) {
	for _, s := range []string{"subid: sss\n", "passwd: files [!UNAVAIL=return] dns\n# x\nsubid:[ a ] b", "subid:"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		module, ml := SubIDModule(in)
		if module == "files" || len(module) > 50 || strings.ContainsAny(module, " \t\n") || (module != "" && ml.Line < 1) {
			t.Fatalf("module %q from %q", module, in)
		}
	})
}
