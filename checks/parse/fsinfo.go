package parse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Parsers of what tools say about filesystems: df (free space of the directory an engine
// stages blobs in), xfs_info (whether an XFS keeps the file type in directory entries), the
// ZFS module version, and SELinux contexts as stat(1) and matchpathcon(8) print them.

// DiskSpace is one filesystem as `df -Pk PATH` reports it.
type DiskSpace struct {
	// Size and Avail are in bytes: the filesystem's size and what an unprivileged writer may
	// still use (df's Available, which leaves out the blocks reserved for root).
	Size, Avail int64
	// Mount is the mount point ("Mounted on").
	Mount string
}

// ErrNoDF is returned by ParseDF when the output holds no filesystem line.
var ErrNoDF = errors.New("df printed no filesystem")

// ParseDF reads the POSIX output of `df -Pk PATH` (coreutils, busybox): a header, then one
// line "FILESYSTEM 1024-BLOCKS USED AVAILABLE CAPACITY% MOUNTPOINT". The filesystem name may
// hold spaces (a FUSE source); the mount point is everything after the capacity column.
func ParseDF(out []byte) (DiskSpace, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return DiskSpace{}, ErrNoDF
	}
	f := strings.Fields(lines[len(lines)-1])
	// Find the capacity column ("25%"): the mount point follows it, the numbers precede it.
	c := -1
	for i := 4; i < len(f); i++ {
		if strings.HasSuffix(f[i], "%") {
			c = i
			break
		}
	}
	if c < 0 || c+1 >= len(f) {
		return DiskSpace{}, fmt.Errorf("df line %q: %w", finding.Clip(lines[len(lines)-1], 80), ErrNoDF)
	}
	num := func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<53 {
			return 0, fmt.Errorf("df: %q is not a block count", finding.Clip(s, 40))
		}
		return n * 1024, nil
	}
	size, err := num(f[c-3])
	if err != nil {
		return DiskSpace{}, err
	}
	avail, err := num(f[c-1])
	if err != nil {
		return DiskSpace{}, err
	}
	return DiskSpace{Size: size, Avail: avail, Mount: strings.Join(f[c+1:], " ")}, nil
}

// ParseXFSInfoFtype returns the ftype value of xfs_info(8)'s "naming" line ("naming
// =version 2 bsize=4096 ascii-ci=0, ftype=1"): 1 when directory entries carry the file type
// (d_type), 0 when they do not (XFS made with -n ftype=0, the default before xfsprogs 3.2.3
// and RHEL 7.3). ok is false when the output has no such field.
func ParseXFSInfoFtype(out []byte) (ftype int, ok bool) {
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "naming") {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
			if v, found := strings.CutPrefix(f, "ftype="); found {
				n, err := strconv.Atoi(v)
				if err != nil || (n != 0 && n != 1) {
					return 0, false
				}
				return n, true
			}
		}
	}
	return 0, false
}

// ParseZFSVersion reads /sys/module/zfs/version ("2.1.5-1ubuntu6~22.04.1", "2.2.2-0ubuntu9",
// "zfs-2.2.6-1"): the OpenZFS major and minor version.
func ParseZFSVersion(data []byte) (major, minor int, err error) {
	s := strings.TrimPrefix(strings.TrimSpace(string(data)), "zfs-")
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("zfs version %q: want MAJOR.MINOR", finding.Clip(s, 40))
	}
	lead := func(p string) (int, error) {
		i := 0
		for i < len(p) && i < 6 && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		if i == 0 || i < len(p) && p[i] >= '0' && p[i] <= '9' {
			return 0, fmt.Errorf("zfs version %q: %q is not a number", finding.Clip(s, 40), finding.Clip(p, 20))
		}
		return strconv.Atoi(p[:i])
	}
	if major, err = lead(parts[0]); err != nil {
		return 0, 0, err
	}
	if minor, err = lead(parts[1]); err != nil {
		return 0, 0, err
	}
	return major, minor, nil
}

// SELinuxType returns the type of an SELinux context ("unconfined_u:object_r:default_t:s0"
// → "default_t"), as `stat -c %C` and `matchpathcon -n` print it. ok is false for anything
// that is not a context: "?" (no label), an empty line, an error text.
func SELinuxType(ctx string) (typ string, ok bool) {
	ctx = strings.TrimSpace(ctx)
	f := strings.Split(ctx, ":")
	if len(f) < 4 || f[2] == "" || strings.ContainsAny(ctx, " \t\n/") {
		return "", false
	}
	return f[2], true
}
