package fixes

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Device: set the mode of a device node now and, through a udev rule, at boot.
var kindDevice = kind{
	kind: finding.Device,
	id:   func(in finding.Intent) string { return "device." + baseName(in.Path) },
	describe: func(in finding.Intent) string {
		return fmt.Sprintf("make %s mode %s now and at boot", in.Path, in.Mode)
	},
	mergeKey: pathKey,
	validate: func(in finding.Intent) error {
		if err := checkPath("device path", in.Path); err != nil {
			return err
		}
		if !strings.HasPrefix(in.Path, "/dev/") || strings.Contains(in.Path, " ") {
			return unsafef("device path %q is not under /dev", in.Path)
		}
		if !modePattern().MatchString(in.Mode) {
			return unsafef("device mode %q is not an octal mode like 0666", in.Mode)
		}
		return nil
	},
	sudo: func(in finding.Intent, _ string, _ host.Host) error {
		if m, ok := sudoDevices[in.Path]; !ok || m != in.Mode {
			return fmt.Errorf("no probe sets %s to mode %s", in.Path, in.Mode)
		}
		return nil
	},
	build: func(b *builder, reqs []Request, _ bool) []Step { return b.devices(reqs) },
}

// sudoDevices are the device nodes, and the mode, probes ask to open up (net.tun,
// storage.driver).
var sudoDevices = map[string]string{"/dev/net/tun": "0666", "/dev/fuse": "0666"}

// deviceModules are the modules that create a device node when it is missing.
var deviceModules = map[string]string{"/dev/net/tun": "tun", "/dev/fuse": "fuse"}

func (b *builder) devices(reqs []Request) []Step {
	paths, byPath := byField(reqs, func(r Request) string { return r.Intent.Path })
	bases := map[string]int{}
	for _, p := range paths {
		bases[path.Base(p)]++
	}
	var steps []Step
	for _, p := range paths {
		rs := byPath[p]
		mode := normMode(rs[0].Intent.Mode)
		base := path.Base(p)
		// Two devices with one base name (/dev/net/tun, /dev/tun) get names from their
		// whole path, so their ids and rule files stay apart.
		name := base
		if bases[base] > 1 {
			name = profileName(p)
		}
		s := newStep("device."+name, fmt.Sprintf("Make %s mode %s now and at boot", p, mode), rs)
		for _, r := range rs[1:] {
			if m := normMode(r.Intent.Mode); m != mode {
				s.Why = append(s.Why, fmt.Sprintf("%s asked for mode %s; %s is kept", r.ProbeID, m, mode))
			}
		}
		if p == "/dev/net/tun" {
			s.Why = append(s.Why, "0666 is the kernel's own default for /dev/net/tun; opening it grants nothing by itself (creating an interface needs CAP_NET_ADMIN in the network namespace)")
		}
		// The rule matches the kernel name (the last part of the path: tun for /dev/net/tun)
		// and makes the mode last across reboots and module reloads.
		if !b.udevRuns() {
			// Without udev (minimal containers, some WSL and embedded setups) /dev is a bare
			// devtmpfs: the rule below waits for a udev that never comes, so the mode lasts
			// only until the next boot.
			s.Why = append(s.Why, "no udev runs on this host (/run/udev is missing): the rule takes effect only where udev runs; otherwise repeat the chmod at every boot from the init system")
		}
		rule := UdevRulesDir + "/60-rootless-doctor-" + name + ".rules"
		content := "# Written by `rootless-doctor fix`: rootless containers open " + p + " as the user.\n" +
			"KERNEL==\"" + base + "\", MODE=\"" + mode + "\"\n"
		s.Files = []File{{Path: rule, Mode: "0644", Content: content}}
		if mod, ok := deviceModules[p]; ok {
			s.Commands = append(s.Commands, fmt.Sprintf("[ -e %s ] || modprobe %s", p, mod))
			s.tasks = append(s.tasks, Task{Name: "Load " + mod, Module: "ansible.builtin.command",
				Args: []Arg{{"argv", []string{"modprobe", mod}}, {"creates", p}}, ChangedWhenFalse: true})
		}
		s.Commands = append(s.Commands, "chmod "+mode+" "+ShellQuote(p))
		s.tasks = append(s.tasks, Task{Name: "Mode " + mode + " on " + p, Module: "ansible.builtin.file",
			Args: []Arg{{"path", p}, {"mode", mode}}})
		s.tasks = append(s.tasks, filesTasks(s.Files)...)
		steps = append(steps, s)
	}
	return steps
}

// normMode writes an octal mode with four digits.
func normMode(m string) string {
	for len(m) < 4 {
		m = "0" + m
	}
	return m
}

// udevRuns reports whether udev manages /dev here: udevd creates /run/udev when it starts.
// Only the live machine is asked: a recorded host does not record /run/udev (snapshots keep
// only what the probes read), so its absence there proves nothing.
func (b *builder) udevRuns() bool {
	if b.host == nil || !b.host.Live() {
		return true
	}
	fi, err := b.host.Stat("/run/udev")
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	return fi.IsDir()
}
