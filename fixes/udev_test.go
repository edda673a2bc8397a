package fixes

import (
	"os"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestDeviceStepSaysWhenNoUdevRuns: on the live machine, a device step notes when udev does not
// run (the rule would never apply); a recorded host gets no such guess.
func TestDeviceStepSaysWhenNoUdevRuns(t *testing.T) {
	tun := []Request{req("net.tun", finding.DeviceMode("/dev/net/tun", "0666", "mode 0600"))}
	_, err := os.Stat("/run/udev")
	udev := err == nil
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t), Host: host.NewLive()}, Requests: tun})
	if err != nil {
		t.Fatal(err)
	}
	noted := strings.Contains(strings.Join(p.Steps[0].Why, "\n"), "no udev runs")
	if noted == udev {
		t.Errorf("/run/udev present=%v, but the no-udev note present=%v", udev, noted)
	}
	p, err = Build(Input{Env: &facts.Env{Distro: debian(t), Host: host.NewMemory().Host()}, Requests: tun})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(p.Steps[0].Why, "\n"), "no udev runs") {
		t.Error("a recorded host must not get the no-udev note")
	}
}
