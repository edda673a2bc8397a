# rootless-doctor — build, test, lint, golden files, benchmarks, fuzzing.
# `make test` is what CI runs (through .ci/run) and what the README's quick start names.

GO        ?= go
BIN       ?= bin/rootless-doctor
FUZZTIME  ?= 10s
# Packages whose tests keep golden files (gotest.tools/v3/golden registers -update there only).
GOLDEN_PKGS := $(shell grep -rl --include='*_test.go' 'gotest.tools/v3/golden' . | xargs -r -n1 dirname | sort -u)

.PHONY: all build test unit lint golden bench fuzz clean

all: lint build test

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/rootless-doctor

# Lint first (cheap), then every test. Tests that need root or the real kernel skip with a
# printed reason where they cannot run; in CI (root, Debian 12) they run for real.
test: lint
	$(GO) test -count=1 ./...

unit:
	$(GO) test -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

golden:
	$(GO) test -count=1 $(GOLDEN_PKGS) -update

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

# Runs every fuzz target for FUZZTIME each (go test allows one -fuzz target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$fz"; \
	    $(GO) test -run '^$$' -fuzz "^$$fz\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
