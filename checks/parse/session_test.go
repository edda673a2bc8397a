package parse

import (
	"reflect"
	"strings"
	"testing"
)

const dpkgStatus = `Package: dbus
Status: install ok installed
Priority: standard
Description: simple interprocess messaging system
 D-Bus is a message bus.
 .
 Package: dbus-user-session

Package: dbus-user-session
Status: deinstall ok config-files
Architecture: amd64

Package: libfoo
Architecture: i386
Status: install ok installed

Package: libfoo
Architecture: amd64
Status: install ok half-installed
`

func TestDpkgPackageStatus(t *testing.T) {
	tests := []struct {
		data, pkg        string
		installed, found bool
	}{
		{dpkgStatus, "dbus", true, true},
		{dpkgStatus, "dbus-user-session", false, true},
		{dpkgStatus, "libfoo", true, true},
		{dpkgStatus, "dbus-broker", false, false},
		{"Package: dbus-user-session\r\nStatus: install ok installed\r\n", "dbus-user-session", true, true},
		{"Package: dbus-user-session\nStatus: install ok installed", "dbus-user-session", true, true},
		{"", "dbus", false, false},
		{"\x00\xff garbage\n:::\n", "dbus", false, false},
		{"Package: dbus\nStatus: installed\n", "dbus", false, true},
	}
	for _, tt := range tests {
		installed, found := DpkgPackageStatus([]byte(tt.data), tt.pkg)
		if installed != tt.installed || found != tt.found {
			t.Errorf("DpkgPackageStatus(%.30q, %q) = %v, %v; want %v, %v", tt.data, tt.pkg, installed, found, tt.installed, tt.found)
		}
	}
}

func FuzzDpkgPackageStatus(f *testing.F) {
	f.Add([]byte(dpkgStatus), "dbus-user-session")
	f.Add([]byte("Package: x\nStatus: install ok installed\n"), "x")
	f.Fuzz(func(t *testing.T, data []byte, pkg string) {
		installed, found := DpkgPackageStatus(data, pkg)
		if installed && !found {
			t.Fatal("installed but not found")
		}
	})
}

func TestParseDBusAddresses(t *testing.T) {
	tests := []struct {
		in       string
		wantErr  bool
		n        int
		path     string
		abstract string
		noUnix   bool
	}{
		{in: "unix:path=/run/user/1000/bus", n: 1, path: "/run/user/1000/bus"},
		{in: "unix:abstract=/tmp/dbus-Ab3x,guid=0123abcd", n: 1, abstract: "/tmp/dbus-Ab3x"},
		{in: "unix:path=/run/user/1000/my%20bus", n: 1, path: "/run/user/1000/my bus"},
		{in: "tcp:host=localhost,port=1234;unix:path=/b", n: 2, path: "/b"},
		{in: "unix:tmpdir=/tmp", n: 1, noUnix: true},
		{in: "autolaunch:", n: 1, noUnix: true},
		{in: ";;unix:path=/x;", n: 1, path: "/x"},
		{in: "", n: 0, noUnix: true},
		{in: "/run/user/1000/bus", wantErr: true},
		{in: "unix:path", wantErr: true},
		{in: "unix:path=/a,path=/b", wantErr: true},
		{in: "unix:path=/a%zz", wantErr: true},
		{in: "unix:path=/a%2", wantErr: true},
		{in: ":path=/a", wantErr: true},
	}
	for _, tt := range tests {
		addrs, err := ParseDBusAddresses(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseDBusAddresses(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(addrs) != tt.n {
			t.Errorf("ParseDBusAddresses(%q) = %d addresses, want %d", tt.in, len(addrs), tt.n)
		}
		us, ok := FirstUnixSocket(addrs)
		if ok == tt.noUnix || us.Path != tt.path || us.Abstract != tt.abstract {
			t.Errorf("FirstUnixSocket(%q) = %+v, %v", tt.in, us, ok)
		}
	}
}

func FuzzParseDBusAddresses(f *testing.F) {
	f.Add("unix:path=/run/user/1000/bus")
	f.Add("unix:abstract=/tmp/dbus-x,guid=1;tcp:host=a,port=1")
	f.Add("unix:path=%41%zz")
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := ParseDBusAddresses(s)
		if err != nil {
			return
		}
		// Round trip: formatting and parsing again gives the same addresses.
		var parts []string
		for _, a := range addrs {
			if a.Transport == "" || strings.ContainsAny(a.Transport, ";") {
				t.Fatalf("bad transport in %+v", a)
			}
			parts = append(parts, a.String())
		}
		again, err := ParseDBusAddresses(strings.Join(parts, ";"))
		if err != nil {
			t.Fatalf("re-parsing %q: %v", strings.Join(parts, ";"), err)
		}
		if len(again) != len(addrs) {
			t.Fatalf("round trip changed the count: %+v → %+v", addrs, again)
		}
		for i := range addrs {
			if !reflect.DeepEqual(addrs[i], again[i]) {
				t.Fatalf("round trip %+v → %+v", addrs[i], again[i])
			}
		}
	})
}

func TestParseCmdline(t *testing.T) {
	in := `BOOT_IMAGE=/vmlinuz-6.1 root=UUID=abc ro quiet systemd.unified_cgroup_hierarchy=0 foo="a b c" systemd.unified_cgroup_hierarchy=false` + "\n"
	params := ParseCmdline([]byte(in))
	if v, ok := CmdlineValue(params, "systemd.unified_cgroup_hierarchy"); !ok || v != "false" {
		t.Errorf("last value = %q, %v", v, ok)
	}
	if v, ok := CmdlineValue(params, "foo"); !ok || v != "a b c" {
		t.Errorf("quoted value = %q, %v", v, ok)
	}
	if v, ok := CmdlineValue(params, "root"); !ok || v != "UUID=abc" {
		t.Errorf("root = %q, %v", v, ok)
	}
	if _, ok := CmdlineValue(params, "ro"); !ok {
		t.Error("bare ro not found")
	}
	for _, p := range params {
		if p.Key == "ro" && p.HasValue {
			t.Error("ro has no value")
		}
	}
	if _, ok := CmdlineValue(params, "cgroup_no_v1"); ok {
		t.Error("absent key found")
	}
	if got := ParseCmdline(nil); len(got) != 0 {
		t.Errorf("empty cmdline = %+v", got)
	}
	if got := ParseCmdline([]byte(`"unterminated quote`)); len(got) != 1 || got[0].Key != "unterminated quote" {
		t.Errorf("unterminated quote = %+v", got)
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add([]byte(`root=/dev/sda1 ro "a=b c" systemd.unified_cgroup_hierarchy=1`))
	f.Fuzz(func(t *testing.T, data []byte) {
		params := ParseCmdline(data)
		total := 0
		for _, p := range params {
			if !p.HasValue && p.Value != "" {
				t.Fatalf("value without '=': %+v", p)
			}
			total += len(p.Key) + len(p.Value)
		}
		if total > len(data) {
			t.Fatalf("params hold %d bytes, input only %d", total, len(data))
		}
	})
}
