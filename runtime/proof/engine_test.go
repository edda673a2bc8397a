package proof

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// TestExplainEngine: each engine error text measured on Debian 12 (docs/engines.md §8) or
// quoted from the engines' source names the probe that explains it; an unknown text is the
// engine's own probe's.
func TestExplainEngine(t *testing.T) {
	for _, tt := range []struct{ engine, text, probe string }{
		{"podman", `time="2026-12-04T22:39:27Z" level=warning msg="\"/\" is not a shared mount, this could cause issues or missing mounts with rootless containers"
Error: OCI runtime error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2`, "engine.podman"},
		{"podman", `Error: /usr/bin/slirp4netns failed: "open(\"/dev/net/tun\"): Permission denied\nchild failed(1)"`, "net.tun"},
		{"docker", `[rootlesskit:parent] error: failed to setup network &{...}: setting up tap tap0: executing [[nsenter -t 31314 -n -m -U --preserve-credentials ip tuntap add name tap0 mode tap]]: exit status 1
rootless-doctor daemon: rootlesskit child: EOF`, "net.tun"},
		{"podman", `Error: default OCI runtime "nosuch" not found: invalid argument`, "engine.podman"},
		{"podman", `Error: could not find a working conmon binary (configured options: [/usr/libexec/podman/conmon]): invalid argument`, "engine.podman"},
		{"podman", `level=error msg="reading system config \"/home/u/.config/containers/containers.conf\": decode configuration /home/u/.config/containers/containers.conf: toml: line 2 (last key \"engine.runtime\"): expected value but found \"runc\" instead"`, "engine.podman"},
		{"podman", `Error: cannot set up namespace using "/usr/bin/newuidmap": exit status 1: newuidmap: uid range [1-65537) -> [165536-231072) not allowed`, "idmap.subuid"},
		{"podman", `Error: writing blob: there might not be enough IDs available in the namespace (requested 0:42 for /etc/shadow)`, "idmap.subuid"},
		{"docker", `rootless-doctor daemon: XDG_RUNTIME_DIR is not set: log in through a PAM session`, "session.xdg-runtime-dir"},
		{"docker", `docker: Error response from daemon: something nobody has seen.`, "engine.docker"},
	} {
		x := explainEngine(tt.engine, tt.text)
		if x.Probe != tt.probe {
			t.Errorf("%s: %q\nexplained by %q (%s), want %q", tt.engine, tt.text, x.Probe, x.Summary, tt.probe)
		}
		if x.Summary == "" {
			t.Errorf("%q: no summary", tt.text)
		}
	}
	// Podman's netavark message is longer than what "The engine said" keeps of it: the summary
	// must name netavark (measured on Debian 12's Podman 4.3.1, the engine matrix).
	netavark := `Error: could not find "netavark" in one of [/usr/local/libexec/podman /usr/local/lib/podman /usr/libexec/podman /usr/lib/podman].  To resolve this error, set the helper_binaries_dir key in the ` + "`[engine]`" + ` section of containers.conf to the directory containing your helper binaries.`
	if x := explainEngine("podman", netavark); x.Probe != "engine.podman" || !strings.Contains(x.Summary, "netavark") {
		t.Errorf("netavark missing: explained by %q: %s", x.Probe, x.Summary)
	}
	// The order of the parts matters: "not found" before "default OCI runtime" is another error.
	if matchInOrder("not found: default oci runtime", []string{"default oci runtime", "not found"}) {
		t.Error("matchInOrder ignores the order")
	}
}

func payloadLine(t *testing.T, r payloadReport) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return payloadMarker + string(b)
}

// TestJudge: the result follows the engine's exit and the payload's own report, never only one.
func TestJudge(t *testing.T) {
	good := payloadReport{UID: 0, UIDMap: "0 1000 1 1 100000 65536", Proc: true, Mounts: 30, RootFS: "overlay", Ifaces: []string{"lo"}, Wrote: true}
	bad := good
	bad.Wrote, bad.Problems = false, []string{"writing to the container's root: read-only file system"}

	r := judge("podman", "Podman 4.3.1", output{stdout: "WARNING: noise\n" + payloadLine(t, good) + "\n"})
	if r.Status != finding.Pass || !strings.Contains(r.Summary, "root on overlay") {
		t.Errorf("a container that had everything: %s %q", r.Status, r.Summary)
	}
	r = judge("podman", "Podman 4.3.1", output{stdout: payloadLine(t, bad), exit: 3})
	if r.Status != finding.Fail || !strings.Contains(r.Summary, "read-only file system") {
		t.Errorf("a payload that saw a problem: %s %q", r.Status, r.Summary)
	}
	// Exit 0 without the payload's report: the payload never ran (an engine that exits 0
	// without starting the process must not pass).
	r = judge("docker", "Docker 20.10.24", output{stdout: "something\n"})
	if r.Status != finding.Fail {
		t.Errorf("no report, exit 0: %s %q", r.Status, r.Summary)
	}
	r = judge("podman", "Podman 4.3.1", output{stderr: "Error: OCI runtime error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2\n", exit: 126})
	if r.Status != finding.Fail || !strings.Contains(r.Summary, "(see engine.podman)") {
		t.Errorf("crun on hybrid: %s %q", r.Status, r.Summary)
	}
	if !slicesContain(r.Details, "cgroups in hybrid mode not supported") {
		t.Errorf("the engine's own error is not in the details: %q", r.Details)
	}
	r = judge("docker", "Docker", output{exit: -1, err: errors.New("docker: no answer: context deadline exceeded")})
	if r.Status != finding.Fail || !slicesContain(r.Details, "context deadline exceeded") {
		t.Errorf("timeout: %s %q %q", r.Status, r.Summary, r.Details)
	}
	if _, err := parsePayloadReport(payloadMarker + "{not json"); err == nil || errors.Is(err, errNoPayloadReport) {
		t.Errorf("a broken report line: %v", err)
	}
}

func slicesContain(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// TestImageArchive: the archive is what `docker load` reads (moby image/tarexport/load.go):
// manifest.json names the config and the layer, the config's diff_id is the layer's sha256, the
// layer holds the binary as /rootless-doctor, executable, with its bytes; and it is the same
// bytes every time (the tag is derived from it).
func TestImageArchive(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "payload")
	content := bytes.Repeat([]byte("\x7fELF payload "), 5000)
	if err := os.WriteFile(exe, content, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := hashLayer(exe)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := writeImage(&a, exe, l); err != nil {
		t.Fatal(err)
	}
	if err := writeImage(&b, exe, l); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of one binary differ")
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = data
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	m := manifest[0]
	if len(m.RepoTags) != 1 || m.RepoTags[0] != imageTag(l.digest) {
		t.Errorf("tags %q, want %q", m.RepoTags, imageTag(l.digest))
	}
	var config struct {
		OS     string `json:"os"`
		Config struct{ Entrypoint []string }
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(files[m.Config], &config); err != nil {
		t.Fatalf("config %s: %v", m.Config, err)
	}
	sum := sha256.Sum256(files[m.Config])
	if m.Config != hex.EncodeToString(sum[:])+".json" {
		t.Errorf("config file %s is not named by its digest", m.Config)
	}
	layerTar := files[m.Layers[0]]
	ls := sha256.Sum256(layerTar)
	if len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(ls[:]) || int64(len(layerTar)) != l.size {
		t.Errorf("diff_ids %q, layer sha256:%x (%d bytes, hashed %d)", config.RootFS.DiffIDs, ls, len(layerTar), l.size)
	}
	if config.OS != "linux" || len(config.Config.Entrypoint) != 1 || config.Config.Entrypoint[0] != "/rootless-doctor" {
		t.Errorf("config: %+v", config)
	}
	lr := tar.NewReader(bytes.NewReader(layerTar))
	found := false
	for {
		h, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == payloadName {
			data, _ := io.ReadAll(lr)
			found = bytes.Equal(data, content) && h.Mode&0o111 == 0o111
		}
	}
	if !found {
		t.Error("the layer does not hold the binary as an executable /rootless-doctor")
	}
}

// TestCheckStatic: a binary with an ELF interpreter cannot run in an empty root.
func TestCheckStatic(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(notELF); err == nil || errors.Is(err, ErrNotStatic) {
		t.Errorf("a script: %v", err)
	}
	if err := checkStatic(writeELF(t, dir, elf.PT_INTERP)); !errors.Is(err, ErrNotStatic) {
		t.Errorf("a dynamic ELF: %v", err)
	}
	if err := checkStatic(writeELF(t, dir, elf.PT_LOAD)); err != nil {
		t.Errorf("a static ELF: %v", err)
	}
}

// writeELF writes a minimal x86-64 executable header with one program header of type pt.
func writeELF(t *testing.T, dir string, pt elf.ProgType) string {
	t.Helper()
	var buf bytes.Buffer
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1, Shentsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(&buf, binary.LittleEndian, elf.Prog64{Type: uint32(pt), Off: 0, Filesz: 0}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, pt.String())
	if err := os.WriteFile(p, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
