# wardgate build, test and demo entry points.
#
# Two commands set up a fresh machine: `make demo` and `make test`.
# Every prerequisite is installed here, never by hand.

GO        ?= go
BIN       := $(CURDIR)/bin
CACHE     := $(HOME)/.cache/wardgate
# The cached geth is named for the pinned go-ethereum version, so a fresh
# clone (new file times) reuses it and a version bump builds a new one.
GETH_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/ethereum/go-ethereum 2>/dev/null)
GETH      := $(CACHE)/geth-$(or $(GETH_VERSION),unknown)
# geth v1.13.15 is the last go-ethereum that seals Clique blocks: the
# 3-signer consortium tests (ledger/clique) and `make chain-consortium` run
# it. It is installed from the Go module proxy once per machine, cached by
# version (the flag is for its memsize dependency on this Go).
GETH_CLIQUE_VERSION := v1.13.15
GETH_CLIQUE := $(CACHE)/geth-clique-$(GETH_CLIQUE_VERSION)/geth
# golangci-lint is installed from the Go module proxy at this version, into
# the same cache and named the same way as geth.
GOLANGCI_VERSION := v2.15.0
GOLANGCI_LINT := $(CACHE)/golangci-lint-$(GOLANGCI_VERSION)/golangci-lint
# cyclonedx-gomod writes the release SBOMs; installed from the Go module
# proxy at this version into the cache, named like golangci-lint.
CYCLONEDX_VERSION := v1.10.0
CYCLONEDX := $(CACHE)/cyclonedx-gomod-$(CYCLONEDX_VERSION)/cyclonedx-gomod
# The release version carried into the binaries, and where it is written.
RELEASE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST      ?= $(CURDIR)/dist
# The packages whose tests also run under the race detector: everything that
# runs goroutines of its own (peer loops, journal group commit, anchorer,
# tunnel admission, record delivery).
RACE_PKGS := ./attest/... ./ledger/... ./tunnel/... ./records/... ./gateway/... ./audit/...
export CGO_ENABLED := 1
# Tests that need the geth binary find it here; it is built once per machine.
export WARDGATE_GETH := $(GETH)
export WARDGATE_GETH_CLIQUE := $(GETH_CLIQUE)
# The twice-build release test writes SBOMs with it too.
export WARDGATE_CYCLONEDX := $(CYCLONEDX)

APT_PKGS  := swtpm swtpm-tools tpm2-tools iperf3 wireguard-tools libssl-dev gcc iproute2 iputils-ping rsyslog rsyslog-gnutls
# nfpm builds the Debian package (`make deb`); installed from the Go module
# proxy at this version into the cache, named like golangci-lint.
NFPM_VERSION := v2.48.0
NFPM := $(CACHE)/nfpm-$(NFPM_VERSION)/nfpm
# The package's binaries (the release's by default: the measured
# wardgated must be the one the vendor manifest approves), where it goes,
# and its version (Debian's: starts with a digit, no '-').
DEB_BIN ?= $(DIST)
DEB_OUT ?= $(DIST)
DEB_VERSION ?= $(subst -,~,$(patsubst v%,%,$(if $(filter v0% v1% v2% v3% v4% v5% v6% v7% v8% v9%,$(RELEASE_VERSION)),$(RELEASE_VERSION),0.0.0+$(RELEASE_VERSION))))

.PHONY: deb all build release sbom-tool node-hl7 test unit race mutants demo bench bench-tunnel bench-relay bench-records bench-mesh contracts contracts-check install deps geth geth-clique chain-consortium lint fmt vet clean

all: build

# deps installs the Debian packages the tests and benchmarks drive (swtpm,
# iperf3, ...), and npm for contracts-check's solc. npm is looked for as a
# command: a NodeSource nodejs carries its own, and Debian's npm would
# conflict with it. It only calls apt-get when something is missing, and
# only as root.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "WARNING: missing Debian packages:$$missing (run make as root to install them); tests that need them will say so"; \
		fi; \
	fi

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# release builds dist/ reproducibly with the recipe in firmware/release.go
# (-trimpath, no VCS stamp or build ID, the version by -X, the pinned Go):
# the binaries, a CycloneDX SBOM of each, the manifest entry, release.json
# and SHA256SUMS; with RELEASE_KEY (Ed25519 PKCS#8 PEM) it signs the
# manifest and SHA256SUMS. docs/release.md says how to rebuild and check it.
release: sbom-tool
	@rm -rf $(DIST)
	$(GO) run -trimpath ./cmd/wardgate release build --source $(CURDIR) --out $(DIST) \
		--version $(RELEASE_VERSION) --sbom-tool $(CYCLONEDX) $(if $(RELEASE_KEY),--key $(RELEASE_KEY))

sbom-tool: $(CYCLONEDX)
$(CYCLONEDX):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_VERSION)

# node-hl7 installs the third-party HL7 v2 software the integration tests
# drive (node-hl7-server as the receiving engine, node-hl7-client as the
# sending LIS), pinned by integration/hl7node/package-lock.json, with
# `npm ci` into the cache, once per version.
NODE_HL7_VERSION := 2.5.0
NODE_HL7 := $(CACHE)/node-hl7-$(NODE_HL7_VERSION)
export WARDGATE_NODE_HL7 := $(NODE_HL7)/node_modules
node-hl7: $(NODE_HL7)/node_modules/.package-lock.json
$(NODE_HL7)/node_modules/.package-lock.json: integration/hl7node/package.json integration/hl7node/package-lock.json
	@mkdir -p $(NODE_HL7)
	cp integration/hl7node/package.json integration/hl7node/package-lock.json $(NODE_HL7)/
	cd $(NODE_HL7) && npm ci --no-audit --no-fund

# geth is built once from the pinned go-ethereum module and cached outside the
# work tree, so a fresh clone on a warm machine does not rebuild it.
geth: $(GETH)
$(GETH):
	@mkdir -p $(CACHE)
	$(GO) build -o $(GETH) github.com/ethereum/go-ethereum/cmd/geth

geth-clique: $(GETH_CLIQUE)
$(GETH_CLIQUE):
	@mkdir -p $(dir $@)
	cd $(dir $@) && GOBIN=$(dir $@) $(GO) install -ldflags=-checklinkname=0 github.com/ethereum/go-ethereum/cmd/geth@$(GETH_CLIQUE_VERSION)

# chain-consortium starts three Clique signers on loopback (geth
# v1.13.15), deploys the anchor contract and prints the chain lines of a
# box config for chain.mode: rpc. Ctrl-C stops them. The data lives in
# $(CONSORTIUM_DIR) (default ./consortium-chain).
chain-consortium: $(GETH_CLIQUE)
	$(GO) run ./ledger/clique/consortium --bin $(GETH_CLIQUE) --dir $(or $(CONSORTIUM_DIR),$(CURDIR)/consortium-chain)

fmt:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

vet:
	$(GO) vet ./...

# lint runs golangci-lint with .golangci.yml (staticcheck, errorlint, govet
# with its extra analyzers) on every package, tests included.
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...
$(GOLANGCI_LINT):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

# test is what CI runs (.ci/run): checks first, cheapest first, so a format
# or lint slip fails in seconds rather than after the integration tests.
test: deps geth geth-clique sbom-tool node-hl7 fmt vet lint contracts-check unit race

# unit and race run go test through internal/testsum: the usual output,
# then a summary of passed, failed and skipped tests. A skip fails the run
# unless .ci/skips.txt names the test with a reason (CI is root with every
# dependency installed: a test that skips there checks nothing).
TESTSUM := $(GO) run ./internal/testsum/cmd -skips .ci/skips.txt --

unit:
	$(TESTSUM) -count=1 -timeout 70m ./...

# race reruns the concurrent packages' tests under the race detector.
race:
	$(TESTSUM) -race -count=1 -timeout 30m $(RACE_PKGS)

# mutants applies each mutant of every mutants.json (a check removed or
# inverted, see docs/guarantees.md) and runs the tests that must kill it;
# it fails if one survives, no longer applies, or a guarantee has none.
# MUTANTS=regex runs only the matching mutant ids.
mutants: geth geth-clique
	$(GO) run ./internal/mutants/cmd $(if $(MUTANTS),-only '$(MUTANTS)')

bench: deps geth geth-clique
	$(GO) test -run '^$$' -bench . -benchtime 2s ./attest/... ./firmware/... ./ledger/...
	$(GO) test -run '^$$' -bench 'StartToTunnel|RestartToTunnel|TamperToRevocation' -benchtime 3x ./integration/

bench-tunnel: deps build
	$(GO) test -run '^$$' -bench BenchmarkTunnelIperf -benchtime 1x -v ./integration/ 

# bench-relay: iperf3 through the wardgate tunnel between two boxes behind
# NAT, direct and through wardgate-relay in the same run, and the relay's
# CPU per byte (root; issue 18). Target: relayed >= 0.5x direct.
bench-relay: deps build
	$(GO) test -run '^$$' -bench BenchmarkRelayIperf -benchtime 1x -v ./integration/

# bench-records: the record path in one process (each part's CPU from a
# labelled profile, against the plain tunnel), then as deployed: two
# wardgated processes, userspace on loopback and (as root) kernel TUN in
# network namespaces, each box's CPU read from /proc.
# BenchmarkDeliveryRoutes compares delivery by route (FHIR over HTTP, HL7
# over MLLP, mixed) with today's one-endpoint shorthands, in the same run.
# bench-mesh: MESH_N boxes (default 24) in a full mesh, discrete-TPM
# timing (120 ms quotes), batched quotes then the unbatched baseline, and
# tamper-at-run-time to revocation (issue 15; docs/scale.md).
MESH_N ?= 24
bench-mesh: deps geth geth-clique
	MESH_N=$(MESH_N) $(GO) test -run '^$$' -bench 'BenchmarkMesh$$' -benchtime 1x -timeout 60m -v ./integration/

bench-records: deps build
	$(GO) test -run '^$$' -bench 'BenchmarkRecords$$' -benchtime 1x -v ./integration/
	$(GO) test -run '^$$' -bench 'BenchmarkRecordsDaemons' -benchtime 1x -v ./integration/
	$(GO) test -run '^$$' -bench 'BenchmarkConsentBulk' -benchtime 1x -v ./records/
	$(GO) test -run '^$$' -bench 'BenchmarkDeliveryRoutes' -benchtime 1x -v ./records/
	$(GO) test -run '^$$' -bench 'BenchmarkRecordsWitness' -benchtime 1x -v ./integration/

# demo runs three hospitals on loopback (userspace tunnels, simulated TPMs,
# the embedded dev chain), shows the main job, then stops them. No root.
# It runs the release binaries, and its vendor manifest is made by
# `wardgate manifest create|sign` from them and golden box a.
demo: deps release
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./integration/demo
	$(BIN)/demo --bin $(DIST) --dir $(or $(DEMO_DIR),$(CURDIR)/demo-state)

contracts:
	$(MAKE) -C ledger/contracts

# contracts-check regenerates the ABI, bytecode and bindings into a temporary
# directory with the pinned solc and abigen, and fails if they differ from
# the committed ones: a contract edit without `make contracts`, or a build
# that is no longer reproducible.
contracts-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(MAKE) -s -C ledger/contracts OUT="$$tmp" >/dev/null && \
	for f in build/Anchor.abi build/Anchor.bin anchor.go; do \
		diff -u "ledger/contracts/$$f" "$$tmp/$$f" || { echo "ledger/contracts/$$f differs from a fresh build: run make contracts and commit"; exit 1; }; \
	done && echo "contracts-check: ABI, bytecode and bindings match a fresh build"

# install puts the binaries, the systemd unit and an example config in place,
# and creates the `wardgate` group whose members may use the CLI. It never
# overwrites an existing /etc/wardgate/wardgate.yaml.
install: build
	install -d /usr/local/bin /etc/wardgate /var/lib/wardgate
	install -m 0755 $(BIN)/wardgated $(BIN)/wardgate /usr/local/bin/
	install -m 0644 configs/wardgate.yaml /etc/wardgate/wardgate.yaml.example
	[ -d /etc/systemd/system ] && install -m 0644 configs/wardgated.service /etc/systemd/system/ || true
	getent group wardgate >/dev/null || groupadd -r wardgate
	@echo "installed; edit /etc/wardgate/wardgate.yaml (see wardgate.yaml.example), then: wardgated --check-config && systemctl enable --now wardgated"

clean:
	rm -rf $(BIN)

# deb builds the Debian package with nfpm (packaging/nfpm.yaml): both
# binaries from DEB_BIN (`make release` first, or DEB_BIN=bin after `make
# build`), the systemd unit with Debian's paths, the example config, the
# dashboard and alert rules; postinst creates the wardgate group and
# /var/lib/wardgate. packaging/deb_test.go installs it into a scratch root.
deb: $(NFPM)
	@test -x $(DEB_BIN)/wardgated -a -x $(DEB_BIN)/wardgate || { echo "no binaries in $(DEB_BIN): run make release (or make build deb DEB_BIN=bin)"; exit 1; }
	@rm -rf $(BIN)/deb && mkdir -p $(BIN)/deb $(DEB_OUT)
	cp $(DEB_BIN)/wardgated $(DEB_BIN)/wardgate $(BIN)/deb/
	sed 's#/usr/local/bin/#/usr/bin/#g' configs/wardgated.service > $(BIN)/deb/wardgated.service
	DEB_VERSION='$(DEB_VERSION)' $(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DEB_OUT)/
$(NFPM):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
