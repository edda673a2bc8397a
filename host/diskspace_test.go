package host

import (
	"errors"
	"math"
	"testing"

	"golang.org/x/sys/unix"
)

// A recorded host answers DiskSpace from the longest recorded prefix of the path, and says
// ErrSpaceNotRecorded when nothing covers it (a snapshot from before Dec 2026: the probe
// then reads the recorded `df -Pk`).
func TestRecordedDiskSpace(t *testing.T) {
	h := NewMemory().Dir("/var/tmp").Dir("/home/alice").
		DiskSpace("/var", 100, 10).DiskSpace("/var/tmp", 50, 5).Host()
	for p, want := range map[string]DiskSpace{"/var/tmp": {50, 5}, "/var/tmp/x": {50, 5}, "/var": {100, 10}, "/var/lib": {100, 10}} {
		if got, err := h.DiskSpace(p); err != nil || got != want {
			t.Errorf("DiskSpace(%s) = %v, %v; want %v", p, got, err, want)
		}
	}
	if _, err := h.DiskSpace("/home/alice"); !errors.Is(err, ErrSpaceNotRecorded) {
		t.Errorf("an unrecorded path: %v, want ErrSpaceNotRecorded", err)
	}
	if _, err := NewMemory().Host().DiskSpace("/"); !errors.Is(err, ErrSpaceNotRecorded) {
		t.Errorf("a host with no disk space recorded: %v, want ErrSpaceNotRecorded", err)
	}
}

// The live host's answer is statfs's, in f_frsize units as df counts.
func TestLiveDiskSpace(t *testing.T) {
	dir := t.TempDir()
	got, err := NewLive().DiskSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if want := int64(st.Blocks) * st.Frsize; got.Size != want {
		t.Errorf("size %d, statfs says %d", got.Size, want)
	}
	if got.Avail < 0 || got.Avail > got.Size {
		t.Errorf("avail %d of %d", got.Avail, got.Size)
	}
	if _, err := NewLive().DiskSpace(dir + "/missing"); err == nil {
		t.Error("a missing path has no disk space")
	}
}

func TestStatfsSpace(t *testing.T) {
	for _, tt := range []struct {
		blocks, bavail uint64
		frsize, bsize  int64
		want           DiskSpace
	}{
		{1000, 10, 4096, 4096, DiskSpace{4096000, 40960}},
		{1000, 10, 1024, 4096, DiskSpace{1024000, 10240}}, // f_frsize is df's unit
		{1000, 10, 0, 512, DiskSpace{512000, 5120}},       // no f_frsize: f_bsize
		{1000, 10, 0, 0, DiskSpace{1000, 10}},
		{math.MaxUint64, 1 << 62, 4096, 4096, DiskSpace{math.MaxInt64, math.MaxInt64}}, // saturates
	} {
		if got := statfsSpace(tt.blocks, tt.bavail, tt.frsize, tt.bsize); got != tt.want {
			t.Errorf("statfsSpace(%d, %d, %d, %d) = %v, want %v", tt.blocks, tt.bavail, tt.frsize, tt.bsize, got, tt.want)
		}
	}
}
