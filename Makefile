# shoal: make demo (build + run the demo on a one-machine cluster), make test.
GO       ?= go
PREFIX   ?= /usr/local
BIN      := bin/shoal
CLIENT   := bin/shoal-client
CLIENT_FULL := bin/shoal-client-full
SANDBOX  := bin/shoal-sandbox
export CGO_ENABLED := 1
# urfave/cli's man-page generator (and its markdown library) would be
# initialised at every start of the binary, every sbatch and squeue included.
export GOFLAGS := -tags=urfave_cli_no_docs

.PHONY: build test fuzz demo bench lint install links clean

build: $(BIN) $(CLIENT) $(CLIENT_FULL) $(SANDBOX)

SOURCES := $(shell find . -name '*.go' -not -path './shoal-data/*') go.mod go.sum

$(BIN): $(SOURCES)
	$(GO) build -o $(BIN) ./cmd/shoal

# Each job's supervisor (and its libcontainer init) starts from this small
# binary, when it lies next to shoal: see node/sandbox SupervisorName.
# It is linked statically (libcontainer's C part needs cgo): each job starts
# it twice, and the dynamic loader's relocations were a tenth of each start.
# netgo and osusergo keep glibc's name services (which a static binary
# cannot load) out of it. Where no static libc is installed it is linked
# dynamically, as before.
SANDBOX_STATIC := -tags=urfave_cli_no_docs,netgo,osusergo -ldflags='-linkmode=external -extldflags=-static'
$(SANDBOX): $(SOURCES)
	$(GO) build $(SANDBOX_STATIC) -o $(SANDBOX) ./cmd/shoal-sandbox 2>/dev/null || \
	  { echo "shoal-sandbox: could not link it statically (is libc6-dev's libc.a installed?), linking it dynamically"; $(GO) build -o $(SANDBOX) ./cmd/shoal-sandbox; }

# The client (the Slurm commands, and shoal's own without the agent) is
# built without cgo: a static binary starts without the dynamic loader,
# libc and cgo's thread set-up, which cost each sbatch more than all of
# its own work. User and group names then come from /etc/passwd and
# /etc/group (else $$USER); the controller identifies callers by uid.
#
# Nor does it link net/http, crypto/tls or urfave/cli (their initialisation
# was most of what its start cost over a Go hello-world's): it holds the
# Slurm commands, speaks HTTP/1.1 itself over the unix socket, and for a
# TLS address (a TCP controller) or one of shoal's own commands execs its
# full build, shoal-client-full, installed next to it.
$(CLIENT): $(SOURCES)
	CGO_ENABLED=0 $(GO) build -o $(CLIENT) ./cmd/shoal-client

$(CLIENT_FULL): $(SOURCES)
	CGO_ENABLED=0 $(GO) build -tags=urfave_cli_no_docs,shoal_client_full -o $(CLIENT_FULL) ./cmd/shoal-client

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# Each fuzz target runs briefly on top of its seed corpus (which plain
# `go test` already replays), for a count of inputs rather than a time:
# Go 1.26's fuzz coordinator can fail a timed run at its deadline with a
# bare "context deadline exceeded" (golang/go#75804, fixed in 1.27); a
# count has no deadline to race, and -timeout still catches a hang. Inputs
# a run finds are kept in the package's testdata/fuzz and replayed by
# every later `go test`. FUZZSCALE multiplies the counts.
FUZZSCALE ?= 1
FUZZ_TARGETS := \
	./daemon:FuzzSubmitDecode:30000 \
	./daemon:FuzzFastSubmit:30000 \
	./api:FuzzDecodeJobList:30000 \
	./api:FuzzDecodeJobRows:30000 \
	./daemon:FuzzAWSSubmitDecode:30000 \
	./cli/slurm:FuzzSbatch:30000 \
	./cli/internal/termsafe:FuzzString:30000 \
	./internal/sigv4:FuzzVerify:30000 \
	./node:FuzzUntar:60

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; n=$$(( $${rest#*:} * $(FUZZSCALE) )); \
		echo "fuzz $$fn ($$pkg, $$n inputs)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $${n}x -parallel 2 -timeout 5m $$pkg; \
	done

demo: build
	./contrib/demo.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./bench/ ./node/sandbox/...
	./contrib/bench.sh

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The Slurm commands are the client binary under other names (the full
# shoal binary answers to them too, but starts slower: it links the server).
SLURM_LINKS := sbatch squeue scancel sinfo scontrol sacct srun sacctmgr scrontab sprio sshare

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/shoal
	install -m 0755 $(SANDBOX) $(DESTDIR)$(PREFIX)/bin/shoal-sandbox
	install -m 0755 $(CLIENT) $(DESTDIR)$(PREFIX)/bin/shoal-client
	install -m 0755 $(CLIENT_FULL) $(DESTDIR)$(PREFIX)/bin/shoal-client-full
	for l in $(SLURM_LINKS); do ln -sf shoal-client $(DESTDIR)$(PREFIX)/bin/$$l; done

# links: bin/sbatch etc. next to bin/shoal, to put bin/ first on PATH.
links: build
	for l in $(SLURM_LINKS); do ln -sf shoal-client bin/$$l; done

clean:
	rm -rf bin
