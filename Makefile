# blockvault — build, test, demo, bench. Every target installs what is missing first
# (openssh-server, openssh-client, rsync and strace are for the end-to-end and replication tests).
SWIFT ?= swift
APT_PACKAGES = libsqlite3-dev libzstd-dev libssl-dev pkg-config openssh-server openssh-client rsync strace
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test demo bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product blockvault

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: build
	bash scripts/demo.sh

bench: deps
	$(SWIFT) build -c release
	bash scripts/bench.sh

clean:
	rm -rf .build
