package proof

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// argEnginePayload marks the engine proof's payload: the engine runs this binary as the
// container's process with this argument (the entrypoint of the image, the command of
// `podman run --rootfs`).
const argEnginePayload = "__rldoctor_engine_payload"

// payloadMarker starts the payload's report line, so that what an engine prints on the same
// stdout (a Docker warning, an init's banner) is told apart.
const payloadMarker = "rootless-doctor-engine-payload "

// payloadReport is what the payload saw inside the container.
type payloadReport struct {
	UID int `json:"uid"`
	// UIDMap is /proc/self/uid_map: a user namespace maps a range, the host's maps all ids.
	UIDMap string `json:"uid_map"`
	// Proc is set when /proc is a procfs mount.
	Proc bool `json:"proc"`
	// Mounts counts the lines of /proc/self/mountinfo; RootFS is the root mount's type.
	Mounts int    `json:"mounts"`
	RootFS string `json:"rootfs"`
	// Ifaces are the network interfaces the container has.
	Ifaces []string `json:"ifaces"`
	// Wrote is set when a file could be created, written and removed in the root.
	Wrote bool `json:"wrote"`
	// Problems are what a container needs and did not get.
	Problems []string `json:"problems,omitempty"`
}

func (p payloadReport) ok() bool { return len(p.Problems) == 0 }

// short is the summary of a container that had everything.
func (p payloadReport) short() string {
	return fmt.Sprintf("uid 0 in a user namespace, /proc mounted, root on %s and writable, interfaces %s", p.RootFS, strings.Join(p.Ifaces, ","))
}

func (p payloadReport) describe() string {
	ifs := strings.Join(p.Ifaces, ",")
	if ifs == "" {
		ifs = "none"
	}
	return fmt.Sprintf("uid %d in a user namespace (uid_map %q), /proc mounted, %d mounts, root on %s, interfaces %s, root writable %t",
		p.UID, p.UIDMap, p.Mounts, p.RootFS, ifs, p.Wrote)
}

// enginePayloadMain runs inside the container. It prints one report line and exits 0 when
// everything a container needs is there, 3 otherwise.
func enginePayloadMain([]string) int {
	r := inspectContainer()
	b, _ := json.Marshal(r)
	fmt.Println(payloadMarker + string(b))
	if !r.ok() {
		return 3
	}
	return 0
}

func inspectContainer() payloadReport {
	var r payloadReport
	problem := func(format string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, a...)) }
	r.UID = os.Getuid()
	if r.UID != 0 {
		problem("the process runs as uid %d, not 0", r.UID)
	}
	if b, err := os.ReadFile("/proc/self/uid_map"); err != nil {
		problem("reading /proc/self/uid_map: %v", err)
	} else {
		r.UIDMap = strings.Join(strings.Fields(string(b)), " ")
		if f := strings.Fields(string(b)); len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295" {
			problem("the container shares the host's user namespace (uid_map maps every id)")
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		problem("/proc is not a procfs mount")
	} else {
		r.Proc = true
	}
	if f, err := os.Open("/proc/self/mountinfo"); err != nil {
		problem("reading /proc/self/mountinfo: %v", err)
	} else {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			r.Mounts++
			// id parent major:minor root mountpoint options [optional…] - fstype source super
			fields := strings.Fields(sc.Text())
			if len(fields) > 4 && fields[4] == "/" {
				for i, x := range fields {
					if x == "-" && i+1 < len(fields) {
						r.RootFS = fields[i+1]
					}
				}
			}
		}
		f.Close()
	}
	if ifs, err := net.Interfaces(); err != nil {
		problem("listing the network interfaces: %v", err)
	} else {
		for _, i := range ifs {
			r.Ifaces = append(r.Ifaces, i.Name)
		}
	}
	const probe = "/.rootless-doctor-write-test"
	err := os.WriteFile(probe, []byte("rootless-doctor\n"), 0o644)
	if err == nil {
		err = os.Remove(probe)
	}
	if err != nil {
		problem("writing to the container's root: %v", err)
	} else {
		r.Wrote = true
	}
	return r
}

// errNoPayloadReport is returned when the engine's stdout holds no report of the payload.
var errNoPayloadReport = errors.New("no report from the payload")

// parsePayloadReport finds the payload's line in an engine's stdout.
func parsePayloadReport(stdout string) (payloadReport, error) {
	var r payloadReport
	for _, l := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), payloadMarker); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("the payload's report: %w", err)
			}
			return r, nil
		}
	}
	return r, errNoPayloadReport
}
