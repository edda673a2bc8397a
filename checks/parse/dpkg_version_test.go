package parse

import "testing"

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
	f.Fuzz(func(t *testing.T, data []byte, pkg string) {
		v, ok := DpkgInstalledVersion(data, pkg)
		if ok && v == "" {
			t.Fatal("ok with an empty version")
		}
		if u := DebianUpstreamVersion(v); len(u) > len(v) {
			t.Fatalf("upstream %q longer than %q", u, v)
		}
	})
}
