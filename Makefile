# The two commands a newcomer needs: `make run` and `make test`.
# Both install what they need (Go modules, libchdb, Debian packages).

GO        ?= go
BIN       := bin/syncwatch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
DATA_DIR  ?= ./data

.PHONY: run test bench bench-ingest build deps libchdb vet fmt-check

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/syncwatch

libchdb:
	@scripts/fetch-libchdb.sh >/dev/null

deps: libchdb
	@scripts/install-deps.sh
	$(GO) mod download

## run: the service on the embedded engine at http://127.0.0.1:8080, fed by
## `syncwatch demo` (DEMO=0 for the service alone; DEMO_FLAGS for the demo)
run: libchdb build
	@DATA_DIR=$(DATA_DIR) scripts/run-demo.sh $(BIN)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## test: vet, gofmt and every test (with the race detector)
test: deps fmt-check vet
	SYNCWATCH_LIBCHDB="$$(scripts/fetch-libchdb.sh)" $(GO) test -race -count=1 -timeout 30m ./...

## bench: the benchmarks whose figures the issues ask for
bench: deps
	SYNCWATCH_LIBCHDB="$$(scripts/fetch-libchdb.sh)" $(GO) test -run '^$$' -bench . -benchtime 3x -timeout 60m ./...

## bench-ingest: the ingest throughput, latency and overload benchmark on
## loopback beside gin and Prometheus Pushgateway (docs/benchmarks.md)
bench-ingest: libchdb
	scripts/bench-ingest.sh
