package host

import (
	"io/fs"
	"sync"
)

// Counting wraps a Host and counts the directory listings made through it: tests use it to
// show that a scan is made once per run (checks/facts, the CLI's run).
type Counting struct {
	Host
	mu    sync.Mutex
	lists map[string]int
}

// NewCounting wraps h.
func NewCounting(h Host) *Counting { return &Counting{Host: h, lists: map[string]int{}} }

// ReadDir lists p through the wrapped host and counts it.
func (c *Counting) ReadDir(p string) ([]fs.DirEntry, error) {
	c.mu.Lock()
	c.lists[p]++
	c.mu.Unlock()
	return c.Host.ReadDir(p)
}

// Lists is how many times p was listed.
func (c *Counting) Lists(p string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[p]
}
