// Package parse holds the pure parsers of rootless-doctor: bytes in, values out, no I/O.
//
// Every parser here has a table test and a fuzz target (`make fuzz`): the files they read come
// from machines we do not control (a hand-edited /etc/subuid, a vendor's os-release, a
// snapshot from a bug report) and must never panic the doctor. The Host reads, these parse,
// probes decide — the pattern of prometheus/procfs (https://github.com/prometheus/procfs).
package parse
