package parse

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestDpkgInstalledVersion(t *testing.T) {
	status := "Package: podman\nStatus: install ok installed\nVersion: 4.3.1+ds1-8+b1\nDescription: x\n multi\n\n" +
		"Package: rootlesskit\nStatus: deinstall ok config-files\nVersion: 1.1.0-1\n"
	if v, ok := DpkgInstalledVersion([]byte(status), "podman"); !ok || v != "4.3.1+ds1-8+b1" {
		t.Errorf("podman = %q, %v", v, ok)
	}
	if v, ok := DpkgInstalledVersion([]byte(status), "rootlesskit"); ok {
		t.Errorf("a package left as config-files is not installed: %q", v)
	}
	if _, ok := DpkgInstalledVersion([]byte(status), "buildah"); ok {
		t.Error("absent package")
	}
	for in, want := range map[string]string{
		"4.3.1+ds1-8+b1": "4.3.1", "1:2.3.4-1": "2.3.4", "5.0.0~rc1-2": "5.0.0", "0.4.0": "0.4.0", "": "",
		"1:": "", "-": "-", "2023.03.09-1": "2023.03.09",
	} {
		if got := DebianUpstreamVersion(in); got != want {
			t.Errorf("DebianUpstreamVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDpkgInstalledVersion(f *testing.F) {
	f.Add([]byte("Package: podman\nStatus: install ok installed\nVersion: 1:4.3.1+ds1-8\n"), "podman")
	f.Add([]byte("Package: a\r\nStatus: install ok installed\r\nVersion:  1 \n \t\nPackage: a\nStatus: deinstall ok config-files\nVersion: 2\n\u00a0\nPackage:a\n"), "a")
	f.Add([]byte("Version: 3\nPackage: b\nStatus: install  ok\tinstalled\nPackage: c\n\n Package: b\n"), "c")
	f.Fuzz(func(t *testing.T, data []byte, pkg string) {
		if pkg != "" { // the reference finds the empty name in every blank line
			rf, ri, rv := dpkgLookupReference(data, pkg)
			installed, found := DpkgPackageStatus(data, pkg)
			v, ok := DpkgInstalledVersion(data, pkg)
			if found != rf || installed != ri || v != rv && ok || ok != (ri && rv != "") {
				t.Fatalf("%q in %q: index says found %v installed %v version %q %v, line by line %v %v %q", pkg, data, found, installed, v, ok, rf, ri, rv)
			}
		}
		v, ok := DpkgInstalledVersion(data, pkg)
		if ok && v == "" {
			t.Fatal("ok with an empty version")
		}
		if u := DebianUpstreamVersion(v); len(u) > len(v) {
			t.Fatalf("upstream %q longer than %q", u, v)
		}
	})
}

// dpkgLookupReference is the line-by-line lookup IndexDpkg replaced (issue 16), kept as the
// reference of FuzzDpkgInstalledVersion: the index must answer every question as it did.
func dpkgLookupReference(data []byte, pkg string) (found, installed bool, version string) {
	var name, status, ver string
	flush := func() {
		if name == pkg {
			found = true
			if f := strings.Fields(status); len(f) == 3 && f[2] == "installed" {
				installed, version = true, ver
			}
		}
		name, status, ver = "", "", ""
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(k) {
		case "Package":
			name = strings.TrimSpace(string(v))
		case "Status":
			status = strings.TrimSpace(string(v))
		case "Version":
			ver = strings.TrimSpace(string(v))
		}
	}
	flush()
	return found, installed, version
}

// BenchmarkIndexDpkg indexes a desktop-sized status database (800 stanzas, ~700 KB).
func BenchmarkIndexDpkg(b *testing.B) {
	var db bytes.Buffer
	for i := 0; i < 800; i++ {
		fmt.Fprintf(&db, "Package: pkg%d\nStatus: install ok installed\nPriority: optional\nVersion: 1.%d-1\nDepends: libc6 (>= 2.34), libfoo%d\nDescription: package %d\n%s\n", i, i, i, i, strings.Repeat(" a line of the long description that dpkg keeps\n", 16))
	}
	data := db.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, ok := IndexDpkg(data).InstalledVersion("pkg799"); !ok {
			b.Fatal("pkg799 not found")
		}
	}
}

// FuzzDpkgIndexBinary: an index read back from AppendBinary's bytes answers every question as
// the index it was written from, and bytes AppendBinary did not write are refused or read as
// an index that writes itself back the same (never a panic).
func FuzzDpkgIndexBinary(f *testing.F) {
	f.Add([]byte("Package: podman\nStatus: install ok installed\nVersion: 1:4.3.1+ds1-8\n\nPackage: rootlesskit\nStatus: deinstall ok config-files\nVersion: 1.1.0-1\n"), []byte{})
	f.Add([]byte("Package: \xff\x00\nStatus: install ok installed\nVersion: \n"), []byte{3, 'a', 'b', 'c', 1, 1, 'v'})
	f.Add([]byte{}, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{}, []byte{1, 'a', 0, 1, 'v'})
	f.Fuzz(func(t *testing.T, status, raw []byte) {
		x := IndexDpkg(status)
		b, err := x.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		y, err := DecodeDpkgIndex(b)
		if err != nil {
			t.Fatalf("%q: its own bytes %q do not decode: %v", status, b, err)
		}
		if len(y.pkgs) != len(x.pkgs) {
			t.Fatalf("%d packages read back, %d written", len(y.pkgs), len(x.pkgs))
		}
		for name := range x.pkgs {
			i1, f1 := x.PackageStatus(name)
			i2, f2 := y.PackageStatus(name)
			v1, ok1 := x.InstalledVersion(name)
			v2, ok2 := y.InstalledVersion(name)
			if i1 != i2 || f1 != f2 || v1 != v2 || ok1 != ok2 {
				t.Fatalf("%q: read back %v %v %q %v, written %v %v %q %v", name, i2, f2, v2, ok2, i1, f1, v1, ok1)
			}
		}
		if z, err := DecodeDpkgIndex(raw); err == nil {
			again, _ := z.AppendBinary(nil)
			w, err := DecodeDpkgIndex(again)
			if err != nil || len(w.pkgs) != len(z.pkgs) {
				t.Fatalf("%q decodes, but not once written back (%v)", raw, err)
			}
			for name, p := range z.pkgs {
				if w.pkgs[name] != p {
					t.Fatalf("%q: %q changed when written back", raw, name)
				}
			}
		}
	})
}
