// Package snapshot is everything about recorded hosts that is not reading them back: the
// Recording host that remembers what the probes read on a live machine and writes it out as a
// tree (recording.go, the format is docs/snapshot-format.md), what a snapshot keeps of the
// account databases (keep.go), and the gzipped-tar form of a tree for bug reports
// (archive.go). Reading a tree back is package host's (OpenTree, LoadTree); Open here opens
// either form.
package snapshot
