package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/internal/safefs"
)

// IsArchive reports whether a --root or -o names a gzipped tar rather than a directory.
func IsArchive(p string) bool {
	return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}

// Limits of a snapshot archive read by `check --root FILE.tar.gz`: an archive from a bug
// report is untrusted input (docs/bounded-inputs.md). archiveLimits bound what the tree keeps,
// every name, link target and file counted (a snapshot is a few hundred kilobytes);
// maxArchiveStream bounds the bytes gunzip may produce, headers and skipped entries included,
// so a gzip bomb costs at most the time of decompressing that much.
var archiveLimits = host.Limits{Entries: 100_000, Bytes: 64 << 20, Depth: 256}

const maxArchiveStream = 512 << 20

// errArchiveStream is the error of an archive that decompresses to more than maxArchiveStream.
var errArchiveStream = fmt.Errorf("%w: more than %d bytes decompressed", host.ErrBudget, maxArchiveStream)

// WriteArchive writes the recorded host tree at dir as a gzipped tar at dst, atomically: into
// a new file of a random name next to dst, created O_EXCL|O_NOFOLLOW through the directory's
// descriptor, then renamed to dst (a name that appeared meanwhile is not replaced). A name
// planted in a shared directory is neither followed nor reused (docs/security.md, "Files";
// issue 10: dst+".tmp" was opened O_TRUNC and followed a planted symlink). The archive is
// 0644, owned by whoever writes it. Entries are relative ("etc/subuid"), sorted, with fixed
// owners and times, so the same tree gives the same archive.
func WriteArchive(dir, dst string) (err error) {
	parent, err := safefs.OpenDir(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer parent.Close()
	tmp, f, err := safefs.CreateTemp(parent, "."+filepath.Base(dst)+".tmp-", 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = unix.Unlinkat(int(parent.Fd()), tmp, 0)
		}
	}()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err = tw.Close(); err != nil {
		return err
	}
	if err = zw.Close(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil { // whatever the umask took
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return safefs.RenameNoReplace(parent, tmp, filepath.Base(dst))
}

// OpenArchive reads a snapshot archive into memory and opens it as a recorded host. Nothing
// is written to disk, so no entry can land outside the tree; names are cleaned and must stay
// inside it, symlinks are resolved inside the tree by the recorded host like in a directory,
// and everything kept is counted against archiveLimits (host.TreeBuilder).
func OpenArchive(p string) (*host.Recorded, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening recorded host: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("opening recorded host %s: not a regular file", p)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("opening recorded host %s: %w", p, err)
	}
	tr := tar.NewReader(&cappedStream{r: zr, left: maxArchiveStream})
	b := host.NewTreeBuilder(archiveLimits)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if !utf8.ValidString(hdr.Name) {
			return nil, fmt.Errorf("reading %s: entry %q: %w: the name is not UTF-8", p, hdr.Name, host.ErrBadName)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("reading %s: entry %q leaves the tree", p, hdr.Name)
		}
		perm := fs.FileMode(hdr.Mode) & fs.ModePerm
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = b.Dir(name, perm)
		case tar.TypeSymlink:
			err = b.Symlink(name, hdr.Linkname)
		case tar.TypeReg:
			err = b.File(name, perm, tr, hdr.Size)
		default:
			// Hard links, devices, fifos: a snapshot never writes them (devices live in the
			// manifest); leave them out rather than guess.
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: entry %q: %w", p, hdr.Name, err)
		}
	}
	return b.Host(p)
}

// cappedStream passes at most left bytes of r, then fails with errArchiveStream.
type cappedStream struct {
	r    io.Reader
	left int64
}

func (c *cappedStream) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errArchiveStream
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// Open opens a recorded host: a snapshot archive (IsArchive) read into memory, or a tree (a
// snapshot directory, a fixture) loaded with host.LoadTree. `check --root` and `fix --root`
// open their hosts with it.
func Open(p string) (*host.Recorded, error) {
	if IsArchive(p) {
		return OpenArchive(p)
	}
	return host.LoadTree(p)
}
