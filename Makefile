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

# The demo page and the browser library bundle are embedded from static/site/
# (package static), so the bundle is written before `go build`.
build: bundle
	$(GO) build -o bin/simplegw ./cmd/simplegw
	$(GO) build -o bin/msrpcat ./cmd/msrpcat

run: build
	./bin/simplegw $(ARGS)

# Test layers. Each layer is its own target; later layers (browser library
# unit tests: test-node; headless Chromium end-to-end: test-e2e) are added
# to this list by the work that brings them.
test: test-go test-interop test-node test-e2e

# Debian's kamailio and sip-tester (SIPp): the SIP core and user agent of the
# interop tests, and kamailio's msrp module as msrpbench's baseline (its test
# in test-go runs the real one). Installed when missing and running as root;
# otherwise the target fails naming the packages.
.PHONY: sip-tools
sip-tools:
	@missing=""; \
	command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || missing="kamailio"; \
	command -v sipp >/dev/null 2>&1 || missing="$$missing sip-tester"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing $$missing"; \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing || exit 1; \
		else \
			echo "the tests need the Debian packages: $$missing. Install them as root: apt-get install -y $$missing"; \
			exit 1; \
		fi; \
	fi

test-go: sip-tools
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -race -count=1 ./...

# Interop with SIP software from outside the project (package e2e/interop,
# build tag "interop"): Debian's kamailio as the SIP core behind the gateway
# and sip-tester (SIPp) as a plain UDP/TCP user agent. Installs them when
# missing and running as root; otherwise fails naming the packages.
test-interop: sip-tools
	$(GO) vet -tags interop ./e2e/interop/
	$(GO) test -race -count=1 -tags interop ./e2e/interop/

# The browser library (webclient/, ES modules) bundled by esbuild into one ES
# module, static/site/webclient.js (not committed). The pinned npm packages
# (package-lock.json) are installed with `npm ci` when node_modules is missing
# or older than the lockfile.
NODE ?= node
NPM  ?= npm

.PHONY: bundle test-node

bundle: node_modules/.package-lock.json
	$(NODE) webclient/build.mjs

node_modules/.package-lock.json: package.json package-lock.json
	@command -v $(NODE) >/dev/null 2>&1 && command -v $(NPM) >/dev/null 2>&1 || \
		{ echo "make: the browser library needs Node.js 20 or newer with npm (Debian: apt-get install -y nodejs npm)"; exit 1; }
	@$(NODE) -e 'const v = +process.versions.node.split(".")[0]; if (v < 20) { console.error("make: Node.js 20 or newer is needed, found " + process.version); process.exit(1); }'
	$(NPM) ci --no-audit --no-fund

# Browser library tests (node --test): codecs and protocol units, and
# integration tests that start bin/simplegw and talk to it over WebSockets.
test-node: build
	$(NODE) --test webclient/test/*.test.js

# End-to-end tests (e2e/, node --test + playwright-core): the real bin/simplegw
# and bin/msrpcat driven through the demo page in Debian's chromium. Installs
# chromium with apt-get when it is missing and we are root; otherwise fails
# saying what to install. One test file at a time: the box has two cores.
CHROMIUM ?= /usr/bin/chromium

.PHONY: test-e2e
test-e2e: build
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "test-e2e: installing chromium"; \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || exit 1; \
		else \
			echo "test-e2e needs Debian's chromium at $(CHROMIUM). Install it as root: apt-get install -y chromium"; \
			exit 1; \
		fi; \
	fi
	@[ -d node_modules/playwright-core ] || $(NPM) ci --no-audit --no-fund
	CHROMIUM=$(CHROMIUM) $(NODE) --test --test-concurrency=1 e2e/

# Benchmarks measure the real binary against a TCP splice baseline in the same run.
bench: build
	$(GO) build -o bin/msrpbench ./cmd/msrpbench
	$(GO) build -o bin/sipbench ./cmd/sipbench
	./bin/msrpbench -gateway bin/simplegw $(BENCHARGS)
	./bin/sipbench -gateway bin/simplegw $(SIPBENCHARGS)

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
