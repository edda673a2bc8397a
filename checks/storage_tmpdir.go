package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

var storageTmpdir = Probe{
	ID:     "storage.tmpdir",
	Starts: true,
	Title:  "Image staging directory",
	Fails:  "podman's staging directory for pulls ($TMPDIR, image_copy_tmp_dir, /var/tmp) is not writable (fail) or has less than 2 GiB of room (warn)",
	Why: "podman and buildah (containers/image) first write every blob of a pull or a commit to a " +
		"temporary directory, then move it into the graphroot: $TMPDIR, else image_copy_tmp_dir of " +
		"containers.conf, else /var/tmp. A small /var/tmp (a tmpfs, an OSTree or IoT image's root) " +
		"fails pulls of large images with `no space left on device` even when the graphroot has room, " +
		"and so does a $TMPDIR inside $XDG_RUNTIME_DIR, a tmpfs logind sizes to 10% of RAM " +
		"(docs/failures/catalogue.json#image-tmpdir-too-small, #runtime-dir-tmpfs-too-small; " +
		"podman#5960, podman#16227, containers.conf(5)).",
	Reads: []string{
		"$TMPDIR (when checking the running account)",
		"`podman --version`; the containers.conf chain of that release: /usr/share/containers/containers.conf, /etc/containers/containers.conf{,.d/*.conf}, ~/.config/containers/containers.conf{,.d/*.conf}, $CONTAINERS_CONF, $CONTAINERS_CONF_OVERRIDE ([engine] image_copy_tmp_dir)",
		"the staging directory (owner, mode); statfs of DIR (a snapshot from before Dec 2026: its `df -Pk DIR`)",
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runStorageTmpdir,
}

// minStaging is the room below which a staging directory warns: one layer of a large image
// (CUDA, a desktop or IDE base) is already more than a gigabyte.
const minStaging = 2 << 30

// defaultStaging is containers/common's default image_copy_tmp_dir (pkg/config/default.go).
const defaultStaging = "/var/tmp"

func runStorageTmpdir(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	d, inUse := e.PodmanDataRoot()
	if !inUse {
		return finding.Skipf("podman is not in use; rootless dockerd stages pulls inside its data root (see storage.data-root)")
	}
	r := finding.Result{}
	dir, from := defaultStaging, "the default"
	var val, valFrom string
	if pm := e.Podman(ctx); pm != nil {
		// The containers.conf chain of the installed podman (facts.Env.Podman).
		val, valFrom = pm.Conf.ImageCopyTmpDir, pm.ConfSetBy(func(c parse.ContainersConf) string { return c.ImageCopyTmpDir })
		if pm.ConfErr != nil {
			r = r.Detail("Could not read containers.conf: %v.", pm.ConfErr)
		}
	}
	switch {
	case valFrom != "":
		r = r.With(valFrom, fmt.Sprintf("image_copy_tmp_dir = %q", val))
		switch {
		case val == "":
		case val == "storage":
			dir, from = path.Join(d.Path, "tmp"), valFrom+`, image_copy_tmp_dir = "storage"`
		case path.IsAbs(val):
			dir, from = path.Clean(val), valFrom
		default:
			return r.WithStatus(finding.Fail, "image_copy_tmp_dir = %q in %s is not an absolute path: podman refuses it", val, valFrom).
				Detail("containers/common: `invalid image_copy_tmp_dir value … (relative paths are not accepted)`.").
				Fix(finding.ManualStep("podman-image-copy-tmp-dir", fmt.Sprintf(`set image_copy_tmp_dir to an absolute path or "storage" under [engine] in %s`, valFrom)))
		}
	}
	if v, ok := e.Getenv("TMPDIR"); ok && v != "" {
		// containers/common Config.ImageCopyTmpDir: $TMPDIR wins over containers.conf.
		r = r.With("$TMPDIR", v)
		dir, from = e.AbsUnderHome(v), "$TMPDIR"
	}
	return judgeStaging(ctx, e, r, dir, from)
}

// judgeStaging judges the staging directory dir: writable by the account, and its room.
func judgeStaging(ctx context.Context, e *facts.Env, r finding.Result, dir, from string) finding.Result {
	userConf := path.Join(e.ConfigHome(), "containers", "containers.conf")
	toStorage := finding.ManualStep("podman-image-copy-tmp-dir", fmt.Sprintf(
		`stage pulls below the graphroot: set image_copy_tmp_dir = "storage" under [engine] in %s (or run podman with TMPDIR set to a directory with room)`, userConf))
	where := dir
	existing, fi, err := nearestExisting(e, dir)
	switch {
	case err != nil:
		return finding.Undecided(err, "cannot look at podman's staging directory %s", dir)
	case existing != dir:
		where = fmt.Sprintf("%s (to be created in %s)", dir, existing)
	}
	mode := uint32(fi.Mode.Perm())
	if fi.Mode&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	r = r.With(existing, fmt.Sprintf("owner %d:%d mode %04o", fi.UID, fi.GID, mode))
	if !fi.IsDir() || !e.Permits(fi, 0o3) {
		return r.WithStatus(finding.Fail, "podman stages pulls in %s (from %s), which %s cannot write: every pull fails", where, from, e.User.Name).
			Detail("podman fails with `creating a temporary directory: mkdir %s/storage…: permission denied` (podman#20045).", dir).
			Fix(toStorage)
	}
	space, source, err := stagingRoom(ctx, e, existing)
	switch {
	case errors.Is(err, errNoRoom):
		return r.WithStatus(finding.Pass, "podman stages pulls in %s (from %s); its room could not be measured", where, from)
	case err != nil:
		return r.WithStatus(finding.Pass, "podman stages pulls in %s (from %s); its room could not be measured (%v)", where, from, err)
	}
	r = r.With(source, strings.TrimSpace(fmt.Sprintf("%s size %s, %s available", space.Mount, gib(space.Size), gib(space.Avail))))
	if space.Avail >= minStaging {
		return r.WithStatus(finding.Pass, "podman stages pulls in %s (from %s): %s available", where, from, gib(space.Avail))
	}
	what := fmt.Sprintf("only %s available", gib(space.Avail))
	if space.Size < minStaging {
		what = fmt.Sprintf("a filesystem of %s", gib(space.Size))
	}
	r = r.WithStatus(finding.Warn, "podman stages pulls in %s (from %s), %s: pulls and commits of large images fail with `no space left on device`", where, from, what).
		Detail("Every blob is written there before it moves into the graphroot, so the largest layer of an image must fit (podman#5960, podman#7351).")
	rt := e.RuntimeDir()
	if space.Mount == rt || dir == rt || strings.HasPrefix(dir, rt+"/") {
		// catalogue runtime-dir-tmpfs-too-small: logind mounts /run/user/UID with
		// RuntimeDirectorySize= (10% of RAM by default, logind.conf(5)).
		r = r.Detail("%s is the login session's runtime directory, a tmpfs logind sizes with RuntimeDirectorySize= (10%% of RAM by default, podman#16227).", rt).
			Fix(finding.ManualStep("runtime-directory-size", "as root give runtime directories more room: printf '[Login]\\nRuntimeDirectorySize=25%%\\n' > /etc/systemd/logind.conf.d/60-runtime-directory-size.conf (it applies at the next login)").Optionally())
	}
	return r.Fix(toStorage)
}

// errNoRoom: the room of the staging directory's filesystem could not be asked at all.
var errNoRoom = errors.New("no answer")

// stagingRoom measures the filesystem that holds dir with statfs (Host.DiskSpace), its mount
// point from the run's mount table; the evidence's source is "statfs DIR". Until Dec 2026 it
// ran `df -Pk DIR`, the static check's last child process (issue 16): a snapshot taken then
// has that command's output and no statfs answer, and is measured from it as before.
func stagingRoom(ctx context.Context, e *facts.Env, dir string) (parse.DiskSpace, string, error) {
	ds, err := e.Host.DiskSpace(dir)
	if err == nil {
		space := parse.DiskSpace{Size: ds.Size, Avail: ds.Avail}
		if m := e.MountOf(dir); m != nil {
			space.Mount = m.Mountpoint
		}
		return space, "statfs " + dir, nil
	}
	if !errors.Is(err, host.ErrSpaceNotRecorded) {
		return parse.DiskSpace{}, "", errNoRoom
	}
	out, err := e.Host.Run(ctx, "df", "-Pk", dir)
	if err != nil || out.ExitCode != 0 {
		return parse.DiskSpace{}, "", errNoRoom
	}
	space, err := parse.ParseDF(out.Stdout)
	return space, "df -Pk " + dir, err
}

// nearestExisting is p or its nearest existing ancestor, and its metadata.
func nearestExisting(e *facts.Env, p string) (string, host.FileInfo, error) {
	p = path.Clean(p)
	for {
		fi, err := e.Host.Stat(p)
		if err == nil {
			return p, fi, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || p == "/" {
			return p, fi, err
		}
		p = path.Dir(p)
	}
}

// gib formats a size in bytes for a summary.
func gib(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
