# shoal: make demo (build + run the demo on a one-machine cluster), make test.
GO       ?= go
PREFIX   ?= /usr/local
BIN      := bin/shoal
export CGO_ENABLED := 1

.PHONY: build test demo bench lint install clean

build: $(BIN)

$(BIN): $(shell find . -name '*.go' -not -path './shoal-data/*') go.mod go.sum
	$(GO) build -o $(BIN) ./cmd/shoal

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

demo: build
	./contrib/demo.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./bench/ ./node/sandbox/...
	./contrib/bench.sh

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/shoal

clean:
	rm -rf bin
