# The two commands a newcomer needs are `make demo` (run the whole system) and
# `make test` (run every test). Both install missing Debian/Ubuntu packages first.
SHELL := /bin/bash
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false

GO       ?= go
BIN      := bin
PKGS     := ./...
# Tests that need X (the ebiten presenter, the kiosk) run under a real X server.
XVFB     := xvfb-run -a -s "-screen 0 1920x1080x24"
TESTFLAGS ?= -race -count=1 -timeout 40m

.PHONY: all deps test lint fmt vet build demo bench fuzz test-cluster clean

all: build

deps:
	@deploy/scripts/install-deps.sh

## test: install missing packages, check formatting, vet, and run every test with -race.
test: deps lint
	$(XVFB) $(GO) test $(TESTFLAGS) $(PKGS)

## lint: gofmt must have nothing to say; go vet must pass.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## build: every binary into bin/.
build: deps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./agent/cmd/... ./central/cmd/... ./firmware-config/cmd/... ./display/cmd/... ./deploy/cmd/... 2>&1

## demo: central with its embedded broker + one display agent; prints the console URL and first login.
demo: build
	@deploy/scripts/demo.sh

## bench: every benchmark; results belong in docs/BENCHMARKS.md.
bench: deps
	@deploy/scripts/bench.sh

## fuzz: the envelope fuzzer for a minute (see docs/PROTOCOL.md).
fuzz:
	$(GO) test -run=NONE -fuzz=FuzzOpen -fuzztime=60s ./internal/wire

## test-cluster: agents and central against a 3-node MQTT cluster on loopback.
test-cluster:
	@deploy/scripts/install-deps.sh cluster
	$(GO) test -race -count=1 -tags cluster -run Cluster -timeout 30m ./deploy/...

clean:
	rm -rf $(BIN)
