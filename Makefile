# Plugs. The two commands a newcomer needs: `make run` and `make test`.

GO        ?= go
BIN       := bin/plugs
PKGS      := ./...
# Generated ent code: everything under ent/ except the hand-written parts.
ENT_KEEP  := generate.go schema rule viewer

.PHONY: run build test test-short generate generate-proto generate-ent migration lint bench clean ui

run: build ## Build and start `plugs dev` (control plane, data plane, NATS, SQLite).
	./$(BIN) dev

build:
	@echo "Building $(BIN); the first build compiles every module Plugs uses and takes a minute or two."
	$(GO) build -o $(BIN) ./cmd/plugs

test: ## Run every test with the race detector.
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

test-short:
	$(GO) test -count=1 -short $(PKGS)

generate: generate-proto generate-ent ## Rebuild gen/ and ent/ from scratch.

generate-proto:
	$(GO) tool buf format -w
	$(GO) tool buf generate

generate-ent:
	cd ent && for f in *; do \
		case " $(ENT_KEEP) " in *" $$f "*) ;; *) rm -rf "$$f" ;; esac; \
	done
	$(GO) generate ./ent

# Writes a new versioned migration for each dialect after a schema change:
# make migration NAME=add_things (needs PLUGS_TEST_DATABASE_URL, which
# .ci/pg-start prints).
migration:
	@test -n "$(NAME)" || (echo "usage: make migration NAME=what_changed" >&2; exit 2)
	$(GO) run ./cmd/migrategen -name $(NAME)

lint:
	$(GO) tool buf lint
	$(GO) tool buf format --diff --exit-code
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# make bench: the Go benchmarks of every package that has some, the
# configuration-propagation benchmark, then cmd/plugs-load: end to end in
# both durability modes against a bare handler measured in the same run
# (accepted and delivered webhooks/s, latency and delivery lag at half the
# maximum rate, exactly-once delivery, data-plane CPU per webhook), a data
# plane with --roles receive beside one with --roles forward, 10,000 sources
# against one source in the same installation with the data plane's RSS,
# and backbone memory per event id, all in one markdown report judging
# each target. Six to eight minutes on two cores once the build cache is
# warm; BENCH_FLAGS='--skip-roles --skip-one-source' leaves the
# receive-role and one-source phases out.
# BENCH_FLAGS passes flags to plugs-load (see bin/plugs-load -h).
BENCH_REPORT ?= bench-report.md
BENCH_OUT    := bin/bench
BENCH_FLAGS  ?=
BENCH_PKGS    = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Benchmark' . | grep -v '^\./\.')))

bench: build ## Benchmarks, propagation (10,000 sources, 100 data planes), load and memory; writes $(BENCH_REPORT).
	@mkdir -p $(BENCH_OUT)
	$(GO) build -o bin/plugs-load ./cmd/plugs-load
	$(GO) test -run '^$$' -bench . -benchmem -skip Propagation $(BENCH_PKGS) 2>&1 | tee $(BENCH_OUT)/micro.txt
	$(GO) test -run '^$$' -bench Propagation -benchtime 50x ./controlplane/config/ 2>&1 | tee $(BENCH_OUT)/propagation.txt
	@! grep -E '^(FAIL|--- FAIL|panic:)' $(BENCH_OUT)/micro.txt $(BENCH_OUT)/propagation.txt
	PLUGS_BENCH_COMMAND="make bench$(if $(BENCH_FLAGS), BENCH_FLAGS='$(BENCH_FLAGS)')" ./bin/plugs-load --plugs $(BIN) --report $(BENCH_REPORT) \
		--micro $(BENCH_OUT)/micro.txt --micro $(BENCH_OUT)/propagation.txt --profile $(BENCH_OUT)/profiles $(BENCH_FLAGS)

# The console's bundle (console/dist) is committed, so building Plugs needs
# no Node. make ui rebuilds it from console/src with the dependencies of the
# committed lockfile (Node 20 or newer, npm ci): the TypeScript API types
# from the OpenAPI document, a type check, the Vite build, and
# dist/build.json, the hashes a Go test checks the bundle against.
ui: ## Rebuild the console bundle (console/dist) from its sources.
	cd console && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf bin .plugs
