# nslua — `make run` sets up and runs the bundled labs; `make test` runs every test.
SWIFT      ?= swift
PREFIX     ?= /usr/local
APT_PKGS   := liblua5.4-dev libedit-dev libpcap-dev libgraphviz-dev pkg-config iproute2 iputils-ping tcpdump tmux strace jq util-linux graphviz
BIN        := .build/release/nslua
DEBUG_BIN  := .build/debug/nslua

.PHONY: deps build debug run test unit-test kernel-test bench install install-files clean api

# Install what is missing (Debian, as root).
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build -c release --product nslua

debug: deps
	$(SWIFT) build --product nslua

# The seed labs, each in a sandbox of its own: nothing appears on this machine.
run: build
	@for lab in examples/veth-pair.lua examples/bridge.lua; do \
	  echo "==> $(BIN) --sandbox $$lab"; $(BIN) --sandbox $$lab || exit $$?; echo; \
	done

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing
	bench/setup.sh    # what tests/test_bench.sh's smoke run needs (the tests themselves have no network)
	NSLUA=$(CURDIR)/$(DEBUG_BIN) tests/run.sh

# The README's API section, from lua/nslua/help.lua.
api: debug
	$(DEBUG_BIN) tools/api.lua README.md

bench: build
	NSLUA=$(CURDIR)/$(BIN) bench/run.sh

install: build install-files

# The files alone (BIN= another build: the tests install the debug one).
install-files:
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/nslua
	mkdir -p $(DESTDIR)$(PREFIX)/share/nslua
	cp -r lua docs examples $(DESTDIR)$(PREFIX)/share/nslua/

clean:
	rm -rf .build
