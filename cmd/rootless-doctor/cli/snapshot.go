package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/snapshot"
)

// SnapshotOptions are the flags of snapshot.
type SnapshotOptions struct {
	IO      *IOStreams
	Factory *Factory

	Out  string
	User string
}

// NewCmdSnapshot builds `snapshot`: record what the static probes read into a recorded host.
// runF replaces the logic in tests.
func NewCmdSnapshot(f *Factory, runF func(context.Context, *SnapshotOptions) error) *cobra.Command {
	opts := &SnapshotOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "snapshot -o DIR|FILE.tar.gz",
		Short: "Record what the probes read on this host, to replay it with check --root",
		Long: `Run the static probes on this host and record exactly what they read: the files (copied
under DIR at their real paths), owners, modes, file capabilities and device numbers, the
filesystem types, the environment variables they looked up and the outputs of the commands
they ran (DIR/manifest.json, see docs/snapshot-format.md). "rootless-doctor check --root DIR"
then gives the same static results on any machine. The live proof is not part of a snapshot.

Only what the probes need is kept: of /etc/passwd and /etc/group, root, the checked account
and the ids that fall inside subordinate ranges (passwords and GECOS dropped); /etc/subuid
and /etc/subgid whole, since overlap checks need every range; of dpkg's database only the
stanzas of the packages the probes looked up. With -o FILE.tar.gz (or .tgz) the snapshot
is one gzipped tar, for a bug report; any other archive extension (.zip, .tar, .tar.xz, …)
is refused. DIR must not exist; it is written into a new directory of a random name beside
it (.DIR.tmp-…) and renamed when complete.`,
		Example: `  rootless-doctor snapshot -o /tmp/myhost
  sudo rootless-doctor snapshot --user ci -o ci-image.tar.gz
  rootless-doctor check --root ci-image.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Out == "" {
				return usageErr("snapshot needs -o DIR or -o FILE.tar.gz")
			}
			if ext := archiveLike(opts.Out); ext != "" {
				// Issue 15: -o x.zip wrote a directory named x.zip.
				return usageErr("-o %s: a snapshot is a directory or a .tar.gz (or .tgz), not %s", opts.Out, ext)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return snapshotRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Out, "output", "o", "", "write the snapshot to this directory (must not exist) or FILE.tar.gz")
	fl.StringVarP(&opts.User, "user", "u", "", "record for this account (name or uid; for root, e.g. in image builds)")
	return cmd
}

func snapshotRun(ctx context.Context, opts *SnapshotOptions) error {
	f := opts.Factory
	if _, err := os.Lstat(opts.Out); err == nil {
		return usageErr("%s already exists", opts.Out)
	}
	h, err := f.Host("")
	if err != nil {
		return usageErr("%v", err)
	}
	rec, err := record(ctx, f, h, opts.User)
	if err != nil {
		return err
	}
	n := rec.files
	if snapshot.IsArchive(opts.Out) {
		// The tree is only a step towards the archive: it goes to a private directory of
		// ours in the temp dir, not next to the archive, where another account may write.
		tmp, err := os.MkdirTemp("", "rootless-doctor-snapshot-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := rec.WriteTree(filepath.Join(tmp, "host"), rec.opt); err != nil {
			return err
		}
		if err := snapshot.WriteArchive(filepath.Join(tmp, "host"), opts.Out); err != nil {
			return fmt.Errorf("writing %s: %w", opts.Out, err)
		}
	} else if err := rec.WriteTree(opts.Out, rec.opt); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "recorded %d paths and %d commands into %s; replay with: rootless-doctor check --root %s\n",
		n, rec.commands, opts.Out, opts.Out)
	return nil
}

// recorded is a finished recording and how to write it.
type recorded struct {
	*snapshot.Recording
	opt      snapshot.RecordOptions
	files    int
	commands int
}

// record runs the static probes and the fix planner over a recording of h, for user.
func record(ctx context.Context, f *Factory, h host.Host, user string) (*recorded, error) {
	rec := snapshot.NewRecording(h)
	env := facts.NewEnv(ctx, rec, user)
	results := checks.Run(ctx, f.Probes(), env, checks.Options{Now: f.Now})
	// The planner reads the host too (login.defs, free subordinate ranges): record that, so a
	// replay plans the same fixes.
	_, _ = fixes.Build(fixes.Input{Requests: fixes.RequestsFrom(results), Env: env})
	subuid, _ := h.ReadFile("/etc/subuid")
	subgid, _ := h.ReadFile("/etc/subgid")
	opt := snapshot.RecordOptions{Filter: snapshot.KeepFilter(env, subuid, subgid), User: user}
	m := rec.Manifest(opt)
	return &recorded{Recording: rec, opt: opt, files: len(rec.Paths()), commands: len(m.Commands)}, nil
}

// archiveLike returns the extension of out when it names an archive format snapshot does not
// write (.zip, .tar, .tar.xz, …), else "": .tar.gz and .tgz are archives, anything else a
// directory.
func archiveLike(out string) string {
	if snapshot.IsArchive(out) {
		return ""
	}
	lower := strings.ToLower(filepath.Base(out))
	for _, ext := range []string{".tar.gz", ".tgz", ".zip", ".tar", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar.zst", ".tzst", ".gz", ".xz", ".bz2", ".zst", ".7z", ".rar"} {
		if strings.HasSuffix(lower, ext) {
			return ext
		}
	}
	return ""
}
