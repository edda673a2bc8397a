package checks

import (
	"fmt"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestVirtWSL(t *testing.T) {
	const wsl2 = "5.15.167.4-microsoft-standard-WSL2"
	const cfg = "/mnt/c/Users/bob/.wslconfig"
	mirrored := "[wsl2]\r\nmemory=8GB\r\nnetworkingMode=mirrored\r\n"
	runProbeTests(t, virtWSL, []probeTest{
		{name: "not WSL", host: alice(), status: finding.Skip, summary: "not a WSL"},
		{name: "WSL 1", host: alice().Kernel("4.4.0-19041-Microsoft"), status: finding.Fail, summary: "WSL 1", fixes: []string{"manual.wsl-version"}},
		{name: "WSL 1 from /proc/version", host: alice().Kernel("").File("/proc/version", "Linux version 4.4.0-22621-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) #2506-Microsoft\n"), status: finding.Fail, summary: "WSL 1"},
		{name: "WSL 2 NAT", host: alice().Kernel(wsl2).File(cfg, "[wsl2]\nnetworkingMode=nat\n"), status: finding.Pass, summary: "WSL 2"},
		{name: "WSL 2 no config", host: alice().Kernel(wsl2).Dir("/mnt/c/Users/Public"), status: finding.Pass},
		{name: "WSL 2 mirrored, CRLF", host: alice().Kernel(wsl2).File(cfg, mirrored), status: finding.Warn, summary: "networkingMode=mirrored", fixes: []string{"manual.wsl-networking"}},
		{name: "mirrored under another automount root", host: alice().Kernel(wsl2).File("/etc/wsl.conf", "[automount]\nroot = /win/\n").File("/win/c/Users/bob/.wslconfig", mirrored), status: finding.Warn},
		{name: "mirrored in another section", host: alice().Kernel(wsl2).File(cfg, "[experimental]\nnetworkingMode=mirrored\n"), status: finding.Pass},
		{name: "garbage config", host: alice().Kernel(wsl2).File(cfg, "\x00\xff[[[\nbanana\n"), status: finding.Pass},
		{name: "unreadable config", host: alice().Kernel(wsl2).File(cfg, mirrored).Meta(cfg, host.FileMeta{Mode: "0000"}), status: finding.Pass},
	})
}

// TestVirtWSLManyProfiles: a Users directory with thousands of entries is read no further
// than wslUsersMax profiles.
func TestVirtWSLManyProfiles(t *testing.T) {
	h := alice().Kernel("5.15.167.4-microsoft-standard-WSL2")
	for i := range 5000 {
		h = h.Dir(fmt.Sprintf("/mnt/c/Users/u%05d", i))
	}
	h = h.File("/mnt/c/Users/u04999/.wslconfig", "[wsl2]\nnetworkingMode=mirrored\n")
	if r := result(t, virtWSL, h, ""); r.Status != finding.Pass {
		t.Errorf("profile beyond the bound read: %s %q", r.Status, r.Summary)
	}
}
