# Interop peers for tests/interop. Included by the root Makefile:
#     include tests/interop/peers.mk
#     test: peers
# `make peers` installs only what is missing: the Debian packages of the
# Python peers, Chromium and nats-server (for examples/cluster) with apt-get,
# and the Node `ws` peer (npm ci from the checked-in package-lock.json).
# Paths are relative to the repository root.

INTEROP_DIR ?= tests/interop
PEERS_PYTHON ?= /usr/bin/python3
PEERS_NODE ?= /usr/bin/node
PEERS_CHROMIUM ?= /usr/bin/chromium
PEERS_NATS ?= /usr/sbin/nats-server
PEERS_SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: peers peers-apt peers-npm

peers: peers-apt peers-npm

peers-apt:
	@missing=""; \
	$(PEERS_PYTHON) -c 'import trio_websocket' 2>/dev/null || missing="$$missing python3-trio-websocket"; \
	$(PEERS_PYTHON) -c 'import websockets' 2>/dev/null || missing="$$missing python3-websockets"; \
	test -x $(PEERS_CHROMIUM) || missing="$$missing chromium"; \
	test -x $(PEERS_NATS) || command -v nats-server >/dev/null || missing="$$missing nats-server"; \
	test -x $(PEERS_NODE) && command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "peers: installing$$missing"; \
		$(PEERS_SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(PEERS_SUDO) apt-get install -y $$missing; \
	else \
		echo "peers: Debian packages present"; \
	fi

peers-npm: peers-apt
	@if [ ! -f $(INTEROP_DIR)/node/node_modules/ws/package.json ]; then \
		echo "peers: npm ci in $(INTEROP_DIR)/node"; \
		npm ci --prefix $(INTEROP_DIR)/node --no-audit --no-fund; \
	else \
		echo "peers: node ws present"; \
	fi
