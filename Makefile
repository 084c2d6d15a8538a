# sysflux build, test and generation. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
GO ?= go
# Code generators and linters are pinned in tools.mod, apart from the project's own go.mod.
GOTOOL := $(GO) tool -modfile=tools.mod
FIXTURES ?= ../shared/fixtures
TRACE ?= $(FIXTURES)/sysflow/traces/sfprocessor_k8s_small.sf
HUB ?= 127.0.0.1:7700
FUZZTIME ?= 30s

.PHONY: all
all: lint test ## Lint and test everything

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/sysflux
	$(GO) build -o bin/sysflux ./cmd/sysflux

.PHONY: up
up: build ## Capture this node live with agent + hub (root; API on $(HUB)); try `bin/sysflux tail`
	bin/sysflux up --listen $(HUB)

.PHONY: replay
replay: build ## Run agent + hub on a recorded SysFlow trace, $(TRACE), instead of live capture
	bin/sysflux up --listen $(HUB) --replay $(TRACE)

.PHONY: deps
deps: ## Install what the tests need and the machine lacks (Debian packages as root, npm packages)
	.ci/deps

.PHONY: test
test: deps ## Run every test, with the race detector (fuzz targets replay their corpus); clients too
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) test -race -count=1 ./...

.PHONY: lint
lint: ## Lint Go and protobuf
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GOTOOL) buf lint

# Generated code, committed: Go in gen/, and the Python and TypeScript clients' own.
GENERATED := gen clients/python/sysflow clients/python/sysflux/hub clients/python/sysflux/policy clients/typescript/src/gen

.PHONY: gen
gen: deps ## Regenerate the generated code from proto/: gen/, and the Python and TypeScript clients'
	$(GOTOOL) buf generate
	clients/python/generate.sh
	cd clients/typescript && npm run --silent gen

.PHONY: checkgenerate
checkgenerate: gen ## Fail when the generated code is not what proto/ generates
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { git status --porcelain -- $(GENERATED); echo "generated code is stale: run make gen and commit"; exit 1; }

.PHONY: bpf
bpf: ## Rebuild the eBPF objects and their Go loader (clang-19, llvm-19, libbpf-dev)
	cd bpf && $(GO) generate ./...

.PHONY: checkbpf
checkbpf: bpf ## Fail when the committed eBPF objects are not what the C sources build
	@test -z "$$(git status --porcelain -- bpf)" || { git status --porcelain -- bpf; echo "bpf/ is stale: run make bpf and commit"; exit 1; }

.PHONY: breaking
breaking: ## Fail when proto/ breaks compatibility with the previous commit
	@if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then \
		$(GOTOOL) buf breaking --against '.git#ref=HEAD~1'; \
	else echo "no earlier schema to compare with"; fi

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# The capture overhead report runs the live agent: as root it measures, otherwise it skips.
.PHONY: bench
bench: ## Measure throughput, and capture overhead as root (redis-server, redis-tools); see BENCHMARKS.md
	SYSFLUX_BENCH=1 $(GO) test -run '^TestBenchReport$$' -count=1 -v ./hub/ | grep -v '^=== '
	SYSFLUX_BENCH=1 $(GO) test -run '^TestEvalReport$$' -count=1 -v ./policy/engine/ | grep -v '^=== '
	SYSFLUX_BENCH=1 $(GO) test -run '^TestStoreReport$$' -count=1 -v ./hub/service/ | grep -v '^=== '
	SYSFLUX_BENCH=1 $(GO) test -run '^TestOverheadReport$$' -count=1 -v ./cmd/sysflux/ | grep -v '^=== '

.PHONY: grpcurl
grpcurl: ## Build bin/grpcurl at the pinned version
	$(GO) build -modfile=tools.mod -o bin/grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl

.PHONY: clean
clean: ## Remove build output
	rm -rf bin
