package host

import (
	"fmt"
	"io"
)

// readCapped reads at most MaxRead bytes and reports ErrTooLarge past that. size is what
// fstat said of the file: only a hint for the first buffer, since /proc and /sys files report
// 0 or 4096 whatever they hold and a file can grow while it is read. With it, a regular file
// is read into one buffer of its size instead of io.ReadAll's doubling from 512 bytes (dpkg's
// 700 KB database took eleven buffers and their copies; issue 16).
func readCapped(r io.Reader, path string, size int64) ([]byte, error) {
	n := int64(512)
	if size > 0 {
		n = min(size, MaxRead) + 1 // one byte more, so reading to EOF needs no larger buffer
	}
	data := make([]byte, 0, n)
	lr := io.LimitReader(r, MaxRead+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		m, err := lr.Read(data[len(data):cap(data)])
		data = data[:len(data)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	if len(data) > MaxRead {
		return nil, fmt.Errorf("reading %s: %w (%d bytes)", path, ErrTooLarge, MaxRead)
	}
	return data, nil
}
