# simplegw — build, run and test.
#
#   make run     build, then start the gateway with the embedded defaults
#   make test    every test layer; non-zero exit on any failure
#   make build   bin/simplegw and bin/msrpcat
#   make bench   relay benchmarks (programs that print a table)
#   make fuzz    each Go fuzz target for $(FUZZTIME)

GO       ?= go
FUZZTIME ?= 30s
# Extra arguments for `make run`, e.g. make run ARGS='-http 127.0.0.1:0'
ARGS     ?=
# Extra arguments for `make bench`.
BENCHARGS ?=

GOFILES = $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './.git/*' -not -path '*/testdata/*')

.PHONY: all build run test test-go bench fuzz clean

all: build

# The demo bundle is embedded from static/site/ (package static). When the
# browser library lands, its bundling step (npm) becomes a prerequisite of
# build, writing into static/site/ before `go build`.
build:
	$(GO) build -o bin/simplegw ./cmd/simplegw
	$(GO) build -o bin/msrpcat ./cmd/msrpcat

run: build
	./bin/simplegw $(ARGS)

# Test layers. Each layer is its own target; later layers (browser library
# unit tests: test-node; headless Chromium end-to-end: test-e2e) are added
# to this list by the work that brings them.
test: test-go

test-go:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -race -count=1 ./...

# Benchmarks measure the real binary against a TCP splice baseline in the same run.
bench: build
	$(GO) build -o bin/msrpbench ./cmd/msrpbench
	./bin/msrpbench -gateway bin/simplegw $(BENCHARGS)

# Runs every FuzzXxx target of every package for $(FUZZTIME), one at a time
# (go test -fuzz accepts one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for fn in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$fn ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -rf bin
