# make demo  — build kiln and examples/hello, and run it
# make test  — the whole suite (unit, integration, end to end); needs root for most of it
# make bench — build and run benchmarks

GO      ?= go
KILN    := bin/kiln
BUSYBOX := /bin/busybox
DEMO_ROOT ?= $(CURDIR)/.kiln-demo

.PHONY: all build deps demo test lint bench clean

all: build

# One static binary: no cgo, so no dynamic loader at each of the two kiln
# processes a container start runs (~1.4 ms each here), and nothing to
# install beside it.
build:
	CGO_ENABLED=0 $(GO) build -o $(KILN) ./cmd/kiln

# deps installs what the demo and the tests need on a fresh Debian machine.
deps:
	@if [ ! -x $(BUSYBOX) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; \
		else \
			echo "busybox-static is missing: run as root, or apt-get install busybox-static" >&2; exit 1; \
		fi; \
	fi
	@# Interoperability tools for the image tests (skopeo, umoci, a registry,
	@# htpasswd, openssl), iptables for the networks' NAT, runc and a Docker
	@# engine (docker.io: the tests start a private dockerd of their own) to
	@# compare with; the tests skip saying why when one is missing.
	@missing=""; for t in skopeo umoci docker-registry htpasswd openssl iptables runc dockerd; do \
		command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo umoci docker-registry apache2-utils openssl iptables runc docker.io \
				|| echo "warning: could not install some of:$$missing (the tests that need them will skip and say why)" >&2; \
			systemctl disable --now docker-registry docker docker.socket containerd >/dev/null 2>&1 || true; \
		else \
			echo "missing:$$missing (the tests that need them will skip; run as root or apt-get install skopeo umoci docker-registry apache2-utils openssl iptables runc docker.io)" >&2; \
		fi; \
	fi

demo: deps build
	cp $(BUSYBOX) examples/hello/busybox
	$(KILN) --root $(DEMO_ROOT) build -t hello examples/hello
	$(KILN) --root $(DEMO_ROOT) run --rm hello

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps lint
	$(GO) test -count=1 -timeout 20m ./...

bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 5x -timeout 30m ./bench/

clean:
	rm -rf bin $(DEMO_ROOT) examples/hello/busybox
