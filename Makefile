# Grover's front door. `make run` and `make test` set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck unit frontend app screenshots chromium bench fuzz soak docs types redis-server haproxy clean

run: $(VENV)/.installed app
	$(BIN)/grover serve --app-dir frontend/dist

test: $(VENV)/.installed-dev redis-server haproxy lint typecheck unit frontend

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The gateway's suites again on the picows transport (GROVER_TRANSPORT is
# read by the tests' settings and by the nodes they start as subprocesses).
PICOWS_SUITES := tests/test_transport.py tests/test_gateway.py tests/test_resume.py \
	tests/test_fair_limits.py tests/test_delivery.py tests/test_messaging.py \
	tests/test_login_changes.py tests/test_metrics.py tests/test_smoke.py tests/test_cluster.py

unit: $(VENV)/.installed-dev redis-server haproxy
	$(BIN)/pytest
	GROVER_TRANSPORT=picows $(BIN)/pytest $(PICOWS_SUITES)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench --suite standard

# 1,000,000 fuzzed frames through the codec and as many at a real server
# (bounded: 12 minutes at most). `python -m bench.fuzz --help` for sizes.
fuzz: $(VENV)/.installed-dev
	$(BIN)/python -m bench.fuzz

# Mixed traffic against `grover serve` while its memory is sampled; fails
# when memory keeps growing. Under ~10 minutes it cannot pass: the SQLite
# writer's 64 MiB page cache and the resume buffers are still filling.
SOAK_MINUTES ?= 30
SOAK_ARGS ?=
soak: $(VENV)/.installed-dev
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

docs: $(VENV)/.installed
	$(BIN)/python -m protocol.docs > docs/protocol.md

# Every Expo command runs offline and quiet (see frontend/README.md).
EXPO_ENV := EXPO_NO_TELEMETRY=1 CI=1 EXPO_OFFLINE=1 EXPO_UNSTABLE_HEADLESS=1
FRONTEND_PYTHON := GROVER_PYTHON=$(abspath $(BIN))/python

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The app's web export (frontend/dist), which `make run` serves at the sidecar.
app: frontend/node_modules/.installed
	cd frontend && $(EXPO_ENV) npx expo export --platform web --output-dir dist

# Debian's Chromium for the browser tests (they never download a browser).
chromium:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium >/dev/null)

# The app: types, unit tests against a real Grover, the native bundles
# (Hermes, iOS and Android) and the browser tests in Chromium against a real
# Grover and the fake PayPal (frontend/e2e).
frontend: $(VENV)/.installed-dev app chromium
	cd frontend && npx tsc --noEmit
	cd frontend && $(FRONTEND_PYTHON) npx vitest run
	cd frontend && $(EXPO_ENV) npx expo export --platform android --platform ios \
		--output-dir build/native
	cd frontend && $(FRONTEND_PYTHON) npx playwright test

# The README's screenshots, taken by the browser tests.
screenshots: $(VENV)/.installed-dev app chromium
	cd frontend && SCREENSHOT_DIR=$(abspath docs/screenshots) $(FRONTEND_PYTHON) npx playwright test

# The app's TypeScript types, generated from protocol/ (a test fails when stale).
types: $(VENV)/.installed
	$(BIN)/python -m protocol.typescript > frontend/src/protocol/types.ts

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: $(VENV)/bin/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

# Tests start their own redis-server on a free port; they only need the binary.
redis-server:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq redis-server; }

# The rolling-restart test runs Debian's HAProxy in front of three nodes, and
# the deploy tests check deploy/haproxy/haproxy.cfg with it (`haproxy -c`).
haproxy:
	@command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq haproxy; }

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
