# Two entry points for a fresh machine: `make run` (the main job) and `make test`.
# Both install what they need: Python packages into .venv, Debian's prometheus via apt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv prometheus lint typecheck unit test run bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
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

lint: venv
	$(BIN)/ruff check adapter tests $(wildcard benchmarks)
	$(BIN)/ruff format --check adapter tests $(wildcard benchmarks)

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -m "not slow"

test: venv prometheus lint typecheck
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
