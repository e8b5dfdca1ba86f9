# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench proto clean ui image wheelhouse

# (Re)install only when pyproject.toml changed since the last install: quick when present.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/baton-xmatters demo

# The suite spends most of its time in real syncs (Dagster runs, subprocesses, simulated latency),
# so it runs in TEST_WORKERS pytest-xdist processes, one test file per worker at a time (their
# module fixtures are built once). `make test TEST_WORKERS=0` runs it in one process. The 15
# slowest tests are listed at the end: where to look when CI grows.
TEST_WORKERS ?= 3
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every sync of the benchmark runs in a 1 GiB memory cgroup (issue 21's pod); needs root and
# cgroup v1 or v2: `make bench BENCH_ARGS=` runs without it.
BENCH_ARGS ?= --memory-limit 1g
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The UI with the same data directory and Dagster home as CLI runs, so their history shows up:
# `make ui PORT=3310`, `make ui BATON_XMATTERS_HOME=var/demo` (the demo's). As the CLI, a
# DAGSTER_HOME in the environment wins over $(BATON_XMATTERS_HOME)/dagster. Under umask 077, as CLI
# syncs: the warehouse, dlt state, run history and .c1z of UI runs are readable by their owner only.
# `exec`: make passes a SIGTERM (a supervisor's stop, `timeout`, `kill <make's pid>`) to its child;
# the recipe's shell died of it and left `dagster dev`, its webserver, daemon and code server running.
# `env --default-signal=INT`: a `make ui &` from a script starts with SIGINT ignored (every `&` job of
# a shell without job control does), Python keeps it ignored, and Dagster copies SIGINT's handler to
# SIGTERM: `dagster dev` then ignored Ctrl-C and kill alike and only SIGKILL stopped it.
PORT ?= 3000
BATON_XMATTERS_HOME ?= var
DAGSTER_HOME ?= $(BATON_XMATTERS_HOME)/dagster
ui: $(STAMP)
	umask 077 && $(BIN)/python -c "from pathlib import Path; from orchestration.sync_command import ensure_dagster_home; ensure_dagster_home(Path('$(abspath $(DAGSTER_HOME))'))"
	umask 077 && exec env --default-signal=INT BATON_XMATTERS_HOME=$(abspath $(BATON_XMATTERS_HOME)) DAGSTER_HOME=$(abspath $(DAGSTER_HOME)) \
		$(BIN)/dagster dev -w workspace.yaml -p $(PORT)

# Regenerate the committed protobuf/gRPC code from baton-sdk's .proto files in pipelines/c1z/proto/.
proto: $(STAMP)
	$(BIN)/python pipelines/c1z/proto/regenerate.py

# The container image, built offline as docs/deploy.md says ("Building and testing here"): pip in
# the build stage reads only $(WHEELHOUSE), filled here from the package index when it is missing or
# no longer satisfies pyproject.toml; the base image is $(PYTHON_IMAGE) from podman's store. Not part
# of `make test` (CI has no podman): tests/service/test_container.py skips an image whose sources'
# digest is not the tree's. `make image IMAGE=... WHEELHOUSE=...` for others.
IMAGE ?= localhost/baton-xmatters:test
PYTHON_IMAGE ?= localhost/debian-python:3.11
WHEELHOUSE ?= wheelhouse
# pip as the build stage sees it: no config files, no index, the wheelhouse only
OFFLINE_PIP := PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_FIND_LINKS=$(abspath $(WHEELHOUSE)) \
	$(PYTHON) -m pip install --quiet --dry-run --ignore-installed .
wheelhouse:
	@if $(OFFLINE_PIP) >/dev/null 2>&1; then echo "$(WHEELHOUSE): has every wheel pyproject.toml pins"; \
	else echo "$(WHEELHOUSE): missing or stale, filling it from the package index" \
		&& $(PYTHON) -m pip wheel --quiet -w $(WHEELHOUSE) . \
		&& $(PYTHON) -m pip download --quiet -d $(WHEELHOUSE) setuptools wheel \
		&& rm -f $(WHEELHOUSE)/baton_xmatters-*.whl && $(OFFLINE_PIP); fi

image: wheelhouse
	podman build --format docker --network none --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) \
		--build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/wheels \
		-v $(abspath $(WHEELHOUSE)):/wheels:ro -t $(IMAGE) .
	@echo "$(IMAGE): sources $$(podman run --rm --network none --no-healthcheck --entrypoint cat $(IMAGE) /opt/baton-xmatters/SOURCE_DIGEST)"

clean:
	rm -rf $(VENV) .pytest_cache
