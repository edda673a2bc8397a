// Package arch holds the architecture's guards, as tests (arch_test.go, docs_test.go): the
// import directions between the module's packages, enforced over `go list -deps`; the package
// graph of docs/architecture.md and the probe tables of README.md and docs/probes.md,
// generated from the code (go test ./internal/arch -update rewrites them; make docs does).
// It has no code of its own.
package arch
