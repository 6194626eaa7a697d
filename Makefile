# Everything a fresh clone needs: Python 3.11+, git and make.
# `make demo` and `make test` create .venv and install what they use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: demo serve test preflight lint format typecheck docs docs-serve pytest bench browser wrk valgrind redis nginx tmux curl clean

$(BIN)/python:
	@$(PYTHON) tests/preflight.py
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

# What the tests run besides Python: Debian's packages, checked (and said)
# before anything else by tests/preflight.py, which installs the missing ones
# with apt-get as root or through passwordless sudo. Where it cannot (no
# apt-get, as on macOS; not root and `sudo -n true` fails), it writes them to
# $(UNAVAILABLE), and the tests marked needs(<package>) are skipped with the
# reason (tests/needs.py); with CI set, that is an error instead.
#   chromium      the browser/CORS tests (tests/browser/), through Playwright
#   wrk           the end-to-end benchmark smoke tests
#   redis-server  the throttle's shared-state tests, on a free loopback port
#                 of their own (the package's own service is not used)
#   nginx         the audit's tests against a stock nginx (tests/audit/nginx.py),
#                 with a configuration of their own; Debian's is in /usr/sbin
#   tmux          the audit's terminal test (tests/audit/test_terminal.py)
#   curl          the docs' snippet test (tests/docs/test_snippets.py)
#   valgrind      `make bench`'s instruction counts (callgrind)
TEST_PACKAGES  := chromium wrk redis-server nginx tmux curl
BENCH_PACKAGES := wrk valgrind redis-server
UNAVAILABLE    := $(VENV)/unavailable-packages

# How packages are installed, and where each is looked for (empty: where the
# tests look). A path that does not exist makes a package count as missing,
# e.g. `make test APT_GET=/nonexistent CHROMIUM=/nonexistent` tries this
# machine as a Mac would see it. (TMUX is tmux's own variable, hence TMUX_BIN.)
APT_GET      ?= apt-get
SUDO         ?= sudo
CHROMIUM     ?=
WRK          ?=
REDIS_SERVER ?=
NGINX        ?=
TMUX_BIN     ?=
CURL         ?=
VALGRIND     ?=
# The preflight runs on .venv's Python once there is one (made by a 3.11+).
PREFLIGHT = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) tests/preflight.py --apt-get '$(APT_GET)' --sudo '$(SUDO)' \
  --at 'chromium=$(CHROMIUM)' --at 'wrk=$(WRK)' --at 'redis-server=$(REDIS_SERVER)' \
  --at 'nginx=$(NGINX)' --at 'tmux=$(TMUX_BIN)' --at 'curl=$(CURL)' --at 'valgrind=$(VALGRIND)'

preflight:
	@$(PREFLIGHT) --record $(UNAVAILABLE) $(TEST_PACKAGES)

# One package each, asked for by name: installed (sudo may ask for a
# password), or an error saying why not.
browser:
	@$(PREFLIGHT) --install --for 'make browser' chromium

wrk:
	@$(PREFLIGHT) --install --for 'make wrk' wrk

valgrind:
	@$(PREFLIGHT) --install --for 'make valgrind' valgrind

redis:
	@$(PREFLIGHT) --install --for 'make redis' redis-server

nginx:
	@$(PREFLIGHT) --install --for 'make nginx' nginx

tmux:
	@$(PREFLIGHT) --install --for 'make tmux' tmux

curl:
	@$(PREFLIGHT) --install --for 'make curl' curl

# PYTEST_ARGS: a subset, e.g. `make pytest PYTEST_ARGS=tests/throttle`.
PYTEST_ARGS ?=

pytest: $(STAMP) preflight
	AUTHHYGIENE_UNAVAILABLE_PACKAGES=$(UNAVAILABLE) $(BIN)/pytest $(PYTEST_ARGS)

# The preflight first: what is needed is said before anything starts.
test: preflight lint typecheck docs pytest

# Without wrk, valgrind or redis-server the benchmarks skip those sections
# with a NOTE line.
bench: $(STAMP)
	@$(PREFLIGHT) --for 'make bench' $(BENCH_PACKAGES)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov site
