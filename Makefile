# The two commands a newcomer needs: `make run` and `make test`.
# Both install what they need (Go modules, libchdb, Debian packages).

GO        ?= go
BIN       := bin/syncwatch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
DATA_DIR  ?= ./data

# staticcheck, pinned. `go install pkg@version` verifies it against the Go
# checksum database and puts it in a cache outside the repo, one directory
# per version; a `tool` line in go.mod would instead put the linter and its
# dependencies into the module graph of everyone who imports syncwatch/client.
STATICCHECK_VERSION := v0.8.2
TOOLS_DIR   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/syncwatch/tools
STATICCHECK := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)/staticcheck

.PHONY: run test bench bench-ingest build deps libchdb vet fmt-check staticcheck

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

$(STATICCHECK):
	GOBIN=$(dir $@) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

## test: vet, gofmt, staticcheck and every test (with the race detector)
test: deps fmt-check vet staticcheck
	SYNCWATCH_LIBCHDB="$$(scripts/fetch-libchdb.sh)" $(GO) test -race -count=1 -timeout 30m ./...

## bench: the benchmarks whose figures the issues ask for
bench: deps
	SYNCWATCH_LIBCHDB="$$(scripts/fetch-libchdb.sh)" $(GO) test -run '^$$' -bench . -benchtime 3x -timeout 60m ./...

## bench-ingest: the ingest throughput, latency and overload benchmark on
## loopback beside gin and Prometheus Pushgateway (docs/benchmarks.md)
bench-ingest: libchdb
	scripts/bench-ingest.sh
