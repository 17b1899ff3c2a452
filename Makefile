# The README's commands: `make demo` (main job) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
# --durations=20: each run's log names its twenty slowest tests. -n: on
# TEST_WORKERS pytest-xdist workers; much of a test's time is Python and graph
# building on one core, so two use a 2-core machine's both (the TensorFlow
# tests: 16 minutes instead of 27). TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -p no:cacheprovider --durations=20 -n $(TEST_WORKERS)

.PHONY: setup demo lint format test test-tf test-jax test-torch bench bench-workers bench-sweep bench-study docs docs-serve clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt scripts/setup.sh
	bash scripts/setup.sh
	touch $@

# The lint and format gate (rules in pyproject.toml); `make format` applies it.
LINTED := keras_norms experiments tests benchmarks docs/hooks

lint: setup
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

format: setup
	$(VENV)/bin/ruff check --fix $(LINTED)
	$(VENV)/bin/ruff format $(LINTED)

# Layer tests run on the TensorFlow, JAX and torch backends; experiment tests
# need TensorFlow.
test: setup test-tf test-jax test-torch

test-tf: setup
	KERAS_BACKEND=tensorflow $(PYTEST) tests

# The suite on the other backends: every task's smoke run, and the custom
# training steps' compiled loops against step by step.
SUITE_ON_BACKENDS := tests/experiments/test_backends.py tests/experiments/test_loop.py

test-jax: setup
	KERAS_BACKEND=jax $(PYTEST) -m "not eager_minutes" tests/layers tests/test_convert.py $(SUITE_ON_BACKENDS)

# The documentation site: mkdocs.yml, docs/ and the docstrings.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

docs-serve: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve -a 127.0.0.1:8000

test-torch: setup
	KERAS_BACKEND=torch $(PYTEST) tests/layers $(SUITE_ON_BACKENDS)

demo: setup
	KERAS_BACKEND=tensorflow $(PY) -m experiments quick

# Every benchmark on every backend (TensorFlow both with and without its
# oneDNN kernels, which it leaves off on some CPUs), then BENCHMARKS.md from
# their results. Each run rewrites its own results file; a GPU's (`-gpu`)
# are kept beside the CPU's. BENCH_REPEATS=3 checks the scripts quickly.
BENCH_SCRIPTS := bench_layers bench_weight_norm bench_weight_norm_forms bench_train_step
BENCH_REPEATS ?= 30
SUITE_REPEATS ?= 10

bench: setup
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[bench]"
	for script in $(BENCH_SCRIPTS); do \
	  for onednn in 0 1; do \
	    TF_ENABLE_ONEDNN_OPTS=$$onednn KERAS_BACKEND=tensorflow \
	      $(PY) benchmarks/$$script.py --repeats $(BENCH_REPEATS) || exit 1; \
	  done; \
	  for backend in jax torch; do \
	    KERAS_BACKEND=$$backend \
	      $(PY) benchmarks/$$script.py --repeats $(BENCH_REPEATS) || exit 1; \
	  done; \
	done
	for backend in tensorflow jax torch; do \
	  KERAS_BACKEND=$$backend $(PY) benchmarks/bench_suite.py --repeats $(SUITE_REPEATS) || exit 1; \
	done
	cd benchmarks && ../$(PY) render.py > ../BENCHMARKS.md

# The quick comparison with one worker against one Ray worker per core. Ray
# binds the machine's network address: on a shared machine keep it on
# loopback with `unshare --net sh -c 'ip link set lo up && make bench-workers'`.
bench-workers: setup
	$(PY) benchmarks/bench_quick_workers.py --repeats 2
	cd benchmarks && ../$(PY) render.py > ../BENCHMARKS.md

# Small sweeps on one worker against two: where Ray starts to pay (Ray as above).
bench-sweep: setup
	$(PY) benchmarks/bench_sweep_workers.py --repeats 2
	cd benchmarks && ../$(PY) render.py > ../BENCHMARKS.md

# A study's time outside training (minutes per study; Ray as above).
BENCH_STUDIES ?= style-shift,text
bench-study: setup
	$(PY) benchmarks/bench_study_overhead.py --studies $(BENCH_STUDIES)
	cd benchmarks && ../$(PY) render.py > ../BENCHMARKS.md

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site
