# Plugs. The two commands a newcomer needs: `make run` and `make test`.

GO        ?= go
BIN       := bin/plugs
PKGS      := ./...
# Generated ent code: everything under ent/ except the hand-written parts.
ENT_KEEP  := generate.go schema rule viewer

.PHONY: run build test test-short generate generate-proto generate-ent migration lint bench clean

run: build ## Build and start `plugs dev` (control plane, data plane, NATS, SQLite).
	./$(BIN) dev

build:
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

bench: ## Micro benchmarks, then configuration propagation (10,000 sources, 100 data planes).
	$(GO) test -run '^$$' -bench . -benchmem -skip Propagation $(PKGS)
	$(GO) test -run '^$$' -bench Propagation -benchtime 50x ./controlplane/config/

clean:
	rm -rf bin .plugs
