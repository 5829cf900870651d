# gotrio — set-up commands: `make demo` runs the quickstart, `make test` runs every test.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   ?= golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
FUZZTIME    ?= 30s
# Packages that hold fuzz targets (each target runs for FUZZTIME).
FUZZ_PKGS   ?= ./wsock/internal/proto ./wsock/internal/handshake ./wsock/internal/deflate ./nursery/nurserytest
# Every module (a directory with its own go.mod): vet, gotriovet and staticcheck visit each, and
# test runs each one's tests (tests/bench as benchmarks). Add a new nested module here.
MODULES     ?= . tests/bench cmd/gotriovet examples/cluster

.PHONY: all test unit demo bench fuzz lint peers vet gotriovet

all: lint test

## test: vet, then every test under -race, with the interop peers installed first.
test: peers unit
	cd tests/bench && $(GO) test -count=1 -run . -bench . -benchtime 1x ./...

## unit: the tests of every module but tests/bench, without installing interop peers (they skip
## outside CI).
unit: vet
	@set -e; for m in $(filter-out tests/bench,$(MODULES)); do \
		echo "== test $$m"; (cd $$m && $(GO) test -race -count=1 ./...); \
	done

vet:
	@set -e; for m in $(MODULES); do echo "== vet $$m"; (cd $$m && $(GO) vet ./...); done

## gotriovet: gotrio's own analyzer (cmd/gotriovet), built into a temp dir, over every module.
gotriovet:
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	(cd cmd/gotriovet && $(GO) build -o "$$bin/gotriovet" .); \
	for m in $(MODULES); do \
		echo "== gotriovet $$m"; (cd $$m && $(GO) vet -vettool="$$bin/gotriovet" ./...); \
	done

## demo: the quickstart — an echo server and client in one nursery.
demo:
	$(GO) run ./examples/echo

## bench: the benchmarks beside the code, then the comparisons in tests/bench.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd tests/bench && $(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt
	cd tests/bench && $(GO) run $(BENCHSTAT) bench.txt

## fuzz: every fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $(FUZZ_PKGS); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## lint: gofmt, go vet, gotriovet and staticcheck (pinned).
lint: vet gotriovet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do echo "== staticcheck $$m"; (cd $$m && $(GO) run $(STATICCHECK) ./...); done

-include tests/interop/peers.mk
