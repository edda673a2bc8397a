// Package vm is the VM test lab: it builds Debian guest images from packages with mmdebstrap,
// boots them with qemu (direct kernel boot, a throwaway qcow2 overlay, ssh on a random
// 127.0.0.1 port), and runs scenarios that compare rootless-doctor's verdict with what the
// real engines (rootless Docker through dockerd-rootless-setuptool.sh, rootless Podman) do on
// the same host. Commands run over ssh, so the test account gets a real PAM/logind session with
// a user manager and a session bus — the host most users have, and the one the project's other
// live tests (a machine without systemd as PID 1) never see.
//
// The harness is plain Go and always compiles; the tests that boot guests carry the build tag
// vmtest, so `go test ./...` never boots a VM. `make vmtest` runs them. See README.md beside
// this file for the knobs and the measured times.
package vm
