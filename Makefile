# rootless-doctor — build, test, lint, golden files, benchmarks, fuzzing.
# `make test` is what CI runs (through .ci/run) and what the README's quick start names.

GO        ?= go
BIN       ?= bin/rootless-doctor
FUZZTIME  ?= 10s
# Minimizing a new input may take 60 s by default, most of a short run (tar inputs).
FUZZMINIMIZETIME ?= 1s
# Packages whose tests keep golden files (gotest.tools/v3/golden registers -update there only).
GOLDEN_PKGS := $(shell grep -rl --include='*_test.go' 'gotest.tools/v3/golden' . | xargs -r -n1 dirname | sort -u)

# The VM lab (test/vm/README.md): Debian 11, 12 and 13 guests under qemu, rootless-doctor's
# verdict against the real engines. Needs root, mmdebstrap and qemu; never part of `make test`.
VMTEST_TIMEOUT ?= 80m

# Where `make install` puts things (DESTDIR for packagers' staging roots).
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
MANOUT      ?= bin/man

.PHONY: failure-tree all build man install test unit lint docs golden bench fuzz stress clean vmtest

all: lint build test

# rootless-doctor and, beside it, rootless-doctor-gvisor: the helper that runs the
# gvisor-tap-vsock network (--net gvisor), kept out of the main binary so that no command pays
# for its package initialisation (docs/architecture.md, "Processes").
# -buildvcs=auto: stamp the VCS revision (rootless-doctor version) even where GOFLAGS says
# -buildvcs=false; a source tree without .git builds as before.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o $(dir $(BIN)) ./cmd/rootless-doctor ./cmd/rootless-doctor-gvisor

# One man page per command, from the cobra tree (cmd/rootless-doctor/mangen, cobra/doc).
man:
	rm -rf $(MANOUT)
	$(GO) run ./cmd/rootless-doctor/mangen $(MANOUT)

# The binary, its man pages and the completion scripts where bash-completion, zsh
# (site-functions) and fish (vendor_completions.d) look for them.
install: build man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/rootless-doctor
	# rootless-doctor finds the helper in its own directory, never through PATH.
	install -m 0755 $(dir $(BIN))rootless-doctor-gvisor $(DESTDIR)$(BINDIR)/rootless-doctor-gvisor
	install -m 0644 $(MANOUT)/*.1 $(DESTDIR)$(MANDIR)/man1/
	$(BIN) completion bash >$(DESTDIR)$(BASHCOMPDIR)/rootless-doctor
	$(BIN) completion zsh >$(DESTDIR)$(ZSHCOMPDIR)/_rootless-doctor
	$(BIN) completion fish >$(DESTDIR)$(FISHCOMPDIR)/rootless-doctor.fish

# Lint first (cheap), then every test. Tests that need root or the real kernel skip with a
# printed reason where they cannot run; in CI (root, Debian 12) they run for real.
# The live tests of every package take one machine-wide lock (runtime/livetest), so a
# package's tests may wait for another's: go test's default 10-minute limit per package is
# not enough when several run at once.
TESTTIMEOUT ?= 30m
test: lint
	$(GO) test -count=1 -timeout $(TESTTIMEOUT) ./...

unit:
	$(GO) test -short -count=1 ./...

vmtest:
	$(GO) test -tags vmtest -count=1 -timeout $(VMTEST_TIMEOUT) -run TestLab -v ./test/vm/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags vmtest ./test/vm/
	$(GO) mod tidy -diff

# Regenerates the package graph of docs/architecture.md and the probe tables of README.md and
# docs/probes.md from the code (internal/arch checks them in every test run).
# The recorded host of one failure-mode fixture (fixtures/failures/ID), for `check --root OUT`.
failure-tree:
	@test -n "$(ID)" -a -n "$(OUT)" || { echo 'usage: make failure-tree ID=<catalogue id> OUT=<empty dir>'; exit 2; }
	$(GO) run ./internal/fixturetree $(ID) $(OUT)

docs:
	$(GO) test -count=1 ./internal/arch -update

golden:
	$(GO) test -count=1 $(GOLDEN_PKGS) -update

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

# Runs every fuzz target for FUZZTIME each (go test allows one -fuzz target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$fz"; \
	    $(GO) test -run '^$$' -fuzz "^$$fz\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	  done; \
	done

# The hostile-input corpus (testdata/hostile/*.txtar: archive and gzip bombs, deep trees, FIFOs,
# devices, huge manifests, a large fleet, a command that leaves a helper) through the built
# binary, each run under a peak-RSS bound (/usr/bin/time), timeout and ulimit -v: exit 2 or a
# finding, never a hang or gigabytes (docs/bounded-inputs.md). Needs the time package.
stress: build
	$(GO) test -tags stress -count=1 -run '^TestHostile$$' -v ./cmd/rootless-doctor/ -args -stress.bin=$(abspath $(BIN))

clean:
	rm -rf bin
