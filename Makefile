# Entry points for a fresh machine: `make demo` (see it work, no cluster needed), `make test`,
# and `make run` (the main job). Each installs what it needs: Python packages into .venv,
# Debian's prometheus (and for the demo apache2-utils' ab) via apt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv prometheus demo-tools lint typecheck unit test run demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,analysis]'
	touch $(STAMP)

venv: $(STAMP)

# The tests start the real Prometheus and VictoriaMetrics (a second Prometheus-compatible
# backend) and run the real kubectl; install Debian's packages when missing.
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null \
	  && command -v victoria-metrics >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    -o DPkg::Lock::Timeout=300 prometheus victoria-metrics; }

# The demo drives the sandbox with kubectl and loads it with ab (apache2-utils); the
# walkthrough's tests also curl the metrics APIs with a service account's token.
demo-tools: prometheus
	@command -v ab >/dev/null && command -v curl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    -o DPkg::Lock::Timeout=300 apache2-utils curl; }
	@command -v kubectl >/dev/null || { echo "kubectl is needed: https://kubernetes.io/docs/tasks/tools/" >&2; exit 1; }

# The walkthrough on one machine: sandbox cluster (API server stand-in), ab load, HPAs
# scaling up and down; leaves demo-output/demo.png and the decision records.
DEMO_ARGS ?=
demo: venv demo-tools
	$(BIN)/python -m adapter demo $(DEMO_ARGS)

lint: venv
	$(BIN)/ruff check adapter tests $(wildcard benchmarks)
	$(BIN)/ruff format --check adapter tests $(wildcard benchmarks)

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -m "not slow"

test: venv demo-tools lint typecheck
	$(BIN)/pytest -q

# The main job: serve against PROMETHEUS_URL and the current kubeconfig.
PROMETHEUS_URL ?= http://localhost:9090
run: venv
	$(BIN)/python -m adapter serve --prometheus-url $(PROMETHEUS_URL) --config config/default.yaml

# The performance suite (benchmarks/README.md); `make bench BENCH_ARGS=--quick` for a smoke
# run. The load generator is Debian's wrk: installed here like prometheus.
BENCH_ARGS ?=
bench: venv prometheus
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; }
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
