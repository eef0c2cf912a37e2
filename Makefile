# The two commands a developer needs: `make run` and `make test`.
# Both set themselves up: a virtual env from requirements-dev.txt and Azurite from package-lock.json.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_SECONDS ?= 0

.PHONY: run test setup clean bench bench-devhost bench-scale chaos

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

test: setup
	$(PY) -m pytest

# Bigger than CI's round: CHAOS_TRIALS=10000 make chaos (fired slots; about 45 minutes).
chaos: setup
	$(PY) -m devtools.chaos

bench: setup
	$(PY) bench/cold_import.py

bench-devhost: setup
	$(PY) bench/devhost_load.py

# The tick, the queue workers and the poll at scale on the local stack (about 10 minutes);
# options: make bench-scale SCALE_ARGS="--schedules 10000 --workers 2"
bench-scale: setup
	$(PY) bench/scale.py $(SCALE_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
