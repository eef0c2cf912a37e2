# The two commands a developer needs: `make run` and `make test`.
# Both set themselves up: a virtual env from requirements-dev.txt and Azurite from package-lock.json.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_SECONDS ?= 0

.PHONY: run test setup browser clean bench bench-devhost bench-scale chaos loadtest

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	DEMO_SECONDS=$(DEMO_SECONDS) $(PY) -m devtools.demo

test: setup browser
	$(PY) -m pytest

# The console's browser tests drive Debian's chromium through its chromedriver (Selenium is
# pointed at them, so nothing is downloaded). Installed here when missing and possible (root
# with apt-get); otherwise those tests skip, or fail when CI is set.
browser:
	@if command -v chromium >/dev/null 2>&1 && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver for the console's browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; } || \
	  echo "could not install chromium; the browser tests will skip (fail under CI)"; \
	else echo "no chromium: the browser tests will skip (fail under CI); apt-get install chromium chromium-driver"; fi

# Bigger than CI's round: CHAOS_TRIALS=10000 make chaos (fired slots; about 45 minutes).
chaos: setup
	$(PY) -m devtools.chaos

bench: setup
	$(PY) bench/cold_import.py

bench-devhost: setup
	$(PY) bench/devhost_load.py

# The tick, the queue workers and the poll at scale on the local stack (about 10 minutes);
# options: make bench-scale SCALE_ARGS="--schedules 10000 --workers 2"; to compare N=10k with
# N=100k fairly, repeat the rounds, which take turns: SCALE_ARGS="--workers 2 --repeat 4 --poll-active 0"
bench-scale: setup
	$(PY) bench/scale.py $(SCALE_ARGS)

# The main read routes under load, figures per route; starts the local stack unless given a URL:
# make loadtest LOADTEST_ARGS="--threads 16 --iterations 100"  or  LOADTEST_URL=... LOADTEST_KEY=... make loadtest
loadtest: setup
	$(PY) bench/loadtest.py $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
