package vm

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Account is the ordinary account the scenarios check and run engines as.
const Account = "tester"

// customizeScript is mmdebstrap's customize hook (customize.sh); it is part of the cache key.
//
//go:embed customize.sh
var customizeScript []byte

// imageFormat is bumped when the layout of a cache entry changes.
const imageFormat = "rootless-doctor-vmlab/1"

// Mirrors are the Debian archives the images are built from.
type Mirrors struct {
	Debian   string // http://deb.debian.org/debian
	Security string // http://deb.debian.org/debian-security
}

// DefaultMirrors are Debian's CDN.
var DefaultMirrors = Mirrors{Debian: "http://deb.debian.org/debian", Security: "http://deb.debian.org/debian-security"}

// Image is a built guest: a raw ext4 root file system, the kernel and initrd from its /boot, and
// the ssh key that logs in as root and as Account.
type Image struct {
	Suite  Suite
	Dir    string
	Disk   string
	Kernel string
	Initrd string
	Key    string
	Meta   ImageMeta
}

// ImageMeta is written last into a cache entry (image.json): an entry without it is incomplete.
type ImageMeta struct {
	Format        string   `json:"format"`
	Suite         string   `json:"suite"`
	Key           string   `json:"key"`
	KernelRelease string   `json:"kernel_release"`
	Built         string   `json:"built"`
	MmdebstrapSec float64  `json:"mmdebstrap_seconds"`
	MkfsSec       float64  `json:"mkfs_seconds"`
	Args          []string `json:"mmdebstrap_args"`
}

// kernelHook installs the newest package matching $LAB_KERNEL_PATTERN, resolved from the
// archive's index while mmdebstrap's apt lists are still there.
const kernelHook = `k=$(APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-cache search --names-only "$LAB_KERNEL_PATTERN" | cut -d' ' -f1 | sort -V | tail -n 1) && [ -n "$k" ] && echo "lab: kernel $k" && chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$k"`

// customizeHook runs customize.sh, written to $LAB_CUSTOMIZE, for the root directory $1.
const customizeHook = `sh "$LAB_CUSTOMIZE" "$1" "$LAB_PUBKEY" "$LAB_ACCOUNT"`

// mmdebstrapArgs are mmdebstrap's arguments for s, with target as the output directory.
func mmdebstrapArgs(s Suite, m Mirrors, target string) []string {
	args := []string{"--mode=root", "--variant=minbase", "--format=directory",
		"--include=" + strings.Join(s.Packages, ",")}
	if s.KernelPattern != "" {
		args = append(args, "--customize-hook="+kernelHook)
	}
	args = append(args, "--customize-hook="+customizeHook, s.Name, target,
		fmt.Sprintf("deb %s %s main", m.Debian, s.Name),
		fmt.Sprintf("deb %s %s-updates main", m.Debian, s.Name),
		fmt.Sprintf("deb %s %s-security main", m.Security, s.Name))
	return args
}

// CacheKey identifies an image: the suite, its package list and kernel choice, the mirrors, the
// build steps (mmdebstrap's arguments, customize.sh) and the entry format. Any change rebuilds.
func CacheKey(s Suite, m Mirrors) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", imageFormat, s.Name, s.KernelPattern)
	for _, a := range mmdebstrapArgs(s, m, "TARGET") {
		fmt.Fprintf(h, "%s\x00", a)
	}
	h.Write(customizeScript)
	fmt.Fprintf(h, "\naccount=%s\n", Account)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// CachedImage returns the complete cache entry for s, or an error wrapping fs.ErrNotExist.
func CachedImage(cache string, s Suite, m Mirrors) (Image, error) {
	dir := filepath.Join(cache, s.Name+"-"+CacheKey(s, m))
	img := imageIn(dir, s)
	data, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if err != nil {
		return Image{}, err
	}
	if err := json.Unmarshal(data, &img.Meta); err != nil {
		return Image{}, fmt.Errorf("reading %s/image.json: %w", dir, err)
	}
	for _, f := range []string{img.Disk, img.Kernel, img.Initrd, img.Key} {
		if _, err := os.Stat(f); err != nil {
			return Image{}, err
		}
	}
	return img, nil
}

func imageIn(dir string, s Suite) Image {
	return Image{Suite: s, Dir: dir, Disk: filepath.Join(dir, "disk.raw"),
		Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img"),
		Key: filepath.Join(dir, "id_ed25519")}
}

// diskSize is the raw image's size; the file is sparse and the overlays grow on demand.
const diskSize = "8G"

// EnsureImage returns the cached image of s, building it first when there is none (or when
// rebuild is set). Builds hold an exclusive lock on cache/.lock, so two lab runs never build
// the same image at once; a finished build replaces older entries of the same suite.
func EnsureImage(ctx context.Context, cache string, s Suite, m Mirrors, rebuild bool, log io.Writer) (Image, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Image{}, fmt.Errorf("creating the image cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return Image{}, fmt.Errorf("opening the cache lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return Image{}, fmt.Errorf("locking the image cache: %w", err)
	}
	if !rebuild {
		if img, err := CachedImage(cache, s, m); err == nil {
			return img, nil
		}
	}
	return buildImage(ctx, cache, s, m, log)
}

func buildImage(ctx context.Context, cache string, s Suite, m Mirrors, log io.Writer) (Image, error) {
	key := CacheKey(s, m)
	final := filepath.Join(cache, s.Name+"-"+key)
	tmp, err := os.MkdirTemp(cache, ".build-"+s.Name+"-")
	if err != nil {
		return Image{}, err
	}
	defer os.RemoveAll(tmp)
	img := imageIn(tmp, s)
	rootDir := filepath.Join(tmp, "root")

	// A key of its own per image build; it never leaves the cache directory.
	if err := run(ctx, log, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rootless-doctor-vmlab", "-f", img.Key); err != nil {
		return Image{}, err
	}
	script := filepath.Join(tmp, "customize.sh")
	if err := os.WriteFile(script, customizeScript, 0o755); err != nil {
		return Image{}, err
	}
	env := []string{"LAB_CUSTOMIZE=" + script, "LAB_PUBKEY=" + img.Key + ".pub", "LAB_ACCOUNT=" + Account,
		"LAB_KERNEL_PATTERN=" + s.KernelPattern}
	args := mmdebstrapArgs(s, m, rootDir)
	t0 := time.Now()
	if err := run(ctx, log, env, "mmdebstrap", args...); err != nil {
		return Image{}, err
	}
	img.Meta.MmdebstrapSec = time.Since(t0).Seconds()

	release, err := copyBoot(rootDir, img)
	if err != nil {
		return Image{}, err
	}
	t0 = time.Now()
	if err := run(ctx, log, nil, "mkfs.ext4", "-q", "-F", "-L", "rdlab", "-d", rootDir, img.Disk, diskSize); err != nil {
		return Image{}, err
	}
	img.Meta.MkfsSec = time.Since(t0).Seconds()
	if err := os.RemoveAll(rootDir); err != nil {
		return Image{}, err
	}

	img.Meta.Format, img.Meta.Suite, img.Meta.Key = imageFormat, s.Name, key
	img.Meta.KernelRelease, img.Meta.Built = release, time.Now().UTC().Format(time.RFC3339)
	img.Meta.Args = mmdebstrapArgs(s, m, "TARGET")
	meta, err := json.MarshalIndent(img.Meta, "", "  ")
	if err != nil {
		return Image{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "image.json"), append(meta, '\n'), 0o644); err != nil {
		return Image{}, err
	}
	// Older entries of this suite are dead weight now (their key no longer matches).
	old, _ := filepath.Glob(filepath.Join(cache, s.Name+"-*"))
	for _, o := range old {
		if err := os.RemoveAll(o); err != nil {
			return Image{}, err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return Image{}, err
	}
	return CachedImage(cache, s, m)
}

// copyBoot copies the guest's only kernel and initrd out of its /boot and returns the release.
func copyBoot(root string, img Image) (string, error) {
	kernels, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(kernels) != 1 {
		return "", fmt.Errorf("want one kernel in the guest's /boot, found %d", len(kernels))
	}
	release := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	initrd := filepath.Join(root, "boot", "initrd.img-"+release)
	for src, dst := range map[string]string{kernels[0]: img.Kernel, initrd: img.Initrd} {
		if err := copyFile(src, dst); err != nil {
			return "", fmt.Errorf("copying the guest's %s: %w", filepath.Base(src), err)
		}
	}
	return release, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// run runs a host command with its output going to log; the error carries the command and the
// last lines of its output.
func run(ctx context.Context, log io.Writer, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = cmd.Stdout
	fmt.Fprintf(log, "+ %s %s\n", name, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, tail.String())
	}
	return nil
}

// tailBuffer keeps the last few KiB written to it, for error messages.
type tailBuffer struct{ b []byte }

const tailMax = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// ErrMissingTool says a host tool the lab needs is not installed.
var ErrMissingTool = errors.New("missing tool")

// HostTools are the build host's commands the lab runs, with the Debian package of each.
var HostTools = map[string]string{
	"mmdebstrap":         "mmdebstrap",
	"mkfs.ext4":          "e2fsprogs",
	"qemu-system-x86_64": "qemu-system-x86",
	"qemu-img":           "qemu-utils",
	"ssh":                "openssh-client",
	"scp":                "openssh-client",
	"ssh-keygen":         "openssh-client",
}

// CheckHostTools returns an error wrapping ErrMissingTool naming every tool that is absent.
func CheckHostTools() error {
	var missing []string
	for tool, pkg := range HostTools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", tool, pkg))
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingTool, strings.Join(missing, ", "))
	}
	return nil
}
