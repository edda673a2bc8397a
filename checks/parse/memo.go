package parse

import (
	"slices"
	"sync"
)

// A fleet's hosts share their distribution's configuration files byte for byte: the 33 KB
// /usr/share/containers/containers.conf of a Podman release, its storage.conf. Decoding them
// with BurntSushi/toml was the largest part of what the probes cost per replayed host (issue
// 16, docs/performance.md). decodeMemo keeps what a file's exact bytes decoded to, for the
// life of the process: the decoders are pure functions of the bytes, so the answer is the
// same, and only a successful decoding is kept (after an error, what was decoded before it
// depends on the decoder's map order). It is bounded: the first memoMaxEntries distinct
// files, memoMaxBytes of them in all; past that, files are decoded as before.
type decodeMemo[V any] struct {
	mu    sync.Mutex
	m     map[string]V
	bytes int
}

const (
	memoMaxEntries = 64
	memoMaxBytes   = 4 << 20
)

// get returns what data decoded to, if it is kept. The caller must not modify it.
func (c *decodeMemo[V]) get(data []byte) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[string(data)]
	return v, ok
}

// put keeps v as what data decoded to, while the memo has room. v must not be modified after.
func (c *decodeMemo[V]) put(data []byte, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= memoMaxEntries || c.bytes+len(data) > memoMaxBytes {
		return
	}
	if c.m == nil {
		c.m = map[string]V{}
	}
	if _, ok := c.m[string(data)]; !ok {
		c.m[string(data)] = v
		c.bytes += len(data)
	}
}

var (
	// storageConfMemo: StorageConfValues's values of a storage.conf.
	storageConfMemo decodeMemo[map[string]string]
	// containersConfMemo: the first file of a containers.conf chain decoded onto nothing,
	// without and with attributed arrays.
	containersConfMemo     decodeMemo[containersConfFile[[]string]]
	containersConfAttrMemo decodeMemo[containersConfFile[attrSlice]]
)

// clone is a copy of f that shares no slice, map or pointer with it: what a later file of
// the chain decodes into must not reach the memo's value. (TestContainersConfFileClone
// checks every field.)
func (f containersConfFile[S]) clone(list func(S) S) containersConfFile[S] {
	c := f
	c.Containers.DefaultSysctls = list(f.Containers.DefaultSysctls)
	c.Engine.ConmonPath = list(f.Engine.ConmonPath)
	c.Engine.HelperBinariesDir = list(f.Engine.HelperBinariesDir)
	c.Network.PastaOptions = list(f.Network.PastaOptions)
	if f.Engine.OCIRuntimes != nil {
		c.Engine.OCIRuntimes = make(map[string][]string, len(f.Engine.OCIRuntimes))
		for k, v := range f.Engine.OCIRuntimes {
			c.Engine.OCIRuntimes[k] = slices.Clone(v)
		}
	}
	return c
}

func (a attrSlice) clone() attrSlice {
	c := attrSlice{values: slices.Clone(a.values), set: a.set}
	if a.append != nil {
		b := *a.append
		c.append = &b
	}
	return c
}
