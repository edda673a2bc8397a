package parse

import (
	"bytes"
	"strings"
)

// ParseUnitExecStart returns the command lines of the ExecStart= settings of a systemd unit
// file or drop-in, in order, each split into words with systemd's quoting and with the
// executable prefixes ("-", "@", ":", "+", "!", "!!") taken off the first word
// (systemd.service(5), "Command lines"). An empty ExecStart= resets the list, in this file and
// for the files applied before it: reset reports that one was seen, and lines holds only what
// follows the last reset.
func ParseUnitExecStart(data []byte) (lines [][]string, reset bool) {
	section := ""
	for line := range bytes.Lines(data) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		if s[0] == '[' {
			section = strings.Trim(s, "[]")
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) != "ExecStart" || section != "Service" {
			continue
		}
		words := splitUnitWords(strings.TrimSpace(v))
		if len(words) == 0 {
			lines, reset = nil, true
			continue
		}
		words[0] = strings.TrimLeft(words[0], "-@:+!")
		if words[0] == "" {
			words = words[1:]
		}
		if len(words) > 0 {
			lines = append(lines, words)
		}
	}
	return lines, reset
}

// DockerRootlessScript is what the installed dockerd-rootless.sh does by default, read from
// the script itself: its behaviour changed between Docker releases, and the script on the
// machine, not a version number, is what runs.
type DockerRootlessScript struct {
	// DetachNetnsDefault: RootlessKit is started with --detach-netns unless
	// DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS=false (moby/moby#47103, Docker 29.5 with
	// RootlessKit v3). RootlessKit then leaves slirp4netns's sandbox off in its default "auto"
	// mode; with older scripts "auto" turns it on wherever slirp4netns supports it.
	DetachNetnsDefault bool
	// MTUForSetNet: the MTU defaults to 65520 for slirp4netns also when
	// DOCKERD_ROOTLESS_ROOTLESSKIT_NET names it (Docker 29, moby/moby#51149); older scripts
	// pick 65520 only when they choose slirp4netns themselves, and leave RootlessKit at 1500
	// otherwise (moby/moby#47765).
	MTUForSetNet bool
	// RefusesContainerdRootless: it stops when $XDG_RUNTIME_DIR/containerd-rootless exists
	// (moby/moby#52171, Docker 29.4); older scripts start and fail later.
	RefusesContainerdRootless bool
}

// ParseDockerRootlessScript reads dockerd-rootless.sh's defaults from its text.
func ParseDockerRootlessScript(data []byte) DockerRootlessScript {
	s := string(versionHead64k(data))
	var d DockerRootlessScript
	d.DetachNetnsDefault = strings.Contains(s, "DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS:=true")
	d.RefusesContainerdRootless = strings.Contains(s, "conflicts with containerd-rootless.sh")
	// The Docker 29 script sets the MTU after choosing the driver, by driver:
	//	if [ -z "$mtu" ]; then
	//		case "$net" in
	//			slirp4netns | pasta | gvisor-tap-vsock)
	//				mtu=65520
	if i := strings.Index(s, `case "$net" in`); i >= 0 {
		rest := s[i:]
		if j := strings.Index(rest, "esac"); j >= 0 {
			rest = rest[:j]
		}
		for _, arm := range strings.Split(rest, ";;") {
			pat, body, ok := strings.Cut(arm, ")")
			if !ok || !strings.Contains(body, "mtu=65520") {
				continue
			}
			for _, alt := range strings.Split(pat[strings.LastIndexByte(pat, '\n')+1:], "|") {
				if strings.TrimSpace(alt) == "slirp4netns" {
					d.MTUForSetNet = true
				}
			}
		}
	}
	return d
}

// versionHead64k bounds what ParseDockerRootlessScript scans (the script is about 10 KiB).
func versionHead64k(b []byte) []byte {
	if len(b) > 64<<10 {
		return b[:64<<10]
	}
	return b
}
