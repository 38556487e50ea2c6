# Fluvius (Go edition). `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= data
PLUGINS_OUT ?= build/plugins
# Go examples are modules of their own; counter-as is AssemblyScript (npm).
EXAMPLES := $(patsubst %/go.mod,%,$(wildcard plugins/examples/*/go.mod))
AS_EXAMPLE := plugins/examples/counter-as
# Guest-side modules (built by TinyGo too, so with their own go.mod) next to
# the host module at the root.
GUEST_MODULES := abi sdk $(EXAMPLES) host/testdata/faulty subscribe/testdata/relay

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

build: ## build the fluvius-host binary into build/
	$(GO) build -o build/fluvius-host ./cmd/fluvius-host

plugins: ## build the example plugins into build/plugins (TinyGo if installed, else Go; AssemblyScript if npm is there)
	@mkdir -p $(PLUGINS_OUT)
	@for dir in $(EXAMPLES); do \
		$(GO) run ./cmd/fluvius-host plugin build $$dir -o $(PLUGINS_OUT)/$$(basename $$dir).wasm || exit 1; \
	done
	@# npm ci only when the lock file changed; a registry out of reach costs
	@# the AssemblyScript example, never the Go ones.
	@if ! command -v npm >/dev/null 2>&1; then echo "npm not found: skipping the AssemblyScript example"; \
	else \
		if [ ! -d $(AS_EXAMPLE)/node_modules ] || [ $(AS_EXAMPLE)/package-lock.json -nt $(AS_EXAMPLE)/node_modules ]; then \
			(cd $(AS_EXAMPLE) && npm ci --silent --no-audit --no-fund) || echo "npm ci failed (is the registry reachable?)"; \
		fi; \
		if [ -d $(AS_EXAMPLE)/node_modules ] && (cd $(AS_EXAMPLE) && npm run --silent build); then \
			cp $(AS_EXAMPLE)/build/counter.wasm $(PLUGINS_OUT)/counter-as.wasm; \
		else echo "skipping the AssemblyScript example"; fi; \
	fi

run: plugins ## serve the example domains on $(LISTEN) with data in ./$(DATA_DIR)
	$(GO) run ./cmd/fluvius-host serve --listen $(LISTEN) --data-dir $(DATA_DIR) --plugins-dir $(PLUGINS_OUT)

test: ## run every test of every module (vet first)
	$(GO) vet ./...
	@for m in $(GUEST_MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@for m in $(GUEST_MODULES); do (cd $$m && $(GO) test -count=1 ./...) || exit 1; done
	$(GO) test -count=1 ./...

race: ## run the host module's tests under the race detector
	$(GO) test -count=1 -race ./...

SOAK ?= 10m
FUZZTIME ?= 30s
FUZZ ?= .

bench: ## load bench: HTTP mixes at 1/8/32/64 clients on SQLite and a throwaway PostgreSQL, next to naive-insert and guest-vs-native baselines (a few minutes; JSON in build/bench/bench.json)
	$(GO) run ./cmd/fluvius-bench --quick

bench-full: ## the load bench with 10 s cells and 10,000 cold aggregates (~10 min)
	$(GO) run ./cmd/fluvius-bench --quick=false

bench-soak: ## the mix at 32 clients on SQLite for $(SOAK): host RSS, heap and goroutines at start and end
	$(GO) run ./cmd/fluvius-bench --soak $(SOAK)

bench-micro: ## go test benchmarks: guest vs native, dispatch, HTTP in-process vs a naive baseline, catch-up reads, handlers
	@for m in $(EXAMPLES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...) || exit 1; done
	$(GO) test -run '^$$' -bench . -benchmem ./host ./admin ./store/postgres ./subscribe

bench-plugins: build ## per example and toolchain: size, cold/warm compile, instantiate, handle time
	@mkdir -p build/bench
	@for dir in $(EXAMPLES); do for tc in go tinygo; do \
		name=$$(basename $$dir); \
		build/fluvius-host plugin build $$dir --toolchain $$tc -o build/bench/$$name-$$tc.wasm >/dev/null || exit 1; \
		echo "$$name ($$tc):"; \
		(cd $$dir && $(CURDIR)/build/fluvius-host plugin bench --wasm $(CURDIR)/build/bench/$$name-$$tc.wasm) || exit 1; \
	done; done

fuzz: ## run every fuzz target for $(FUZZTIME) each (FUZZ=pattern picks some); CI runs them briefly
	scripts/fuzz.sh $(FUZZTIME) '$(FUZZ)'

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@for m in $(GUEST_MODULES); do (cd $$m && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...) || exit 1; done

check: lint ## lint, then fail if formatting or tidying changes the tree
	gofmt -w $$(git ls-files '*.go')
	$(GO) mod tidy -e
	@for m in $(GUEST_MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done
	git diff --exit-code

clean: ## remove build output (not ./data)
	rm -rf build

.PHONY: help build plugins run test race bench bench-full bench-soak bench-micro bench-plugins fuzz lint check clean
