package host

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// The size fstat gives is a hint only: a /proc file says 0 or 4096, a file grows or shrinks
// while it is read. Whatever the hint, the content read is the file's, up to MaxRead.
func TestReadCappedSizeHint(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 70_000, MaxRead} {
		want := bytes.Repeat([]byte("x"), n)
		for _, hint := range []int64{-1, 0, 1, int64(n) - 1, int64(n), int64(n) + 1, 4096, MaxRead * 2} {
			for name, r := range map[string]func() io.Reader{
				"whole":    func() io.Reader { return bytes.NewReader(want) },
				"one-byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(want)) },
			} {
				if n > 70_000 && name == "one-byte" {
					continue
				}
				got, err := readCapped(r(), "/f", hint)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%d bytes, hint %d, %s reader: %d bytes, %v", n, hint, name, len(got), err)
				}
			}
		}
	}
	for _, hint := range []int64{0, MaxRead, MaxRead + 1, 1 << 40} {
		if _, err := readCapped(bytes.NewReader(make([]byte, MaxRead+1)), "/big", hint); !errors.Is(err, ErrTooLarge) {
			t.Errorf("MaxRead+1 bytes, hint %d: err = %v, want ErrTooLarge", hint, err)
		}
	}
	if _, err := readCapped(iotest.ErrReader(errors.New("EIO")), "/f", 10); err == nil {
		t.Error("a read error was not reported")
	}
}
