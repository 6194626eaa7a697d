# Everything a fresh clone needs: Python 3.11+, git and make.
# `make demo` and `make test` create .venv and install what they use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: demo serve test lint format typecheck docs docs-serve pytest bench browser wrk valgrind redis nginx tmux clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

serve: $(STAMP)
	$(BIN)/python examples/demo.py --serve

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks docs/hooks
	$(BIN)/ruff format --check src tests examples benchmarks docs/hooks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests examples benchmarks docs/hooks
	$(BIN)/ruff format src tests examples benchmarks docs/hooks

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict tests/typing

# The documentation site (mkdocs.yml, docs/): built with --strict, so a
# broken link or anchor fails; generated parts are written at build time.
# NO_MKDOCS_2_WARNING: Material's banner about its successor, not a problem.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# The browser tests drive Debian's Chromium (no browser download is possible
# here): installed with apt-get when missing, as root or through sudo.
CHROMIUM ?= /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

browser: $(CHROMIUM)

# The end-to-end benchmarks load real servers with Debian's wrk.
WRK ?= /usr/bin/wrk

$(WRK):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null

wrk: $(WRK)

# The benchmarks count instructions with Debian's valgrind (callgrind).
VALGRIND ?= /usr/bin/valgrind

$(VALGRIND):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq valgrind >/dev/null

valgrind: $(VALGRIND)

# The throttle's tests and benchmarks start Debian's redis-server on a free
# loopback port of their own (the package's own service is not used).
REDIS_SERVER ?= /usr/bin/redis-server

$(REDIS_SERVER):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null

redis: $(REDIS_SERVER)

# The audit's tests run Debian's nginx (auth_basic) on a free loopback port
# with a configuration of their own (tests/audit/nginx.py); the package's own
# service is not used. Debian installs it in /usr/sbin, often not on PATH.
nginx:
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx >/dev/null; \
	fi

# The audit's human output is read in a real terminal (tests/audit/test_terminal.py).
tmux:
	@if ! command -v tmux >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tmux >/dev/null; \
	fi

pytest: $(STAMP) browser wrk redis nginx tmux
	$(BIN)/pytest

test: lint typecheck docs pytest

bench: $(STAMP) wrk valgrind redis
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov site
